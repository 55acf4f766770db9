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
use super::phone::Phone;
use super::secrets::ct_eq;

/// The number's send window: its sends are counted over the last hour.
pub const SEND_WINDOW_SECS: i64 = 3600;
/// The number's failure window: its failed verifications are counted for a day from the first.
pub const FAILURE_WINDOW_SECS: i64 = 24 * 3600;

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
    /// The sealed code the call reads; gone once the call ends or the code is verified.
    pub code_sealed: Option<String>,
    /// The MACs of the guesses charged against this code, in the order they were charged. A
    /// guess is charged (appended, in one conditional write) before it is judged; the first
    /// that matches `code_mac` is the code's one successful verification.
    pub guesses: Vec<String>,
    /// How many guesses this code may ever be compared with: `max_attempts`, or fewer when the
    /// number has fewer failures left in its failure window.
    pub guess_cap: u32,
    pub max_attempts: u32,
    /// Why Vobiz refused or failed to place the call. Its absence is what "placed" means: the
    /// attempt is stored before the call is requested and marked here if the request fails, so
    /// a successful send writes nothing after the call (Vobiz's `request_uuid` goes to the log).
    pub call_failed: Option<String>,
    /// When the callee picked up (the answer webhook's first pickup).
    pub answered_at: Option<i64>,
    /// Vobiz's `CallUUID`, bound by the first answer webhook.
    pub call_uuid: Option<String>,
    /// How many times the call read the code: on pickup (no key-press gate) or after the gate's
    /// key, then once per "press 1", a replayed answer included. At most `1 + OTP_MAX_REPEATS`.
    pub reads: u32,
    pub ended_at: Option<i64>,
    /// What the telephony said at hangup.
    pub hangup: Option<Telephony>,
    pub hangup_cause: Option<String>,
    /// When verify recorded the code's use (and erased the sealed code). The matching guess is
    /// what decides; this only follows it, one write later.
    pub verified_at: Option<i64>,
    /// Webhook signature nonces already used on this attempt (replays are refused).
    pub nonces: Vec<String>,
    /// A webhook of this attempt carried a valid signature: from then on every webhook must.
    pub signed: bool,
    /// A test number's attempt (`TEST_NUMBERS`): a fixed code, no call.
    pub test: bool,
    /// When the app canceled the attempt (`POST /cancel-otp`): it is over.
    pub canceled_at: Option<i64>,
    /// The locale the call speaks (BCP 47, `hi-IN`), chosen at send; `None` on attempts stored
    /// before locales, which speak the configured fallback.
    pub locale: Option<String>,
    /// The app's own reference for this send (`client_ref`), echoed in status and events.
    pub client_ref: Option<String>,

    // The number's own counters: they outlive the attempt and a resend does not reset them.
    /// Bumped by every send; a send writes only if nobody else sent since it read.
    pub version: u64,
    /// When the number's recent sends happened (the sliding send window).
    pub send_times: Vec<i64>,
    /// Consecutive failed verifications of this number in its failure window before this
    /// attempt (this attempt's own wrong guesses are in `guesses`).
    pub failures: u32,
    /// When the number's failure window ends; set by the first guess of a streak.
    pub failures_until: Option<i64>,
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
    Canceled,
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
    Canceled,
}

/// A webhook, once its token opened: the number it is for, the token's hash, Vobiz's id of the
/// call and the signature's nonces (none when unsigned). Every webhook write is conditional on
/// these.
#[derive(Clone, Copy, Debug)]
pub struct CallRef<'a> {
    pub phone: &'a Phone,
    pub token_hash: &'a str,
    pub call_uuid: &'a str,
    pub nonces: &'a [String],
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
    /// The number's failed verifications allowed per failure window (`MAX_FAILURES_PER_DAY`).
    pub failures_per_window: u32,
}

