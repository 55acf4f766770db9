//! The benchmark harness (`scripts/bench.sh` runs it; `bench/README.md` explains the figures).
//!
//! It starts each function's binary under a fake Lambda Runtime API on loopback, with the
//! DynamoDB endpoint behind a counting proxy and a fake Vobiz, and feeds it the `events/`
//! fixtures; it measures the floors (a bare lambda_runtime hello, bare DynamoDB round trips, a
//! bare Vobiz POST) in the same run, loads the local server with wrk, and prints a markdown
//! table (stdout) and a JSON file. It exits non-zero if any invocation failed, answered a 5xx or
//! an unexpected reply; a missed target is reported, not fatal.
//!
//! `--check` is correctness only, for binaries that cannot be timed meaningfully (the arm64
//! bootstraps of `sam build` under qemu, `scripts/arm64-smoke.sh`): every fixture and a few
//! invokes of each function, checked as in the other modes; no floors, no hello, no init
//! breakdown, no load test, generous timeouts.

mod breakdown;
mod cost;
mod floors;
mod journey;
mod load;
mod proxy;
mod report;
mod runtime_api;
mod scenario;
mod seed;
mod stats;
mod vobiz;

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use scenario::{CASES, Case, Floor, HELLO, Kind, Scenario};
use seed::Seeder;
use stats::Samples;

const TABLE: &str = "otp-bench";

struct Options {
    smoke: bool,
    /// Correctness only (see the module's documentation).
    check: bool,
    bin_dir: PathBuf,
    /// `sam build`'s output directory: each function's binary is `DIR/<Name>Function/bootstrap`.
    sam_build_dir: Option<PathBuf>,
    /// Command (and arguments) the function binaries are started with, e.g. an emulator.
    runner: Vec<String>,
    /// Spawn to first `/next`, and one invoke: generous under `--check`, where an emulator may
    /// take seconds for what takes milliseconds natively.
    init_timeout: Duration,
    invoke_timeout: Duration,
    profile: String,
    events: PathBuf,
    endpoint: String,
    out: PathBuf,
    invokes: usize,
    inits: usize,
    floor_samples: usize,
    load_secs: u32,
    load: bool,
    only: Option<String>,
}

impl Options {
    /// `--only a,b`: the cases whose label starts with one of the names (all without it).
    fn wants(&self, c: &Case) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.split(',').any(|o| !o.is_empty() && c.label.starts_with(o.trim())))
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench --bin-dir DIR [--smoke] [--profile NAME] [--endpoint URL] [--events DIR] [--out FILE]\n\
         \x20            [--invokes N] [--inits K] [--load-secs S] [--no-load] [--only LABEL,...]\n\
         \x20      bench --check (--bin-dir DIR | --sam-build-dir DIR) [--runner \"CMD ARGS\"] [--endpoint URL]\n\
         \x20            [--events DIR] [--out FILE] [--invokes N] [--only LABEL,...]\n\
         DIR holds the seven function binaries, hello and devserver (target/release or target/debug).\n\
         URL is the DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB). Run it through scripts/bench.sh.\n\
         --check: correctness only (every fixture, N invokes per function, no timing figures, no floors).\n\
         --sam-build-dir: `sam build`'s output (.aws-sam/build): DIR/<Name>Function/bootstrap.\n\
         --runner: start each function as CMD ARGS BINARY (e.g. \"qemu-aarch64-static -L /usr/aarch64-linux-gnu\").\n\
         Run --check through scripts/arm64-smoke.sh."
    );
    std::process::exit(2)
}

