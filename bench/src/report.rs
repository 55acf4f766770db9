//! The markdown table (stdout) and the JSON file: every figure absolute and as a ratio to its
//! floor, then the targets, met or missed and by how much.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cold_starts::CaseResult;
use crate::fixtures::FixtureResult;
use crate::floors::FloorResults;
use crate::load::LoadResult;
use crate::scenario::{Floor, Kind};
use crate::stats::r3;

/// The limits.
pub const INIT_RATIO_MAX: f64 = 1.5;
pub const WARM_RATIO_MAX: f64 = 1.2;
pub const BINARY_MAX_BYTES: u64 = 6_000_000;
pub const RSS_MAX_BYTES: u64 = 20_000_000;

pub struct Report<'a> {
    pub smoke: bool,
    pub profile: &'a str,
    pub bin_dir: &'a Path,
    pub endpoint: &'a str,
    pub invokes: usize,
    pub inits: usize,
    pub results: &'a [CaseResult],
    pub floors: &'a FloorResults,
    pub breakdown: &'a BTreeMap<String, crate::stats::Samples>,
    pub fixtures: &'a [FixtureResult],
    pub load: &'a [LoadResult],
    pub load_note: Option<&'a str>,
    /// One whole verification, priced (`cost.rs`); the note says why there is none.
    pub cost: Option<&'a crate::cost::Verification>,
    pub cost_note: Option<&'a str>,
    pub elapsed: Duration,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn ratio(x: f64, floor: f64) -> f64 {
    if floor > 0.0 { x / floor } else { f64::NAN }
}

fn cell(x: f64, r: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if r.is_finite() {
        format!("{x:.2} ({r:.2}×)")
    } else {
        format!("{x:.2}")
    }
}

fn short_op(op: &str) -> &str {
    op.trim_start_matches("DynamoDB_20120810.")
}

fn ops(m: &BTreeMap<String, u64>, per: usize) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{} {}", short_op(k), fmt_num(*v as f64 / per.max(1) as f64)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fmt_num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.2}")
    }
}

fn release_profile() -> String {
    let cargo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml")).unwrap_or_default();
    let mut out = Vec::new();
    let mut inside = false;
    for line in cargo.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == "[profile.release]";
            continue;
        }
        if inside && !t.is_empty() && !t.starts_with('#') {
            out.push(t.to_owned());
        }
    }
    out.join(", ")
}

/// Writes the JSON report (pretty, with a final newline) and says where.
pub fn write_json(path: &Path, json: &Value) {
    match std::fs::write(path, serde_json::to_string_pretty(json).unwrap() + "\n") {
        Ok(()) => eprintln!("bench: wrote {}", path.display()),
        Err(e) => eprintln!("bench: cannot write {}: {e}", path.display()),
    }
}

