//! What a call did, decided from the hangup webhook's fields (`vobiz-api` §2): never from the
//! mere arrival of a hangup, and never from `CallStatus` alone.

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
    /// but for which the code was never served (our answer URL failed, say) was not delivered.
    pub fn delivery(self, served: bool) -> CallOutcome {
        match self {
            Telephony::Answered if served => CallOutcome::Answered,
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

/// The hangup webhook's fields that matter, as strings exactly as they arrived.
#[derive(Clone, Debug, Default)]
pub struct HangupReport<'a> {
    pub call_status: &'a str,
    pub hangup_cause: &'a str,
    pub hangup_cause_code: &'a str,
    pub answer_time: &'a str,
    pub duration: &'a str,
    pub bill_duration: &'a str,
}

impl<'a> HangupReport<'a> {
    /// The report from the webhook's form fields by Vobiz's names (`CallStatus`, `HangupCause`,
    /// `HangupCauseCode`, `AnswerTime`, `Duration`, `BillDuration`); a missing field is `""`.
    pub fn from_fields(field: impl Fn(&str) -> &'a str) -> HangupReport<'a> {
        HangupReport {
            call_status: field("CallStatus"),
            hangup_cause: field("HangupCause"),
            hangup_cause_code: field("HangupCauseCode"),
            answer_time: field("AnswerTime"),
            duration: field("Duration"),
            bill_duration: field("BillDuration"),
        }
    }
}

/// The class a hangup cause names, if it names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    Normal,
    Not(Telephony),
}

fn cause_class(raw: &str) -> Option<Cause> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(code) = raw.parse::<u32>() {
        return Some(match code {
            4000 | 4010 => Cause::Normal,
            3000 | 6010 => Cause::Not(Telephony::NoAnswer),
            3010 => Cause::Not(Telephony::Busy),
            3020 => Cause::Not(Telephony::Rejected),
            1000 => Cause::Not(Telephony::Canceled),
            9100 => Cause::Not(Telephony::Machine),
            _ => Cause::Not(Telephony::Failed),
        });
    }
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    Some(match name.as_str() {
        "normal_clearing" | "normal_hangup" | "end_of_xml_instructions" => Cause::Normal,
        "no_answer" | "ring_timeout" | "no_user_response" | "allotted_timeout" => Cause::Not(Telephony::NoAnswer),
        "user_busy" | "busy" => Cause::Not(Telephony::Busy),
        "call_rejected" | "rejected" => Cause::Not(Telephony::Rejected),
        "originator_cancel" | "canceled" | "cancelled" => Cause::Not(Telephony::Canceled),
        "machine_detected" => Cause::Not(Telephony::Machine),
        // Every other named cause (unallocated number, carrier and system errors, ...) failed.
        _ => Cause::Not(Telephony::Failed),
    })
}

fn positive(s: &str) -> bool {
    s.trim().parse::<f64>().is_ok_and(|n| n > 0.0)
}

