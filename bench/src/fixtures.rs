//! Every `events/*.json` once through its function, in a fresh process each, with the seeding
//! it is named for; its reply must not be a 5xx or an error.

use std::collections::BTreeMap;

use crate::harness::Ctx;
use crate::scenario::{self, CASES};
use crate::{proxy, runtime_api, stats};

pub struct FixtureResult {
    pub file: String,
    pub function: &'static str,
    pub status: Option<u16>,
    pub ddb: BTreeMap<String, u64>,
    pub vobiz: u64,
    pub latency_ms: f64,
    pub error: Option<String>,
}

pub async fn run(ctx: &Ctx) -> Vec<FixtureResult> {
    eprintln!("bench: every events/*.json once ...");
    let mut files: Vec<String> = std::fs::read_dir(&ctx.o.events)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".json"))
        .collect();
    files.sort();
    // send-otp first: its fixture number must not have an attempt yet.
    files.sort_by_key(|f| !f.starts_with("send-otp"));
    let mut results = Vec::new();
    for f in files {
        // otp-events has no case of its own: its fixtures run whenever the binary is there.
        let stream = scenario::function_of(&f) == Some(scenario::STREAM_FUNCTION)
            && ctx.binary(scenario::STREAM_FUNCTION).is_file();
        if !stream
            && !CASES
                .iter()
                .any(|c| ctx.o.wants(c) && Some(c.binary) == scenario::function_of(&f))
        {
            continue;
        }
        let Some(function) = scenario::function_of(&f) else {
            results.push(FixtureResult {
                file: f,
                function: "?",
                status: None,
                ddb: BTreeMap::new(),
                vobiz: 0,
                latency_ms: f64::NAN,
                error: Some("names no function".into()),
            });
            continue;
        };
        let mut res = FixtureResult {
            file: f.clone(),
            function,
            status: None,
            ddb: BTreeMap::new(),
            vobiz: 0,
            latency_ms: f64::NAN,
            error: None,
        };
        let outcome = async {
            let event = std::fs::read_to_string(ctx.o.events.join(&f)).map_err(|e| e.to_string())?;
            scenario::prepare_fixture(&ctx.seeder, &f).await?;
            let mut api = runtime_api::RuntimeApi::start().await.map_err(|e| e.to_string())?;
            let log = ctx.logs.join(format!("{function}.log"));
            let (mut child, _) = ctx
                .spawn(function, api.addr, &ctx.function_env(function), &log)
                .map_err(|e| e.to_string())?;
            let result = async {
                api.first_next(&mut child, ctx.o.init_timeout).await?;
                let before = ctx.proxy.counts.snapshot();
                let vob_before = ctx.vobiz.total();
                let out = api.invoke(event, ctx.o.invoke_timeout).await?;
                res.ddb = proxy::delta(&before, &ctx.proxy.counts.snapshot());
                res.vobiz = ctx.vobiz.total() - vob_before;
                res.latency_ms = stats::ms(out.latency);
                if out.error {
                    return Err(format!("the function posted an error: {}", out.body));
                }
                let (status, body) = if stream {
                    scenario::read_stream_reply(&out.body)?
                } else {
                    scenario::read_reply(&out.body)?
                };
                res.status = Some(status);
                if status >= 500 {
                    return Err(format!("{status}: {body}"));
                }
                Ok(())
            }
            .await;
            runtime_api::stop(&mut child);
            result
        }
        .await;
        res.error = outcome.err();
        results.push(res);
    }
    results
}
