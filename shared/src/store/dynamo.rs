//! The DynamoDB store: one item per phone number (`pk = "PHONE#+91…"`), every state change one
//! conditional `UpdateItem` whose condition expression is the predicate of the same name on
//! [`Attempt`]. A refused write returns the old item (`ReturnValuesOnConditionCheckFailure`),
//! so the caller can tell "already used" from "expired" without a second read.
//!
//! Webhooks need no index: their token decrypts to the phone number, so they address the item
//! by its key with a strongly consistent write right after send-otp wrote it.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification, TransactWriteItem, Update,
};

use crate::domain::limits::Counter;
use crate::domain::limits::{FAILURE_WINDOW_SECS, contention_pause};
use crate::domain::{Attempt, CallRef, Phone, Telephony};
use crate::error::{Error, Result};
use crate::ports::{CallCounters, HangupFacts, Held, Replay, Start, Store, Write};

/// The TTL attribute (epoch seconds). DynamoDB deletes expired items lazily, within days; every
/// read and condition checks `expires_at` itself.
pub const TTL_ATTRIBUTE: &str = "ttl";
/// How long a finished attempt stays for `/otp-status` and the audit trail after it expires.
pub const RETENTION_SECS: i64 = 24 * 3600;

/// The "live" condition: [`Attempt::is_live`].
/// `last_guess` is the last charged guess; once it matches the code, the code is used.
const LIVE: &str = "attribute_not_exists(#verified_at) AND attribute_not_exists(#canceled_at) \
                    AND (attribute_not_exists(#last_guess) OR #last_guess <> #code_mac) \
                    AND attribute_not_exists(#call_failed) \
                    AND #expires_at > :now AND size(#guesses) < #guess_cap";