/// Classifies a hangup. The cause decides when it names a failure or a refusal; a call counts
/// as answered only when the telephony confirms it (an `AnswerTime`, or a positive
/// `BillDuration`/`Duration`); `CallStatus` is the fallback when there is no usable cause.
pub fn classify_hangup(r: &HangupReport<'_>) -> Telephony {
    let confirmed = !r.answer_time.trim().is_empty() || positive(r.bill_duration) || positive(r.duration);
    // A numeric code is the most precise; then the cause as given.
    let cause = cause_class(r.hangup_cause_code).or_else(|| cause_class(r.hangup_cause));
    match cause {
        Some(Cause::Not(t)) => t,
        Some(Cause::Normal) if confirmed => Telephony::Answered,
        // A "normal" end without any sign of an answer: nobody heard anything.
        Some(Cause::Normal) => Telephony::NoAnswer,
        None => match r.call_status.trim().to_ascii_lowercase().as_str() {
            "busy" => Telephony::Busy,
            "no-answer" | "timeout" => Telephony::NoAnswer,
            "cancel" | "canceled" => Telephony::Canceled,
            "failed" => Telephony::Failed,
            _ if confirmed => Telephony::Answered,
            "completed" => Telephony::NoAnswer,
            _ => Telephony::Failed,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report<'a>(status: &'a str, cause: &'a str, answer_time: &'a str, bill: &'a str) -> HangupReport<'a> {
        HangupReport {
            call_status: status,
            hangup_cause: cause,
            answer_time,
            bill_duration: bill,
            duration: bill,
            ..Default::default()
        }
    }

    #[test]
    fn answered_calls_need_confirmation() {
        assert_eq!(
            classify_hangup(&report("completed", "NORMAL_CLEARING", "2026-11-25 10:00:05", "31")),
            Telephony::Answered
        );
        assert_eq!(
            classify_hangup(&report("completed", "4000", "", "12")),
            Telephony::Answered
        );
        assert_eq!(
            classify_hangup(&report(
                "completed",
                "End Of XML Instructions",
                "2026-11-25 10:00:05",
                "0"
            )),
            Telephony::Answered
        );
        // "completed" with nothing that proves an answer is not an answer.
        assert_eq!(
            classify_hangup(&report("completed", "NORMAL_CLEARING", "", "0")),
            Telephony::NoAnswer
        );
        assert_eq!(classify_hangup(&report("completed", "", "", "")), Telephony::NoAnswer);
    }

    #[test]
    fn refusals_and_failures_come_from_the_cause_even_when_status_says_completed() {
        for (cause, want) in [
            ("USER_BUSY", Telephony::Busy),
            ("3010", Telephony::Busy),
            ("Busy", Telephony::Busy),
            ("NO_ANSWER", Telephony::NoAnswer),
            ("3000", Telephony::NoAnswer),
            ("6010", Telephony::NoAnswer),
            ("Ring Timeout", Telephony::NoAnswer),
            ("CALL_REJECTED", Telephony::Rejected),
            ("3020", Telephony::Rejected),
            ("ORIGINATOR_CANCEL", Telephony::Canceled),
            ("1000", Telephony::Canceled),
            ("9100", Telephony::Machine),
            ("Machine Detected", Telephony::Machine),
            ("UNALLOCATED_NUMBER", Telephony::Failed),
            ("3050", Telephony::Failed),
            ("2030", Telephony::Failed),
            ("7011", Telephony::Failed),
            ("8011", Telephony::Failed),
        ] {
            assert_eq!(classify_hangup(&report("completed", cause, "", "0")), want, "{cause}");
        }
        // A machine that picked up has an answer time, and still is not a person.
        assert_eq!(
            classify_hangup(&report("completed", "9100", "2026-11-25 10:00:05", "4")),
            Telephony::Machine
        );
    }

    #[test]
    fn numeric_cause_code_wins_over_the_name() {
        let r = HangupReport {
            call_status: "completed",
            hangup_cause: "NORMAL_CLEARING",
            hangup_cause_code: "3010",
            ..Default::default()
        };
        assert_eq!(classify_hangup(&r), Telephony::Busy);
    }

    #[test]
    fn call_status_is_the_fallback() {
        assert_eq!(classify_hangup(&report("busy", "", "", "")), Telephony::Busy);
        assert_eq!(classify_hangup(&report("no-answer", "", "", "")), Telephony::NoAnswer);
        assert_eq!(classify_hangup(&report("timeout", "", "", "")), Telephony::NoAnswer);
        assert_eq!(classify_hangup(&report("cancel", "", "", "")), Telephony::Canceled);
        assert_eq!(classify_hangup(&report("failed", "", "", "")), Telephony::Failed);
        assert_eq!(classify_hangup(&report("", "", "", "")), Telephony::Failed);
    }

    #[test]
    fn delivery_needs_the_code_served() {
        assert_eq!(Telephony::Answered.delivery(true), CallOutcome::Answered);
        assert_eq!(Telephony::Answered.delivery(false), CallOutcome::Failed);
        assert_eq!(Telephony::Busy.delivery(true), CallOutcome::Busy);
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
