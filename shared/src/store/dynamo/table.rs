//! Creating the table where none exists: for the local server and the tests only (a
//! deployment's table comes from `template.yaml`, which this mirrors).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus, TimeToLiveSpecification,
};

use super::item::{TTL_ATTRIBUTE, unavailable};
use crate::error::{Error, Result};

/// Creates the table (string key `pk`, on-demand, TTL on [`TTL_ATTRIBUTE`]) if it is missing,
/// and waits until it is active. For local endpoints and tests; production tables come from
/// `template.yaml`.
pub async fn create_table_if_missing(client: &Client, table: &str) -> Result<()> {
    create_table(client, table, false).await
}

/// [`create_table_if_missing`], with the template's stream of new and old images (the
/// delivery events' source). Only where a stream is read: moto's transactions slow down with
/// every stream record they add (each costs time in proportion to the stream's length).
pub async fn create_table_with_stream_if_missing(client: &Client, table: &str) -> Result<()> {
    create_table(client, table, true).await
}

async fn create_table(client: &Client, table: &str, stream: bool) -> Result<()> {
    let exists = client.describe_table().table_name(table).send().await;
    match exists {
        Ok(_) => return Ok(()),
        Err(SdkError::ServiceError(e)) if e.err().is_resource_not_found_exception() => {}
        Err(e) => return Err(unavailable(e)),
    }
    let built = (|| {
        Ok::<_, aws_sdk_dynamodb::error::BuildError>((
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()?,
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()?,
            // As the template: every change, before and after, for the delivery events.
            StreamSpecification::builder()
                .stream_enabled(stream)
                .set_stream_view_type(stream.then_some(StreamViewType::NewAndOldImages))
                .build()?,
        ))
    })();
    let (attr, key_schema, ttl, stream) = built.map_err(|e| Error::Config(e.to_string()))?;
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(attr)
        .key_schema(key_schema)
        .billing_mode(BillingMode::PayPerRequest)
        .set_stream_specification(stream.stream_enabled.then_some(stream))
        .send()
        .await
        .map_err(unavailable)?;
    for _ in 0..120 {
        let d = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(unavailable)?;
        if d.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(ttl)
                .send()
                .await
                .map_err(unavailable)?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(Error::StoreUnavailable(format!("table {table} did not become active")))
}