/// The attempt's own attributes that a new attempt removes when the old one had them (the
/// last four are of an earlier data model: failure counters the guesses replaced, and repeats,
/// which reads replaced).
const ATTEMPT_OPTIONAL: [&str; 18] = [
    "last_guess",
    "call_failed",
    "answered_at",
    "call_uuid",
    "ended_at",
    "hangup",
    "hangup_cause",
    "verified_at",
    "nonces",
    "signed",
    "test",
    "canceled_at",
    "locale",
    "failures_until",
    "wrong_attempts",
    "failures_since",
    "locked_until",
    "repeats",
];

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A webhook's conditional update, `condition` and [`Attempt::is_called_by`]: the call's
    /// token (`:th`), and a signed webhook brings no used nonce and records its nonces and that
    /// the attempt is signed, while an unsigned one is refused once it is. The call's id is in
    /// `:cu` for `condition`.
    async fn webhook_update(
        &self,
        call: &CallRef<'_>,
        condition: &str,
        update: &str,
        mut values: Vec<(&str, AttributeValue)>,
    ) -> Result<Write> {
        values.push((":th", s(call.token_hash)));
        values.push((":cu", s(call.call_uuid)));
        let mut condition = format!("#token_hash = :th AND {condition}");
        let mut nonces: Vec<String> = call.nonces.to_vec();
        nonces.sort();
        nonces.dedup();
        if nonces.is_empty() {
            condition.push_str(" AND (attribute_not_exists(#signed) OR #signed = :false)");
            values.push((":false", AttributeValue::Bool(false)));
            return self.update(call.phone, &condition, update, values).await;
        }
        let names: Vec<String> = (0..nonces.len()).map(|i| format!(":nonce{i}")).collect();
        for (name, nonce) in names.iter().zip(&nonces) {
            condition.push_str(&format!(" AND NOT contains(#nonces, {name})"));
            values.push((name.as_str(), s(nonce)));
        }
        values.push((":nonce_set", AttributeValue::Ss(nonces)));
        values.push((":true", AttributeValue::Bool(true)));
        let update = format!(
            "{} ADD #nonces :nonce_set",
            update.replacen("SET ", "SET #signed = :true, ", 1)
        );
        self.update(call.phone, &condition, &update, values).await
    }

    /// One conditional UpdateItem on the phone's item. Returns the new item, or on a failed
    /// condition the old one (if any).
    async fn update(
        &self,
        phone: &Phone,
        condition: &str,
        update: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Write> {
        let names = names_in(&[condition, update]);
        let values: HashMap<String, AttributeValue> = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        // A write to an item a send's transaction holds at that moment is refused with
        // TransactionConflict (nothing written): wait a moment and write again, a few times.
        let mut tries = 0u32;
        let result = loop {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", key(phone))
                .condition_expression(condition)
                .update_expression(update)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            match result {
                Err(SdkError::ServiceError(e)) if e.err().is_transaction_conflict_exception() && tries < 5 => {
                    tries += 1;
                    let pause = contention_pause(&mut rand::rng(), tries);
                    tokio::time::sleep(pause).await;
                }
                Err(SdkError::ServiceError(e)) if e.err().is_transaction_conflict_exception() => {
                    return Err(Error::Busy);
                }
                other => break other,
            }
        };
        match result {
            Ok(out) => Ok(Write::Done(from_item(
                out.attributes
                    .as_ref()
                    .ok_or_else(|| Error::Corrupt("no attributes returned".into()))?,
            )?)),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let old = match e.err() {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                        c.item.as_ref()
                    }
                    _ => None,
                };
                Ok(Write::Refused(
                    old.filter(|i| !i.is_empty()).map(from_item).transpose()?,
                ))
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn done(w: Write) -> Option<Attempt> {
    match w {
        Write::Done(a) => Some(a),
        Write::Refused(_) => None,
    }
}

impl Store for DynamoStore {
    async fn start_attempt(
        &self,
        attempt: &Attempt,
        prior: Option<&Attempt>,
        counters: &CallCounters,
        replay: Option<&Replay>,
    ) -> Result<Start> {
        // The number's item: every attribute of the new attempt is set (the number's carried
        // counters included), the old attempt's optional ones removed.
        let item = to_item(attempt);
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let mut sets = Vec::new();
        for (k, v) in &item {
            if k == "pk" {
                continue;
            }
            sets.push(format!("#{k} = :{k}"));
            values.insert(format!(":{k}"), v.clone());
        }
        let removes: Vec<String> = ATTEMPT_OPTIONAL
            .iter()
            .filter(|k| !item.contains_key(**k))
            .map(|k| format!("#{k}"))
            .collect();
        let mut update_expr = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update_expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let condition = match prior {
            None => "attribute_not_exists(#version)".to_owned(),
            Some(p) => {
                values.insert(":seen_version".into(), n(p.version));
                values.insert(":seen_guesses".into(), n(p.guessed()));
                "#version = :seen_version AND (attribute_not_exists(#guesses) OR size(#guesses) = :seen_guesses)"
                    .to_owned()
            }
        };
        let number = Update::builder()
            .table_name(&self.table)
            .key("pk", key(&attempt.phone))
            .update_expression(&update_expr)
            .condition_expression(&condition)
            .set_expression_attribute_names(Some(names_in(&[&update_expr, &condition])))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        // A unit of each global counter's shard (the minute's ceiling, the day's budget).
        let take = |c: &Counter| {
            let update = "SET #ttl = :expires ADD #calls :one";
            let cond = "attribute_not_exists(#calls) OR #calls < :cap";
            Update::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(c.key.clone()))
                .update_expression(update)
                .condition_expression(cond)
                .set_expression_attribute_names(Some(names_in(&[update, cond])))
                .set_expression_attribute_values(Some(HashMap::from([
                    (":expires".to_owned(), n(c.expires)),
                    (":one".to_owned(), n(1)),
                    (":cap".to_owned(), n(c.cap)),
                ])))
                .build()
                .map_err(|e| Error::Corrupt(e.to_string()))
        };
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(number).build())
            .transact_items(TransactWriteItem::builder().update(take(&counters.minute)?).build());
        if let Some(day) = &counters.day {
            transaction = transaction.transact_items(TransactWriteItem::builder().update(take(day)?).build());
        }
        if let Some(r) = replay {
            // The reply under its key, in the same transaction: unless a live one is there.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(replay_item(r)))
                .condition_expression("attribute_not_exists(#pk) OR #expires_at <= :now")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#expires_at", "expires_at")
                .expression_attribute_values(":now", n(attempt.created_at))
                .build()
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            transaction = transaction.transact_items(TransactWriteItem::builder().put(put).build());
        }
        // The items in order: the number, the minute's shard, the day's shard, the reply.
        let day_at = counters.day.as_ref().map(|_| 2);
        let replay_at = replay.map(|_| 2 + usize::from(counters.day.is_some()));
        let result = transaction.send().await;
        match result {
            Ok(_) => Ok(Start::Started),
            Err(SdkError::ServiceError(e)) => match e.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let codes: Vec<&str> = c
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None"))
                        .collect();
                    let failed = |i: Option<usize>| i.and_then(|i| codes.get(i)) == Some(&"ConditionalCheckFailed");
                    let held = |i: Option<usize>| {
                        i.and_then(|i| codes.get(i))
                            .is_some_and(|c| ["TransactionConflict", "ThrottlingError"].contains(c))
                    };
                    Ok(if held(Some(1)) {
                        Start::Contended(Held::Minute)
                    } else if held(day_at) {
                        Start::Contended(Held::Day)
                    } else if (0..codes.len()).any(|i| held(Some(i))) {
                        Start::Contended(Held::Other)
                    } else if failed(replay_at) {
                        Start::KeyTaken
                    } else if failed(Some(0)) || codes.is_empty() {
                        // The number changed since it was read (or no reason was given).
                        Start::Conflict
                    } else if failed(Some(1)) {
                        Start::GlobalLimit
                    } else if failed(day_at) {
                        Start::BudgetLimit
                    } else {
                        Start::Conflict
                    })
                }
                TransactWriteItemsError::TransactionInProgressException(_)
                | TransactWriteItemsError::ThrottlingException(_)
                | TransactWriteItemsError::ProvisionedThroughputExceededException(_) => {
                    Ok(Start::Contended(Held::Other))
                }
                _ => Err(unavailable(SdkError::ServiceError(e))),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn cancel(&self, phone: &Phone, now: i64) -> Result<Write> {
        self.update(
            phone,
            LIVE,
            "SET #canceled_at = :now REMOVE #code_sealed",
            vec![(":now", n(now))],
        )
        .await
    }

    async fn replay(&self, key_hash: &str, now: i64) -> Result<Option<Replay>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("{REPLAY_PREFIX}{key_hash}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else { return Ok(None) };
        let r = replay_from_item(key_hash, &item)?;
        Ok((r.expires_at > now).then_some(r))
    }

    async fn update_replay(&self, replay: &Replay) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(replay_item(replay)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn record_call_failed(&self, phone: &Phone, attempt_id: &str, reason: &str) -> Result<bool> {
        let w = self
            .update(
                phone,
                "#attempt_id = :aid",
                "SET #call_failed = :r REMOVE #code_sealed",
                vec![(":aid", s(attempt_id)), (":r", s(reason))],
            )
            .await?;
        Ok(done(w).is_some())
    }

    async fn answer(&self, call: &CallRef<'_>, read_cap: Option<u32>, now: i64) -> Result<Write> {
        let live_call = format!(
            "{} AND (attribute_not_exists(#call_uuid) OR #call_uuid = :cu)",
            in_progress()
        );
        let pickup = "SET #call_uuid = :cu, #answered_at = if_not_exists(#answered_at, :now)";
        match read_cap {
            None => {
                self.webhook_update(call, &live_call, pickup, vec![(":now", n(now))])
                    .await
            }
            Some(cap) => {
                self.webhook_update(
                    call,
                    &format!("{live_call} AND #reads < :read_cap"),
                    &format!("{pickup}, #reads = #reads + :one"),
                    vec![(":now", n(now)), (":read_cap", n(cap)), (":one", n(1))],
                )
                .await
            }
        }
    }

    async fn read_code(&self, call: &CallRef<'_>, read_cap: u32, now: i64) -> Result<Write> {
        let condition = format!("{} AND #call_uuid = :cu AND #reads < :read_cap", in_progress());
        self.webhook_update(
            call,
            &condition,
            "SET #reads = #reads + :one",
            vec![(":now", n(now)), (":read_cap", n(read_cap)), (":one", n(1))],
        )
        .await
    }

    async fn hang_up(&self, call: &CallRef<'_>, facts: &HangupFacts, now: i64) -> Result<Write> {
        self.webhook_update(
            call,
            "attribute_not_exists(#ended_at) AND (attribute_not_exists(#call_uuid) OR #call_uuid = :cu)",
            "SET #ended_at = :now, #hangup = :t, #hangup_cause = :c REMOVE #code_sealed",
            vec![
                (":now", n(now)),
                (":t", s(facts.telephony.as_str())),
                (":c", s(&facts.cause)),
            ],
        )
        .await
    }

    async fn guess(&self, phone: &Phone, guess_mac: &str, now: i64) -> Result<Write> {
        self.update(
            phone,
            LIVE,
            "SET #guesses = list_append(#guesses, :guess), #last_guess = :last_guess, \
             #failures_until = if_not_exists(#failures_until, :window_end), #ttl = :ttl",
            vec![
                (":now", n(now)),
                (":guess", AttributeValue::L(vec![s(guess_mac)])),
                (":last_guess", s(guess_mac)),
                (":window_end", n(now + FAILURE_WINDOW_SECS)),
                // Nothing the record holds outlasts a failure window opened now.
                (":ttl", n(now + FAILURE_WINDOW_SECS + RETENTION_SECS)),
            ],
        )
        .await
    }

    async fn record_verified(&self, phone: &Phone, attempt_id: &str, now: i64) -> Result<bool> {
        let w = self
            .update(
                phone,
                "#attempt_id = :aid AND attribute_not_exists(#verified_at)",
                "SET #verified_at = :now REMOVE #code_sealed",
                vec![(":aid", s(attempt_id)), (":now", n(now))],
            )
            .await?;
        Ok(done(w).is_some())
    }

    async fn get(&self, phone: &Phone) -> Result<Option<Attempt>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", key(phone))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.as_ref().map(from_item).transpose()
    }

    async fn get_for_send(&self, phone: &Phone, counters: &[String]) -> Result<(Option<Attempt>, Vec<u32>)> {
        let number = pk(phone);
        let mut wanted: Vec<HashMap<String, AttributeValue>> = std::iter::once(&number)
            .chain(counters)
            .map(|pk| HashMap::from([("pk".to_owned(), AttributeValue::S(pk.clone()))]))
            .collect();
        let mut found: HashMap<String, Item> = HashMap::new();
        // DynamoDB may leave keys unprocessed (throttling): ask again for those, a few times.
        for round in 0..BATCH_GET_ROUNDS {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(20 << round)).await;
            }
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut wanted)))
                .consistent_read(true)
                .build()
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                if let Some(Ok(pk)) = item.get("pk").map(AttributeValue::as_s) {
                    found.insert(pk.clone(), item);
                }
            }
            wanted = out
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
                .map(|k| k.keys)
                .unwrap_or_default();
            if wanted.is_empty() {
                let prior = found.get(&number).map(from_item).transpose()?;
                let counts = counters
                    .iter()
                    .map(|k| {
                        found
                            .get(k)
                            .and_then(|item| item.get("calls"))
                            .and_then(|v| v.as_n().ok())
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0)
                    })
                    .collect();
                return Ok((prior, counts));
            }
        }
        Err(Error::StoreUnavailable(
            "DynamoDB left keys of a BatchGetItem unprocessed".into(),
        ))
    }
}

