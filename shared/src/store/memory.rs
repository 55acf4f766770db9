//! The in-memory store: for unit tests and the local server. Each method evaluates the same
//! predicate on [`Attempt`] that the DynamoDB adapter states as a condition expression, under
//! one lock, so it refuses exactly what DynamoDB refuses.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::limits::{Counter, FAILURE_WINDOW_SECS};
use crate::domain::{Attempt, CallRef, Phone};
use crate::error::Result;
use crate::ports::{CallCounters, HangupFacts, Replay, Start, Store, Write};

/// One change of a number's record: before (none for a first send) and after (none when the
/// number was erased).
pub type Changed = (Option<Attempt>, Option<Attempt>);

#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, Attempt>>,
    /// Where every successful write of an attempt goes, as (before, after): the local server's
    /// stand-in for the table's stream ([`MemoryStore::changes`]).
    changes: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Changed>>>,
    /// The global counters' shards (the minute's ceiling, the day's budget), by key.
    counters: Mutex<HashMap<String, u32>>,
    /// Replies kept under their `Idempotency-Key` (by key hash).
    replays: Mutex<HashMap<String, Replay>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The replies kept under `Idempotency-Key`s, by key hash: for tests that look for what
    /// the store holds.
    pub fn replays(&self) -> Vec<Replay> {
        let mut all: Vec<Replay> = self
            .replays
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.key_hash.cmp(&b.key_hash));
        all
    }

    /// Everything stored, in a stable order: for tests that check "nothing changed".
    pub fn snapshot(&self) -> (Vec<Attempt>, Vec<(String, u32)>) {
        let mut items: Vec<Attempt> = self
            .items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        items.sort_by(|a, b| a.phone.e164().cmp(b.phone.e164()));
        let mut counters: Vec<(String, u32)> = self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        counters.sort_unstable();
        (items, counters)
    }

    /// Every successful write of an attempt from now on, in the order written, as (before,
    /// after), like a DynamoDB stream with `NEW_AND_OLD_IMAGES` (the memory store never
    /// deletes, so there is no removal). One subscriber: a second call replaces the first.
    pub fn changes(&self) -> tokio::sync::mpsc::UnboundedReceiver<Changed> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        *self.changes.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    /// Tells the subscriber, if any, of a write (under the items' lock: in write order).
    fn written(&self, before: Option<Attempt>, after: &Attempt) {
        if let Some(tx) = self.changes.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send((before, Some(after.clone())));
        }
    }

    /// Someone reads the changes: only then is a record's before-image worth a copy.
    fn subscribed(&self) -> bool {
        self.changes.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Applies `change` if `allowed` holds for the current record; returns the result the way a
    /// conditional UpdateItem with `ALL_NEW` / `ALL_OLD on failure` would.
    fn update(
        &self,
        phone: &Phone,
        allowed: impl FnOnce(&Attempt) -> bool,
        change: impl FnOnce(&mut Attempt),
    ) -> Write {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        match items.get_mut(phone.e164()) {
            Some(a) if allowed(a) => {
                let before = self.subscribed().then(|| a.clone());
                change(a);
                if before.is_some() {
                    self.written(before, a);
                }
                Write::Done(a.clone())
            }
            other => Write::Refused(other.map(|a| a.clone())),
        }
    }
}

/// Every operation first yields to the scheduler, as a request to a remote store does: tasks
/// that use the store at once interleave between its operations as they would against
/// DynamoDB, so a race between two operations of one handler cannot hide here.
async fn round_trip() {
    tokio::task::yield_now().await;
}

fn done(w: Write) -> Option<Attempt> {
    match w {
        Write::Done(a) => Some(a),
        Write::Refused(_) => None,
    }
}

fn use_nonces(a: &mut Attempt, nonces: &[String]) {
    a.nonces.extend(nonces.iter().cloned());
    if !nonces.is_empty() {
        a.signed = true;
    }
}

impl Store for MemoryStore {
    async fn start_attempt(
        &self,
        attempt: &Attempt,
        prior: Option<&Attempt>,
        counters: &CallCounters,
        replay: Option<&Replay>,
    ) -> Result<Start> {
        round_trip().await;
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let mut taken = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut replays = self.replays.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = replay
            && replays
                .get(&r.key_hash)
                .is_some_and(|kept| kept.expires_at > attempt.created_at)
        {
            return Ok(Start::KeyTaken);
        }
        let current = items.get(attempt.phone.e164());
        let seen = |a: &Attempt| (a.version, a.guessed());
        if current.map(seen) != prior.map(seen) {
            return Ok(Start::Conflict);
        }
        let full = |c: &Counter| taken.get(&c.key).copied().unwrap_or(0) >= c.cap;
        if full(&counters.minute) {
            return Ok(Start::GlobalLimit);
        }
        if counters.day.as_ref().is_some_and(full) {
            return Ok(Start::BudgetLimit);
        }
        if let Some(i) = counters.guard.iter().position(full) {
            return Ok(Start::Guarded { index: i, held: false });
        }
        for c in std::iter::once(&counters.minute)
            .chain(&counters.day)
            .chain(&counters.guard)
        {
            *taken.entry(c.key.clone()).or_insert(0) += 1;
        }
        let before = items.insert(attempt.phone.e164().to_owned(), attempt.clone());
        self.written(before, attempt);
        if let Some(r) = replay {
            replays.insert(r.key_hash.clone(), r.clone());
        }
        Ok(Start::Started)
    }

