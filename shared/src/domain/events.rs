//! Delivery events: what an app acts on, derived from one change of one attempt's facts.
//!
//! The table's stream gives every change as the item before and after it; [`events_of`] says
//! which events that change means (most changes mean none: a pickup, a repeat, a wrong guess
//! with guesses left). It is pure: the `otp-events` function runs it on DynamoDB stream records
//! and the local server on the memory store's changes. Each event happens at most once per
//! attempt, so its id is derived from the attempt and the event's type: a redelivered record
//! yields the same ids, and an app deduplicates on them.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::attempt::Attempt;
use super::call::CallOutcome;
use super::phone::Phone;
use super::time::rfc3339;

/// The kinds of event, as their `type` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EventType {
    /// The call read the code and the telephony confirms it was answered.
    #[serde(rename = "call.delivered")]
    CallDelivered,
    /// The call ended without reading the code; `outcome` says how.
    #[serde(rename = "call.not_delivered")]
    CallNotDelivered,
    /// The code was verified (its one success).
    #[serde(rename = "otp.verified")]
    OtpVerified,
    /// The code's guesses are used up without a match.
    #[serde(rename = "otp.failed")]
    OtpFailed,
    /// The number used up its failures for the window (`MAX_FAILURES_PER_DAY`): no send, no
    /// guess until the window ends.
    #[serde(rename = "number.locked")]
    NumberLocked,
    /// The app canceled the attempt.
    #[serde(rename = "otp.canceled")]
    OtpCanceled,
    /// The attempt ended unverified: replaced by a new send, or removed by the table's TTL
    /// after it expired (late: see the README).
    #[serde(rename = "otp.expired")]
    OtpExpired,
    /// The app erased the number (`POST /erase-number`): its record is gone. The one event an
    /// erasure means, whatever state the attempt was in.
    #[serde(rename = "number.erased")]
    NumberErased,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::CallDelivered,
        EventType::CallNotDelivered,
        EventType::OtpVerified,
        EventType::OtpFailed,
        EventType::NumberLocked,
        EventType::OtpCanceled,
        EventType::OtpExpired,
        EventType::NumberErased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CallDelivered => "call.delivered",
            EventType::CallNotDelivered => "call.not_delivered",
            EventType::OtpVerified => "otp.verified",
            EventType::OtpFailed => "otp.failed",
            EventType::NumberLocked => "number.locked",
            EventType::OtpCanceled => "otp.canceled",
            EventType::OtpExpired => "otp.expired",
            EventType::NumberErased => "number.erased",
        }
    }
}

/// How an expired attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// A new send replaced it before it was verified.
    Replaced,
    /// The table's TTL removed it, unverified, after it expired.
    Expired,
}

/// One event, as the app receives it (the JSON body of the webhook, the `Detail` of the
/// EventBridge event). Never a code, a token or a secret; the number in full, since events go
/// to the app and not to logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Stable across redeliveries: `evt_` and 32 hex digits of SHA-256(attempt id, type).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When the change happened (RFC 3339, UTC).
    pub time: String,
    /// E.164, or as `EVENTS_PHONE` says ([`PhoneForm`]).
    pub phone: String,
    pub attempt_id: String,
    /// The locale of the call (BCP 47); `null` for an attempt from before locales.
    pub locale: Option<String>,
    /// A `TEST_NUMBERS` number: a fixed code, no call.
    pub test: bool,
    /// The app's own reference, as its send gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ref: Option<String>,
    /// `call.not_delivered`: how the call ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcome>,
    /// `otp.expired`: replaced by a new send, or expired and removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending: Option<Ending>,
}

/// How events carry the number (`EVENTS_PHONE`): in full (the default), masked like the logs
/// (`+91******3210`), or as `HMAC-SHA256(key, E.164)` in hex, which the app can compute from
/// its own copy of the number and the key, to match without receiving it.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum PhoneForm {
    #[default]
    Full,
    Masked,
    Hashed(Vec<u8>),
}

impl std::fmt::Debug for PhoneForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PhoneForm::Full => "Full",
            PhoneForm::Masked => "Masked",
            PhoneForm::Hashed(_) => "Hashed(<key redacted>)",
        })
    }
}

