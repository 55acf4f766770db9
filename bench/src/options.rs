//! The harness's arguments (`bench --help` prints them; `scripts/bench.sh` passes them).

use std::path::PathBuf;
use std::time::Duration;

use crate::scenario::Case;

pub struct Options {
    /// Only the priced verification (and the warm invokes its durations come from).
    pub cost: bool,
    pub smoke: bool,
    /// Correctness only (see the module's documentation).
    pub check: bool,
    pub bin_dir: PathBuf,
    /// `sam build`'s output directory: each function's binary is `DIR/<Name>Function/bootstrap`.
    pub sam_build_dir: Option<PathBuf>,
    /// Command (and arguments) the function binaries are started with, e.g. an emulator.
    pub runner: Vec<String>,
    /// Spawn to first `/next`, and one invoke: generous under `--check`, where an emulator may
    /// take seconds for what takes milliseconds natively.
    pub init_timeout: Duration,
    pub invoke_timeout: Duration,
    pub profile: String,
    pub events: PathBuf,
    pub endpoint: String,
    pub out: PathBuf,
    pub invokes: usize,
    pub inits: usize,
    pub floor_samples: usize,
    pub load_secs: u32,
    pub load: bool,
    pub only: Option<String>,
}

impl Options {
    /// `--only a,b`: the cases whose label starts with one of the names (all without it).
    pub fn wants(&self, c: &Case) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.split(',').any(|o| !o.is_empty() && c.label.starts_with(o.trim())))
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench --bin-dir DIR [--smoke] [--profile NAME] [--endpoint URL] [--events DIR] [--out FILE]\n\
         \x20            [--invokes N] [--inits K] [--load-secs S] [--no-load] [--only LABEL,...]\n\
         \x20      bench --cost --bin-dir DIR [--profile NAME] [--endpoint URL] [--invokes N]\n\
         \x20      bench --check (--bin-dir DIR | --sam-build-dir DIR) [--runner \"CMD ARGS\"] [--endpoint URL]\n\
         \x20            [--events DIR] [--out FILE] [--invokes N] [--only LABEL,...]\n\
         DIR holds the eight function binaries, hello and devserver (target/release or target/debug).\n\
         URL is the DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB). Run it through scripts/bench.sh.\n\
         --cost: only one whole verification, priced (durations from N warm invokes of its routes).\n\
         --check: correctness only (every fixture, N invokes per function, no timing figures, no floors).\n\
         --sam-build-dir: `sam build`'s output (.aws-sam/build): DIR/<Name>Function/bootstrap.\n\
         --runner: start each function as CMD ARGS BINARY (e.g. \"qemu-aarch64-static -L /usr/aarch64-linux-gnu\").\n\
         Run --check through scripts/arm64-smoke.sh."
    );
    std::process::exit(2)
}

pub fn parse() -> Options {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        cost: false,
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
            "--cost" => o.cost = true,
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
    if o.cost && o.check {
        usage();
    }
    if o.cost {
        o.load = false;
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
    } else if o.cost {
        100
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
        } else if o.cost {
            "cost.json"
        } else if o.smoke {
            "smoke.json"
        } else {
            "latest.json"
        });
    }
    o
}
