//! One verification attempt for one phone number: the facts the table holds, the rules every
//! state change obeys, and the status derived from the facts.
//!
//! The record is a set of facts, each written by the one step that learns it (the call was
//! placed, answered, ended; the code was verified), never a status field that two webhooks could
//! race to overwrite. The predicates below are the conditions of the conditional writes: the
//! in-memory store evaluates them directly and the DynamoDB store states the same conditions as
//! condition expressions; the store contract tests run one body against both.

use rand::Rng;
use serde::Serialize;

use super::call::{CallOutcome, Telephony};
use super::limits::{FAILURE_WINDOW_SECS, Failure, SEND_WINDOW_SECS};
use super::phone::Phone;
use super::secrets::ct_eq;

/// A fresh code: `length` digits, uniform over all `10^length` values (leading zeros kept).
pub fn generate_code(rng: &mut impl Rng, length: u32) -> String {
    let upper = 10u64.pow(length);
    let n = rng.random_range(0..upper);
    format!("{n:0width$}", width = length as usize)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub phone: Phone,
    pub attempt_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// `SHA-256` of the webhook token, base64.
    pub token_hash: String,
    /// `HMAC` of the code, base64: what verify compares.
    pub code_mac: String,
    /// The sealed code the call reads; gone once the call ends or the code is consumed.
    pub code_sealed: Option<String>,
    pub wrong_attempts: u32,
    pub max_attempts: u32,
    /// Why Vobiz refused or failed to place the call. Its absence is what "placed" means: the
    /// attempt is stored before the call is requested and marked here if the request fails, so
    /// a successful send writes nothing after the call (Vobiz's `request_uuid` goes to the log).
    pub call_failed: Option<String>,
    /// When the answer webhook served the code.
    pub answered_at: Option<i64>,
    /// Vobiz's `CallUUID`, bound by the first answer webhook.
    pub call_uuid: Option<String>,
    pub repeats: u32,
    pub ended_at: Option<i64>,
    /// What the telephony said at hangup.
    pub hangup: Option<Telephony>,
    pub hangup_cause: Option<String>,
    pub verified_at: Option<i64>,
    /// Webhook signature nonces already used on this attempt (replays are refused).
    pub nonces: Vec<String>,

    // The number's own counters: they outlive the attempt and a resend does not reset them.
    /// Bumped by every send; a send writes only if nobody else sent since it read.
    pub version: u64,
    /// When the number's recent sends happened (the sliding send window).
    pub send_times: Vec<i64>,
    /// Consecutive failed verifications of this number in the current failure window.
    pub failures: u32,
    pub failures_since: Option<i64>,
    /// The number may not send or verify before this time.
    pub locked_until: Option<i64>,
}

/// What the app sees in `/otp-status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Calling,
    Answered,
    Delivered,
    NotDelivered,
    Failed,
    Verified,
    Expired,
    Locked,
}

/// Why a verify did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Invalid,
    Expired,
    NotFound,
    AlreadyUsed,
    TooManyAttempts,
}

/// A webhook, once its token opened: the number it is for, the token's hash, Vobiz's id of the
/// call and the signature's nonce (when signed). Every webhook write is conditional on these.
#[derive(Clone, Copy, Debug)]
pub struct CallRef<'a> {
    pub phone: &'a Phone,
    pub token_hash: &'a str,
    pub call_uuid: &'a str,
    pub nonce: Option<&'a str>,
}

/// What a new attempt starts from.
#[derive(Clone, Debug)]
pub struct NewAttempt {
    pub phone: Phone,
    pub attempt_id: String,
    pub now: i64,
    pub ttl_secs: i64,
    pub token_hash: String,
    pub code_mac: String,
    pub code_sealed: String,
    pub max_attempts: u32,
}

impl Attempt {
    /// A fresh attempt; the number's counters are carried over from `prior` (if any).
    pub fn new(n: NewAttempt, prior: Option<&Attempt>, send_times: Vec<i64>) -> Attempt {
        Attempt {
            phone: n.phone,
            attempt_id: n.attempt_id,
            created_at: n.now,
            expires_at: n.now + n.ttl_secs,
            token_hash: n.token_hash,
            code_mac: n.code_mac,
            code_sealed: Some(n.code_sealed),
            wrong_attempts: 0,
            max_attempts: n.max_attempts,
            call_failed: None,
            answered_at: None,
            call_uuid: None,
            repeats: 0,
            ended_at: None,
            hangup: None,
            hangup_cause: None,
            verified_at: None,
            nonces: Vec::new(),
            version: prior.map_or(1, |p| p.version + 1),
            send_times,
            failures: prior.map_or(0, |p| p.failures),
            failures_since: prior.and_then(|p| p.failures_since),
            locked_until: prior.and_then(|p| p.locked_until),
        }
    }

    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    pub fn is_live(&self, now: i64) -> bool {
        self.verified_at.is_none()
            && self.call_failed.is_none()
            && self.wrong_attempts < self.max_attempts
            && now < self.expires_at
            && !self.is_locked(now)
    }

