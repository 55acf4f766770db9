//! `--check`: correctness only, for binaries that cannot be timed meaningfully (the arm64
//! bootstraps of `sam build` under qemu, `scripts/arm64-smoke.sh`).

use std::time::Instant;

use crate::harness::Ctx;
use crate::scenario::CASES;
use crate::{cold_starts, fixtures, report};

/// `--check`: every fixture once, then each function's cold start and `--invokes` invokes, each
/// reply checked. No floor is measured: the times are the emulator's, not the functions'.
pub async fn run(ctx: &Ctx, started: Instant) -> i32 {
    let fixtures = fixtures::run(ctx).await;
    let results = cold_starts::run_all(ctx, CASES.iter().filter(|c| ctx.o.wants(c)), None).await;
    let report = report::Check {
        bin_dir: &ctx.o.bin_dir,
        runner: &ctx.o.runner,
        endpoint: &ctx.o.endpoint,
        invokes: ctx.o.invokes,
        results: &results,
        fixtures: &fixtures,
        elapsed: started.elapsed(),
    };
    println!("{}", report.markdown());
    report::write_json(&ctx.o.out, &report.json());
    let failed = report.failed();
    for f in &fixtures {
        if let Some(e) = &f.error {
            eprintln!("bench: fixture {}: {e}", f.file);
        }
    }
    eprintln!(
        "bench: check done in {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if failed { " WITH FAILURES" } else { "" }
    );
    i32::from(failed)
}
