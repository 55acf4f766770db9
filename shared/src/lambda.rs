//! Building what a Lambda function needs, once, in `main`: configuration, the DynamoDB client
//! and store, the Vobiz client. No network I/O happens here.

use std::time::Duration;

use rand::TryRngCore;

use crate::config::Config;
use crate::error::Result;
use crate::handlers::Service;
use crate::store::DynamoStore;
use crate::vobiz::VobizClient;

/// The service every function runs on: DynamoDB store, system clock.
pub async fn service() -> Result<Service<DynamoStore>> {
    let cfg = Config::from_env()?;
    service_from(&cfg).await
}

pub async fn service_from(cfg: &Config) -> Result<Service<DynamoStore>> {
    service_with_keys(cfg, cfg.require_keys()?)
}

fn service_with_keys(cfg: &Config, keys: crate::domain::Keys) -> Result<Service<DynamoStore>> {
    let table = cfg.require_table()?;
    Ok(Service::new(cfg, keys, DynamoStore::new(dynamo_client()?, table)))
}

/// The service of a function that uses no key (otp-status reads a record, cancel-otp ends one),
/// so it needs no `OTP_SECRET` and is not given one; its keys come from a random secret of this
/// process, which nothing it does uses.
pub async fn read_only_service() -> Result<Service<DynamoStore>> {
    let cfg = Config::from_env()?;
    let keys = crate::domain::Keys::random(&mut rand::rngs::OsRng.unwrap_err())
        .ok_or_else(|| crate::error::Error::Config("could not derive throwaway keys".into()))?;
    service_with_keys(&cfg, keys)
}

/// The service plus the Vobiz client, for send-otp.
pub async fn service_with_calls() -> Result<(Service<DynamoStore>, VobizClient)> {
    let cfg = Config::from_env()?;
    let calls = VobizClient::new(cfg.require_vobiz()?)?;
    Ok((service_from(&cfg).await?, calls))
}

/// A DynamoDB client with bounded time: an unreachable table answers 503 within seconds, well
/// inside API Gateway's 29 s and Vobiz's webhook timeout, instead of hanging the function.
pub fn dynamo_client() -> Result<aws_sdk_dynamodb::Client> {
    Ok(aws_sdk_dynamodb::Client::from_conf(dynamo_config()?))
}

pub fn dynamo_config() -> Result<aws_sdk_dynamodb::Config> {
    dynamo_config_with(Duration::from_millis(1500), Duration::from_secs(4))
}

/// The DynamoDB client's configuration from the environment Lambda gives a function, with
/// other time bounds (tests against a slow local endpoint use longer ones):
///
/// - `AWS_REGION` (else `AWS_DEFAULT_REGION`);
/// - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: the execution role's
///   credentials, which Lambda sets for the life of the execution environment;
/// - `AWS_ENDPOINT_URL_DYNAMODB` (else `AWS_ENDPOINT_URL`), `AWS_USE_FIPS_ENDPOINT`,
///   `AWS_USE_DUALSTACK_ENDPOINT`.
///
/// Not `aws-config`: its provider chains (profile files, SSO, STS, IMDS) have nothing to find
/// on Lambda, cost half a millisecond of init reading `~/.aws` and add ~1 MB to every binary
/// (`bench --init-breakdown`). Elsewhere, put credentials in the environment
/// (`aws configure export-credentials --format env`).
pub fn dynamo_config_with(attempt: Duration, operation: Duration) -> Result<aws_sdk_dynamodb::Config> {
    let env = SdkEnv::read(|k| std::env::var(k).ok(), "AWS_ENDPOINT_URL_DYNAMODB")?;
    env.config(attempt, operation)
}

/// The `otp-events` function: the sinks its configuration names (EventBridge always, the
/// webhook when `EVENTS_WEBHOOK_URL` is set) and `MAX_FAILURES_PER_DAY`.
#[cfg(feature = "stream")]
#[derive(Debug)]
pub struct EventsService {
    pub sinks: Vec<crate::events::Sink>,
    pub failures_per_window: u32,
    /// How events carry the number (`EVENTS_PHONE`).
    pub phone: crate::domain::events::PhoneForm,
}

