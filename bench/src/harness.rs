//! What every phase runs against: the options, the counting proxy in front of the DynamoDB
//! endpoint, the fake Vobiz, the seeder, and how a function's binary is found and started.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::options::Options;
use crate::seed::{self, Seeder};
use crate::{floors, proxy, runtime_api, scenario, vobiz};

pub const TABLE: &str = "otp-bench";

pub struct Ctx {
    pub o: Options,
    pub proxy: proxy::Proxy,
    pub vobiz: vobiz::FakeVobiz,
    pub seeder: Seeder,
    pub logs: PathBuf,
}

impl Ctx {
    /// Checks the binaries are there, starts the proxy and the fake Vobiz, creates the table.
    /// `Err` is the exit code, after saying why.
    pub async fn start(o: Options, needed: &[&str]) -> Result<Ctx, i32> {
        let Some(upstream) = o
            .endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
        else {
            eprintln!(
                "bench: the DynamoDB endpoint must be http://HOST:PORT, got {}",
                o.endpoint
            );
            return Err(2);
        };
        for b in needed {
            let path = binary_path(&o, b);
            if !path.is_file() {
                let by = if o.check {
                    "scripts/arm64-smoke.sh"
                } else {
                    "scripts/bench.sh"
                };
                eprintln!("bench: {} is missing; build it first ({by} does)", path.display());
                return Err(2);
            }
        }
        let logs = o
            .out
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            .join("logs");
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
            return Err(2);
        }
        let token = match scenario::load_event(&o.events, "answer-started.json") {
            Ok(ev) => ev["pathParameters"]["token"].as_str().unwrap_or_default().to_owned(),
            Err(e) => {
                eprintln!("bench: {e}");
                return Err(2);
            }
        };
        let seeder = Seeder::new(shared::store::DynamoStore::new(direct, TABLE), &token);
        let mode = if o.check {
            "check"
        } else if o.cost {
            "cost"
        } else if o.smoke {
            "smoke"
        } else {
            "full"
        };
        let runner = if o.runner.is_empty() {
            String::new()
        } else {
            format!(" run by `{}`", o.runner.join(" "))
        };
        eprintln!(
            "bench: {mode} mode, binaries from {}{runner}, DynamoDB {} via counting proxy {}, fake Vobiz {}",
            o.bin_dir.display(),
            o.endpoint,
            proxy.addr,
            vobiz.addr
        );
        Ok(Ctx {
            o,
            proxy,
            vobiz,
            seeder,
            logs,
        })
    }

    /// The environment `template.yaml` gives `function` (secrets resolved to test values),
    /// plus the SDK's variables and the bench's own endpoints and limits.
    pub fn function_env(&self, function: &str) -> Vec<(String, String)> {
        function_env(
            function,
            &format!("http://{}", self.proxy.addr),
            &format!("http://{}", self.vobiz.addr),
        )
    }

    pub fn binary(&self, name: &str) -> PathBuf {
        binary_path(&self.o, name)
    }

    /// Starts the binary of `function` under this run's runner, if any.
    pub fn spawn(
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
pub fn binary_path(o: &Options, name: &str) -> PathBuf {
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
    // Every function but otp-status, cancel-otp, erase-number and otp-events uses a key (template.yaml gives
    // them no OTP_SECRET).
    if !["otp-status", "cancel-otp", "erase-number", scenario::STREAM_FUNCTION].contains(&function) {
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
            e("OTP_MAX_REPEATS", &seed::MAX_REPEATS.to_string()),
        ]),
        _ => {}
    }
    env
}