impl Report<'_> {
    /// Whether anything failed (an invoke, a fixture, a 5xx under load, the verification, the
    /// load test itself), saying what on stderr.
    pub fn failed(&self) -> bool {
        let mut failed = self.results.iter().any(|r| !r.failures.is_empty());
        for f in self.fixtures {
            if let Some(e) = &f.error {
                eprintln!("bench: fixture {}: {e}", f.file);
                failed = true;
            }
        }
        for l in self.load.iter().filter(|l| l.s5xx > 0) {
            eprintln!(
                "bench: {} at {} connections answered {} 5xx",
                l.route, l.connections, l.s5xx
            );
            failed = true;
        }
        for note in [self.cost_note, self.load_note].into_iter().flatten() {
            if note.starts_with("failed") || note.starts_with("load test failed") {
                eprintln!("bench: {note}");
                failed = true;
            }
        }
        failed
    }

    fn hello(&self) -> Option<&CaseResult> {
        self.results.iter().find(|r| r.kind == Kind::Hello)
    }

    /// (p50, p99) of a floor, in ms.
    pub fn floor(&self, f: Floor) -> (f64, f64) {
        let fl = self.floors;
        match f {
            Floor::Hello => self
                .hello()
                .map_or((f64::NAN, f64::NAN), |h| (h.warm.p50(), h.warm.p99())),
            Floor::GetItem => (fl.get.p50(), fl.get.p99()),
            Floor::UpdateItem => (fl.update.p50(), fl.update.p99()),
            Floor::TwoUpdates => (2.0 * fl.update.p50(), 2.0 * fl.update.p99()),
            Floor::Send => (
                fl.get.p50() + fl.transact.p50() + fl.vobiz.p50(),
                fl.get.p99() + fl.transact.p99() + fl.vobiz.p99(),
            ),
        }
    }

    /// A case's floor: the samples paired with its warm invokes when there are some, else the
    /// floors phase.
    pub fn case_floor(&self, r: &CaseResult) -> (f64, f64) {
        if !r.paired.is_empty() {
            (r.paired.p50(), r.paired.p99())
        } else {
            self.floor(r.floor)
        }
    }

    fn hello_init(&self) -> f64 {
        self.hello().map_or(f64::NAN, |h| h.inits.p50())
    }

    /// Every target of the issue: (target, subject, measured, limit, met).
    pub fn targets(&self) -> Vec<(String, String, String, String, bool)> {
        let mut t = Vec::new();
        let hello_init = self.hello_init();
        let mut seen = std::collections::BTreeSet::new();
        for r in self.results.iter().filter(|r| r.kind != Kind::Hello) {
            let first_of_binary = seen.insert(r.binary);
            if first_of_binary {
                let x = ratio(r.inits.p50(), hello_init);
                t.push((
                    "init ≤ 1.5× hello".into(),
                    r.binary.to_owned(),
                    format!("{:.2} ms = {x:.2}×", r.inits.p50()),
                    format!("{:.2} ms", hello_init * INIT_RATIO_MAX),
                    x <= INIT_RATIO_MAX,
                ));
            }
            if let Some(limit) = r.ddb_limit {
                let x = r.ddb_per_invoke();
                t.push((
                    "DynamoDB requests / invoke".into(),
                    r.label.to_owned(),
                    fmt_num(x),
                    fmt_num(limit),
                    x <= limit + 1e-9,
                ));
            }
            if r.kind == Kind::Send {
                let x = r.vobiz_per_invoke();
                t.push((
                    "Vobiz requests / invoke".into(),
                    r.label.to_owned(),
                    fmt_num(x),
                    "1".into(),
                    (x - 1.0).abs() < 1e-9,
                ));
            }
            let (f50, _) = self.case_floor(r);
            let x = ratio(r.warm.p50(), f50);
            t.push((
                "warm p50 ≤ 1.2× its floor".into(),
                format!("{} (floor {})", r.label, r.floor.label()),
                format!("{:.2} ms = {x:.2}×", r.warm.p50()),
                format!("{:.2} ms", f50 * WARM_RATIO_MAX),
                x <= WARM_RATIO_MAX,
            ));
            if first_of_binary && let Some(b) = r.binary_bytes {
                t.push((
                    "binary ≤ 6 MB".into(),
                    r.binary.to_owned(),
                    format!("{:.2} MB", mb(b)),
                    "6.00 MB".into(),
                    b <= BINARY_MAX_BYTES,
                ));
            }
            if let Some(k) = r.rss_kib {
                t.push((
                    "warm peak RSS ≤ 20 MB".into(),
                    r.label.to_owned(),
                    format!("{:.2} MB", mb(k * 1024)),
                    "20.00 MB".into(),
                    k * 1024 <= RSS_MAX_BYTES,
                ));
            }
        }
        t
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let h = self.hello();
        let hello_init = self.hello_init();
        let (hello_rss, hello_bin) = (
            h.and_then(|h| h.rss_kib).map(|k| k * 1024),
            h.and_then(|h| h.binary_bytes),
        );
        let _ = writeln!(
            s,
            "### Lambda functions ({} mode, profile `{}`; {} warm invokes and {} cold starts per function)\n",
            if self.smoke { "smoke" } else { "full" },
            self.profile,
            self.invokes,
            self.inits
        );
        let _ = writeln!(
            s,
            "Init: process spawn to first `/next`, median of the cold starts, × the hello floor. Invoke: `/next` hands the event over to `/response` read, × the bare round trip(s) named in *floor*, one sample of which is taken right after each warm invoke (first invoke: × the same floor's p50). RSS (VmHWM after the warm invokes) and size × hello.\n"
        );
        let _ = writeln!(
            s,
            "| function | init ms | first invoke ms | warm p50 ms | warm p99 ms | floor | DynamoDB req / invoke | Vobiz req / invoke | peak RSS MB | binary MB |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
        for r in self.results {
            let (f50, f99) = self.case_floor(r);
            let rss = r.rss_kib.map(|k| k * 1024);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.label,
                cell(r.inits.p50(), ratio(r.inits.p50(), hello_init)),
                cell(r.first.p50(), ratio(r.first.p50(), f50)),
                cell(r.warm.p50(), ratio(r.warm.p50(), f50)),
                cell(r.warm.p99(), ratio(r.warm.p99(), f99)),
                r.floor.label(),
                if r.kind == Kind::Hello {
                    "–".to_owned()
                } else {
                    let range = if r.ddb_range.0 != r.ddb_range.1 {
                        format!(" (per invoke {}–{})", r.ddb_range.0, r.ddb_range.1)
                    } else {
                        String::new()
                    };
                    format!(
                        "{}: {}{range}",
                        fmt_num(r.ddb_per_invoke()),
                        ops(&r.ddb_warm, r.warm.len())
                    )
                },
                if r.kind == Kind::Hello {
                    "–".to_owned()
                } else {
                    fmt_num(r.vobiz_per_invoke())
                },
                rss.map_or("–".into(), |b| cell(
                    mb(b),
                    hello_rss.map_or(f64::NAN, |hr| ratio(b as f64, hr as f64))
                )),
                r.binary_bytes.map_or("–".into(), |b| cell(
                    mb(b),
                    hello_bin.map_or(f64::NAN, |hb| ratio(b as f64, hb as f64))
                )),
            );
        }
        let hello_cpu = h.map_or(f64::NAN, |h| h.cold_cpu.p50());
        let _ = writeln!(
            s,
            "\n### Cold path CPU (all threads, spawn → first response) × hello\n\nCPU time of all the process's threads (`/proc/<pid>/task/*/schedstat`) from spawn to the first response: exec, init and the first invoke, the work Lambda's fractional vCPU (≈ 1/14 at 128 MB) stretches. Median of the cold starts.\n"
        );
        let _ = writeln!(s, "| function | CPU ms p50 | min ms | max ms | × hello |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for r in self.results {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.2} | {:.2} | {:.2}× |",
                r.label,
                r.cold_cpu.p50(),
                r.cold_cpu.min(),
                r.cold_cpu.max(),
                ratio(r.cold_cpu.p50(), hello_cpu)
            );
        }
        let fl = self.floors;
        let _ = writeln!(
            s,
            "\n### Floors (same run, same endpoint, through the same counting proxy)\n"
        );
        let _ = writeln!(s, "| floor | p50 ms | p99 ms | n |");
        let _ = writeln!(s, "|---|---|---|---|");
        if let Some(h) = h {
            let _ = writeln!(
                s,
                "| hello init (spawn → first `/next`) | {:.2} | {:.2} | {} |",
                h.inits.p50(),
                h.inits.p99(),
                h.inits.len()
            );
            let _ = writeln!(
                s,
                "| hello warm invoke (runtime API round trip) | {:.3} | {:.3} | {} |",
                h.warm.p50(),
                h.warm.p99(),
                h.warm.len()
            );
        }
        for (name, x) in [
            ("DynamoDB GetItem (consistent)", &fl.get),
            ("DynamoDB UpdateItem (conditional, ALL_NEW)", &fl.update),
            ("DynamoDB TransactWriteItems (2 conditional updates)", &fl.transact),
            ("Vobiz POST (reqwest, fake Vobiz)", &fl.vobiz),
        ] {
            let _ = writeln!(s, "| {name} | {:.3} | {:.3} | {} |", x.p50(), x.p99(), x.len());
        }
        let _ = writeln!(
            s,
            "\nDynamoDB requests the floors made (counted): {}",
            ops(&fl.ddb_requests, 1)
        );

        if !fl.same.is_empty() {
            let _ = writeln!(
                s,
                "\n### What the Lambda around the requests costs: warm invoke × the same requests sent from Rust\n"
            );
            let _ = writeln!(
                s,
                "The same `DynamoStore` calls (and Vobiz call) each handler makes, from a warm client in the harness through the same proxy: what is left of the ratio is the runtime API round trip, event parsing, the handler's CPU work and its log lines. moto's time grows with the size of the condition and update expressions, so this floor, not the bare GetItem/UpdateItem, is the one of the same kind on this endpoint.\n"
            );
            let _ = writeln!(
                s,
                "| function | same requests p50 ms | p99 ms | warm invoke p50 ms | × | warm p99 ms | × |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|---|");
            for r in self.results.iter().filter(|r| r.kind != Kind::Hello) {
                if let Some(x) = fl.same.get(r.label) {
                    let _ = writeln!(
                        s,
                        "| {} | {:.2} | {:.2} | {:.2} | {:.2}× | {:.2} | {:.2}× |",
                        r.label,
                        x.p50(),
                        x.p99(),
                        r.warm.p50(),
                        ratio(r.warm.p50(), x.p50()),
                        r.warm.p99(),
                        ratio(r.warm.p99(), x.p99())
                    );
                }
            }
        }

        if !self.breakdown.is_empty() {
            let _ = writeln!(
                s,
                "\n### Where init goes (send-otp's steps, one fresh process per sample, same profile)\n"
            );
            let _ = writeln!(s, "| step | p50 ms | max ms | × hello init |");
            let _ = writeln!(s, "|---|---|---|---|");
            for step in crate::breakdown::STEPS {
                if let Some(x) = self.breakdown.get(*step) {
                    let _ = writeln!(
                        s,
                        "| {step} | {:.3} | {:.3} | {:.2}× |",
                        x.p50(),
                        x.max(),
                        ratio(x.p50(), self.hello_init())
                    );
                }
            }
        }

        let _ = writeln!(s, "\n### Targets\n");
        if self.profile != "release" {
            let _ = writeln!(
                s,
                "Profile `{}`: the init, size and memory targets are stated for the release profile; these figures only show that the harness runs.\n",
                self.profile
            );
        }
        let _ = writeln!(s, "| target | subject | measured | limit | met |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for (target, subject, measured, limit, met) in self.targets() {
            let _ = writeln!(
                s,
                "| {target} | {subject} | {measured} | {limit} | {} |",
                if met { "yes" } else { "**no**" }
            );
        }

        match (self.cost, self.cost_note) {
            (Some(v), _) => v.markdown(&mut s),
            (None, Some(n)) => {
                let _ = writeln!(s, "\n### What a verification costs\n\n{n}");
            }
            (None, None) => {}
        }

        let _ = writeln!(
            s,
            "\n### Local server under load (devserver, in-memory store, simulated calls; wrk)\n"
        );
        if let Some(n) = self.load_note {
            let _ = writeln!(s, "{n}\n");
        }
        if !self.load.is_empty() {
            let _ = writeln!(
                s,
                "| route | connections | requests/s | p50 ms | p99 ms | 2xx | 4xx | 429 | 5xx | replies expected |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
            for l in self.load {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.0} | {:.3} | {:.3} | {} | {} | {} | {} | {} |",
                    l.route, l.connections, l.rps, l.p50_ms, l.p99_ms, l.s2xx, l.s4xx, l.s429, l.s5xx, l.expected
                );
            }
        }

        fixtures_markdown(&mut s, self.fixtures);
        let _ = writeln!(
            s,
            "\nRelease profile: {}. Binaries from `{}`. DynamoDB endpoint {}. Harness run: {:.0} s.",
            release_profile(),
            self.bin_dir.display(),
            self.endpoint,
            self.elapsed.as_secs_f64()
        );
        s
    }

    pub fn json(&self) -> Value {
        let hello_init = self.hello_init();
        let hello_cpu = self.hello().map_or(f64::NAN, |h| h.cold_cpu.p50());
        let functions: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let (f50, f99) = self.case_floor(r);
                let (phase50, phase99) = self.floor(r.floor);
                json!({
                    "label": r.label, "binary": r.binary, "path": r.path,
                    "init": r.inits.json(), "init_ratio_to_hello": r3(ratio(r.inits.p50(), hello_init)),
                    "first_invoke": r.first.json(), "first_invoke_ratio_to_floor_p50": r3(ratio(r.first.p50(), f50)),
                    "cold_path_cpu": r.cold_cpu.json(), "cold_path_cpu_ratio_to_hello": r3(ratio(r.cold_cpu.p50(), hello_cpu)),
                    "warm": r.warm.json(),
                    "floor": {"kind": r.floor.label(), "p50_ms": r3(f50), "p99_ms": r3(f99), "paired_samples": r.paired.len(),
                              "floors_phase_p50_ms": r3(phase50), "floors_phase_p99_ms": r3(phase99)},
                    "warm_p50_ratio_to_floor": r3(ratio(r.warm.p50(), f50)),
                    "warm_p99_ratio_to_floor": r3(ratio(r.warm.p99(), f99)),
                    "same_requests_from_rust": self.floors.same.get(r.label).map(|x| x.json()),
                    "warm_p50_ratio_to_same_requests": self.floors.same.get(r.label).and_then(|x| r3(ratio(r.warm.p50(), x.p50()))),
                    "dynamodb_requests_per_invoke": r3(r.ddb_per_invoke()),
                    "dynamodb_requests_by_operation_warm": r.ddb_warm,
                    "dynamodb_requests_per_invoke_min_max": [r.ddb_range.0, r.ddb_range.1],
                    "dynamodb_requests_first_invoke": r.ddb_first,
                    "dynamodb_requests_limit": r.ddb_limit,
                    "vobiz_requests_per_invoke": r3(r.vobiz_per_invoke()),
                    "vobiz_requests_first_invoke": r.vobiz_first,
                    "peak_rss_bytes": r.rss_kib.map(|k| k * 1024),
                    "binary_bytes": r.binary_bytes,
                    "failures": r.failures,
                })
            })
            .collect();
        let fl = self.floors;
        json!({
            "mode": if self.smoke { "smoke" } else { "full" },
            "profile": self.profile,
            "release_profile": release_profile(),
            "bin_dir": self.bin_dir.display().to_string(),
            "dynamodb_endpoint": self.endpoint,
            "warm_invokes": self.invokes,
            "cold_starts": self.inits,
            "elapsed_s": r3(self.elapsed.as_secs_f64()),
            "functions": functions,
            "init_breakdown": self.breakdown.iter().map(|(k, v)| (k.clone(), v.json())).collect::<serde_json::Map<String, Value>>(),
            "floors": {
                "get_item": fl.get.json(), "update_item": fl.update.json(),
                "transact_write_items": fl.transact.json(), "vobiz_post": fl.vobiz.json(),
                "dynamodb_requests": fl.ddb_requests,
            },
            "targets": self.targets().into_iter().map(|(t, s, m, l, met)| json!({"target": t, "subject": s, "measured": m, "limit": l, "met": met})).collect::<Vec<_>>(),
            "load": self.load.iter().map(LoadResult::json).collect::<Vec<_>>(),
            "load_note": self.load_note,
            "cost": self.cost.map(crate::cost::Verification::json),
            "cost_note": self.cost_note,
            "fixtures": fixtures_json(self.fixtures),
        })
    }
}