    async fn cancel(&self, phone: &Phone, now: i64) -> Result<Write> {
        round_trip().await;
        Ok(self.update(
            phone,
            |a| a.is_live(now),
            |a| {
                a.canceled_at = Some(now);
                a.code_sealed = None;
            },
        ))
    }

    async fn replay(&self, key_hash: &str, now: i64) -> Result<Option<Replay>> {
        round_trip().await;
        let replays = self.replays.lock().unwrap_or_else(|p| p.into_inner());
        Ok(replays.get(key_hash).filter(|r| r.expires_at > now).cloned())
    }

    async fn update_replay(&self, replay: &Replay) -> Result<()> {
        round_trip().await;
        let mut replays = self.replays.lock().unwrap_or_else(|p| p.into_inner());
        replays.insert(replay.key_hash.clone(), replay.clone());
        Ok(())
    }

    async fn record_call_failed(&self, phone: &Phone, attempt_id: &str, reason: &str) -> Result<bool> {
        round_trip().await;
        let w = self.update(
            phone,
            |a| a.attempt_id == attempt_id,
            |a| {
                a.call_failed = Some(reason.to_owned());
                a.code_sealed = None;
            },
        );
        Ok(done(w).is_some())
    }

    async fn answer(&self, call: &CallRef<'_>, read_cap: Option<u32>, now: i64) -> Result<Write> {
        round_trip().await;
        Ok(self.update(
            call.phone,
            |a| a.can_answer(call, read_cap, now),
            |a| {
                use_nonces(a, call.nonces);
                a.call_uuid = Some(call.call_uuid.to_owned());
                a.answered_at.get_or_insert(now);
                if read_cap.is_some() {
                    a.reads += 1;
                }
            },
        ))
    }

    async fn read_code(&self, call: &CallRef<'_>, read_cap: u32, now: i64) -> Result<Write> {
        round_trip().await;
        Ok(self.update(
            call.phone,
            |a| a.can_read(call, read_cap, now),
            |a| {
                use_nonces(a, call.nonces);
                a.reads += 1;
            },
        ))
    }

    async fn hang_up(&self, call: &CallRef<'_>, facts: &HangupFacts, now: i64) -> Result<Write> {
        round_trip().await;
        Ok(self.update(
            call.phone,
            |a| a.can_hang_up(call),
            |a| {
                use_nonces(a, call.nonces);
                a.ended_at = Some(now);
                a.hangup = Some(facts.telephony);
                a.hangup_cause = Some(facts.cause.clone());
                a.code_sealed = None;
            },
        ))
    }

    async fn guess(&self, phone: &Phone, guess_mac: &str, now: i64) -> Result<Write> {
        round_trip().await;
        Ok(self.update(
            phone,
            |a| a.is_live(now),
            |a| {
                a.guesses.push(guess_mac.to_owned());
                a.failures_until.get_or_insert(now + FAILURE_WINDOW_SECS);
            },
        ))
    }

    async fn record_verified(
        &self,
        phone: &Phone,
        attempt_id: &str,
        now: i64,
        tally: Option<&Counter>,
    ) -> Result<bool> {
        round_trip().await;
        let w = self.update(
            phone,
            |a| a.attempt_id == attempt_id && a.verified_at.is_none(),
            |a| {
                a.verified_at = Some(now);
                a.code_sealed = None;
            },
        );
        let recorded = done(w).is_some();
        // The count follows only a recorded verification (DynamoDB: one transaction).
        if let (true, Some(t)) = (recorded, tally) {
            let mut taken = self.counters.lock().unwrap_or_else(|p| p.into_inner());
            *taken.entry(t.key.clone()).or_insert(0) += 1;
        }
        Ok(recorded)
    }

    async fn erase(&self, phone: &Phone) -> Result<()> {
        round_trip().await;
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = items.remove(phone.e164())
            && let Some(tx) = self.changes.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
        {
            let _ = tx.send((Some(old), None));
        }
        Ok(())
    }

    async fn get(&self, phone: &Phone) -> Result<Option<Attempt>> {
        round_trip().await;
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        Ok(items.get(phone.e164()).cloned())
    }

    async fn get_for_send(&self, phone: &Phone, counters: &[String]) -> Result<(Option<Attempt>, Vec<u32>)> {
        round_trip().await;
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let taken = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let counts = counters.iter().map(|k| taken.get(k).copied().unwrap_or(0)).collect();
        Ok((items.get(phone.e164()).cloned(), counts))
    }
}