fn options() -> Options {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        smoke: false,
        check: false,
        bin_dir: PathBuf::new(),
        sam_build_dir: None,
        runner: Vec::new(),
        init_timeout: Duration::from_secs(10),
        invoke_timeout: Duration::from_secs(15),
        profile: String::new(),
        events: root.join("events"),
        endpoint: std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default(),
        out: PathBuf::new(),
        invokes: 0,
        inits: 0,
        floor_samples: 0,
        load_secs: 0,
        load: true,
        only: None,
    };
    let (mut invokes, mut inits, mut load_secs) = (None, None, None);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--smoke" => o.smoke = true,
            "--check" => o.check = true,
            "--bin-dir" => o.bin_dir = PathBuf::from(val()),
            "--sam-build-dir" => o.sam_build_dir = Some(PathBuf::from(val())),
            "--runner" => o.runner = val().split_whitespace().map(str::to_owned).collect(),
            "--profile" => o.profile = val(),
            "--events" => o.events = PathBuf::from(val()),
            "--endpoint" => o.endpoint = val(),
            "--out" => o.out = PathBuf::from(val()),
            "--invokes" => invokes = Some(val().parse().unwrap_or_else(|_| usage())),
            "--inits" => inits = Some(val().parse().unwrap_or_else(|_| usage())),
            "--load-secs" => load_secs = Some(val().parse().unwrap_or_else(|_| usage())),
            "--no-load" => o.load = false,
            "--only" => o.only = Some(val()),
            _ => usage(),
        }
    }
    if let Some(dir) = &o.sam_build_dir {
        if !o.check || !o.bin_dir.as_os_str().is_empty() {
            usage();
        }
        o.bin_dir = dir.clone();
    }
    if o.bin_dir.as_os_str().is_empty() || o.endpoint.is_empty() || (!o.runner.is_empty() && !o.check) {
        usage();
    }
    if o.check {
        o.smoke = false;
        o.load = false;
        o.init_timeout = Duration::from_secs(120);
        o.invoke_timeout = Duration::from_secs(120);
    }
    o.invokes = invokes.unwrap_or(if o.check {
        3
    } else if o.smoke {
        20
    } else {
        1000
    });
    o.inits = inits.unwrap_or(if o.smoke || o.check { 1 } else { 15 }).max(1);
    o.floor_samples = o.invokes;
    o.load_secs = load_secs.unwrap_or(if o.smoke { 2 } else { 10 });
    if o.profile.is_empty() {
        o.profile = o
            .bin_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    if o.out.as_os_str().is_empty() {
        o.out = root.join("bench/out").join(if o.check {
            "check.json"
        } else if o.smoke {
            "smoke.json"
        } else {
            "latest.json"
        });
    }
    o
}

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

pub struct FloorResults {
    pub get: Samples,
    pub update: Samples,
    pub transact: Samples,
    pub vobiz: Samples,
    pub ddb_requests: BTreeMap<String, u64>,
    /// Per case label: the same requests as the handler, sent from this process.
    pub same: BTreeMap<&'static str, Samples>,
}

pub struct FixtureResult {
    pub file: String,
    pub function: &'static str,
    pub status: Option<u16>,
    pub ddb: BTreeMap<String, u64>,
    pub vobiz: u64,
    pub latency_ms: f64,
    pub error: Option<String>,
}

struct Ctx {
    o: Options,
    proxy: proxy::Proxy,
    vobiz: vobiz::FakeVobiz,
    seeder: Seeder,
    logs: PathBuf,
}

impl Ctx {
    /// The environment `template.yaml` gives `function` (secrets resolved to test values),
    /// plus the SDK's variables and the bench's own endpoints and limits.
    fn function_env(&self, function: &str) -> Vec<(String, String)> {
        function_env(
            function,
            &format!("http://{}", self.proxy.addr),
            &format!("http://{}", self.vobiz.addr),
        )
    }

    fn binary(&self, name: &str) -> PathBuf {
        binary_path(&self.o, name)
    }

    /// Starts the binary of `function` under this run's runner, if any.
    fn spawn(
        &self,
        function: &str,
        api: SocketAddr,
        env: &[(String, String)],
        log: &Path,
    ) -> std::io::Result<(std::process::Child, Instant)> {
        runtime_api::spawn(&self.o.runner, &self.binary(function), function, api, env, log)
    }
}

/// Where the binary of `name` is: `DIR/name`, or with `--sam-build-dir` the bootstrap of the
/// function template.yaml names after it (send-otp: `DIR/SendOtpFunction/bootstrap`).
fn binary_path(o: &Options, name: &str) -> PathBuf {
    if o.sam_build_dir.is_none() {
        return o.bin_dir.join(name);
    }
    let mut logical = String::new();
    for part in name.split('-') {
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            logical.extend(c.to_uppercase());
            logical.push_str(chars.as_str());
        }
    }
    o.bin_dir.join(format!("{logical}Function")).join("bootstrap")
}