/// The table of the `events/` fixtures, one fresh process each.
fn fixtures_markdown(s: &mut String, fixtures: &[FixtureResult]) {
    let _ = writeln!(s, "\n### Every `events/` fixture once (fresh process each)\n");
    let _ = writeln!(
        s,
        "| event | function | status | ms | DynamoDB requests | Vobiz requests |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for f in fixtures {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            f.file,
            f.function,
            f.status.map_or_else(
                || format!("error: {}", f.error.as_deref().unwrap_or("?")),
                |st| st.to_string()
            ),
            if f.latency_ms.is_finite() {
                format!("{:.2}", f.latency_ms)
            } else {
                "–".into()
            },
            ops(&f.ddb, 1),
            f.vobiz
        );
    }
}

fn fixtures_json(fixtures: &[FixtureResult]) -> Vec<Value> {
    fixtures
        .iter()
        .map(|f| {
            json!({
                "event": f.file, "function": f.function, "status": f.status, "latency_ms": r3(f.latency_ms),
                "dynamodb_requests": f.ddb, "vobiz_requests": f.vobiz, "error": f.error,
            })
        })
        .collect()
}

/// The `--check` run: whether every function answered every event as expected, and the size of
/// each binary. Times are printed for orientation only: under an emulator they are the
/// emulator's.
pub struct Check<'a> {
    pub bin_dir: &'a Path,
    pub runner: &'a [String],
    pub endpoint: &'a str,
    pub invokes: usize,
    pub results: &'a [CaseResult],
    pub fixtures: &'a [FixtureResult],
    pub elapsed: Duration,
}

