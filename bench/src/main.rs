//! The benchmark harness (`scripts/bench.sh` runs it; `bench/README.md` explains the figures).
//!
//! It starts each function's binary under a fake Lambda Runtime API on loopback, with the
//! DynamoDB endpoint behind a counting proxy and a fake Vobiz, and feeds it the `events/`
//! fixtures; it measures the floors in the same run, prices one whole verification, loads the
//! local server with wrk, and prints a markdown table (stdout) and a JSON file. It exits non-zero
//! if any invocation failed, answered a 5xx or an unexpected reply; a missed target is reported,
//! not fatal. `--check` is correctness only (`check.rs`); `--cost` only the priced verification.
//!
//! The phases, in the order they run, each in its file: `fixtures`, `floors`, `breakdown` (where
//! init goes), `cold_starts` and `round_trips` (each function), `journey` (one verification,
//! priced by `cost`), `load` (the devserver under wrk), `report`.

mod breakdown;
mod check;
mod cold_starts;
mod cost;
mod fixtures;
mod floors;
mod harness;
mod journey;
mod load;
mod options;
mod proxy;
mod report;
mod round_trips;
mod runtime_api;
mod scenario;
mod seed;
mod stats;
mod vobiz;

use std::time::Instant;

use harness::Ctx;
use scenario::{CASES, HELLO};

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--init-breakdown") {
        breakdown::run_child();
        return;
    }
    let o = options::parse();
    // The floors' client reads the SDK's usual variables, like the functions do; make them the
    // same values the functions get. Still single-threaded here: no other thread reads the
    // environment while it changes.
    #[allow(
        unsafe_code,
        reason = "single-threaded here: nothing reads the environment concurrently"
    )]
    unsafe {
        for (k, v) in [
            ("AWS_REGION", "ap-south-1"),
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_SESSION_TOKEN", "bench"),
        ] {
            std::env::set_var(k, v);
        }
        std::env::remove_var("AWS_PROFILE");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    std::process::exit(rt.block_on(run(o)));
}

async fn run(o: options::Options) -> i32 {
    let started = Instant::now();
    let (check, cost, load) = (o.check, o.cost, o.load);
    // --cost runs only the cases a verification's durations come from.
    let in_journey = |c: &scenario::Case| journey::STEPS.iter().any(|s| s.2 == c.label);
    let cases: Vec<&scenario::Case> = CASES
        .iter()
        .filter(|c| o.wants(c) && (!cost || in_journey(c)))
        .collect();
    let needed: Vec<&str> = cases
        .iter()
        .map(|c| c.binary)
        .chain((!check && !cost).then_some("hello"))
        .chain(load.then_some("devserver"))
        .collect();
    let ctx = match Ctx::start(o, &needed).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    if check {
        return check::run(&ctx, started).await;
    }
    if cost {
        // The durations come from the warm invokes of the verification's routes.
        let results = cold_starts::run_all(&ctx, cases, None).await;
        let Ok(v) = journey::run(&ctx, &results)
            .await
            .map_err(|e| eprintln!("bench: the verification failed: {e}"))
        else {
            return 1;
        };
        let mut s = String::new();
        v.markdown(&mut s);
        println!("{s}");
        report::write_json(&ctx.o.out, &v.json());
        return i32::from(results.iter().any(|r| !r.failures.is_empty()));
    }

    // Every fixture once through its function (first, on a fresh table: send-otp.json asks for
    // the fixture number, which must not be in its cooldown yet).
    let fixtures = fixtures::run(&ctx).await;
    let floors = match floors::kit(&ctx).await {
        Ok(kit) => floors::run(&ctx, &kit).await.map(|f| (kit, f)),
        Err(e) => Err(e),
    };
    let (kit, floors) = match floors {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bench: floors: {e}");
            return 1;
        }
    };
    let breakdown = breakdown::phase(&ctx);
    // The hello floor and each function.
    let results = cold_starts::run_all(&ctx, std::iter::once(&HELLO).chain(cases), Some(&kit)).await;
    let (verification, cost_note) = journey::phase(&ctx, &results).await;
    let (load_results, load_note) = load::phase(&ctx);

    let report = report::Report {
        smoke: ctx.o.smoke,
        profile: &ctx.o.profile,
        bin_dir: &ctx.o.bin_dir,
        endpoint: &ctx.o.endpoint,
        invokes: ctx.o.invokes,
        inits: ctx.o.inits,
        results: &results,
        floors: &floors,
        breakdown: &breakdown,
        fixtures: &fixtures,
        load: &load_results,
        load_note: load_note.as_deref(),
        cost: verification.as_ref(),
        cost_note: cost_note.as_deref(),
        elapsed: started.elapsed(),
    };
    println!("{}", report.markdown());
    report::write_json(&ctx.o.out, &report.json());
    let failed = report.failed();
    eprintln!(
        "bench: done in {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if failed { " WITH FAILURES" } else { "" }
    );
    i32::from(failed)
}
