//! The in-memory store: for unit tests and the local server. Each method evaluates the same
//! predicate on [`Attempt`] that the DynamoDB adapter states as a condition expression, under
//! one lock, so it refuses exactly what DynamoDB refuses.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::{Attempt, Phone};
use crate::error::Result;
use crate::ports::{HangupFacts, Store, Write};

#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, Attempt>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Applies `change` if `allowed` holds for the current record; returns the result the way a
    /// conditional UpdateItem with `ALL_NEW` / `ALL_OLD on failure` would.
    fn update(&self, phone: &Phone, allowed: impl FnOnce(&Attempt) -> bool, change: impl FnOnce(&mut Attempt)) -> Write {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        match items.get_mut(phone.e164()) {
            Some(a) if allowed(a) => {
                change(a);
                Write::Done(a.clone())
            }
            other => Write::Refused(other.map(|a| a.clone())),
        }
    }
}

fn done(w: Write) -> Option<Attempt> {
    match w {
        Write::Done(a) => Some(a),
        Write::Refused(_) => None,
    }
}

impl Store for MemoryStore {
    async fn put_attempt(&self, attempt: &Attempt) -> Result<()> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.insert(attempt.phone.e164().to_owned(), attempt.clone());
        Ok(())
    }

    async fn record_call_placed(&self, phone: &Phone, attempt_id: &str, request_uuid: &str) -> Result<bool> {
        let w = self.update(phone, |a| a.attempt_id == attempt_id, |a| a.request_uuid = Some(request_uuid.to_owned()));
        Ok(done(w).is_some())
    }

    async fn record_call_failed(&self, phone: &Phone, attempt_id: &str, reason: &str) -> Result<bool> {
        let w = self.update(phone, |a| a.attempt_id == attempt_id, |a| {
            a.call_failed = Some(reason.to_owned());
            a.code_sealed = None;
        });
        Ok(done(w).is_some())
    }

    async fn answer(&self, phone: &Phone, token_hash: &str, call_uuid: &str, now: i64) -> Result<Option<Attempt>> {
        Ok(done(self.update(phone, |a| a.can_answer(token_hash, call_uuid, now), |a| {
            a.call_uuid = Some(call_uuid.to_owned());
            a.answered_at.get_or_insert(now);
        })))
    }

    async fn repeat(&self, phone: &Phone, token_hash: &str, call_uuid: &str, max_repeats: u32, now: i64) -> Result<Option<Attempt>> {
        Ok(done(self.update(phone, |a| a.can_repeat(token_hash, call_uuid, max_repeats, now), |a| a.repeats += 1)))
    }

    async fn hang_up(&self, phone: &Phone, token_hash: &str, facts: &HangupFacts, now: i64) -> Result<Write> {
        Ok(self.update(phone, |a| a.can_hang_up(token_hash), |a| {
            a.ended_at = Some(now);
            a.hangup = Some(facts.telephony);
            a.hangup_cause = Some(facts.cause.clone());
            a.code_sealed = None;
        }))
    }

    async fn consume(&self, phone: &Phone, code_mac: &str, now: i64) -> Result<Write> {
        Ok(self.update(phone, |a| a.can_consume(code_mac, now), |a| {
            a.verified_at = Some(now);
            a.code_sealed = None;
        }))
    }

    async fn count_wrong(&self, phone: &Phone, attempt_id: &str, now: i64) -> Result<Write> {
        Ok(self.update(phone, |a| a.can_count_wrong(attempt_id, now), |a| a.wrong_attempts += 1))
    }

    async fn get(&self, phone: &Phone) -> Result<Option<Attempt>> {
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        Ok(items.get(phone.e164()).cloned())
    }
}
