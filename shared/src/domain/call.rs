//! What a call did: the telephony's account of it at hangup ([`Telephony`], which the Vobiz
//! adapter reads from the hangup webhook) and the outcome the app sees ([`CallOutcome`]), which
//! also depends on whether the call read the code.

use serde::Serialize;

/// The telephony's account of the call at hangup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Telephony {
    Answered,
    Busy,
    NoAnswer,
    Rejected,
    Canceled,
    Machine,
    Failed,
}

/// The outcome the app sees: [`Telephony`] combined with whether our answer webhook actually
/// served the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    Answered,
    Busy,
    NoAnswer,
    Rejected,
    Canceled,
    Machine,
    /// Picked up, but no key was pressed at the key-press gate: the code was never read (a
    /// voicemail box, or a callee who did not press).
    NoKey,
    Failed,
}

impl Telephony {
    pub fn as_str(self) -> &'static str {
        match self {
            Telephony::Answered => "answered",
            Telephony::Busy => "busy",
            Telephony::NoAnswer => "no_answer",
            Telephony::Rejected => "rejected",
            Telephony::Canceled => "canceled",
            Telephony::Machine => "machine",
            Telephony::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Telephony> {
        Some(match s {
            "answered" => Telephony::Answered,
            "busy" => Telephony::Busy,
            "no_answer" => Telephony::NoAnswer,
            "rejected" => Telephony::Rejected,
            "canceled" => Telephony::Canceled,
            "machine" => Telephony::Machine,
            "failed" => Telephony::Failed,
            _ => return None,
        })
    }

    /// Combines the telephony's account with what we did: a call the telephony calls answered
    /// was delivered only if the code was read (`served`); picked up but never read is `no_key`
    /// (the key-press gate waited in vain), never picked up by our answer URL is `failed`.
    pub fn delivery(self, served: bool, picked_up: bool) -> CallOutcome {
        match self {
            Telephony::Answered if served => CallOutcome::Answered,
            Telephony::Answered if picked_up => CallOutcome::NoKey,
            Telephony::Answered => CallOutcome::Failed,
            Telephony::Busy => CallOutcome::Busy,
            Telephony::NoAnswer => CallOutcome::NoAnswer,
            Telephony::Rejected => CallOutcome::Rejected,
            Telephony::Canceled => CallOutcome::Canceled,
            Telephony::Machine => CallOutcome::Machine,
            Telephony::Failed => CallOutcome::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_needs_the_code_served() {
        assert_eq!(Telephony::Answered.delivery(true, true), CallOutcome::Answered);
        assert_eq!(Telephony::Answered.delivery(false, true), CallOutcome::NoKey);
        assert_eq!(Telephony::Answered.delivery(false, false), CallOutcome::Failed);
        assert_eq!(Telephony::Busy.delivery(true, true), CallOutcome::Busy);
        for t in [
            Telephony::Answered,
            Telephony::Busy,
            Telephony::NoAnswer,
            Telephony::Rejected,
            Telephony::Canceled,
            Telephony::Machine,
            Telephony::Failed,
        ] {
            assert_eq!(Telephony::parse(t.as_str()), Some(t));
        }
    }
}