/// See [`Ctx::function_env`].
pub fn function_env(function: &str, dynamodb: &str, vobiz: &str) -> Vec<(String, String)> {
    let e = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    // Globals of template.yaml (PUBLIC_URL is empty there: derived from the request).
    let mut env = vec![
        e("AWS_REGION", "ap-south-1"),
        e("AWS_DEFAULT_REGION", "ap-south-1"),
        e("AWS_ACCESS_KEY_ID", "bench"),
        e("AWS_SECRET_ACCESS_KEY", "bench"),
        e("AWS_SESSION_TOKEN", "bench"),
        e("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
        e("OTP_TABLE", TABLE),
        e("ALLOWED_REGIONS", "IN"),
        e("REGION_LOCALES", "IN:en-IN"),
        e("CALL_LANGUAGE", "en-US"),
        e("APP_NAME", ""),
        e("PROMPTS_BASE_URL", "https://prompts.example/prompts"),
    ];
    // Every function but otp-status, cancel-otp and otp-events uses a key (template.yaml gives
    // them no OTP_SECRET).
    if !["otp-status", "cancel-otp", scenario::STREAM_FUNCTION].contains(&function) {
        env.push(e("OTP_SECRET", seed::FIXTURE_SECRET));
    }
    match function {
        "send-otp" => env.extend([
            e("VOBIZ_AUTH_ID", "MA_BENCH"),
            e("VOBIZ_AUTH_TOKEN", "bench-vobiz-auth-token"),
            e("FROM_NUMBER", "+918012345678"),
            e("VOBIZ_API_URL", vobiz),
            // Every invoke is a new number; the global ceiling must not stop 1 000 of them.
            e("CALLS_PER_MINUTE", "100000"),
            e("SENDS_PER_HOUR", "100"),
        ]),
        // EventBridge on the same endpoint (moto serves it), through the counting proxy; no
        // webhook (the fake Vobiz serves only the call API).
        scenario::STREAM_FUNCTION => env.extend([
            e("AWS_ENDPOINT_URL_EVENTBRIDGE", dynamodb),
            e("EVENT_BUS_NAME", "default"),
        ]),
        "answer" | "otp-choice" | "hangup" => env.extend([
            e("VOBIZ_AUTH_TOKEN", "bench-vobiz-auth-token"),
            e("VOBIZ_WEBHOOK_SIGNATURE", "optional"),
            e("OTP_MAX_REPEATS", &scenario::MAX_REPEATS.to_string()),
        ]),
        _ => {}
    }
    env
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--init-breakdown") {
        breakdown::run_child();
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("--check-phones") {
        // The functions' phone validation, built as they are (regex's trimmed features, not the
        // tests' full set), judged against phonenumber's own database.
        match shared::domain::phone::check_light_metadata() {
            Ok((numbers, valid)) => {
                eprintln!("bench: phone metadata: {numbers} numbers ({valid} valid) judged as phonenumber judges them");
                return;
            }
            Err(e) => {
                eprintln!("bench: phone metadata disagrees with phonenumber: {e}");
                std::process::exit(1);
            }
        }
    }
    let o = options();
    // The floors' client reads the SDK's usual variables, like the functions do; make them the
    // same values the functions get. Still single-threaded here: no other thread reads the
    // environment while it changes.
    for (k, v) in [
        ("AWS_REGION", "ap-south-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_SESSION_TOKEN", "bench"),
    ] {
        #[allow(
            unsafe_code,
            reason = "single-threaded here: nothing reads the environment concurrently"
        )]
        unsafe {
            std::env::set_var(k, v)
        };
    }
    #[allow(
        unsafe_code,
        reason = "single-threaded here: nothing reads the environment concurrently"
    )]
    unsafe {
        std::env::remove_var("AWS_PROFILE")
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(run(o));
    std::process::exit(code);
}

