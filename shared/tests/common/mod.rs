//! Test support: fixed keys, a fake clock, request builders, and the DynamoDB endpoint.
#![allow(dead_code, reason = "each test binary uses a different part of the support code")]

pub mod proxy;
pub mod vobiz;

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use shared::config::Config;
use shared::domain::Keys;
use shared::handlers::Service;
use std::sync::atomic::{AtomicI64, Ordering};

use shared::ports::Clock;
use shared::store::{DynamoStore, dynamo};

pub const SECRET: &[u8] = b"test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const PUBLIC_URL: &str = "https://otp.example/prod";
pub const PHONE: &str = "+919876543210";
pub const T0: i64 = 1_790_000_000;

pub fn keys() -> Keys {
    Keys::derive(SECRET).unwrap()
}

/// The default configuration, with PUBLIC_URL set and the key-press gate off, so that a test
/// about something else hears the code on pickup. The gate (on by default) has its own tests,
/// which ask for it with `config_with(&[("OTP_KEYPRESS_GATE", "on")])`.
pub fn config() -> Config {
    config_with(&[])
}

pub type TestService<S> = Service<S, Arc<FakeClock>>;

pub fn service<S: shared::ports::Store>(store: S) -> (TestService<S>, Arc<FakeClock>) {
    service_with(store, config())
}

pub fn service_with<S: shared::ports::Store>(store: S, cfg: Config) -> (TestService<S>, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::at(T0));
    (Service::with_clock(&cfg, keys(), store, clock.clone()), clock)
}

/// The configuration with these variables set (and PUBLIC_URL; the key-press gate off unless
/// `vars` says otherwise).
pub fn config_with(vars: &[(&str, &str)]) -> Config {
    let mut map: std::collections::HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    map.entry("OTP_KEYPRESS_GATE".into()).or_insert_with(|| "off".into());
    let mut cfg = Config::from_lookup(move |k| map.get(k).cloned()).unwrap();
    cfg.public_url = Some(PUBLIC_URL.into());
    cfg
}

/// A store on the DynamoDB endpoint named by `AWS_ENDPOINT_URL_DYNAMODB`, in a fresh table.
///
/// Tests that need it are `#[ignore]`d, so a plain `cargo test` counts them as ignored in its
/// summary; `scripts/test.sh` starts an endpoint and runs them with `--include-ignored`. Asked
/// for without an endpoint, it fails the test rather than pass without testing anything.
pub async fn dynamo_store() -> DynamoStore {
    match dynamo_store_if_configured().await {
        Some(store) => store,
        None => panic!("this test needs a DynamoDB endpoint in AWS_ENDPOINT_URL_DYNAMODB: run scripts/test.sh"),
    }
}

/// [`dynamo_store`] in a table with the template's stream (for the delivery events' tests).
pub async fn dynamo_store_with_stream() -> DynamoStore {
    match fresh_table(true).await {
        Some(store) => store,
        None => panic!("this test needs a DynamoDB endpoint in AWS_ENDPOINT_URL_DYNAMODB: run scripts/test.sh"),
    }
}

/// [`dynamo_store`], or `None` when no endpoint is configured.
pub async fn dynamo_store_if_configured() -> Option<DynamoStore> {
    fresh_table(false).await
}

/// A store in a new table on the configured endpoint (with a stream when asked), or `None`.
async fn fresh_table(stream: bool) -> Option<DynamoStore> {
    if std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_err() {
        return None;
    }
    // Generous time bounds: the test endpoint serialises requests, so 100 concurrent ones queue.
    // (The fault test below uses the production bounds.)
    let conf =
        shared::lambda::dynamo_config_with(std::time::Duration::from_secs(30), std::time::Duration::from_secs(90))
            .unwrap();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let table = format!(
        "otp-test-{}",
        shared::domain::secrets::random_id(&mut rand::rng()).replace(['-', '_'], "x")
    );
    let created = if stream {
        dynamo::create_table_with_stream_if_missing(&client, &table).await
    } else {
        dynamo::create_table_if_missing(&client, &table).await
    };
    created.expect("create the test table");
    Some(DynamoStore::new(client, table))
}

