//! Warm round trips: `--invokes` invokes of one process, each prepared so it takes its real
//! path, its reply checked, its DynamoDB and Vobiz requests counted; with a floor kit, one
//! sample of the function's floor right after each.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cold_starts::CaseResult;
use crate::floors;
use crate::harness::Ctx;
use crate::runtime_api::RuntimeApi;
use crate::scenario::{self, Floor, Scenario};

/// The warm invokes of the process behind `api` (the last cold start of the case).
pub async fn warm(ctx: &Ctx, api: &RuntimeApi, sc: &mut Scenario, kit: Option<&floors::Kit>, r: &mut CaseResult) {
    let mut range = (u64::MAX, 0);
    for i in 0..ctx.o.invokes {
        // Reading the record back costs a request to the endpoint: every invoke in smoke mode,
        // a sample in full mode.
        sc.verify_store = ctx.o.smoke || i % 50 == 0;
        match invoke(ctx, api, sc).await {
            Ok((latency, ddb, vob)) => {
                r.warm.push(latency);
                if let Some(kit) = kit.filter(|_| r.floor != Floor::Hello) {
                    match kit.sample(r.floor, i).await {
                        Ok(d) => r.paired.push(d),
                        Err(e) => r.failures.push(format!("paired floor {i}: {e}")),
                    }
                }
                let total: u64 = ddb.values().sum();
                range = (range.0.min(total), range.1.max(total));
                for (op, n) in ddb {
                    *r.ddb_warm.entry(op).or_default() += n;
                }
                r.vobiz_warm += vob;
            }
            Err(e) => {
                r.failures.push(format!("warm invoke {i}: {e}"));
                if r.failures.len() > 5 {
                    r.failures.push("giving up on this function".into());
                    break;
                }
            }
        }
    }
    if range.0 != u64::MAX {
        r.ddb_range = range;
    }
}

/// One invoke: prepare, send, check. Returns the latency and the requests it caused.
pub async fn invoke(
    ctx: &Ctx,
    api: &RuntimeApi,
    sc: &mut Scenario,
) -> Result<(Duration, BTreeMap<String, u64>, u64), String> {
    let event = sc.prepare(&ctx.seeder).await?;
    let before = ctx.proxy.counts.snapshot();
    let vob_before = ctx.vobiz.total();
    let out = api.invoke(event, ctx.o.invoke_timeout).await;
    let ddb = crate::proxy::delta(&before, &ctx.proxy.counts.snapshot());
    let vob = ctx.vobiz.total() - vob_before;
    let checked = match out {
        Err(e) => Err(e),
        Ok(out) if out.error => Err(format!(
            "the function posted an error: {}",
            out.body.chars().take(300).collect::<String>()
        )),
        Ok(out) => match scenario::read_reply(&out.body) {
            Err(e) => Err(e),
            Ok((status, body)) if status >= 500 => {
                Err(format!("{status}: {}", body.chars().take(300).collect::<String>()))
            }
            Ok((status, body)) => sc.check(&ctx.seeder, status, &body).await.map(|()| out.latency),
        },
    };
    // Always, so a failed invoke leaves no item behind either.
    let cleaned = sc.cleanup(&ctx.seeder).await;
    let latency = checked?;
    cleaned?;
    Ok((latency, ddb, vob))
}
