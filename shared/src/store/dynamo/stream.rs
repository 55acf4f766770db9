//! The table's stream, as otp-events reads it (feature `stream`).

use super::item::{Item, from_item};
use crate::domain::Attempt;
use crate::error::Result;
use crate::events::StreamChange;

/// One DynamoDB stream record as the events see it (`NEW_AND_OLD_IMAGES`): the number's
/// attempt before and after. Items that are not a number's (the global counters, idempotency
/// replies) read as no attempt, and so does a key-only image (moto records the item a
/// transaction is about to write as its key alone first); a `REMOVE` (the TTL, or an erasure)
/// has no after.
pub fn stream_change(record: &aws_lambda_events::event::dynamodb::EventRecord) -> Result<StreamChange> {
    let image = |image: &serde_dynamo::Item| -> Result<Option<Attempt>> {
        let item: Item = image.clone().into();
        match item.get("pk").and_then(|v| v.as_s().ok()) {
            Some(pk) if pk.starts_with("PHONE#") && item.contains_key("attempt_id") => from_item(&item).map(Some),
            _ => Ok(None),
        }
    };
    let change = &record.change;
    // The TTL's deletions come from DynamoDB itself; any other removal is an erasure.
    let by_ttl = record
        .user_identity
        .as_ref()
        .is_some_and(|u| u.type_ == "Service" && u.principal_id == "dynamodb.amazonaws.com");
    Ok(StreamChange {
        id: change.sequence_number.clone().unwrap_or_default(),
        at: change.approximate_creation_date_time.timestamp(),
        old: image(&change.old_image)?,
        new: if record.event_name == "REMOVE" {
            None
        } else {
            image(&change.new_image)?
        },
        erased: record.event_name == "REMOVE" && !by_ttl,
    })
}