impl Attempt {
    /// A fresh attempt; the number's counters are carried over from `prior` (if any): its
    /// failure streak (ended by a verified code or the end of its window), and so how many
    /// guesses the new code may take.
    pub fn new(n: NewAttempt, prior: Option<&Attempt>, send_times: Vec<i64>) -> Attempt {
        let streak = prior.map_or(0, |p| p.streak(n.now));
        let failures_until = prior.and_then(|p| p.failures_until).filter(|_| streak > 0);
        Attempt {
            phone: n.phone,
            attempt_id: n.attempt_id,
            created_at: n.now,
            expires_at: n.now + n.ttl_secs,
            token_hash: n.token_hash,
            code_mac: n.code_mac,
            code_sealed: Some(n.code_sealed),
            guesses: Vec::new(),
            guess_cap: n.max_attempts.min(n.failures_per_window.saturating_sub(streak)),
            max_attempts: n.max_attempts,
            call_failed: None,
            answered_at: None,
            call_uuid: None,
            reads: 0,
            ended_at: None,
            hangup: None,
            hangup_cause: None,
            verified_at: None,
            nonces: Vec::new(),
            signed: false,
            test: false,
            canceled_at: None,
            locale: None,
            client_ref: None,
            version: prior.map_or(1, |p| p.version + 1),
            send_times,
            failures: streak,
            failures_until,
        }
    }

    /// The call speaks `tag` (a locale chosen at send).
    pub fn in_locale(mut self, tag: &str) -> Attempt {
        self.locale = Some(tag.to_owned());
        self
    }

    /// The app's reference for this send, if it gave one.
    pub fn with_client_ref(mut self, client_ref: Option<&str>) -> Attempt {
        self.client_ref = client_ref.map(str::to_owned);
        self
    }

    /// Makes this a test number's attempt: no call is placed, so the call is recorded as
    /// delivered at once (a reviewer's app that waits for `delivered` goes on), marked `test`.
    pub fn as_test(mut self, now: i64) -> Attempt {
        self.test = true;
        self.answered_at = Some(now);
        self.reads = 1;
        self.ended_at = Some(now);
        self.hangup = Some(Telephony::Answered);
        self.hangup_cause = Some("test number: no call".into());
        self.code_sealed = None;
        self
    }

    /// Guesses charged so far.
    pub fn guessed(&self) -> u32 {
        u32::try_from(self.guesses.len()).unwrap_or(u32::MAX)
    }

    /// The first charged guess that matches the code: the one successful verification. Every
    /// guess is compared, in constant time each.
    pub fn first_match(&self) -> Option<usize> {
        let mut first = None;
        for (i, g) in self.guesses.iter().enumerate() {
            if ct_eq(g, &self.code_mac) && first.is_none() {
                first = Some(i);
            }
        }
        first
    }

    pub fn is_verified(&self) -> bool {
        self.verified_at.is_some() || self.first_match().is_some()
    }

    /// Guesses that failed: every guess before the first match (all of them without one).
    pub fn wrong_guesses(&self) -> u32 {
        self.first_match()
            .map_or(self.guessed(), |i| u32::try_from(i).unwrap_or(u32::MAX))
    }

    /// The number's consecutive failed verifications in its failure window, this attempt's
    /// included. A verified code ends the streak; so does the end of the window.
    pub fn streak(&self, now: i64) -> u32 {
        if self.is_verified() || self.failures_until.is_none_or(|t| now >= t) {
            return 0;
        }
        self.failures.saturating_add(self.wrong_guesses())
    }

    /// The number has used up its failures for the window: no send, no guess until it ends.
    pub fn is_locked(&self, failures_per_window: u32, now: i64) -> bool {
        self.streak(now) >= failures_per_window
    }