/// A DynamoDB store reached through a [`proxy::Proxy`] the test can stop; `None` when the
/// endpoint is not plain HTTP on an address a TCP proxy can stand in for.
pub async fn proxied_dynamo_store() -> Option<(DynamoStore, proxy::Proxy)> {
    let direct = dynamo_store().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok()?;
    let Some(addr) = endpoint
        .strip_prefix("http://")
        .and_then(|a| a.trim_end_matches('/').parse::<std::net::SocketAddr>().ok())
    else {
        eprintln!("SKIPPED: {endpoint} is not http://IP:PORT, which the fault proxy needs");
        return None;
    };
    let proxy = proxy::Proxy::start(addr).await;
    let conf = shared::lambda::dynamo_config()
        .unwrap()
        .to_builder()
        .endpoint_url(format!("http://{}", proxy.addr))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), direct.table());
    Some((store, proxy))
}

pub fn json_req(method: &str, path: &str, body: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

pub fn form_req(path: &str, pairs: &[(&str, &str)]) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
        .unwrap()
}

pub fn text(resp: &Response<Body>) -> String {
    match resp.body() {
        Body::Empty => String::new(),
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

pub fn json(resp: &Response<Body>) -> serde_json::Value {
    serde_json::from_str(&text(resp)).unwrap_or_else(|_| panic!("not JSON: {}", text(resp)))
}

/// The code the store holds for [`PHONE`]'s current attempt (sealed; opened with the test keys).
pub async fn stored_code<S: shared::ports::Store, K>(svc: &Service<S, K>) -> String {
    stored_code_of(svc, PHONE).await
}

/// The code the store holds for `phone`'s current attempt.
pub async fn stored_code_of<S: shared::ports::Store, K>(svc: &Service<S, K>, phone: &str) -> String {
    let phone = shared::domain::Phone::parse(phone).unwrap();
    let a = svc.store.get(&phone).await.unwrap().unwrap();
    svc.keys
        .open_code(&phone, &a.attempt_id, a.code_sealed.as_ref().unwrap())
        .unwrap()
}

/// A code of the same length that differs from `code` in every digit.
pub fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| if c == '9' { '0' } else { ((c as u8) + 1) as char })
        .collect()
}

/// The code a VobizXML document reads, spoken (`<Speak>`) or played (`<Play>`), as one string.
/// The call reads it `CODE_READS` times in a row: each reading (a run of digits) must be the
/// same, and the code is said once here; no digit at all is the empty string.
pub fn spoken_digits(xml: &str) -> String {
    let readings = readings(xml);
    if let Some(first) = readings.first() {
        assert!(
            readings.iter().all(|r| r == first),
            "the readings differ: {readings:?}\n{xml}"
        );
    }
    readings.into_iter().next().unwrap_or_default()
}

/// Each reading of the code in a VobizXML document: the runs of consecutive digits.
pub fn readings(xml: &str) -> Vec<String> {
    let mut runs: Vec<String> = Vec::new();
    let mut in_run = false;
    for h in shared::vobiz::heard(xml, None) {
        match h.digit {
            Some(d) if in_run => runs.last_mut().unwrap().push(char::from(b'0' + d)),
            Some(d) => {
                runs.push(char::from(b'0' + d).to_string());
                in_run = true;
            }
            None => in_run = false,
        }
    }
    runs
}

/// Runs one async test body against the memory store and against DynamoDB.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(shared::store::MemoryStore::new()).await } )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                #[ignore = "needs a DynamoDB endpoint: scripts/test.sh starts one and runs it"]
                async fn $name() { super::$name(super::common::dynamo_store().await).await }
            )*
        }
    };
}

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct FakeClock(AtomicI64);

impl FakeClock {
    pub fn at(now: i64) -> FakeClock {
        FakeClock(AtomicI64::new(now))
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