/// How many times [`DynamoStore::get_for_send`] asks for keys DynamoDB left unprocessed.
const BATCH_GET_ROUNDS: u32 = 4;

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

fn unavailable<E: std::error::Error + 'static>(e: E) -> Error {
    Error::StoreUnavailable(DisplayErrorContext(e).to_string())
}

/// `#name` → `name` for every `#name` in the expressions (DynamoDB refuses unused names).
fn names_in(exprs: &[&str]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for expr in exprs {
        let mut rest = *expr;
        while let Some(i) = rest.find('#') {
            let word: String = rest[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + 1 + word.len()..];
            names.insert(format!("#{word}"), word);
        }
    }
    names
}

fn key(phone: &Phone) -> AttributeValue {
    AttributeValue::S(pk(phone))
}

/// The key of a number's item.
fn pk(phone: &Phone) -> String {
    format!("PHONE#{}", phone.e164())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// [`Attempt::is_live`] and the call in progress (its sealed code there, not ended).
fn in_progress() -> String {
    format!("{LIVE} AND attribute_exists(#code_sealed) AND attribute_not_exists(#ended_at)")
}

/// The key of a reply kept under an `Idempotency-Key`: `IDEM#` and the key's hash.
const REPLAY_PREFIX: &str = "IDEM#";

fn replay_item(r: &Replay) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(format!("{REPLAY_PREFIX}{}", r.key_hash)));
    item.insert("body_hash".into(), s(&r.body_hash));
    item.insert("status".into(), n(r.status));
    item.insert("body".into(), s(&r.body));
    item.insert("expires_at".into(), n(r.expires_at));
    item.insert(TTL_ATTRIBUTE.into(), n(r.expires_at + RETENTION_SECS));
    item
}