#[cfg(feature = "stream")]
pub fn events_service() -> Result<EventsService> {
    let cfg = Config::from_env()?;
    let env = SdkEnv::read(|k| std::env::var(k).ok(), "AWS_ENDPOINT_URL_EVENTBRIDGE")?;
    let client = aws_sdk_eventbridge::Client::from_conf(env.eventbridge_config()?);
    let mut sinks = vec![crate::events::Sink::EventBridge(crate::events::EventBridgeSink::new(
        client,
        &cfg.events.bus,
    ))];
    if let Some((url, secret)) = &cfg.events.webhook {
        sinks.push(crate::events::Sink::Webhook(crate::events::WebhookSink::new(
            url, secret,
        )?));
    }
    Ok(EventsService {
        sinks,
        failures_per_window: cfg.limits.failures_per_window,
        phone: cfg.events.phone.clone(),
    })
}

/// One DynamoDB stream batch: the events of each record to every sink, in order; the first
/// record a sink refused is reported (`batchItemFailures`) so Lambda retries from it, bisecting
/// and finally parking it on the on-failure queue, and one bad record never blocks the stream.
#[cfg(feature = "stream")]
pub async fn on_stream(
    svc: &EventsService,
    event: aws_lambda_events::event::dynamodb::Event,
) -> std::result::Result<aws_lambda_events::event::streams::DynamoDbEventResponse, std::convert::Infallible> {
    use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
    let mut changes = Vec::with_capacity(event.records.len());
    let mut failed = None;
    for record in &event.records {
        match crate::store::dynamo::stream_change(record) {
            Ok(change) => changes.push(change),
            Err(e) => {
                // Unreadable: this record and everything after it are retried (and end on the
                // on-failure queue if they never read).
                tracing::warn!(error = %e, "stream record unreadable");
                failed = Some(record.change.sequence_number.clone().unwrap_or_default());
                break;
            }
        }
    }
    let first_refused = crate::events::deliver(&changes, &svc.sinks, svc.failures_per_window, &svc.phone).await;
    let failure = first_refused.or(failed);
    let mut response = DynamoDbEventResponse::default();
    if let Some(id) = failure {
        let mut item = DynamoDbBatchItemFailure::default();
        item.item_identifier = Some(id);
        response.batch_item_failures.push(item);
    }
    Ok(response)
}

/// One AWS SDK client's configuration from an [`SdkEnv`]: the same region, credentials, flags,
/// HTTP client and retry policy for every service the functions call, with the time bounds
/// given (connect, one attempt, the whole operation). A macro because each SDK crate has its
/// own, identical, configuration types.
macro_rules! sdk_config {
    ($sdk:ident, $env:expr, $connect:expr, $attempt:expr, $operation:expr) => {{
        use $sdk::config::retry::RetryConfig;
        use $sdk::config::timeout::TimeoutConfig;
        use $sdk::config::{BehaviorVersion, Credentials, Region};
        let env: SdkEnv = $env;
        let mut b = $sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(crate::tls::sdk_http_client(env.needs_system_roots())?)
            .region(Region::new(env.region))
            .credentials_provider(Credentials::new(
                env.key_id,
                env.secret,
                env.session_token,
                None,
                "environment",
            ))
            .use_fips(env.fips)
            .use_dual_stack(env.dual_stack)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout($connect)
                    .operation_attempt_timeout($attempt)
                    .operation_timeout($operation)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        if let Some(url) = env.endpoint {
            b = b.endpoint_url(url);
        }
        b.build()
    }};
}

/// What the DynamoDB client takes from the environment. (No `Debug`: it holds credentials.)
#[derive(PartialEq, Eq)]
struct SdkEnv {
    region: String,
    key_id: String,
    secret: String,
    session_token: Option<String>,
    endpoint: Option<String>,
    fips: bool,
    dual_stack: bool,
}

