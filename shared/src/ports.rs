//! Ports: the small traits the handlers need from the outside world. Adapters live in
//! [`crate::store`] and [`crate::vobiz`].

use std::future::Future;

use crate::domain::limits::Counter;
use crate::domain::{Attempt, CallRef, Phone, Telephony};
use crate::error::Result;

/// Outcome of a conditional write that may be refused: on refusal, the record as it was (if
/// there was one), so the caller can say why without a second read.
#[derive(Debug)]
pub enum Write {
    Done(Attempt),
    Refused(Option<Attempt>),
}

/// A send's reply, kept under its `Idempotency-Key` for [`REPLAY_SECS`]: a retry with the same
/// key and body gets it back instead of a second call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// SHA-256 of the key: the key itself is not stored.
    pub key_hash: String,
    /// SHA-256 of the request body: the same key with another body is refused.
    pub body_hash: String,
    pub status: u16,
    pub body: String,
    pub expires_at: i64,
}

/// How long a send's reply is kept for its `Idempotency-Key`.
pub const REPLAY_SECS: i64 = 24 * 3600;

/// Outcome of starting an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Started,
    /// The `Idempotency-Key` already holds a live reply (a concurrent send with the same key
    /// won): nothing was written; replay it.
    KeyTaken,
    /// Another send (or a lock) changed the number since it was read: read again and decide again.
    Conflict,
    /// The minute's shard of the calls-per-minute ceiling is full.
    GlobalLimit,
    /// The day's shard of the daily call budget is spent.
    BudgetLimit,
    /// DynamoDB cancelled the transaction because another one held one of its items at the same
    /// time (`TransactionConflict`) or an item was written too fast (throttled): nothing was
    /// written. A shard: take another one; the number or the request: again a moment later.
    Contended(Held),
    /// The fraud guard's counter `CallCounters::guard[index]` was full, or (`held`) held by
    /// another transaction. Full refuses the send; held is tried again once or twice, then
    /// refuses it too: an attacker makes its own counters hot, and is refused, never retried
    /// into a 503.
    Guarded {
        index: usize,
        held: bool,
    },
}

/// Which of a send's items DynamoDB found held (or throttled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// The minute's shard.
    Minute,
    /// The day's shard.
    Day,
    /// The number's item, the reply's, or the request as a whole.
    Other,
}

/// The counters a send takes one unit of: a shard of this minute's ceiling, with a daily budget
/// a shard of today's, and the fraud guard's counters of its signals and its number's block.
#[derive(Clone, Debug)]
pub struct CallCounters {
    pub minute: Counter,
    pub day: Option<Counter>,
    pub guard: Vec<Counter>,
}

/// What the hangup webhook learnt.
#[derive(Clone, Debug)]
pub struct HangupFacts {
    pub telephony: Telephony,
    pub cause: String,
}

/// The attempt store. Every method is one conditional write (or one read) whose condition is
/// the matching predicate on [`Attempt`]; the DynamoDB and memory adapters must agree exactly,
/// which the store contract tests check.
pub trait Store: Send + Sync {
    /// Stores a new attempt, replacing the number's previous one (whose code and token stop
    /// working at once), and counts one call in each of `counters` (a shard of the minute's
    /// ceiling, of the day's budget); all or nothing.
    /// Succeeds only if the number's record is still `prior`, the record the send decided on
    /// (`None`: no record): the same `version` (no other send since) and the same number of
    /// guesses (no failure since that the new attempt's carried-over counters would miss).
    /// With `replay`, the send's reply is stored under its key in the same transaction, unless
    /// the key already holds a live one ([`Start::KeyTaken`]).
    fn start_attempt(
        &self,
        attempt: &Attempt,
        prior: Option<&Attempt>,
        counters: &CallCounters,
        replay: Option<&Replay>,
    ) -> impl Future<Output = Result<Start>> + Send;

    /// [`Attempt::is_live`]: the app cancels the attempt (`canceled_at`, the sealed code erased).
    fn cancel(&self, phone: &Phone, now: i64) -> impl Future<Output = Result<Write>> + Send;

