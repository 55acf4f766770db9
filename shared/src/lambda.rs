//! Building what a Lambda function needs, once, in `main`: configuration, the DynamoDB client
//! and store, the Vobiz client. No network I/O happens here.

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
    let client = dynamo_client().await;
    Ok(Service::new(cfg, keys, DynamoStore::new(client, table)))
}

/// The service plus the Vobiz client, for send-otp.
pub async fn service_with_calls() -> Result<(Service<DynamoStore>, VobizClient)> {
    let cfg = Config::from_env()?;
    let calls = VobizClient::new(cfg.require_vobiz()?)?;
    Ok((service_from(&cfg).await?, calls))
}

/// A DynamoDB client from the SDK's own conventions (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`).
pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_dynamodb::Client::new(&sdk)
}