async fn run(o: Options) -> i32 {
    let started = Instant::now();
    let upstream: SocketAddr = match o
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    {
        Some(a) => a,
        None => {
            eprintln!(
                "bench: the DynamoDB endpoint must be http://HOST:PORT, got {}",
                o.endpoint
            );
            return 2;
        }
    };
    let needed: Vec<&str> = CASES
        .iter()
        .filter(|c| o.wants(c))
        .map(|c| c.binary)
        .chain((!o.check).then_some("hello"))
        .chain(o.load.then_some("devserver"))
        .collect();
    for b in needed {
        let path = binary_path(&o, b);
        if !path.is_file() {
            eprintln!(
                "bench: {} is missing; build it first ({} does)",
                path.display(),
                if o.check {
                    "scripts/arm64-smoke.sh"
                } else {
                    "scripts/bench.sh"
                }
            );
            return 2;
        }
    }
    let out_dir = o
        .out
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let logs = out_dir.join("logs");
    let _ = std::fs::create_dir_all(&logs);
    for f in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
        let _ = std::fs::remove_file(f.path());
    }

    let proxy = proxy::start(upstream).await.expect("proxy");
    let vobiz = vobiz::start().await.expect("fake Vobiz");
    // Seeding and table creation go straight to the endpoint: not counted.
    let direct = floors::client(&o.endpoint).await;
    if let Err(e) = shared::store::dynamo::create_table_if_missing(&direct, TABLE).await {
        eprintln!("bench: cannot create table {TABLE} at {}: {e}", o.endpoint);
        return 2;
    }
    let token = match scenario::load_event(&o.events, "answer-started.json") {
        Ok(ev) => ev["pathParameters"]["token"].as_str().unwrap_or_default().to_owned(),
        Err(e) => {
            eprintln!("bench: {e}");
            return 2;
        }
    };
    let seeder = Seeder::new(shared::store::DynamoStore::new(direct, TABLE), &token);
    let ctx = Ctx {
        o,
        proxy,
        vobiz,
        seeder,
        logs,
    };
    eprintln!(
        "bench: {} mode, binaries from {}{}, DynamoDB {} via counting proxy {}, fake Vobiz {}",
        if ctx.o.check {
            "check"
        } else if ctx.o.smoke {
            "smoke"
        } else {
            "full"
        },
        ctx.o.bin_dir.display(),
        if ctx.o.runner.is_empty() {
            String::new()
        } else {
            format!(" run by `{}`", ctx.o.runner.join(" "))
        },
        ctx.o.endpoint,
        ctx.proxy.addr,
        ctx.vobiz.addr
    );
    if ctx.o.check {
        return check(&ctx, started).await;
    }

    // 1. Every fixture once through its function (first, on a fresh table: send-otp.json asks
    //    for the fixture number, which must not be in its cooldown yet).
    let fixtures = run_fixtures(&ctx).await;

    // 2. The floors.
    let kit = match floor_kit(&ctx).await {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bench: floors: {e}");
            return 1;
        }
    };
    let floors = match run_floors(&ctx, &kit).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bench: floors: {e}");
            return 1;
        }
    };

    // 3. Where init goes, step by step, in fresh processes of this binary (same profile).
    eprintln!("bench: init breakdown ...");
    let env = function_env(
        "send-otp",
        &format!("http://{}", ctx.proxy.addr),
        &format!("http://{}", ctx.vobiz.addr),
    );
    let breakdown = match std::env::current_exe()
        .map_err(|e| e.to_string())
        .and_then(|exe| breakdown::measure(&exe, &env, ctx.o.inits))
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: {e}");
            BTreeMap::new()
        }
    };

    // 4. The hello floor and each function.
    let mut results = Vec::new();
    for case in std::iter::once(&HELLO).chain(CASES.iter()) {
        if case.kind != Kind::Hello && !ctx.o.wants(case) {
            continue;
        }
        eprintln!("bench: {} ...", case.label);
        let r = run_case(&ctx, case, Some(&kit)).await;
        for f in &r.failures {
            eprintln!("bench: {}: {f}", r.label);
        }
        results.push(r);
    }

    // 5. One whole verification, priced (cost.rs): its requests tapped, its durations the warm
    //    invokes above.
    let mut cost_note = None;
    let verification = if let Some(missing) = journey::FUNCTIONS.iter().find(|f| !ctx.binary(f).is_file()) {
        cost_note = Some(format!("skipped: {} is missing", ctx.binary(missing).display()));
        None
    } else {
        eprintln!("bench: one whole verification, priced ...");
        match journey::run(&ctx, &results).await {
            Ok(v) => Some(v),
            Err(e) => {
                cost_note = Some(format!("failed: {e}"));
                None
            }
        }
    };

    // 6. The local server under load.
    let mut load_results = Vec::new();
    let mut load_note = None;
    if ctx.o.load {
        if load::wrk_available() {
            eprintln!("bench: devserver under wrk ...");
            let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("wrk");
            let spec = load::LoadSpec {
                devserver: &ctx.binary("devserver"),
                scripts: &scripts,
                log: &ctx.logs.join("devserver.log"),
                seconds: ctx.o.load_secs,
                connections: &[2, 64],
            };
            match load::run(&spec) {
                Ok(r) => load_results = r,
                Err(e) => load_note = Some(format!("load test failed: {e}")),
            }
        } else {
            load_note = Some("skipped: wrk is not installed (apt-get install wrk)".into());
        }
    } else {
        load_note = Some("skipped (--no-load)".into());
    }

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
    let json = report.json();
    match std::fs::write(&ctx.o.out, serde_json::to_string_pretty(&json).unwrap() + "\n") {
        Ok(()) => eprintln!("bench: wrote {}", ctx.o.out.display()),
        Err(e) => eprintln!("bench: cannot write {}: {e}", ctx.o.out.display()),
    }

    let mut failed = false;
    for r in &results {
        if !r.failures.is_empty() {
            failed = true;
        }
    }
    for f in &fixtures {
        if let Some(e) = &f.error {
            eprintln!("bench: fixture {}: {e}", f.file);
            failed = true;
        }
    }
    for l in &load_results {
        if l.s5xx > 0 {
            eprintln!(
                "bench: {} at {} connections answered {} 5xx",
                l.route, l.connections, l.s5xx
            );
            failed = true;
        }
    }
    if let Some(n) = cost_note.as_deref().filter(|n| n.starts_with("failed")) {
        eprintln!("bench: the whole verification {n}");
        failed = true;
    }
    if load_note.as_deref().is_some_and(|n| n.starts_with("load test failed")) {
        eprintln!("bench: {}", load_note.as_deref().unwrap());
        failed = true;
    }
    eprintln!(
        "bench: done in {:.1} s{}",
        started.elapsed().as_secs_f64(),
        if failed { " WITH FAILURES" } else { "" }
    );
    if failed { 1 } else { 0 }
}