    /// The code may be guessed and read: not used, the call not failed, not expired, guesses
    /// left. (What a guess charges is decided by this same predicate, so a number that used up
    /// its failures has no guess left either.)
    ///
    /// "Not used" is decided by the charged guesses, not by `verified_at`: a right guess ends
    /// the attempt for every later write (another guess, a cancel, a read of the code) at once,
    /// though `verified_at` follows it one write later. Since nothing is charged after a right
    /// guess, it is always the last one, which is how the DynamoDB store states this condition
    /// (`last_guess <> code_mac`).
    pub fn is_live(&self, now: i64) -> bool {
        self.verified_at.is_none()
            && self.first_match().is_none()
            && self.canceled_at.is_none()
            && self.call_failed.is_none()
            && now < self.expires_at
            && self.guessed() < self.guess_cap
    }

    /// Judges the last guess, once it has been charged: right only if it is the first guess
    /// that matches the code. An earlier match means the code was already used.
    pub fn judge_last_guess(&self) -> Result<(), Refusal> {
        match (self.first_match(), self.guesses.len().checked_sub(1)) {
            (Some(first), Some(last)) if first == last => Ok(()),
            (Some(_), _) => Err(Refusal::AlreadyUsed),
            (None, _) => Err(Refusal::Invalid),
        }
    }

    /// Guesses left for this code (the number's remaining failures already bound it).
    pub fn attempts_remaining(&self) -> u32 {
        self.guess_cap.saturating_sub(self.guessed())
    }

    /// None of `nonces` has been used on this attempt.
    pub fn fresh_nonces(&self, nonces: &[String]) -> bool {
        !nonces.iter().any(|n| self.nonces.contains(n))
    }

    fn call_in_progress(&self) -> bool {
        self.code_sealed.is_some() && self.ended_at.is_none()
    }

    /// The webhook is this attempt's: its token, no nonce seen before, and signed if any earlier
    /// webhook of the attempt was (so holding the token is not enough to drop the signature).
    pub fn is_called_by(&self, call: &CallRef<'_>) -> bool {
        ct_eq(&self.token_hash, call.token_hash)
            && self.fresh_nonces(call.nonces)
            && (!call.nonces.is_empty() || !self.signed)
    }

    /// `call` is the call the answer bound, or no call is bound yet.
    fn may_be_call(&self, call: &CallRef<'_>) -> bool {
        self.call_uuid.as_deref().is_none_or(|bound| bound == call.call_uuid)
    }

    /// The answer webhook may take the pickup: live attempt, its token, the call not ended, and
    /// either the first answer or a retry for the same call; with `read_cap`, it also reads the
    /// code, so fewer than that many reads may have happened.
    pub fn can_answer(&self, call: &CallRef<'_>, read_cap: Option<u32>, now: i64) -> bool {
        self.is_called_by(call)
            && self.is_live(now)
            && self.call_in_progress()
            && self.may_be_call(call)
            && read_cap.is_none_or(|cap| self.reads < cap)
    }

    /// A key may read the code (again): the picked-up call, fewer than `read_cap` reads so far.
    pub fn can_read(&self, call: &CallRef<'_>, read_cap: u32, now: i64) -> bool {
        self.is_called_by(call)
            && self.is_live(now)
            && self.call_in_progress()
            && self.call_uuid.as_deref() == Some(call.call_uuid)
            && self.reads < read_cap
    }

    /// The hangup webhook records the outcome once; retries find it already recorded. A hangup
    /// of another call than the one the answer bound changes nothing.
    pub fn can_hang_up(&self, call: &CallRef<'_>) -> bool {
        self.is_called_by(call) && self.ended_at.is_none() && self.may_be_call(call)
    }