    /// Wrong guesses left: the smaller of this code's budget and the number's.
    pub fn attempts_remaining(&self, max_failures_per_number: u32, now: i64) -> u32 {
        if self.is_locked(now) {
            return 0;
        }
        let number_left = if self.failures_since.is_some() {
            max_failures_per_number.saturating_sub(self.failures)
        } else {
            max_failures_per_number
        };
        self.max_attempts.saturating_sub(self.wrong_attempts).min(number_left)
    }

    /// `nonce` has not been used on this attempt.
    pub fn fresh_nonce(&self, nonce: Option<&str>) -> bool {
        nonce.is_none_or(|n| !self.nonces.iter().any(|seen| seen == n))
    }

    fn call_in_progress(&self) -> bool {
        self.code_sealed.is_some() && self.ended_at.is_none()
    }

    /// The webhook is this attempt's: its token, a nonce not seen before.
    fn is_called_by(&self, call: &CallRef<'_>) -> bool {
        ct_eq(&self.token_hash, call.token_hash) && self.fresh_nonce(call.nonce)
    }

    /// `call` is the call the answer bound, or no call is bound yet.
    fn may_be_call(&self, call: &CallRef<'_>) -> bool {
        self.call_uuid.as_deref().is_none_or(|bound| bound == call.call_uuid)
    }

    /// The answer webhook may serve the code: live attempt, its token, the call not ended, and
    /// either the first answer or a retry for the same call.
    pub fn can_answer(&self, call: &CallRef<'_>, now: i64) -> bool {
        self.is_called_by(call) && self.is_live(now) && self.call_in_progress() && self.may_be_call(call)
    }

    /// "Press 1" may read the code again: the answered call, with repeats left.
    pub fn can_repeat(&self, call: &CallRef<'_>, max_repeats: u32, now: i64) -> bool {
        self.is_called_by(call)
            && self.is_live(now)
            && self.call_in_progress()
            && self.call_uuid.as_deref() == Some(call.call_uuid)
            && self.repeats < max_repeats
    }

    /// The hangup webhook records the outcome once; retries find it already recorded. A hangup
    /// of another call than the one the answer bound changes nothing.
    pub fn can_hang_up(&self, call: &CallRef<'_>) -> bool {
        self.is_called_by(call) && self.ended_at.is_none() && self.may_be_call(call)
    }

    /// The code may be consumed: live, and the MAC matches.
    pub fn can_consume(&self, code_mac: &str, now: i64) -> bool {
        self.is_live(now) && ct_eq(&self.code_mac, code_mac)
    }

    /// A wrong guess may be counted against this attempt, if the number's failure count is
    /// still the one the caller saw.
    pub fn can_count_wrong(&self, attempt_id: &str, seen_failures: u32, now: i64) -> bool {
        self.attempt_id == attempt_id && self.failures == seen_failures && self.is_live(now)
    }

    /// The record after one more wrong guess (what [`crate::ports::Store::count_wrong`] writes).
    pub fn with_failure(&self, f: Failure) -> Attempt {
        let mut next = self.clone();
        next.wrong_attempts += 1;
        next.failures = f.failures;
        next.failures_since = Some(f.failures_since);
        if f.locked_until.is_some() {
            next.locked_until = f.locked_until;
        }
        next
    }