async fn floor_kit(ctx: &Ctx) -> Result<floors::Kit, String> {
    let client = floors::client(&format!("http://{}", ctx.proxy.addr)).await;
    // An attempt item like the ones the functions read and write.
    let phone = shared::domain::Phone::parse("+919870000001").map_err(|e| e.to_string())?;
    ctx.seeder
        .seed(&phone, seed::FIXTURE_CODE, "bench-floor", false)
        .await?;
    Ok(floors::Kit {
        client,
        table: TABLE.to_owned(),
        pk: format!("PHONE#{}", phone.e164()),
        http: floors::vobiz_http()?,
        vobiz_url: format!("http://{}/api/v1/Account/MA_BENCH/Call/", ctx.vobiz.addr),
    })
}

async fn run_floors(ctx: &Ctx, kit: &floors::Kit) -> Result<FloorResults, String> {
    eprintln!("bench: floors ...");
    let client = kit.client.clone();
    let n = ctx.o.floor_samples;
    let warmup = 10.min(n);
    let before = ctx.proxy.counts.snapshot();
    let get = kit.series(Floor::GetItem, warmup, n).await?;
    let update = kit.series(Floor::UpdateItem, warmup, n).await?;
    let transact = kit.transact_series(warmup, n).await?;
    let ddb_requests = proxy::delta(&before, &ctx.proxy.counts.snapshot());
    let vobiz = kit.vobiz_series(warmup, n).await?;

    // The same requests each handler sends, from a warm DynamoStore on the proxied client.
    let store = shared::store::DynamoStore::new(client, TABLE);
    let calls = shared::vobiz::VobizClient::new(shared::vobiz::VobizConfig {
        api_url: format!("http://{}", ctx.vobiz.addr),
        auth_id: "MA_BENCH".into(),
        auth_token: "bench-vobiz-auth-token".into(),
        from: shared::domain::Phone::parse("+918012345678").map_err(|e| e.to_string())?,
        timeout_ms: 8000,
        max_retries: 2,
    })
    .map_err(|e| e.to_string())?;
    let mut same = BTreeMap::new();
    let same_n = if ctx.o.smoke { n } else { n.min(300) };
    for case in CASES.iter().filter(|c| ctx.o.wants(c)) {
        same.insert(
            case.label,
            floors::same_request::measure(case.kind, &store, &ctx.seeder, &calls, same_n)
                .await
                .map_err(|e| format!("{}: {e}", case.label))?,
        );
    }
    Ok(FloorResults {
        get,
        update,
        transact,
        vobiz,
        ddb_requests,
        same,
    })
}

