//! Where a function's init goes: a fresh process (`bench --init-breakdown`, same profile as the
//! functions) runs the steps a function's `main` runs, one at a time, and times each. The first
//! use of the phone-number metadata is timed on its own, because a function pays it wherever a
//! number is first parsed: in init when `FROM_NUMBER` is set (send-otp), else in the first invoke.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::stats::Samples;

/// The steps, in the order they run.
pub const STEPS: &[&str] = &[
    "tokio runtime (current thread, as the functions use)",
    "telemetry::init",
    "Config::from_env without Vobiz (OTP_SECRET key derivation)",
    "first Phone::parse (phonenumber metadata)",
    "second Phone::parse",
    "first +1 Phone::parse (the 25 NANP regions' metadata)",
    "SDK HTTP client (rustls/ring, Amazon roots compiled in)",
    "DynamoDB config from the environment (shared::lambda::dynamo_config)",
    "DynamoDB client",
    "first GetItem (cold connection)",
    "Vobiz client (reqwest, rustls/ring, webpki roots)",
    "tokio runtime (multi-thread, as hello uses; comparison)",
];

async fn first_get(c: &aws_sdk_dynamodb::Client) {
    let table = std::env::var("OTP_TABLE").unwrap_or_default();
    let r = c
        .get_item()
        .table_name(table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("PHONE#+910000000000".into()),
        )
        .consistent_read(true)
        .send()
        .await;
    if let Err(e) = r {
        eprintln!("breakdown GetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e));
    }
}

/// The child side: runs the steps and prints one `BREAKDOWN {json}` line.
pub fn run_child() {
    let mut times: Vec<(&str, f64)> = Vec::new();
    let t = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    times.push((STEPS[0], t.elapsed().as_secs_f64() * 1e3));
    rt.block_on(async {
        let mut step = |i: usize, t: Instant| times.push((STEPS[i], t.elapsed().as_secs_f64() * 1e3));
        let t = Instant::now();
        shared::telemetry::init();
        step(1, t);
        let t = Instant::now();
        let no_vobiz = |k: &str| match k {
            "VOBIZ_AUTH_ID" | "VOBIZ_AUTH_TOKEN" | "FROM_NUMBER" => None,
            _ => std::env::var(k).ok(),
        };
        let cfg = shared::Config::from_lookup(no_vobiz).expect("config");
        let _ = cfg.require_keys().expect("keys");
        step(2, t);
        let t = Instant::now();
        let _ = shared::domain::Phone::parse("+918012345678").expect("phone");
        step(3, t);
        let t = Instant::now();
        let _ = shared::domain::Phone::parse("+919876543210").expect("phone");
        step(4, t);
        let t = Instant::now();
        let _ = shared::domain::Phone::parse("+12015550123").expect("phone");
        step(5, t);
        let t = Instant::now();
        let _http = shared::tls::sdk_http_client(false).expect("http client");
        step(6, t);
        let t = Instant::now();
        let conf = shared::lambda::dynamo_config().expect("sdk config");
        step(7, t);
        let t = Instant::now();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        step(8, t);
        let t = Instant::now();
        first_get(&client).await;
        step(9, t);
        let t = Instant::now();
        let full = shared::Config::from_env().expect("config with Vobiz");
        let _calls = shared::vobiz::VobizClient::new(full.require_vobiz().expect("vobiz")).expect("vobiz client");
        step(10, t);
    });
    let t = Instant::now();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    times.push((STEPS[11], t.elapsed().as_secs_f64() * 1e3));
    drop(multi);
    let json: serde_json::Map<String, serde_json::Value> = times
        .into_iter()
        .map(|(k, v)| (k.to_owned(), serde_json::json!(v)))
        .collect();
    println!("BREAKDOWN {}", serde_json::Value::Object(json));
}

/// The parent side: `runs` fresh processes of `bench_exe`, each step's samples.
pub fn measure(bench_exe: &Path, env: &[(String, String)], runs: usize) -> Result<BTreeMap<String, Samples>, String> {
    let mut out: BTreeMap<String, Samples> = BTreeMap::new();
    for _ in 0..runs {
        let o = Command::new(bench_exe)
            .arg("--init-breakdown")
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("AWS_LAMBDA_FUNCTION_NAME", "send-otp")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("init breakdown: {e}"))?;
        let text = String::from_utf8_lossy(&o.stdout);
        let line = text.lines().find_map(|l| l.strip_prefix("BREAKDOWN ")).ok_or_else(|| {
            format!(
                "init breakdown printed nothing: {}{}",
                text,
                String::from_utf8_lossy(&o.stderr)
            )
        })?;
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        for step in STEPS {
            if let Some(ms) = v[*step].as_f64() {
                out.entry((*step).to_owned())
                    .or_default()
                    .push(std::time::Duration::from_secs_f64(ms / 1e3));
            }
        }
    }
    Ok(out)
}

/// The phase: send-otp's init, step by step, in `--inits` fresh processes of this binary (same
/// profile), with send-otp's environment.
pub fn phase(ctx: &crate::harness::Ctx) -> BTreeMap<String, Samples> {
    eprintln!("bench: init breakdown ...");
    let env = ctx.function_env("send-otp");
    match std::env::current_exe()
        .map_err(|e| e.to_string())
        .and_then(|exe| measure(&exe, &env, ctx.o.inits))
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: {e}");
            BTreeMap::new()
        }
    }
}
