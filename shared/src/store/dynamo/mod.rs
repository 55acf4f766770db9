//! The DynamoDB store: one item per phone number (`pk = "PHONE#+91…"`), every state change one
//! conditional `UpdateItem` whose condition expression is the predicate of the same name on
//! [`Attempt`]. A refused write returns the old item (`ReturnValuesOnConditionCheckFailure`),
//! so the caller can tell "already used" from "expired" without a second read.
//!
//! Webhooks need no index: their token decrypts to the phone number, so they address the item
//! by its key with a strongly consistent write right after send-otp wrote it.

mod item;
#[cfg(feature = "stream")]
mod stream;
mod table;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use item::{Item, REPLAY_PREFIX, key, n, pk, replay_from_item, s, unavailable};
pub use item::{RETENTION_SECS, TTL_ATTRIBUTE, from_item, replay_item, to_item};
#[cfg(feature = "stream")]
pub use stream::stream_change;
pub use table::{create_table_if_missing, create_table_with_stream_if_missing};

use crate::domain::limits::{Counter, FAILURE_WINDOW_SECS, contention_pause};
use crate::domain::{Attempt, CallRef, Phone};
use crate::error::{Error, Result};
use crate::ports::{CallCounters, HangupFacts, Held, Replay, Start, Store, Write};

/// The "live" condition: [`Attempt::is_live`].
/// `last_guess` is the last charged guess; once it matches the code, the code is used.
const LIVE: &str = "attribute_not_exists(#verified_at) AND attribute_not_exists(#canceled_at) \
                    AND (attribute_not_exists(#last_guess) OR #last_guess <> #code_mac) \
                    AND attribute_not_exists(#call_failed) \
                    AND #expires_at > :now AND size(#guesses) < #guess_cap";