fn replay_from_item(key_hash: &str, item: &Item) -> Result<Replay> {
    let get_s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let get_n = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|x| x.parse::<i64>().ok())
    };
    let corrupt = || Error::Corrupt("a kept reply is unreadable".into());
    Ok(Replay {
        key_hash: key_hash.to_owned(),
        body_hash: get_s("body_hash").ok_or_else(corrupt)?,
        status: get_n("status")
            .and_then(|v| u16::try_from(v).ok())
            .ok_or_else(corrupt)?,
        body: get_s("body").ok_or_else(corrupt)?,
        expires_at: get_n("expires_at").ok_or_else(corrupt)?,
    })
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn to_item(a: &Attempt) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), key(&a.phone));
    item.insert("phone".into(), s(a.phone.e164()));
    item.insert("attempt_id".into(), s(&a.attempt_id));
    item.insert("created_at".into(), n(a.created_at));
    item.insert("expires_at".into(), n(a.expires_at));
    item.insert(TTL_ATTRIBUTE.into(), n(a.keep_until() + RETENTION_SECS));
    item.insert("token_hash".into(), s(&a.token_hash));
    item.insert("code_mac".into(), s(&a.code_mac));
    item.insert(
        "guesses".into(),
        AttributeValue::L(a.guesses.iter().map(|g| s(g)).collect()),
    );
    // The last guess again, for the "live" condition (a condition cannot index a list by an
    // attribute); derived, so `from_item` does not read it.
    if let Some(last) = a.guesses.last() {
        item.insert("last_guess".into(), s(last));
    }
    item.insert("guess_cap".into(), n(a.guess_cap));
    item.insert("max_attempts".into(), n(a.max_attempts));
    item.insert("reads".into(), n(a.reads));
    let mut opt_s = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            item.insert(k.into(), s(v));
        }
    };
    opt_s("code_sealed", &a.code_sealed);
    opt_s("call_failed", &a.call_failed);
    opt_s("call_uuid", &a.call_uuid);
    opt_s("hangup_cause", &a.hangup_cause);
    opt_s("hangup", &a.hangup.map(|t| t.as_str().to_owned()));
    opt_s("locale", &a.locale);
    for (k, v) in [
        ("answered_at", a.answered_at),
        ("ended_at", a.ended_at),
        ("verified_at", a.verified_at),
        ("canceled_at", a.canceled_at),
        ("failures_until", a.failures_until),
    ] {
        if let Some(v) = v {
            item.insert(k.into(), n(v));
        }
    }
    if !a.nonces.is_empty() {
        item.insert("nonces".into(), AttributeValue::Ss(a.nonces.clone()));
    }
    if a.signed {
        item.insert("signed".into(), AttributeValue::Bool(true));
    }
    if a.test {
        item.insert("test".into(), AttributeValue::Bool(true));
    }
    item.insert("version".into(), n(a.version));
    item.insert(
        "send_times".into(),
        AttributeValue::L(a.send_times.iter().map(|t| n(*t)).collect()),
    );
    item.insert("failures".into(), n(a.failures));
    item
}