impl Check<'_> {
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| !r.failures.is_empty()) || self.fixtures.iter().any(|f| f.error.is_some())
    }

    fn runner(&self) -> String {
        if self.runner.is_empty() {
            "natively".into()
        } else {
            format!("under `{}`", self.runner.join(" "))
        }
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### Lambda functions, correctness check (one cold start and {} invokes per function, {})\n",
            self.invokes,
            self.runner()
        );
        let _ = writeln!(
            s,
            "Every reply is checked as in the other modes. Times (init: spawn to first `/next`; first invoke) are for orientation only: no floor is measured and, under an emulator, they are the emulator's.\n"
        );
        let _ = writeln!(
            s,
            "| function | binary bytes | binary MB | init ms | first invoke ms | invokes answered as expected | DynamoDB req / invoke | Vobiz req / invoke | result |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
        for r in self.results {
            let ddb = if r.warm.is_empty() {
                "–".to_owned()
            } else {
                let limit = r.ddb_limit.map_or(String::new(), |l| {
                    if r.ddb_per_invoke() <= l + 1e-9 {
                        format!(" (limit {})", fmt_num(l))
                    } else {
                        format!(" (**over the limit {}**)", fmt_num(l))
                    }
                });
                format!(
                    "{}: {}{limit}",
                    fmt_num(r.ddb_per_invoke()),
                    ops(&r.ddb_warm, r.warm.len())
                )
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} of {} | {} | {} | {} |",
                r.label,
                r.binary_bytes.map_or("–".into(), |b| b.to_string()),
                r.binary_bytes.map_or("–".into(), |b| format!("{:.2}", mb(b))),
                cell(r.inits.p50(), f64::NAN),
                cell(r.first.p50(), f64::NAN),
                r.first.len() + r.warm.len(),
                1 + self.invokes,
                ddb,
                if r.warm.is_empty() {
                    "–".to_owned()
                } else {
                    fmt_num(r.vobiz_per_invoke())
                },
                if r.failures.is_empty() {
                    "ok".to_owned()
                } else {
                    format!("**failed**: {}", r.failures.join("; ").replace('|', "\\|"))
                }
            );
        }
        fixtures_markdown(&mut s, self.fixtures);
        let _ = writeln!(
            s,
            "\nBinaries from `{}`, run {}. DynamoDB endpoint {}. Harness run: {:.0} s.",
            self.bin_dir.display(),
            self.runner(),
            self.endpoint,
            self.elapsed.as_secs_f64()
        );
        s
    }

    pub fn json(&self) -> Value {
        json!({
            "mode": "check",
            "bin_dir": self.bin_dir.display().to_string(),
            "runner": self.runner,
            "dynamodb_endpoint": self.endpoint,
            "invokes": self.invokes,
            "elapsed_s": r3(self.elapsed.as_secs_f64()),
            "ok": !self.failed(),
            "functions": self.results.iter().map(|r| json!({
                "label": r.label, "binary": r.binary, "path": r.path,
                "binary_bytes": r.binary_bytes,
                "init_ms": r3(r.inits.p50()), "first_invoke_ms": r3(r.first.p50()),
                "invokes_ok": r.first.len() + r.warm.len(), "invokes": 1 + self.invokes,
                "dynamodb_requests_per_invoke": r3(r.ddb_per_invoke()),
                "dynamodb_requests_by_operation": r.ddb_warm,
                "dynamodb_requests_first_invoke": r.ddb_first,
                "dynamodb_requests_limit": r.ddb_limit,
                "vobiz_requests_per_invoke": r3(r.vobiz_per_invoke()),
                "failures": r.failures,
            })).collect::<Vec<_>>(),
            "fixtures": fixtures_json(self.fixtures),
        })
    }
}