    /// How long the record must stay: until the code, the send window, the failure window and
    /// any lock are all over.
    pub fn keep_until(&self) -> i64 {
        [
            Some(self.expires_at),
            self.send_times.last().map(|t| t + SEND_WINDOW_SECS),
            self.failures_since.map(|t| t + FAILURE_WINDOW_SECS),
            self.locked_until,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(self.expires_at)
    }

    /// Why a consume of this attempt was refused, when the code itself was not the reason.
    /// `None` means the attempt is live: the code was wrong.
    pub fn refusal(&self, now: i64) -> Option<Refusal> {
        if self.verified_at.is_some() {
            Some(Refusal::AlreadyUsed)
        } else if self.wrong_attempts >= self.max_attempts || self.is_locked(now) {
            Some(Refusal::TooManyAttempts)
        } else if self.call_failed.is_some() {
            Some(Refusal::NotFound)
        } else if now >= self.expires_at {
            Some(Refusal::Expired)
        } else {
            None
        }
    }

    /// The call was requested and the provider did not refuse it.
    pub fn placed(&self) -> bool {
        self.call_failed.is_none()
    }

    /// The outcome of the call once it ended: delivered only if the answer webhook served the
    /// code and the telephony confirms the call was answered.
    pub fn call_outcome(&self) -> Option<CallOutcome> {
        if self.call_failed.is_some() {
            return Some(CallOutcome::Failed);
        }
        self.hangup.map(|t| t.delivery(self.answered_at.is_some()))
    }

    pub fn status(&self, now: i64) -> Status {
        if self.verified_at.is_some() {
            Status::Verified
        } else if self.wrong_attempts >= self.max_attempts || self.is_locked(now) {
            Status::Locked
        } else if self.call_failed.is_some() {
            Status::Failed
        } else if now >= self.expires_at {
            Status::Expired
        } else if let Some(outcome) = self.call_outcome() {
            if outcome == CallOutcome::Answered {
                Status::Delivered
            } else {
                Status::NotDelivered
            }
        } else if self.answered_at.is_some() {
            Status::Answered
        } else {
            Status::Calling
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn call<'a>(phone: &'a Phone, token_hash: &'a str, call_uuid: &'a str, nonce: Option<&'a str>) -> CallRef<'a> {
        CallRef {
            phone,
            token_hash,
            call_uuid,
            nonce,
        }
    }
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    pub(crate) fn attempt(now: i64) -> Attempt {
        let n = NewAttempt {
            phone: Phone::parse("+919876543210").unwrap(),
            attempt_id: "att-1".into(),
            now,
            ttl_secs: 300,
            token_hash: "th".into(),
            code_mac: "mac".into(),
            code_sealed: "sealed".into(),
            max_attempts: 3,
        };
        Attempt::new(n, None, vec![now])
    }

    #[test]
    fn codes_have_the_requested_length_and_keep_leading_zeros() {
        let mut rng = StdRng::seed_from_u64(42);
        for len in 4..=10 {
            for _ in 0..200 {
                let c = generate_code(&mut rng, len);
                assert_eq!(c.len(), len as usize);
                assert!(c.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn codes_are_uniform_over_every_digit_position() {
        // Chi-squared per position over 60 000 six-digit codes; the 0.1 % critical value for
        // 9 degrees of freedom is 27.9. A biased generator (modulo bias, missing leading
        // zeros) fails this.
        let mut rng = StdRng::seed_from_u64(7);
        let n = 60_000;
        let mut counts = [[0u32; 10]; 6];
        for _ in 0..n {
            for (pos, b) in generate_code(&mut rng, 6).bytes().enumerate() {
                counts[pos][(b - b'0') as usize] += 1;
            }
        }
        let expected = n as f64 / 10.0;
        for (pos, c) in counts.iter().enumerate() {
            let chi2: f64 = c.iter().map(|&o| (o as f64 - expected).powi(2) / expected).sum();
            assert!(chi2 < 27.9, "position {pos}: chi2 {chi2}");
        }
    }

    #[test]
    fn status_follows_the_facts() {
        let now = 1_000;
        let mut a = attempt(now);
        assert_eq!(a.status(now), Status::Calling);
        a.answered_at = Some(now + 5);
        assert_eq!(a.status(now + 6), Status::Answered);
        a.ended_at = Some(now + 40);
        a.hangup = Some(Telephony::Answered);
        assert_eq!(a.status(now + 41), Status::Delivered);
        a.hangup = Some(Telephony::Busy);
        assert_eq!(a.status(now + 41), Status::NotDelivered);
        assert_eq!(a.status(now + 300), Status::Expired);
        a.wrong_attempts = 3;
        assert_eq!(a.status(now + 41), Status::Locked);
        a.verified_at = Some(now + 50);
        assert_eq!(a.status(now + 400), Status::Verified);
    }

    #[test]
    fn answered_by_telephony_but_never_served_is_not_delivered() {
        let now = 1_000;
        let mut a = attempt(now);
        a.ended_at = Some(now + 30);
        a.hangup = Some(Telephony::Answered);
        assert_eq!(a.call_outcome(), Some(CallOutcome::Failed));
        assert_eq!(a.status(now + 31), Status::NotDelivered);
    }

    #[test]
    fn consume_needs_a_live_attempt_and_the_right_mac() {
        let now = 1_000;
        let a = attempt(now);
        assert!(a.can_consume("mac", now));
        assert!(
            a.can_count_wrong("att-1", 0, now)
                && !a.can_count_wrong("att-1", 1, now)
                && !a.can_count_wrong("att-2", 0, now)
        );
        assert!(!a.can_consume("mad", now));
        assert!(!a.can_consume("mac", now + 300), "expired at expires_at exactly");
        let mut used = a.clone();
        used.verified_at = Some(now);
        assert!(!used.can_consume("mac", now));
        assert_eq!(used.refusal(now), Some(Refusal::AlreadyUsed));
        let mut locked = a.clone();
        locked.wrong_attempts = 3;
        assert!(
            !locked.can_consume("mac", now),
            "the right code after the cap still fails"
        );
        assert_eq!(locked.refusal(now), Some(Refusal::TooManyAttempts));
        let mut failed = a.clone();
        failed.call_failed = Some("http 402".into());
        assert_eq!(failed.refusal(now), Some(Refusal::NotFound));
        assert_eq!(a.refusal(now + 300), Some(Refusal::Expired));
        assert_eq!(a.refusal(now), None);
    }

    #[test]
    fn webhooks_need_the_token_and_a_call_in_progress() {
        let now = 1_000;
        let mut a = attempt(now);
        let p = a.phone.clone();
        assert!(a.can_answer(&call(&p, "th", "c1", None), now));
        assert!(!a.can_answer(&call(&p, "tx", "c1", None), now));
        a.call_uuid = Some("c1".into());
        assert!(
            a.can_answer(&call(&p, "th", "c1", None), now),
            "a retry of the same call"
        );
        assert!(!a.can_answer(&call(&p, "th", "c2", None), now), "another call");
        assert!(a.can_repeat(&call(&p, "th", "c1", None), 3, now));
        assert!(!a.can_repeat(&call(&p, "th", "c2", None), 3, now));
        a.repeats = 3;
        assert!(!a.can_repeat(&call(&p, "th", "c1", None), 3, now));
        assert!(a.can_hang_up(&call(&p, "th", "c1", None)));
        assert!(!a.can_hang_up(&call(&p, "th", "c2", None)), "another call's hangup");
        a.ended_at = Some(now);
        a.code_sealed = None;
        assert!(!a.can_hang_up(&call(&p, "th", "c1", None)));
        assert!(
            !a.can_answer(&call(&p, "th", "c1", None), now),
            "no code after the call ended"
        );
    }

    #[test]
    fn used_nonces_are_refused() {
        let now = 1_000;
        let mut a = attempt(now);
        let p = a.phone.clone();
        assert!(a.can_answer(&call(&p, "th", "c1", Some("n1")), now));
        a.nonces.push("n1".into());
        assert!(!a.can_answer(&call(&p, "th", "c1", Some("n1")), now));
        assert!(a.can_answer(&call(&p, "th", "c1", Some("n2")), now));
        assert!(!a.can_hang_up(&call(&p, "th", "c1", Some("n1"))));
    }

    #[test]
    fn a_locked_number_is_not_live_until_the_lock_ends() {
        let now = 1_000;
        let mut a = attempt(now);
        a.locked_until = Some(now + 100);
        assert!(!a.is_live(now) && !a.can_consume("mac", now));
        assert_eq!(a.refusal(now), Some(Refusal::TooManyAttempts));
        assert_eq!(a.status(now), Status::Locked);
        assert_eq!(a.attempts_remaining(10, now), 0);
        assert!(a.is_live(now + 100) || now + 100 >= a.expires_at);
    }

    #[test]
    fn remaining_attempts_are_the_smaller_budget() {
        let now = 1_000;
        let mut a = attempt(now);
        assert_eq!(a.attempts_remaining(10, now), 3);
        a.failures = 9;
        a.failures_since = Some(now - 50);
        assert_eq!(a.attempts_remaining(10, now), 1);
        a.wrong_attempts = 3;
        assert_eq!(a.attempts_remaining(10, now), 0);
    }

    #[test]
    fn records_are_kept_until_every_window_closes() {
        let now = 1_000;
        let mut a = attempt(now);
        assert_eq!(a.keep_until(), now + 3600);
        a.failures_since = Some(now);
        assert_eq!(a.keep_until(), now + 86_400);
    }
}