pub fn from_item(item: &Item) -> Result<Attempt> {
    let get_s = |k: &str| -> Option<String> { item.get(k).and_then(|v| v.as_s().ok()).cloned() };
    let req_s = |k: &str| get_s(k).ok_or_else(|| Error::Corrupt(format!("missing string attribute {k}")));
    let get_n = |k: &str| -> Result<Option<i64>> {
        match item.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_n()
                .ok()
                .and_then(|x| x.parse::<i64>().ok())
                .map(Some)
                .ok_or_else(|| Error::Corrupt(format!("attribute {k} is not an integer"))),
        }
    };
    let req_n = |k: &str| get_n(k)?.ok_or_else(|| Error::Corrupt(format!("missing number attribute {k}")));
    let count = |k: &str| -> Result<u32> {
        u32::try_from(req_n(k)?).map_err(|_| Error::Corrupt(format!("attribute {k} out of range")))
    };
    let send_times = match item.get("send_times") {
        None => Vec::new(),
        Some(v) => v
            .as_l()
            .map_err(|_| Error::Corrupt("send_times is not a list".into()))?
            .iter()
            .map(|t| {
                t.as_n()
                    .ok()
                    .and_then(|x| x.parse::<i64>().ok())
                    .ok_or_else(|| Error::Corrupt("send_times holds a non-integer".into()))
            })
            .collect::<Result<Vec<i64>>>()?,
    };
    let guesses = match item.get("guesses") {
        None => Vec::new(),
        Some(v) => v
            .as_l()
            .map_err(|_| Error::Corrupt("guesses is not a list".into()))?
            .iter()
            .map(|g| {
                g.as_s()
                    .cloned()
                    .map_err(|_| Error::Corrupt("guesses holds a non-string".into()))
            })
            .collect::<Result<Vec<String>>>()?,
    };
    let mut nonces = item
        .get("nonces")
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    nonces.sort();
    let hangup = match get_s("hangup") {
        None => None,
        Some(t) => Some(Telephony::parse(&t).ok_or_else(|| Error::Corrupt("unknown hangup outcome".into()))?),
    };
    Ok(Attempt {
        phone: Phone::normalize(&req_s("phone")?).map_err(|_| Error::Corrupt("stored phone is invalid".into()))?,
        attempt_id: req_s("attempt_id")?,
        created_at: req_n("created_at")?,
        expires_at: req_n("expires_at")?,
        token_hash: req_s("token_hash")?,
        code_mac: req_s("code_mac")?,
        code_sealed: get_s("code_sealed"),
        guesses,
        // An item of the earlier data model has no cap: its code may take max_attempts guesses.
        guess_cap: match get_n("guess_cap")? {
            Some(_) => count("guess_cap")?,
            None => count("max_attempts")?,
        },
        max_attempts: count("max_attempts")?,
        call_failed: get_s("call_failed"),
        answered_at: get_n("answered_at")?,
        call_uuid: get_s("call_uuid"),
        reads: match get_n("reads")? {
            Some(_) => count("reads")?,
            None => 0, // an item of the earlier data model counted repeats instead
        },
        ended_at: get_n("ended_at")?,
        hangup,
        hangup_cause: get_s("hangup_cause"),
        verified_at: get_n("verified_at")?,
        canceled_at: get_n("canceled_at")?,
        locale: get_s("locale"),
        nonces,
        signed: item
            .get("signed")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        test: item
            .get("test")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        version: get_n("version")?.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
        send_times,
        failures: get_n("failures")?.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        failures_until: get_n("failures_until")?,
    })
}