    /// The live reply kept under an `Idempotency-Key` (strongly consistent; expired is none).
    fn replay(&self, key_hash: &str, now: i64) -> impl Future<Output = Result<Option<Replay>>> + Send;

    /// Replaces the reply kept under a key (a send whose call then failed keeps its 502).
    fn update_replay(&self, replay: &Replay) -> impl Future<Output = Result<()>> + Send;

    /// Marks the attempt failed (not live) and erases its sealed code, if it is still current.
    fn record_call_failed(
        &self,
        phone: &Phone,
        attempt_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// [`Attempt::can_answer`]: binds `call_uuid`, notes the pickup and, with `read_cap`,
    /// counts one read of the code; returns the record.
    fn answer(&self, call: &CallRef<'_>, read_cap: Option<u32>, now: i64)
    -> impl Future<Output = Result<Write>> + Send;

    /// [`Attempt::can_read`]: counts one read of the code (the gate's key, or "press 1");
    /// returns the record.
    fn read_code(&self, call: &CallRef<'_>, read_cap: u32, now: i64) -> impl Future<Output = Result<Write>> + Send;

    /// [`Attempt::can_hang_up`]: records the end of the call and erases the sealed code.
    fn hang_up(&self, call: &CallRef<'_>, facts: &HangupFacts, now: i64) -> impl Future<Output = Result<Write>> + Send;

    /// Charges one guess ([`Attempt::is_live`]: guesses left, not used, not expired, call not
    /// failed): appends `guess_mac` to the attempt's guesses and opens the number's failure
    /// window if none is open, in one conditional write; returns the record after it, whose
    /// last guess is this one ([`Attempt::judge_last_guess`] then judges it). Nothing is ever
    /// compared with the code before it is charged.
    fn guess(&self, phone: &Phone, guess_mac: &str, now: i64) -> impl Future<Output = Result<Write>> + Send;

    /// Records that `attempt_id`'s code was used: `verified_at`, and the sealed code erased;
    /// with `tally`, one more verification counted there (the fraud guard's count of the
    /// number's block), in the same transaction. Follows a guess judged right; the guess, not
    /// this, decides (false: already recorded, or the attempt was replaced).
    fn record_verified(
        &self,
        phone: &Phone,
        attempt_id: &str,
        now: i64,
        tally: Option<&Counter>,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Erases the number's record, whatever its state (nothing to erase is no error): one
    /// delete, which the table's stream tells from the TTL's.
    fn erase(&self, phone: &Phone) -> impl Future<Output = Result<()>> + Send;

    /// The number's current attempt (strongly consistent).
    fn get(&self, phone: &Phone) -> impl Future<Output = Result<Option<Attempt>>> + Send;

    /// What a send decides on, in one request: the number's current attempt (strongly
    /// consistent) and the units taken from each of the counter shards `counters` (keys,
    /// distinct; an absent shard has taken none).
    fn get_for_send(
        &self,
        phone: &Phone,
        counters: &[String],
    ) -> impl Future<Output = Result<(Option<Attempt>, Vec<u32>)>> + Send;
}

/// A request to place one OTP call.
#[derive(Clone, Debug)]
pub struct CallRequest {
    pub to: Phone,
    pub answer_url: String,
    pub hangup_url: String,
    pub time_limit: u32,
    /// Seconds the call may ring unanswered.
    pub ring_timeout: u32,
    /// Ask the provider to hang up when a machine answers.
    pub machine_detection: bool,
}

/// The call was accepted; `request_uuid` identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedCall {
    pub request_uuid: String,
}

/// Places outbound calls (Vobiz, or the local simulator).
pub trait CallPlacer: Send + Sync {
    fn place_call(&self, request: &CallRequest) -> impl Future<Output = Result<PlacedCall>> + Send;
}

/// The time, in epoch seconds.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

impl<T: Clock> Clock for std::sync::Arc<T> {
    fn now(&self) -> i64 {
        (**self).now()
    }
}