impl SdkEnv {
    /// `endpoint_var` is the service's own endpoint variable (`AWS_ENDPOINT_URL_DYNAMODB`), read
    /// before the common `AWS_ENDPOINT_URL`.
    fn read(var: impl Fn(&str) -> Option<String>, endpoint_var: &str) -> Result<SdkEnv> {
        use crate::Error;
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let flag = |k: &str| var(k).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or_else(|| Error::Config("AWS_REGION is not set".into()))?;
        let (Some(key_id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
            return Err(Error::Config(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into(),
            ));
        };
        Ok(SdkEnv {
            region,
            key_id,
            secret,
            session_token: var("AWS_SESSION_TOKEN"),
            endpoint: var(endpoint_var).or_else(|| var("AWS_ENDPOINT_URL")),
            fips: flag("AWS_USE_FIPS_ENDPOINT"),
            dual_stack: flag("AWS_USE_DUALSTACK_ENDPOINT"),
        })
    }

    /// An HTTPS endpoint of our own (a proxy, another DynamoDB) is trusted through the
    /// system's roots; AWS's own endpoints, and plain-HTTP local ones, need only Amazon's.
    fn needs_system_roots(&self) -> bool {
        self.endpoint
            .as_deref()
            .is_some_and(|e| e.trim_start().to_ascii_lowercase().starts_with("https:"))
    }

    fn config(self, attempt: Duration, operation: Duration) -> Result<aws_sdk_dynamodb::Config> {
        Ok(sdk_config!(
            aws_sdk_dynamodb,
            self,
            Duration::from_millis(800),
            attempt,
            operation
        ))
    }

    /// The EventBridge client's configuration: the same environment, credentials and HTTP
    /// client, longer bounds (nothing waits on it but the stream).
    #[cfg(feature = "stream")]
    fn eventbridge_config(self) -> Result<aws_sdk_eventbridge::Config> {
        Ok(sdk_config!(
            aws_sdk_eventbridge,
            self,
            Duration::from_secs(2),
            Duration::from_secs(5),
            Duration::from_secs(15)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<SdkEnv> {
        SdkEnv::read(
            |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()),
            "AWS_ENDPOINT_URL_DYNAMODB",
        )
    }

    const CREDS: [(&str, &str); 3] = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("AWS_SESSION_TOKEN", "t"),
    ];

    #[test]
    fn the_lambda_environment_is_enough() {
        let Ok(e) = env(&[&[("AWS_REGION", "ap-south-1")][..], &CREDS].concat()) else {
            panic!("config error")
        };
        assert!(
            e == SdkEnv {
                region: "ap-south-1".into(),
                key_id: "AKID".into(),
                secret: "s".into(),
                session_token: Some("t".into()),
                endpoint: None,
                fips: false,
                dual_stack: false,
            }
        );
        assert!(!e.needs_system_roots());
        let c = e.config(Duration::from_secs(1), Duration::from_secs(2)).unwrap();
        assert_eq!(c.region().map(|r| r.as_ref()), Some("ap-south-1"));
        let t = c.timeout_config().unwrap();
        assert_eq!(
            (t.operation_attempt_timeout(), t.operation_timeout()),
            (Some(Duration::from_secs(1)), Some(Duration::from_secs(2)))
        );
        assert_eq!(c.retry_config().unwrap().max_attempts(), 3);
        assert!(c.http_client().is_some());
    }

    #[test]
    fn endpoint_region_and_flags() {
        let Ok(e) = env(&[
            &[
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:8000"),
                ("AWS_USE_FIPS_ENDPOINT", "TRUE"),
                ("AWS_REGION", " "),
            ][..],
            &CREDS,
        ]
        .concat()) else {
            panic!("config error")
        };
        assert_eq!(
            (e.region.as_str(), e.endpoint.as_deref(), e.fips, e.dual_stack),
            ("us-east-1", Some("http://127.0.0.1:8000"), true, false)
        );
        assert!(!e.needs_system_roots(), "plain HTTP needs no roots at all");
        let Ok(e) = env(&[
            &[
                ("AWS_REGION", "x"),
                ("AWS_ENDPOINT_URL", "http://a"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "HTTPS://b"),
            ][..],
            &CREDS,
        ]
        .concat()) else {
            panic!("config error")
        };
        assert_eq!(
            e.endpoint.as_deref(),
            Some("HTTPS://b"),
            "the service-specific variable wins"
        );
        assert!(e.needs_system_roots());
    }

    #[test]
    fn missing_region_or_credentials_is_a_config_error() {
        assert!(matches!(env(&CREDS), Err(crate::Error::Config(_))));
        assert!(matches!(
            env(&[("AWS_REGION", "x"), ("AWS_ACCESS_KEY_ID", "a")]),
            Err(crate::Error::Config(_))
        ));
    }
}