#[cfg(feature = "stream")]
/// One DynamoDB stream record as the events see it (`NEW_AND_OLD_IMAGES`): the number's
/// attempt before and after. Items that are not a number's (the global counters, idempotency
/// replies) read as no attempt, and so does a key-only image (moto records the item a
/// transaction is about to write as its key alone first); a `REMOVE` (the TTL, in this table)
/// has no after.
pub fn stream_change(record: &aws_lambda_events::event::dynamodb::EventRecord) -> Result<crate::events::StreamChange> {
    let image = |image: &serde_dynamo::Item| -> Result<Option<Attempt>> {
        let item: Item = image.clone().into();
        match item.get("pk").and_then(|v| v.as_s().ok()) {
            Some(pk) if pk.starts_with("PHONE#") && item.contains_key("attempt_id") => from_item(&item).map(Some),
            _ => Ok(None),
        }
    };
    let change = &record.change;
    Ok(crate::events::StreamChange {
        id: change.sequence_number.clone().unwrap_or_default(),
        at: change.approximate_creation_date_time.timestamp(),
        old: image(&change.old_image)?,
        new: if record.event_name == "REMOVE" {
            None
        } else {
            image(&change.new_image)?
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_collected_exactly() {
        let names = names_in(&["#a = :x AND attribute_not_exists(#b_c)", "SET #a = #d + :one"]);
        let mut keys: Vec<_> = names.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["#a", "#b_c", "#d"]);
        assert_eq!(names["#b_c"], "b_c");
    }

    #[test]
    fn items_round_trip() {
        let mut a = crate::domain::attempt::tests::attempt(1_000);
        assert_eq!(from_item(&to_item(&a)).unwrap(), a);
        assert_eq!(
            to_item(&a)[TTL_ATTRIBUTE],
            n(1_000 + 3600 + RETENTION_SECS),
            "kept while the send window is open"
        );
        a.hangup = Some(Telephony::Busy);
        a.hangup_cause = Some("USER_BUSY".into());
        a.ended_at = Some(1_030);
        a.code_sealed = None;
        a.verified_at = Some(1_040);
        a.nonces = vec!["n1".into(), "n2".into()];
        a.failures = 4;
        a.failures_until = Some(990 + 86_400);
        a.guesses = vec!["g1".into(), "g2".into()];
        a.guess_cap = 2;
        let item = to_item(&a);
        assert_eq!(
            item[TTL_ATTRIBUTE],
            n(990 + 86_400 + RETENTION_SECS),
            "kept while the failure window is open"
        );
        assert!(!item.contains_key("code_sealed"));
        assert_eq!(from_item(&item).unwrap(), a);
    }
}