/// `--check`: every fixture once, then each function's cold start and `--invokes` invokes, each
/// reply checked. No floor is measured: the times are the emulator's, not the functions'.
async fn check(ctx: &Ctx, started: Instant) -> i32 {
    let fixtures = run_fixtures(ctx).await;
    let mut results = Vec::new();
    for case in CASES.iter().filter(|c| ctx.o.wants(c)) {
        eprintln!("bench: {} ...", case.label);
        let r = run_case(ctx, case, None).await;
        for f in &r.failures {
            eprintln!("bench: {}: {f}", r.label);
        }
        results.push(r);
    }
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
    match std::fs::write(&ctx.o.out, serde_json::to_string_pretty(&report.json()).unwrap() + "\n") {
        Ok(()) => eprintln!("bench: wrote {}", ctx.o.out.display()),
        Err(e) => eprintln!("bench: cannot write {}: {e}", ctx.o.out.display()),
    }
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
    if failed { 1 } else { 0 }
}

/// One function's cold start(s) and invokes. With a `kit`, one floor sample is taken after each
/// warm invoke (`--check` has none).
async fn run_case(ctx: &Ctx, case: &Case, kit: Option<&floors::Kit>) -> CaseResult {
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
        ddb_range: (u64::MAX, 0),
        ddb_first: BTreeMap::new(),
        vobiz_warm: 0,
        vobiz_first: 0,
        failures: Vec::new(),
    };
    let template = match scenario::load_event(&ctx.o.events, case.event) {
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
        let last = k + 1 == ctx.o.inits;
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
        match invoke(ctx, &api, &mut sc).await {
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
        if last {
            for i in 0..ctx.o.invokes {
                // Reading the record back costs a request to the endpoint: every invoke in smoke
                // mode, a sample in full mode.
                sc.verify_store = ctx.o.smoke || i % 50 == 0;
                match invoke(ctx, &api, &mut sc).await {
                    Ok((latency, ddb, vob)) => {
                        r.warm.push(latency);
                        if let Some(kit) = kit.filter(|_| case.floor != Floor::Hello) {
                            match kit.sample(case.floor, i).await {
                                Ok(d) => r.paired.push(d),
                                Err(e) => r.failures.push(format!("paired floor {i}: {e}")),
                            }
                        }
                        let total: u64 = ddb.values().sum();
                        r.ddb_range = (r.ddb_range.0.min(total), r.ddb_range.1.max(total));
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
            r.rss_kib = runtime_api::peak_rss_kib(child.id());
        }
        if let Ok(Some(status)) = child.try_wait() {
            r.failures
                .push(format!("the process exited ({status}); log: {}", log.display()));
        }
        runtime_api::stop(&mut child);
        drop(api);
    }
    if r.ddb_range.0 == u64::MAX {
        r.ddb_range = (0, 0);
    }
    r
}

/// One invoke: prepare, send, check. Returns the latency and the requests it caused.
async fn invoke(
    ctx: &Ctx,
    api: &runtime_api::RuntimeApi,
    sc: &mut Scenario,
) -> Result<(Duration, BTreeMap<String, u64>, u64), String> {
    let event = sc.prepare(&ctx.seeder).await?;
    let before = ctx.proxy.counts.snapshot();
    let vob_before = ctx.vobiz.total();
    let out = api.invoke(event, ctx.o.invoke_timeout).await;
    let ddb = proxy::delta(&before, &ctx.proxy.counts.snapshot());
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

async fn run_fixtures(ctx: &Ctx) -> Vec<FixtureResult> {
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
