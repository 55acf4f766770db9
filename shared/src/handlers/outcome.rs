//! What became of a request, as a type: each outcome knows its name in the log and the metric it
//! counts towards, so a typo cannot silently drop a metric.

use crate::domain::Refusal;
use crate::error::Error;
use crate::telemetry::Metric;

/// The outcome of one request, logged as `outcome` and counted as a metric where it matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// send-otp: the attempt is stored and Vobiz accepted the call.
    Calling,
    /// send-otp: a test number's fixed code is stored; no call.
    TestCode,
    /// send-otp: a retry with the same `Idempotency-Key` and body got the first reply again.
    Replayed,
    /// verify-otp: a test number's code, used now.
    ValidTest,
    /// verify-otp: the right code, used now (once).
    Valid,
    /// verify-otp: refused, for the reason the app is told.
    Refused(Refusal),
    /// otp-status: the number's record was read.
    Found,
    /// cancel-otp: the live attempt ended now.
    Canceled,
    /// cancel-otp: nothing live to cancel (already over, or canceled before).
    NothingToCancel,
    /// erase-number: the number's record is gone (or there was none: the same to the app).
    Erased,
    /// answer (no key-press gate) or otp-choice (the gate's key): the code was read to the
    /// callee for the first time.
    Served,
    /// answer: picked up; the callee is asked to press a key before hearing the code.
    Gated,
    /// answer: a post that is not a pickup (a ring or hangup event): nothing said or written.
    NotPickup,
    /// answer: no public URL to post the key to, so the code cannot be offered.
    NoCallbackUrl,
    /// answer: the attempt is not live for this call (ended, superseded, expired, another call).
    NotLive,
    /// answer, otp-choice: the stored code could not be opened.
    UnreadableCode,
    /// otp-choice: the code was read again.
    Repeated,
    /// otp-choice: a key other than 1, or none.
    Goodbye,
    /// otp-choice: no repeat left, or the call is not live.
    NoRepeat,
    /// hangup: the call ended after the code was read to a callee who answered.
    Delivered,
    /// hangup: the call ended without delivering the code (busy, no answer, ...).
    NotDelivered,
    /// hangup: the end of this call was already recorded (a Vobiz retry).
    AlreadyRecorded,
    /// hangup: no attempt matches the token (superseded or expired).
    UnknownAttempt,
    /// A webhook refused before any I/O.
    Rejected(Rejection),
    /// The request failed with this error (its machine code and metric).
    Failed { code: &'static str, metric: Option<Metric> },
}

/// Why a webhook was refused before the store was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No token in the path (the bare `/answer`: an inbound call to the DID).
    NoToken,
    /// The token does not open under our key: guessed, altered or from another deployment.
    UnknownToken,
    /// The form's `To` is not the token's number.
    WrongCallee,
    /// No usable `CallUUID` in the form.
    NoCallUuid,
}