impl PhoneForm {
    /// `phone` (E.164) as events carry it.
    #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    pub fn render(&self, phone: &Phone) -> String {
        match self {
            PhoneForm::Full => phone.e164().to_owned(),
            PhoneForm::Masked => phone.masked().to_string(),
            PhoneForm::Hashed(key) => {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
                m.update(phone.e164().as_bytes());
                m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
            }
        }
    }

    /// The events with their number in this form.
    pub fn apply(&self, mut events: Vec<Event>) -> Vec<Event> {
        if *self != PhoneForm::Full {
            for e in &mut events {
                if let Ok(p) = Phone::normalize(&e.phone) {
                    e.phone = self.render(&p);
                }
            }
        }
        events
    }
}

/// The id of the event of `kind` about attempt `attempt_id`.
pub fn event_id(attempt_id: &str, kind: EventType) -> String {
    let digest = Sha256::new()
        .chain_update(attempt_id.as_bytes())
        .chain_update([0u8])
        .chain_update(kind.as_str().as_bytes())
        .finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("evt_{hex}")
}

/// One change of one number's item, as the stream gives it.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// A write: the item before (none for the first send to a number) and after.
    Written { old: Option<&'a Attempt>, new: &'a Attempt },
    /// The item was deleted by the table's TTL.
    Removed { old: &'a Attempt },
    /// The item was deleted by the app's erasure of the number.
    Erased { old: &'a Attempt },
}

/// The attempt ended without a verification, a cancel, a refused call or used-up guesses:
/// nothing has told the app it is over.
fn unsettled(a: &Attempt) -> bool {
    !a.is_verified() && a.canceled_at.is_none() && a.call_failed.is_none() && a.guessed() < a.guess_cap
}

/// The events one change means. `at` is when it happened (epoch seconds, the stream record's
/// time); `failures_per_window` is `MAX_FAILURES_PER_DAY`, which decides `number.locked`.
pub fn events_of(change: Change<'_>, at: i64, failures_per_window: u32) -> Vec<Event> {
    let time = rfc3339(at);
    let event = |a: &Attempt, kind: EventType| Event {
        id: event_id(&a.attempt_id, kind),
        kind,
        time: time.clone(),
        phone: a.phone.e164().to_owned(),
        attempt_id: a.attempt_id.clone(),
        locale: a.locale.clone(),
        test: a.test,
        client_ref: a.client_ref.clone(),
        outcome: None,
        ending: None,
    };
    let mut out = Vec::new();
    let (old, new) = match change {
        Change::Erased { old } => return vec![event(old, EventType::NumberErased)],
        Change::Removed { old } => {
            if unsettled(old) {
                out.push(Event {
                    ending: Some(Ending::Expired),
                    ..event(old, EventType::OtpExpired)
                });
            }
            return out;
        }
        Change::Written { old, new } => (old, new),
    };
    // A new send replaces the number's attempt: the old one is over.
    let before = match old {
        Some(o) if o.attempt_id != new.attempt_id => {
            if unsettled(o) {
                out.push(Event {
                    ending: Some(Ending::Replaced),
                    ..event(o, EventType::OtpExpired)
                });
            }
            None
        }
        other => other,
    };
    let was = |f: &dyn Fn(&Attempt) -> bool| before.is_some_and(f);
    if !was(&|a| a.call_outcome().is_some())
        && let Some(outcome) = new.call_outcome()
    {
        out.push(match outcome {
            CallOutcome::Answered => event(new, EventType::CallDelivered),
            other => Event {
                outcome: Some(other),
                ..event(new, EventType::CallNotDelivered)
            },
        });
    }
    if !was(&Attempt::is_verified) && new.is_verified() {
        out.push(event(new, EventType::OtpVerified));
    }
    let exhausted = |a: &Attempt| !a.is_verified() && a.guessed() >= a.guess_cap;
    if !was(&exhausted) && exhausted(new) {
        out.push(event(new, EventType::OtpFailed));
    }
    if !was(&|a| a.is_locked(failures_per_window, at)) && new.is_locked(failures_per_window, at) {
        out.push(event(new, EventType::NumberLocked));
    }
    if !was(&|a| a.canceled_at.is_some()) && new.canceled_at.is_some() {
        out.push(event(new, EventType::OtpCanceled));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::attempt::tests::attempt;
    use super::super::call::Telephony;
    use super::*;

    const NOW: i64 = 1_790_000_000;
    const FAILS: u32 = 10;

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind.as_str()).collect()
    }

    /// The events of writing `new` over `old` at `now`.
    fn events_after(old: &Attempt, new: &Attempt, now: i64) -> Vec<Event> {
        events_of(Change::Written { old: Some(old), new }, now, FAILS)
    }

    fn written(old: &Attempt, new: &Attempt) -> Vec<&'static str> {
        kinds(&events_after(old, new, NOW))
    }

    fn hung_up(a: &Attempt, telephony: Telephony, reads: u32) -> Attempt {
        let mut b = a.clone();
        b.answered_at = (telephony == Telephony::Answered).then_some(NOW);
        b.reads = reads;
        b.ended_at = Some(NOW);
        b.hangup = Some(telephony);
        b
    }

    #[test]
    fn most_changes_mean_nothing() {
        let a = attempt(NOW);
        assert!(
            events_of(Change::Written { old: None, new: &a }, NOW, FAILS).is_empty(),
            "a send"
        );
        let mut picked_up = a.clone();
        picked_up.answered_at = Some(NOW);
        assert!(written(&a, &picked_up).is_empty(), "a pickup");
        let mut read = picked_up.clone();
        read.reads = 2;
        assert!(written(&picked_up, &read).is_empty(), "a repeat");
        let mut wrong = read.clone();
        wrong.guesses.push("not-the-mac".into());
        assert!(written(&read, &wrong).is_empty(), "a wrong guess with guesses left");
        assert!(written(&wrong, &wrong).is_empty(), "a redelivered, unchanged image");
    }

    #[test]
    fn the_call_ends_delivered_or_not_once() {
        let a = attempt(NOW);
        let delivered = hung_up(&a, Telephony::Answered, 1);
        assert_eq!(written(&a, &delivered), ["call.delivered"]);
        assert!(written(&delivered, &delivered).is_empty());
        for (telephony, reads, outcome) in [
            (Telephony::Busy, 0, CallOutcome::Busy),
            (Telephony::NoAnswer, 0, CallOutcome::NoAnswer),
            (Telephony::Rejected, 0, CallOutcome::Rejected),
            (Telephony::Machine, 0, CallOutcome::Machine),
            (Telephony::Canceled, 0, CallOutcome::Canceled),
            (Telephony::Failed, 0, CallOutcome::Failed),
            (Telephony::Answered, 0, CallOutcome::NoKey),
        ] {
            let ended = hung_up(&a, telephony, reads);
            let events = events_after(&a, &ended, NOW);
            assert_eq!(kinds(&events), ["call.not_delivered"], "{telephony:?}");
            assert_eq!(events[0].outcome, Some(outcome));
        }
        let mut refused = a.clone();
        refused.call_failed = Some("vobiz said no".into());
        let events = events_after(&a, &refused, NOW);
        assert_eq!(kinds(&events), ["call.not_delivered"]);
        assert_eq!(events[0].outcome, Some(CallOutcome::Failed));
    }

    #[test]
    fn a_test_number_is_delivered_at_its_send() {
        let t = attempt(NOW).as_test(NOW).in_locale("hi-IN");
        let events = events_of(Change::Written { old: None, new: &t }, NOW, FAILS);
        assert_eq!(kinds(&events), ["call.delivered"]);
        assert!(events[0].test && events[0].locale.as_deref() == Some("hi-IN"));
    }

    #[test]
    fn an_erasure_is_one_event_whatever_the_state() {
        let a = attempt(NOW);
        let kinds = |c| events_of(c, NOW, FAILS).iter().map(|e| e.kind).collect::<Vec<_>>();
        assert_eq!(kinds(Change::Erased { old: &a }), [EventType::NumberErased]);
        assert_eq!(
            kinds(Change::Removed { old: &a }),
            [EventType::OtpExpired],
            "the TTL's removal"
        );
        let mut verified = a.clone();
        verified.verified_at = Some(NOW);
        assert_eq!(kinds(Change::Erased { old: &verified }), [EventType::NumberErased]);
    }

    #[test]
    fn the_number_in_events_takes_the_configured_form() {
        let p = Phone::parse("+919876543210").unwrap();
        assert_eq!(PhoneForm::Full.render(&p), "+919876543210");
        assert_eq!(PhoneForm::Masked.render(&p), "+91******3210");
        // HMAC-SHA256("key", "+919876543210"): what the app computes with its copy of the key.
        let hashed = PhoneForm::Hashed(b"key".to_vec()).render(&p);
        assert_eq!(hashed.len(), 64);
        assert!(hashed.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(hashed, PhoneForm::Hashed(b"other key".to_vec()).render(&p));
        assert!(!format!("{:?}", PhoneForm::Hashed(b"key".to_vec())).contains("key\""));
    }

    #[test]
    fn verified_failed_locked_and_canceled() {
        let a = attempt(NOW);
        let mut right = a.clone();
        right.guesses.push(a.code_mac.clone());
        assert_eq!(written(&a, &right), ["otp.verified"]);
        let mut recorded = right.clone();
        recorded.verified_at = Some(NOW);
        assert!(
            written(&right, &recorded).is_empty(),
            "verified_at only follows the guess"
        );

        let mut used_up = a.clone();
        used_up.guesses = vec!["w1".into(); a.guess_cap as usize];
        used_up.failures_until = Some(NOW + 3600);
        let mut before = used_up.clone();
        before.guesses.pop();
        assert_eq!(written(&before, &used_up), ["otp.failed"]);

        // The guess that reaches MAX_FAILURES_PER_DAY also locks the number.
        let mut streak = before.clone();
        streak.failures = FAILS - a.guess_cap;
        let mut locking = used_up.clone();
        locking.failures = FAILS - a.guess_cap;
        assert_eq!(written(&streak, &locking), ["otp.failed", "number.locked"]);

        let mut canceled = a.clone();
        canceled.canceled_at = Some(NOW);
        canceled.code_sealed = None;
        assert_eq!(written(&a, &canceled), ["otp.canceled"]);
        assert!(written(&canceled, &canceled).is_empty());
    }

    #[test]
    fn an_unverified_attempt_expires_when_replaced_or_removed() {
        let a = attempt(NOW);
        let mut next = attempt(NOW + 60);
        next.attempt_id = "the-next-one".into();
        let events = events_after(&a, &next, NOW + 60);
        assert_eq!(kinds(&events), ["otp.expired"]);
        assert_eq!(
            (events[0].attempt_id.as_str(), events[0].ending),
            (a.attempt_id.as_str(), Some(Ending::Replaced))
        );
        let removed = events_of(Change::Removed { old: &a }, NOW + 90_000, FAILS);
        assert_eq!(kinds(&removed), ["otp.expired"]);
        assert_eq!(removed[0].ending, Some(Ending::Expired));
        // Settled attempts told the app already: no expiry for them.
        let mut verified = a.clone();
        verified.verified_at = Some(NOW);
        assert!(events_of(Change::Removed { old: &verified }, NOW, FAILS).is_empty());
        assert!(written(&verified, &next).is_empty());
    }

    #[test]
    fn ids_are_stable_per_attempt_and_type_and_bodies_carry_no_secret() {
        let a = attempt(NOW).in_locale("ta-IN");
        let delivered = hung_up(&a, Telephony::Answered, 1);
        let one = events_after(&a, &delivered, NOW);
        let again = events_after(&a, &delivered, NOW);
        assert_eq!(one, again, "a redelivered record: the same event, the same id");
        assert_eq!(one[0].id, event_id(&a.attempt_id, EventType::CallDelivered));
        assert_ne!(one[0].id, event_id(&a.attempt_id, EventType::OtpVerified));
        assert!(one[0].id.starts_with("evt_") && one[0].id.len() == 36);
        let body = serde_json::to_string(&one[0]).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({
                "id": one[0].id, "type": "call.delivered", "time": "2026-09-21T14:13:20Z",
                "phone": a.phone.e164(), "attempt_id": a.attempt_id, "locale": "ta-IN", "test": false
            })
        );
        for secret in [&a.code_mac, &a.token_hash, a.code_sealed.as_ref().unwrap()] {
            assert!(!body.contains(secret.as_str()));
        }
    }
}
