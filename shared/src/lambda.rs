//! Building what a Lambda function needs, once, in `main`: configuration, the DynamoDB client
//! and store, the Vobiz client. No network I/O happens here.

use std::time::Duration;

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
    let keys = cfg.require_keys()?;
    let table = cfg.require_table()?;
    let client = dynamo_client().await?;
    Ok(Service::new(cfg, keys, DynamoStore::new(client, table)))
}

/// The service plus the Vobiz client, for send-otp. Loads the phone-number metadata on a
/// background thread, so neither init nor (usually) the first invoke waits for it.
pub async fn service_with_calls() -> Result<(Service<DynamoStore>, VobizClient)> {
    std::thread::spawn(crate::domain::phone::warm_up);
    let cfg = Config::from_env()?;
    let calls = VobizClient::new(cfg.require_vobiz()?)?;
    Ok((service_from(&cfg).await?, calls))
}

/// A DynamoDB client from the SDK's own conventions (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`),
/// with bounded time: an unreachable table answers 503 within seconds, well inside API
/// Gateway's 29 s and Vobiz's webhook timeout, instead of hanging the function.
pub async fn dynamo_client() -> Result<aws_sdk_dynamodb::Client> {
    Ok(aws_sdk_dynamodb::Client::new(&sdk_config().await?))
}

pub async fn sdk_config() -> Result<aws_config::SdkConfig> {
    sdk_config_with(Duration::from_millis(1500), Duration::from_secs(4)).await
}

/// The SDK configuration with other time bounds (tests against a slow local endpoint). Its
/// HTTP client trusts only Amazon's roots unless an endpoint is configured ([`crate::tls`]).
pub async fn sdk_config_with(attempt: Duration, operation: Duration) -> Result<aws_config::SdkConfig> {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    // An HTTPS endpoint of our own (a proxy, another DynamoDB) is trusted through the
    // system's roots; AWS's own endpoints, and plain-HTTP local ones, need only Amazon's.
    let other_https_endpoint = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| v.trim_start().to_ascii_lowercase().starts_with("https:")));
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crate::tls::sdk_http_client(other_https_endpoint)?)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(800))
                .operation_attempt_timeout(attempt)
                .operation_timeout(operation)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await)
}