impl Outcome {
    /// The outcome's name in the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Calling => "calling",
            Outcome::TestCode => "test_code",
            Outcome::Replayed => "replayed",
            Outcome::ValidTest => "valid_test",
            Outcome::Valid => "valid",
            Outcome::Refused(r) => match r {
                Refusal::Invalid => "invalid",
                Refusal::Expired => "expired",
                Refusal::NotFound => "not_found",
                Refusal::AlreadyUsed => "already_used",
                Refusal::TooManyAttempts => "too_many_attempts",
                Refusal::Canceled => "canceled",
            },
            Outcome::Found => "found",
            Outcome::Canceled => "canceled",
            Outcome::NothingToCancel => "nothing_to_cancel",
            Outcome::Erased => "erased",
            Outcome::Served => "served",
            Outcome::Gated => "gated",
            Outcome::NotPickup => "not_pickup",
            Outcome::NoCallbackUrl => "no_callback_url",
            Outcome::NotLive => "not_live",
            Outcome::UnreadableCode => "unreadable_code",
            Outcome::Repeated => "repeated",
            Outcome::Goodbye => "goodbye",
            Outcome::NoRepeat => "no_repeat",
            Outcome::Delivered => "delivered",
            Outcome::NotDelivered => "not_delivered",
            Outcome::AlreadyRecorded => "already_recorded",
            Outcome::UnknownAttempt => "unknown_attempt",
            Outcome::Rejected(r) => match r {
                Rejection::NoToken => "no_token",
                Rejection::UnknownToken => "unknown_token",
                Rejection::WrongCallee => "wrong_callee",
                Rejection::NoCallUuid => "no_call_uuid",
            },
            Outcome::Failed { code, .. } => code,
        }
    }

    /// The metric this outcome counts towards.
    pub fn metric(self) -> Option<Metric> {
        match self {
            Outcome::Calling => Some(Metric::CodeSent),
            Outcome::TestCode => Some(Metric::TestCodeSent),
            Outcome::ValidTest => Some(Metric::TestCodeVerified),
            Outcome::Valid => Some(Metric::CodeVerified),
            Outcome::Refused(_) => Some(Metric::VerifyFailed),
            Outcome::Served => Some(Metric::CallAnswered),
            Outcome::Delivered => Some(Metric::CallDelivered),
            Outcome::NotDelivered => Some(Metric::CallNotDelivered),
            Outcome::Failed { metric, .. } => metric,
            Outcome::Found
            | Outcome::Canceled
            | Outcome::NothingToCancel
            | Outcome::Erased
            | Outcome::Replayed
            | Outcome::Gated
            | Outcome::NotPickup
            | Outcome::NoCallbackUrl
            | Outcome::NotLive
            | Outcome::UnreadableCode
            | Outcome::Repeated
            | Outcome::Goodbye
            | Outcome::NoRepeat
            | Outcome::AlreadyRecorded
            | Outcome::UnknownAttempt
            | Outcome::Rejected(_) => None,
        }
    }
}

impl From<&Error> for Outcome {
    fn from(e: &Error) -> Outcome {
        Outcome::Failed {
            code: e.code(),
            metric: e.metric(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fraud::Reason;
    use crate::domain::limits::Limited;

    #[test]
    fn outcomes_count_towards_their_metrics() {
        assert_eq!(Outcome::Calling.metric(), Some(Metric::CodeSent));
        assert_eq!(Outcome::Delivered.metric(), Some(Metric::CallDelivered));
        assert_eq!(
            Outcome::Refused(Refusal::TooManyAttempts).metric(),
            Some(Metric::VerifyFailed)
        );
        assert_eq!(Outcome::Found.metric(), None);
        let rate_limited = Outcome::from(&Error::RateLimited(Limited::Cooldown { retry_after: 1 }));
        assert_eq!(
            (rate_limited.as_str(), rate_limited.metric()),
            ("rate_limited", Some(Metric::RateLimited))
        );
        assert_eq!(Outcome::from(&Error::NotFound).metric(), None);
        // Every metric is reachable from some outcome.
        let outcomes = [
            Outcome::Calling,
            Outcome::from(&Error::CallFailed("refused".into())),
            Outcome::Served,
            Outcome::Delivered,
            Outcome::NotDelivered,
            Outcome::Valid,
            Outcome::Refused(Refusal::Invalid),
            rate_limited,
            Outcome::TestCode,
            Outcome::ValidTest,
            Outcome::from(&Error::RateLimited(Limited::Budget { retry_after: 1 })),
            Outcome::from(&Error::Busy),
        ];
        let budget = Outcome::from(&Error::RateLimited(Limited::Budget { retry_after: 1 }));
        assert_eq!(budget.as_str(), "budget_exhausted");
        let blocked: Vec<Outcome> = Reason::ALL
            .into_iter()
            .map(|reason| Outcome::from(&Error::Blocked { reason, retry_after: 1 }))
            .collect();
        // WouldBlock is counted by the send itself (record mode refuses nothing).
        for m in Metric::ALL.into_iter().filter(|m| !matches!(m, Metric::WouldBlock(_))) {
            assert!(outcomes.iter().chain(&blocked).any(|o| o.metric() == Some(m)), "{m:?}");
        }
    }

    #[test]
    fn refusals_log_as_the_app_sees_them() {
        for r in [
            Refusal::Invalid,
            Refusal::Expired,
            Refusal::NotFound,
            Refusal::AlreadyUsed,
            Refusal::TooManyAttempts,
            Refusal::Canceled,
        ] {
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                Outcome::Refused(r).as_str(),
                "the log says what verify-otp's `reason` says"
            );
        }
    }
}
