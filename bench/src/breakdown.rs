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
    "tokio runtime (multi-thread)",
    "telemetry::init",
    "Config::from_env without Vobiz (OTP_SECRET key derivation)",
    "first Phone::parse (phonenumber metadata)",
    "second Phone::parse",
    "DynamoDB client, trust store = the Amazon roots only (proposal)",
    "DynamoDB client from a hand-built config (no aws-config; proposal)",
    "first GetItem on that client (cold connection)",
    "aws-config load (shared::lambda::sdk_config)",
    "DynamoDB client",
    "first GetItem on the aws-config client (cold connection)",
    "Vobiz client (reqwest + rustls roots)",
];

/// A DynamoDB client configured like `shared::lambda::dynamo_client` (same timeouts and retries)
/// from the variables Lambda sets, without aws-config's provider chains.
/// The Amazon Trust Services roots (DynamoDB's certificates chain to them), read from the
/// system's certificate directory here; a function would embed them. `None` when not found.
fn amazon_roots() -> Option<Vec<Vec<u8>>> {
    let roots: Vec<Vec<u8>> = (1..=4).filter_map(|i| std::fs::read(format!("/etc/ssl/certs/Amazon_Root_CA_{i}.pem")).ok()).collect();
    (roots.len() == 4).then_some(roots)
}

/// The first SDK client of the process, built on an HTTP client that trusts only `roots`.
fn amazon_roots_client(roots: Vec<Vec<u8>>) -> aws_sdk_dynamodb::Client {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let mut store = TrustStore::empty().with_native_roots(false);
    for pem in roots {
        store = store.with_pem_certificate(pem);
    }
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(TlsContext::builder().with_trust_store(store).build().expect("tls context"))
        .build_https();
    let conf = lean_builder().http_client(http).build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

fn lean_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(lean_builder().build())
}

fn lean_builder() -> aws_sdk_dynamodb::config::Builder {
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use std::time::Duration;
    let var = |k: &str| std::env::var(k).ok();
    let mut b = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(var("AWS_REGION").unwrap_or_default()))
        .credentials_provider(Credentials::new(
            var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            var("AWS_SESSION_TOKEN"),
            None,
            "lambda-environment",
        ))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(800))
                .operation_attempt_timeout(Duration::from_millis(1500))
                .operation_timeout(Duration::from_secs(4))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(url) = var("AWS_ENDPOINT_URL_DYNAMODB") {
        b = b.endpoint_url(url);
    }
    b
}

async fn first_get(c: &aws_sdk_dynamodb::Client) {
    let table = std::env::var("OTP_TABLE").unwrap_or_default();
    let r = c
        .get_item()
        .table_name(table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("PHONE#+910000000000".into()))
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
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
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
        // Built first: it pays the process's one-time TLS setup, without the system roots.
        if let Some(roots) = amazon_roots() {
            let t = Instant::now();
            let _amazon = amazon_roots_client(roots);
            step(5, t);
        }
        let t = Instant::now();
        let lean = lean_client();
        step(6, t);
        let t = Instant::now();
        first_get(&lean).await;
        step(7, t);
        let t = Instant::now();
        let sdk = shared::lambda::sdk_config().await;
        step(8, t);
        let t = Instant::now();
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        step(9, t);
        let t = Instant::now();
        first_get(&client).await;
        step(10, t);
        let t = Instant::now();
        let full = shared::Config::from_env().expect("config with Vobiz");
        let _calls = shared::vobiz::VobizClient::new(full.require_vobiz().expect("vobiz")).expect("vobiz client");
        step(11, t);
    });
    let json: serde_json::Map<String, serde_json::Value> = times.into_iter().map(|(k, v)| (k.to_owned(), serde_json::json!(v))).collect();
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
            format!("init breakdown printed nothing: {}{}", text, String::from_utf8_lossy(&o.stderr))
        })?;
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        for step in STEPS {
            if let Some(ms) = v[*step].as_f64() {
                out.entry((*step).to_owned()).or_default().push(std::time::Duration::from_secs_f64(ms / 1e3));
            }
        }
    }
    Ok(out)
}
