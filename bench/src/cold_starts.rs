//! One function's cold starts: a fresh process under the fake Runtime API, spawn to first
//! `/next` (init), its first invoke and the CPU it took; the last process then serves the warm
//! round trips (`round_trips.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::floors;
use crate::harness::Ctx;
use crate::round_trips;
use crate::runtime_api;
use crate::scenario::{CASES, Case, Floor, Kind, Scenario};
use crate::stats::Samples;

/// What one case measured.
pub struct CaseResult {
    pub label: &'static str,
    pub binary: &'static str,
    pub kind: Kind,
    pub floor: Floor,
    pub path: &'static str,
    pub ddb_limit: Option<f64>,
    pub inits: Samples,
    pub first: Samples,
    /// CPU time of all the process's threads from spawn to the first response (exec, init and
    /// the first invoke): what Lambda's fractional vCPU stretches.
    pub cold_cpu: Samples,
    pub warm: Samples,
    /// One sample of the floor right after each warm invoke (same moment, same machine load).
    pub paired: Samples,
    pub rss_kib: Option<u64>,
    pub binary_bytes: Option<u64>,
    /// DynamoDB requests over the warm invokes, by `X-Amz-Target` operation.
    pub ddb_warm: BTreeMap<String, u64>,
    /// Per-invoke DynamoDB request totals seen (min, max) over the warm invokes.
    pub ddb_range: (u64, u64),
    pub ddb_first: BTreeMap<String, u64>,
    pub vobiz_warm: u64,
    pub vobiz_first: u64,
    pub failures: Vec<String>,
}

impl CaseResult {
    pub fn ddb_per_invoke(&self) -> f64 {
        self.ddb_warm.values().sum::<u64>() as f64 / self.warm.len().max(1) as f64
    }
    pub fn vobiz_per_invoke(&self) -> f64 {
        self.vobiz_warm as f64 / self.warm.len().max(1) as f64
    }
}

/// Each case in turn, its failures said as they come.
pub async fn run_all<'a>(
    ctx: &Ctx,
    cases: impl IntoIterator<Item = &'a Case>,
    kit: Option<&floors::Kit>,
) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for case in cases {
        eprintln!("bench: {} ...", case.label);
        let r = run_case(ctx, case, kit).await;
        r.failures.iter().for_each(|f| eprintln!("bench: {}: {f}", r.label));
        results.push(r);
    }
    results
}

/// One function's cold start(s) and invokes. With a `kit`, one floor sample is taken after each
/// warm invoke (`--check` and `--cost` have none).
pub async fn run_case(ctx: &Ctx, case: &Case, kit: Option<&floors::Kit>) -> CaseResult {
    let mut r = CaseResult {
        label: case.label,
        binary: case.binary,
        kind: case.kind,
        floor: case.floor,
        path: case.path,
        ddb_limit: case.ddb_limit,
        inits: Samples::default(),
        first: Samples::default(),
        cold_cpu: Samples::default(),
        warm: Samples::default(),
        paired: Samples::default(),
        rss_kib: None,
        binary_bytes: std::fs::metadata(ctx.binary(case.binary)).ok().map(|m| m.len()),
        ddb_warm: BTreeMap::new(),
        ddb_range: (0, 0),
        ddb_first: BTreeMap::new(),
        vobiz_warm: 0,
        vobiz_first: 0,
        failures: Vec::new(),
    };
    let template = match crate::scenario::load_event(&ctx.o.events, case.event) {
        Ok(t) => t,
        Err(e) => {
            r.failures.push(e);
            return r;
        }
    };
    let series = 10 + CASES.iter().position(|c| c.label == case.label).unwrap_or(0) as u32;
    let mut sc = Scenario::new(case.kind, template, series);
    let env = if case.kind == Kind::Hello {
        Vec::new()
    } else {
        ctx.function_env(case.binary)
    };
    let log = ctx.logs.join(format!("{}.log", case.binary));
    for k in 0..ctx.o.inits {
        let mut api = match runtime_api::RuntimeApi::start().await {
            Ok(a) => a,
            Err(e) => {
                r.failures.push(format!("runtime API: {e}"));
                return r;
            }
        };
        let (mut child, spawned) = match ctx.spawn(case.binary, api.addr, &env, &log) {
            Ok(c) => c,
            Err(e) => {
                r.failures.push(format!("spawn: {e}"));
                return r;
            }
        };
        match api.first_next(&mut child, ctx.o.init_timeout).await {
            Ok(at) => r.inits.push(at - spawned),
            Err(e) => {
                r.failures.push(format!("init: {e} (log: {})", log.display()));
                runtime_api::stop(&mut child);
                return r;
            }
        }
        // The first invoke of this process.
        sc.verify_store = true;
        match round_trips::invoke(ctx, &api, &mut sc).await {
            Ok((latency, ddb, vob)) => {
                r.first.push(latency);
                if k == 0 {
                    r.ddb_first = ddb;
                    r.vobiz_first = vob;
                }
            }
            Err(e) => r.failures.push(format!("first invoke: {e}")),
        }
        // By now the process has answered and waits on its next `/next` (the reply was checked
        // against the store meanwhile); the pause makes sure it has stopped running.
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Some(cpu) = runtime_api::cpu_time(child.id()) {
            r.cold_cpu.push(cpu);
        }
        if k + 1 == ctx.o.inits {
            round_trips::warm(ctx, &api, &mut sc, kit, &mut r).await;
            r.rss_kib = runtime_api::peak_rss_kib(child.id());
        }
        if let Ok(Some(status)) = child.try_wait() {
            r.failures
                .push(format!("the process exited ({status}); log: {}", log.display()));
        }
        runtime_api::stop(&mut child);
        drop(api);
    }
    r
}