/// The attempt's own attributes that a new attempt removes when the old one had them (the
/// last four are of an earlier data model: failure counters the guesses replaced, and repeats,
/// which reads replaced).
const ATTEMPT_OPTIONAL: [&str; 19] = [
    "last_guess",
    "client_ref",
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

    /// One unit of a counter (a global counter's shard, a fraud guard counter, a block's
    /// verified count), on the condition that it has fewer than its cap.
    fn count_one(&self, c: &Counter) -> Result<Update> {
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
        // A unit of each counter: the global counters' shards (the minute's ceiling, the day's
        // budget) and the fraud guard's.
        let mut transaction = self
            .client
            .transact_write_items()
            // One token for this call: the SDK's own retries and a resend below are the same
            // transaction to DynamoDB, which answers them with its first outcome.
            .client_request_token(request_token())
            .transact_items(TransactWriteItem::builder().update(number).build())
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.count_one(&counters.minute)?)
                    .build(),
            );
        if let Some(day) = &counters.day {
            transaction = transaction.transact_items(TransactWriteItem::builder().update(self.count_one(day)?).build());
        }
        for c in &counters.guard {
            transaction = transaction.transact_items(TransactWriteItem::builder().update(self.count_one(c)?).build());
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
        // The items in order: the number, the minute's shard, the day's shard, the guard's
        // counters, the reply.
        let day_at = counters.day.as_ref().map(|_| 2);
        let guard_from = 2 + usize::from(counters.day.is_some());
        let guard_at = guard_from..guard_from + counters.guard.len();
        let replay_at = replay.map(|_| guard_at.end);
        // The same token while its first transaction still runs (its reply was late and the
        // SDK gave up): send it again shortly, never a new attempt that would race the first.
        let mut in_progress = 0;
        let result = loop {
            match transaction.clone().send().await {
                Err(SdkError::ServiceError(e))
                    if e.err().is_transaction_in_progress_exception() && in_progress < MAX_IN_PROGRESS =>
                {
                    in_progress += 1;
                    let pause = contention_pause(&mut rand::rng(), in_progress);
                    tokio::time::sleep(pause).await;
                }
                other => break other,
            }
        };
        match result {
            Ok(_) => Ok(Start::Started),
            Err(SdkError::ServiceError(e)) => match e.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let codes = cancellation_codes(c);
                    let failed = |i: Option<usize>| i.and_then(|i| codes.get(i)) == Some(&"ConditionalCheckFailed");
                    let held = |i: Option<usize>| {
                        i.and_then(|i| codes.get(i))
                            .is_some_and(|c| ["TransactionConflict", "ThrottlingError"].contains(c))
                    };
                    // A guard's counter found full or held refuses the send: only an attacker
                    // makes its own counters hot, and it is not retried into a 503.
                    let guarded = guard_at
                        .clone()
                        .find(|&i| failed(Some(i)) || held(Some(i)))
                        .map(|i| (i - guard_from, held(Some(i))));
                    Ok(if held(Some(1)) {
                        Start::Contended(Held::Minute)
                    } else if held(day_at) {
                        Start::Contended(Held::Day)
                    } else if let Some((index, held)) = guarded {
                        Start::Guarded { index, held }
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
                // Still running after the resends: the send's outcome is not known yet.
                TransactWriteItemsError::TransactionInProgressException(_) => Err(Error::Busy),
                TransactWriteItemsError::ThrottlingException(_)
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

    async fn record_verified(
        &self,
        phone: &Phone,
        attempt_id: &str,
        now: i64,
        tally: Option<&Counter>,
    ) -> Result<bool> {
        let condition = "#attempt_id = :aid AND attribute_not_exists(#verified_at)";
        let update = "SET #verified_at = :now REMOVE #code_sealed";
        let values = vec![(":aid", s(attempt_id)), (":now", n(now))];
        let Some(tally) = tally else {
            let w = self.update(phone, condition, update, values).await?;
            return Ok(done(w).is_some());
        };
        // With the block's count: one transaction of two updates, still one request.
        let number = Update::builder()
            .table_name(&self.table)
            .key("pk", key(phone))
            .condition_expression(condition)
            .update_expression(update)
            .set_expression_attribute_names(Some(names_in(&[condition, update])))
            .set_expression_attribute_values(Some(values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
            .build()
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        let counted = self.count_one(tally)?;
        let mut tries = 0;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .client_request_token(request_token())
                .transact_items(TransactWriteItem::builder().update(number.clone()).build())
                .transact_items(TransactWriteItem::builder().update(counted.clone()).build())
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(true),
                Err(SdkError::ServiceError(e)) => match e.err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        if cancellation_codes(c).first() == Some(&"ConditionalCheckFailed") {
                            return Ok(false);
                        }
                        // Held by another transaction (a send taking the block's counter is
                        // another item; this is verify against verify): a moment later.
                        if tries == MAX_IN_PROGRESS {
                            return Err(Error::Busy);
                        }
                        tries += 1;
                        let pause = contention_pause(&mut rand::rng(), tries);
                        tokio::time::sleep(pause).await;
                    }
                    _ => return Err(unavailable(SdkError::ServiceError(e))),
                },
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    async fn erase(&self, phone: &Phone) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", key(phone))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
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

/// Why DynamoDB cancelled a transaction, item by item (`None` for an item that was fine).
fn cancellation_codes(c: &aws_sdk_dynamodb::types::error::TransactionCanceledException) -> Vec<&str> {
    c.cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("None"))
        .collect()
}

/// A fresh `ClientRequestToken` (32 hex digits; DynamoDB allows 36 characters).
fn request_token() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}

/// How many times a send's transaction is sent again while DynamoDB says the same token is in
/// progress.
const MAX_IN_PROGRESS: u32 = 4;

/// How many times [`DynamoStore::get_for_send`] asks for keys DynamoDB left unprocessed.
const BATCH_GET_ROUNDS: u32 = 4;

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

/// [`Attempt::is_live`] and the call in progress (its sealed code there, not ended).
fn in_progress() -> String {
    format!("{LIVE} AND attribute_exists(#code_sealed) AND attribute_not_exists(#ended_at)")
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
}