    /// How long the record must stay: until the code, the send window, the failure window and
    /// any lock are all over.
    pub fn keep_until(&self) -> i64 {
        [
            Some(self.expires_at),
            self.send_times.last().map(|t| t + SEND_WINDOW_SECS),
            self.failures_until,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(self.expires_at)
    }

    /// Why a guess at this attempt was refused (not charged). `None` means it is live.
    pub fn refusal(&self, now: i64) -> Option<Refusal> {
        if self.is_verified() {
            Some(Refusal::AlreadyUsed)
        } else if self.canceled_at.is_some() {
            Some(Refusal::Canceled)
        } else if self.guessed() >= self.guess_cap {
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
        self.hangup
            .map(|t| t.delivery(self.reads > 0, self.answered_at.is_some()))
    }

    pub fn status(&self, now: i64) -> Status {
        if self.is_verified() {
            Status::Verified
        } else if self.canceled_at.is_some() {
            Status::Canceled
        } else if self.guessed() >= self.guess_cap {
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
            // Leaked: a test's few bytes, for a `'static` slice.
            nonces: Box::leak(
                nonce
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            ),
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
            failures_per_window: 10,
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
        a.reads = 1;
        assert_eq!(a.status(now + 6), Status::Answered);
        a.ended_at = Some(now + 40);
        a.hangup = Some(Telephony::Answered);
        assert_eq!(a.status(now + 41), Status::Delivered);
        a.hangup = Some(Telephony::Busy);
        assert_eq!(a.status(now + 41), Status::NotDelivered);
        assert_eq!(a.status(now + 300), Status::Expired);
        a.guesses = vec!["w1".into(), "w2".into(), "w3".into()];
        assert_eq!(a.status(now + 41), Status::Locked);
        a.guesses = vec!["w1".into(), "mac".into()];
        assert_eq!(a.status(now + 400), Status::Verified, "a matching guess decides");
        a.guesses.clear();
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
    fn the_first_matching_guess_is_the_one_verification() {
        let now = 1_000;
        let mut a = attempt(now);
        assert!(a.is_live(now) && a.refusal(now).is_none());
        a.guesses.push("w1".into());
        assert_eq!(a.judge_last_guess(), Err(Refusal::Invalid));
        assert_eq!((a.attempts_remaining(), a.wrong_guesses()), (2, 1));
        a.guesses.push("mac".into());
        assert_eq!(a.judge_last_guess(), Ok(()), "the right code, charged within the cap");
        a.guesses.push("mac".into());
        assert_eq!(a.judge_last_guess(), Err(Refusal::AlreadyUsed), "a second right guess");
        assert_eq!((a.first_match(), a.wrong_guesses()), (Some(1), 1));
        assert_eq!(a.refusal(now), Some(Refusal::AlreadyUsed));
    }

    #[test]
    fn a_guess_is_refused_once_the_cap_is_charged() {
        let now = 1_000;
        let a = attempt(now);
        let mut spent = a.clone();
        spent.guesses = vec!["w1".into(), "w2".into(), "w3".into()];
        assert!(!spent.is_live(now), "the right code after the cap is never compared");
        assert_eq!(spent.refusal(now), Some(Refusal::TooManyAttempts));
        assert_eq!(spent.attempts_remaining(), 0);
        let mut used = a.clone();
        used.verified_at = Some(now);
        assert!(!used.is_live(now));
        assert_eq!(used.refusal(now), Some(Refusal::AlreadyUsed));
        let mut failed = a.clone();
        failed.call_failed = Some("http 402".into());
        assert_eq!(failed.refusal(now), Some(Refusal::NotFound));
        assert!(!a.is_live(now + 300), "expired at expires_at exactly");
        assert_eq!(a.refusal(now + 300), Some(Refusal::Expired));
    }

    #[test]
    fn webhooks_need_the_token_and_a_call_in_progress() {
        let now = 1_000;
        let mut a = attempt(now);
        let p = a.phone.clone();
        assert!(a.can_answer(&call(&p, "th", "c1", None), None, now));
        assert!(!a.can_answer(&call(&p, "tx", "c1", None), None, now));
        a.call_uuid = Some("c1".into());
        assert!(
            a.can_answer(&call(&p, "th", "c1", None), None, now),
            "a retry of the same call"
        );
        assert!(!a.can_answer(&call(&p, "th", "c2", None), None, now), "another call");
        assert!(a.can_read(&call(&p, "th", "c1", None), 3, now));
        assert!(!a.can_read(&call(&p, "th", "c2", None), 3, now));
        a.reads = 3;
        assert!(!a.can_read(&call(&p, "th", "c1", None), 3, now));
        assert!(
            !a.can_answer(&call(&p, "th", "c1", None), Some(3), now),
            "a replayed answer is a read like any other"
        );
        assert!(
            a.can_answer(&call(&p, "th", "c1", None), None, now),
            "a pickup alone reads nothing"
        );
        assert!(a.can_hang_up(&call(&p, "th", "c1", None)));
        assert!(!a.can_hang_up(&call(&p, "th", "c2", None)), "another call's hangup");
        a.ended_at = Some(now);
        a.code_sealed = None;
        assert!(!a.can_hang_up(&call(&p, "th", "c1", None)));
        assert!(
            !a.can_answer(&call(&p, "th", "c1", None), None, now),
            "no code after the call ended"
        );
    }

    #[test]
    fn used_nonces_are_refused() {
        let now = 1_000;
        let mut a = attempt(now);
        let p = a.phone.clone();
        assert!(a.can_answer(&call(&p, "th", "c1", Some("n1")), None, now));
        a.nonces.push("n1".into());
        assert!(!a.can_answer(&call(&p, "th", "c1", Some("n1")), None, now));
        assert!(a.can_answer(&call(&p, "th", "c1", Some("n2")), None, now));
        assert!(!a.can_hang_up(&call(&p, "th", "c1", Some("n1"))));
        // Once signed, always signed: an unsigned webhook for this attempt is refused.
        assert!(a.can_answer(&call(&p, "th", "c1", None), None, now), "never signed yet");
        a.signed = true;
        assert!(!a.can_answer(&call(&p, "th", "c1", None), None, now));
        assert!(!a.can_hang_up(&call(&p, "th", "c1", None)));
        assert!(a.can_answer(&call(&p, "th", "c1", Some("n3")), None, now));
    }

    fn next(prior: &Attempt, now: i64) -> Attempt {
        let n = NewAttempt {
            phone: prior.phone.clone(),
            attempt_id: format!("att-{now}"),
            now,
            ttl_secs: 300,
            token_hash: "th".into(),
            code_mac: "mac".into(),
            code_sealed: "sealed".into(),
            max_attempts: 3,
            failures_per_window: 10,
        };
        Attempt::new(n, Some(prior), vec![now])
    }

    #[test]
    fn failures_carry_over_resends_and_bound_the_next_code() {
        let now = 1_000;
        let mut a = attempt(now);
        a.guesses = vec!["w1".into(), "w2".into(), "w3".into()];
        a.failures_until = Some(now + 86_400);
        // Three resends, three wrong guesses each: nine failures, one guess left for the fourth.
        for k in 1..=2 {
            a = next(&a, now + 100 * k);
            assert_eq!((a.failures, a.guess_cap), (3 * k as u32, 3));
            a.guesses = vec!["w1".into(), "w2".into(), "w3".into()];
        }
        let b = next(&a, now + 300);
        assert_eq!((b.failures, b.guess_cap, b.attempts_remaining()), (9, 1, 1));
        let mut spent = b.clone();
        spent.guesses = vec!["w".into()];
        assert!(spent.is_locked(10, now + 301) && !spent.is_locked(10, now + 86_400));
        assert_eq!(spent.status(now + 301), Status::Locked);
        // A verified code ends the streak, and so does the end of the window.
        let mut ok = b.clone();
        ok.guesses = vec!["mac".into()];
        assert_eq!((ok.streak(now + 301), next(&ok, now + 400).guess_cap), (0, 3));
        assert_eq!(next(&spent, now + 86_400).failures, 0);
        assert_eq!(next(&spent, now + 86_400).failures_until, None);
    }

    #[test]
    fn records_are_kept_until_every_window_closes() {
        let now = 1_000;
        let mut a = attempt(now);
        assert_eq!(a.keep_until(), now + 3600);
        a.failures_until = Some(now + 86_400);
        assert_eq!(a.keep_until(), now + 86_400);
    }
}
