//! What a call did, decided from the hangup webhook's fields (docs/vobiz.md §2): never from the
//! mere arrival of a hangup, and never from `CallStatus` alone.
//!
//! Vobiz's hangup causes are one table here ([`hangup_causes`]): every documented code, its name
//! as Vobiz spells it and the class it gives a call. The SIP-layer `HangupCause` values are a
//! second, small one ([`sip_hangup_causes`]).

use crate::domain::call::Telephony;

/// The hangup webhook's fields that matter, as strings exactly as they arrived.
#[derive(Clone, Debug, Default)]
pub struct HangupReport<'a> {
    pub call_status: &'a str,
    /// `HangupCause`: the SIP-layer name (`NORMAL_CLEARING`); some paths send a table name.
    pub hangup_cause: &'a str,
    /// `HangupCauseCode`: the table's code (`4000`).
    pub hangup_cause_code: &'a str,
    /// `HangupCauseName`: the table's name (`Normal Hangup`).
    pub hangup_cause_name: &'a str,
    pub answer_time: &'a str,
    pub duration: &'a str,
    pub bill_duration: &'a str,
}

impl<'a> HangupReport<'a> {
    /// The report from the webhook's form fields by Vobiz's names (`CallStatus`, `HangupCause`,
    /// `HangupCauseCode`, `HangupCauseName`, `AnswerTime`, `Duration`, `BillDuration`); a
    /// missing field is `""`.
    pub fn from_fields(field: impl Fn(&str) -> &'a str) -> HangupReport<'a> {
        HangupReport {
            call_status: field("CallStatus"),
            hangup_cause: field("HangupCause"),
            hangup_cause_code: field("HangupCauseCode"),
            hangup_cause_name: field("HangupCauseName"),
            answer_time: field("AnswerTime"),
            duration: field("Duration"),
            bill_duration: field("BillDuration"),
        }
    }
}

/// What a hangup cause says about the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CauseClass {
    /// The call ended the way a conversation ends (a party hung up, our XML ran out, the
    /// `time_limit` we set): answered if the telephony confirms an answer, else no answer.
    Normal,
    /// The call did not reach a person, for this reason, whatever else the report says.
    Not(Telephony),
}

impl CauseClass {
    /// The telephony's account of a call that ended with this cause; `confirmed` says whether
    /// the report proves an answer (an `AnswerTime`, or a positive `Duration`/`BillDuration`).
    pub fn telephony(self, confirmed: bool) -> Telephony {
        match self {
            CauseClass::Not(t) => t,
            CauseClass::Normal if confirmed => Telephony::Answered,
            // A "normal" end without any sign of an answer: nobody heard anything.
            CauseClass::Normal => Telephony::NoAnswer,
        }
    }

    /// `normal`, or the [`Telephony`] it stands for (`busy`, `no_answer`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CauseClass::Normal => "normal",
            CauseClass::Not(t) => t.as_str(),
        }
    }
}

/// One row of Vobiz's hangup-cause table (concepts/hangup-causes; docs/vobiz.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HangupCause {
    /// As `HangupCauseCode` carries it.
    pub code: u32,
    /// As `HangupCauseName` carries it: Vobiz's spelling.
    pub name: &'static str,
    pub class: CauseClass,
}

impl HangupCause {
    /// The row of a `HangupCauseCode`.
    pub fn by_code(code: u32) -> Option<&'static HangupCause> {
        HANGUP_CAUSES.iter().find(|c| c.code == code)
    }

    /// The row of a `HangupCauseName`, matched ignoring case, spaces and punctuation ("Busy
    /// Line", "busy_line" and "BUSY LINE" alike).
    pub fn by_name(name: &str) -> Option<&'static HangupCause> {
        HANGUP_CAUSES.iter().find(|c| same_name(c.name, name))
    }

    /// The telephony's account of a call that ended with this cause (see [`CauseClass::telephony`]).
    pub fn telephony(&self, confirmed: bool) -> Telephony {
        self.class.telephony(confirmed)
    }
}

/// A `HangupCause` value from the SIP layer (`NORMAL_CLEARING`), or another name a cause goes by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CauseName {
    pub name: &'static str,
    pub class: CauseClass,
}

/// Every hangup cause Vobiz documents (concepts/hangup-causes), in its groups and order.
pub fn hangup_causes() -> &'static [HangupCause] {
    HANGUP_CAUSES
}

/// The SIP-layer `HangupCause` values Vobiz documents (the same page, "SIP Hangup Causes").
pub fn sip_hangup_causes() -> &'static [CauseName] {
    SIP_HANGUP_CAUSES
}

const NORMAL: CauseClass = CauseClass::Normal;
const NO_ANSWER: CauseClass = CauseClass::Not(Telephony::NoAnswer);
const BUSY: CauseClass = CauseClass::Not(Telephony::Busy);
const REJECTED: CauseClass = CauseClass::Not(Telephony::Rejected);
const CANCELED: CauseClass = CauseClass::Not(Telephony::Canceled);
const MACHINE: CauseClass = CauseClass::Not(Telephony::Machine);
const FAILED: CauseClass = CauseClass::Not(Telephony::Failed);

const fn cause(code: u32, name: &'static str, class: CauseClass) -> HangupCause {
    HangupCause { code, name, class }
}

const fn named(name: &'static str, class: CauseClass) -> CauseName {
    CauseName { name, class }
}

/// Vobiz's table. Where its group is not the whole answer:
/// - 6000 Scheduled Hangup is the `time_limit` we set ending the call: normal, so answered when
///   the telephony confirms an answer (and no answer otherwise).
/// - 3100 Busy everywhere is busy like 3010; 3110 Declined is rejected like 3020.
/// - 0 Unknown stays with the canceled group: its one documented source is the Delete All
///   Calls API, an operator canceling.
/// - 1010 (out of credits) and 1020 (simultaneous dial limit) failed, though Vobiz files them
///   under canceled: nobody canceled the call, our account could not place it (1010 is ours to
///   fix; 1020 is "retry later", as 5030 Concurrency Limit Breached, which failed too).
/// - 4020 and 4030 (multiparty calls, which this service never makes) are normal as grouped.
/// - 6020 Media Timeout failed even after an answer: the line went silent, the code may not
///   have been heard.
/// - Everything else failed: destination, carrier and system errors, our URLs and XML (7xxx,
///   8xxx), 9000 Lost Race and 9110 Confirm Key Challenge Failed (no parallel dial, no confirm
///   key here).
const HANGUP_CAUSES: &[HangupCause] = &[
    // Normal completions.
    cause(4000, "Normal Hangup", NORMAL),
    cause(4010, "End Of XML Instructions", NORMAL),
    cause(4020, "Multiparty Call Ended", NORMAL),
    cause(4030, "Kicked Out Of Multiparty Call", NORMAL),
    // Canceled calls.
    cause(0, "Unknown", CANCELED),
    cause(1000, "Canceled", CANCELED),
    cause(1010, "Canceled (Out Of Credits)", FAILED),
    cause(1020, "Canceled (Simultaneous dial limit reached)", FAILED),
    // Destination issues.
    cause(2000, "Invalid Destination Address", FAILED),
    cause(2010, "Destination Out Of Service", FAILED),
    cause(2020, "Endpoint Not Registered", FAILED),
    cause(2030, "Destination Country Barred", FAILED),
    cause(2040, "Destination Number Barred", FAILED),
    cause(2050, "Destination Prefix Barred", FAILED),
    cause(2060, "Loop Detected", FAILED),
    cause(2070, "Violates Media Anchoring", FAILED),
    // Call rejections.
    cause(3000, "No Answer", NO_ANSWER),
    cause(3010, "Busy Line", BUSY),
    cause(3020, "Rejected", REJECTED),
    cause(3030, "Unknown Caller ID", FAILED),
    cause(3040, "Forbidden", FAILED),
    cause(3050, "Unallocated number", FAILED),
    // Carrier errors.
    cause(3070, "Request timeout", FAILED),
    cause(3080, "Internal server error from carrier", FAILED),
    cause(3090, "Network congestion from carrier", FAILED),
    cause(3100, "Busy everywhere", BUSY),
    cause(3110, "Declined", REJECTED),
    cause(3120, "User does not exist anywhere", FAILED),
    cause(3130, "Spam block", FAILED),
    cause(3140, "DNO Caller ID", FAILED),
    // System errors.
    cause(5000, "Network Error", FAILED),
    cause(5010, "Internal Error", FAILED),
    cause(5020, "Routing Error", FAILED),
    cause(5030, "Concurrency Limit Breached", FAILED),
    // Timeouts.
    cause(6000, "Scheduled Hangup", NORMAL),
    cause(6010, "Ring Timeout Reached", NO_ANSWER),
    cause(6020, "Media Timeout", FAILED),
    // Our URLs.
    cause(7011, "Error Reaching Answer URL", FAILED),
    cause(7012, "Error Reaching Action URL", FAILED),
    cause(7013, "Error Reaching Transfer URL", FAILED),
    cause(7014, "Error Reaching Redirect URL", FAILED),
    cause(7022, "Invalid Action URL", FAILED),
    cause(7023, "Invalid Transfer URL", FAILED),
    cause(7024, "Invalid Redirect URL", FAILED),
    cause(7032, "Invalid Method For Action URL", FAILED),
    cause(7033, "Invalid Method For Transfer URL", FAILED),
    cause(7034, "Invalid Method For Redirect URL", FAILED),
    // Our XML.
    cause(8011, "Invalid Answer XML", FAILED),
    cause(8012, "Invalid Action XML", FAILED),
    cause(8013, "Invalid Transfer XML", FAILED),
    cause(8014, "Invalid Redirect XML", FAILED),
    // Special cases.
    cause(9000, "Lost Race", FAILED),
    cause(9100, "Machine Detected", MACHINE),
    cause(9110, "Confirm Key Challenge Failed", FAILED),
];

/// The SIP-layer names Vobiz documents for `HangupCause`.
const SIP_HANGUP_CAUSES: &[CauseName] = &[
    named("NORMAL_CLEARING", NORMAL),
    named("USER_BUSY", BUSY),
    named("NO_ANSWER", NO_ANSWER),
    named("ORIGINATOR_CANCEL", CANCELED),
    named("CALL_REJECTED", REJECTED),
    named("REJECTED", REJECTED),
    named("INVALID_NUMBER", FAILED),
    named("UNALLOCATED_NUMBER", FAILED),
    named("SERVICE_UNAVAILABLE", FAILED),
    named("SERVER_ERROR", FAILED),
    named("MEDIA_TIMEOUT", FAILED),
    named("PROTOCOL_ERROR", FAILED),
    named("NETWORK_OUT_OF_ORDER", FAILED),
    named("DESTINATION_OUT_OF_ORDER", FAILED),
    named("NORMAL_TEMPORARY_FAILURE", FAILED),
    named("SWITCH_CONGESTION", FAILED),
    named("UNKNOWN", FAILED),
];

/// Other names a cause has gone by: the switch's own names Vobiz does not list, short forms.
const OTHER_CAUSE_NAMES: &[CauseName] = &[
    // The switch's name for "alerted, nobody answered".
    named("NO_USER_RESPONSE", NO_ANSWER),
    // The switch's name for a scheduled hangup: our `time_limit`, as 6000.
    named("ALLOTTED_TIMEOUT", NORMAL),
    named("Ring Timeout", NO_ANSWER),
    named("Busy", BUSY),
    named("Cancelled", CANCELED),
];

/// Whether two cause names are the same, ignoring case and everything but ASCII letters and
/// digits.
fn same_name(a: &str, b: &str) -> bool {
    fn key(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
    }
    key(a).eq(key(b))
}

/// The class of a SIP-layer name, or of another known name.
fn sip_class(name: &str) -> Option<CauseClass> {
    SIP_HANGUP_CAUSES
        .iter()
        .chain(OTHER_CAUSE_NAMES)
        .find(|c| same_name(c.name, name))
        .map(|c| c.class)
}

/// Which table a field's name is read against first. Only one name is in both with different
/// classes: Vobiz's "Unknown" (code 0, canceled) and the SIP layer's `UNKNOWN` (failed).
#[derive(Clone, Copy)]
enum ReadFirst {
    Table,
    Sip,
}

/// The class a field names, `None` if it is empty. A number is a code; an unknown code or
/// name failed.
fn cause_class(raw: &str, first: ReadFirst) -> Option<CauseClass> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(code) = raw.parse::<u32>() {
        return Some(HangupCause::by_code(code).map_or(FAILED, |c| c.class));
    }
    let table = || HangupCause::by_name(raw).map(|c| c.class);
    let sip = || sip_class(raw);
    let class = match first {
        ReadFirst::Table => table().or_else(sip),
        ReadFirst::Sip => sip().or_else(table),
    };
    // Any other name (a carrier's or a system's error, ...): the call failed.
    Some(class.unwrap_or(FAILED))
}

fn positive(s: &str) -> bool {
    s.trim().parse::<f64>().is_ok_and(|n| n > 0.0)
}

/// Classifies a hangup. The cause decides when it names a failure or a refusal; a call counts
/// as answered only when the telephony confirms it (an `AnswerTime`, or a positive
/// `BillDuration`/`Duration`); `CallStatus` is the fallback when there is no cause at all.
pub fn classify_hangup(r: &HangupReport<'_>) -> Telephony {
    let confirmed = !r.answer_time.trim().is_empty() || positive(r.bill_duration) || positive(r.duration);
    // The code is the most precise, then the table's name, then the SIP-layer cause. The first
    // one present decides: an unknown code or name is a failure, not a reason to look further.
    let cause = cause_class(r.hangup_cause_code, ReadFirst::Table)
        .or_else(|| cause_class(r.hangup_cause_name, ReadFirst::Table))
        .or_else(|| cause_class(r.hangup_cause, ReadFirst::Sip));
    match cause {
        Some(class) => class.telephony(confirmed),
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

    const AT: &str = "2026-11-25 10:00:05";

    /// The class each documented code must have, written independently of the table.
    fn documented_class(code: u32) -> CauseClass {
        match code {
            4000 | 4010 | 4020 | 4030 | 6000 => CauseClass::Normal,
            3000 | 6010 => CauseClass::Not(Telephony::NoAnswer),
            3010 | 3100 => CauseClass::Not(Telephony::Busy),
            3020 | 3110 => CauseClass::Not(Telephony::Rejected),
            0 | 1000 => CauseClass::Not(Telephony::Canceled),
            9100 => CauseClass::Not(Telephony::Machine),
            _ => CauseClass::Not(Telephony::Failed),
        }
    }

    /// A name as Vobiz spells it and as others might.
    fn spellings(name: &str) -> Vec<String> {
        vec![
            name.to_owned(),
            name.to_uppercase(),
            name.to_lowercase(),
            name.to_lowercase().replace(' ', "_"),
            name.to_uppercase().replace(' ', "_"),
            name.replace(' ', ""),
            name.replace(['(', ')'], "").replace(' ', "-"),
            format!("  {name}\t"),
        ]
    }

    fn by_code(code: &str, answer_time: &str) -> Telephony {
        classify_hangup(&HangupReport {
            call_status: "completed",
            hangup_cause_code: code,
            answer_time,
            ..Default::default()
        })
    }

    fn by_name(name: &str, answer_time: &str) -> Telephony {
        classify_hangup(&HangupReport {
            call_status: "completed",
            hangup_cause_name: name,
            answer_time,
            ..Default::default()
        })
    }

    fn by_cause(cause: &str, answer_time: &str) -> Telephony {
        classify_hangup(&HangupReport {
            call_status: "completed",
            hangup_cause: cause,
            answer_time,
            ..Default::default()
        })
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
    fn every_documented_cause_classifies_by_code_and_by_name() {
        for row in hangup_causes() {
            let what = format!("{} {}", row.code, row.name);
            assert_eq!(row.class, documented_class(row.code), "{what}");
            let code = row.code.to_string();
            for answer_time in ["", AT] {
                let want = row.class.telephony(!answer_time.is_empty());
                // (a) The code.
                assert_eq!(by_code(&code, answer_time), want, "{what}");
                // (b) The name, as `HangupCauseName` and, but for the one name the SIP layer
                // uses too ("Unknown"), as `HangupCause`.
                for name in spellings(row.name) {
                    assert_eq!(by_name(&name, answer_time), want, "{what}: {name:?}");
                    if sip_class(row.name).is_none() {
                        assert_eq!(by_cause(&name, answer_time), want, "{what}: {name:?}");
                    }
                }
            }
            // (c) Normal: answered with any confirmation, no answer without; the others are
            // what they are, answered or not.
            for (answer_time, duration, bill_duration, answered) in [
                (AT, "", "", true),
                ("", "4", "", true),
                ("", "", "60", true),
                ("", "0", "0", false),
                ("", "", "", false),
            ] {
                for (code, name) in [(code.as_str(), ""), ("", row.name)] {
                    let r = HangupReport {
                        call_status: "completed",
                        hangup_cause_code: code,
                        hangup_cause_name: name,
                        answer_time,
                        duration,
                        bill_duration,
                        ..Default::default()
                    };
                    let want = match row.class {
                        CauseClass::Normal if answered => Telephony::Answered,
                        CauseClass::Normal => Telephony::NoAnswer,
                        CauseClass::Not(t) => t,
                    };
                    assert_eq!(classify_hangup(&r), want, "{what}: {r:?}");
                }
            }
        }
    }

    #[test]
    fn the_table_is_vobizs_table() {
        let ranges: [(u32, u32); 12] = [
            (0, 0),
            (1000, 1020),
            (2000, 2070),
            (3000, 3050),
            (3070, 3140),
            (4000, 4030),
            (5000, 5030),
            (6000, 6020),
            (7011, 7014),
            (7022, 7024),
            (7032, 7034),
            (8011, 8014),
        ];
        let mut want: Vec<u32> = ranges
            .iter()
            .flat_map(|&(from, to)| {
                let step = if from >= 7000 { 1 } else { 10 };
                (from..=to).step_by(step)
            })
            .collect();
        want.extend([9000, 9100, 9110]);
        let codes: Vec<u32> = hangup_causes().iter().map(|c| c.code).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, want, "every documented code, once");
        assert_eq!(codes.len(), 54);
        for (i, a) in hangup_causes().iter().enumerate() {
            assert!(a.name.chars().any(|c| c.is_ascii_alphanumeric()), "{}", a.code);
            assert_ne!(a.class, CauseClass::Not(Telephony::Answered), "{}", a.code);
            assert_eq!(HangupCause::by_code(a.code), Some(a));
            assert_eq!(HangupCause::by_name(a.name), Some(a));
            for b in &hangup_causes()[i + 1..] {
                assert!(!same_name(a.name, b.name), "{} and {} share a name", a.code, b.code);
            }
        }
        for (code, name) in [
            (4000, "Normal Hangup"),
            (3010, "Busy Line"),
            (3050, "Unallocated number"),
            (1020, "Canceled (Simultaneous dial limit reached)"),
            (6000, "Scheduled Hangup"),
            (6010, "Ring Timeout Reached"),
            (9100, "Machine Detected"),
        ] {
            assert_eq!(HangupCause::by_code(code).map(|c| c.name), Some(name));
        }
        assert_eq!(CauseClass::Normal.as_str(), "normal");
        assert_eq!(CauseClass::Not(Telephony::NoAnswer).as_str(), "no_answer");
        assert_eq!(HangupCause::by_code(3060), None);
        assert_eq!(HangupCause::by_name("busy_line").map(|c| c.code), Some(3010));
    }

    #[test]
    fn sip_layer_names_and_other_names_classify() {
        let normal = CauseClass::Normal;
        let not = CauseClass::Not;
        let sip = [
            ("NORMAL_CLEARING", normal),
            ("USER_BUSY", not(Telephony::Busy)),
            ("NO_ANSWER", not(Telephony::NoAnswer)),
            ("ORIGINATOR_CANCEL", not(Telephony::Canceled)),
            ("CALL_REJECTED", not(Telephony::Rejected)),
            ("REJECTED", not(Telephony::Rejected)),
            ("INVALID_NUMBER", not(Telephony::Failed)),
            ("UNALLOCATED_NUMBER", not(Telephony::Failed)),
            ("SERVICE_UNAVAILABLE", not(Telephony::Failed)),
            ("SERVER_ERROR", not(Telephony::Failed)),
            ("MEDIA_TIMEOUT", not(Telephony::Failed)),
            ("PROTOCOL_ERROR", not(Telephony::Failed)),
            ("NETWORK_OUT_OF_ORDER", not(Telephony::Failed)),
            ("DESTINATION_OUT_OF_ORDER", not(Telephony::Failed)),
            ("NORMAL_TEMPORARY_FAILURE", not(Telephony::Failed)),
            ("SWITCH_CONGESTION", not(Telephony::Failed)),
            ("UNKNOWN", not(Telephony::Failed)),
        ];
        let listed: Vec<(&str, CauseClass)> = sip_hangup_causes().iter().map(|c| (c.name, c.class)).collect();
        assert_eq!(listed, sip);
        let other = [
            ("NO_USER_RESPONSE", not(Telephony::NoAnswer)),
            ("ALLOTTED_TIMEOUT", normal),
            ("Ring Timeout", not(Telephony::NoAnswer)),
            ("Busy", not(Telephony::Busy)),
            ("Cancelled", not(Telephony::Canceled)),
        ];
        for (name, class) in sip.into_iter().chain(other) {
            for answer_time in ["", AT] {
                let want = class.telephony(!answer_time.is_empty());
                for spelled in spellings(name) {
                    assert_eq!(by_cause(&spelled, answer_time), want, "{spelled:?}");
                }
                assert_eq!(
                    by_cause(&name.to_lowercase().replace('_', " "), answer_time),
                    want,
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn unknown_is_read_against_its_own_fields_table() {
        // The one name both tables hold, with different classes.
        let shared: Vec<&str> = hangup_causes()
            .iter()
            .filter(|c| sip_class(c.name).is_some_and(|s| s != c.class))
            .map(|c| c.name)
            .collect();
        assert_eq!(shared, ["Unknown"]);
        assert_eq!(by_code("0", ""), Telephony::Canceled);
        assert_eq!(by_name("Unknown", ""), Telephony::Canceled);
        assert_eq!(by_cause("UNKNOWN", ""), Telephony::Failed);
        // Names both tables hold alike read the same from either field.
        for name in [
            "No Answer",
            "NO_ANSWER",
            "Rejected",
            "REJECTED",
            "Media Timeout",
            "MEDIA_TIMEOUT",
        ] {
            assert_eq!(by_name(name, AT), by_cause(name, AT), "{name}");
        }
    }

    #[test]
    fn hangup_cause_name_is_read_between_code_and_cause() {
        // The captured production callback (docs/vobiz.md §2).
        let form = [
            ("CallStatus", "completed"),
            ("HangupCause", "NORMAL_CLEARING"),
            ("HangupCauseCode", "4000"),
            ("HangupCauseName", "Normal Hangup"),
            ("HangupSource", "Callee"),
            ("Duration", "4"),
            ("BillDuration", "60"),
        ];
        let field = |k: &str| form.iter().find(|(name, _)| *name == k).map_or("", |(_, v)| *v);
        let r = HangupReport::from_fields(field);
        assert_eq!(r.hangup_cause_name, "Normal Hangup");
        assert_eq!(classify_hangup(&r), Telephony::Answered);

        let report = |code, name, cause| HangupReport {
            call_status: "completed",
            hangup_cause_code: code,
            hangup_cause_name: name,
            hangup_cause: cause,
            answer_time: AT,
            ..Default::default()
        };
        // The code first, then the name, then the cause.
        assert_eq!(
            classify_hangup(&report("3010", "Normal Hangup", "NORMAL_CLEARING")),
            Telephony::Busy
        );
        assert_eq!(
            classify_hangup(&report("", "Busy Line", "NORMAL_CLEARING")),
            Telephony::Busy
        );
        assert_eq!(classify_hangup(&report(" ", "", "USER_BUSY")), Telephony::Busy);
        assert_eq!(classify_hangup(&report("", "Declined", "")), Telephony::Rejected);
        // The first one present decides, even when it is unknown.
        assert_eq!(
            classify_hangup(&report("4040", "Normal Hangup", "NORMAL_CLEARING")),
            Telephony::Failed
        );
        assert_eq!(
            classify_hangup(&report("", "Something New", "NORMAL_CLEARING")),
            Telephony::Failed
        );
        // A name in the code field still reads as a name.
        assert_eq!(classify_hangup(&report("Busy everywhere", "", "")), Telephony::Busy);
    }

    #[test]
    fn unknown_codes_and_names_fail() {
        for raw in [
            "4040",
            "3060",
            "1",
            "12345",
            "+9999",
            "4294967296",
            "Something New",
            "---",
            "Normal",
        ] {
            for answer_time in ["", AT] {
                assert_eq!(by_code(raw, answer_time), Telephony::Failed, "{raw}");
                assert_eq!(by_name(raw, answer_time), Telephony::Failed, "{raw}");
                assert_eq!(by_cause(raw, answer_time), Telephony::Failed, "{raw}");
            }
        }
    }

    #[test]
    fn scheduled_hangup_is_the_time_limit_we_set() {
        assert_eq!(by_code("6000", AT), Telephony::Answered);
        assert_eq!(by_code("6000", ""), Telephony::NoAnswer);
        assert_eq!(by_name("Scheduled Hangup", AT), Telephony::Answered);
        assert_eq!(by_name("scheduled_hangup", ""), Telephony::NoAnswer);
        assert_eq!(by_cause("ALLOTTED_TIMEOUT", AT), Telephony::Answered);
        assert_eq!(by_cause("ALLOTTED_TIMEOUT", ""), Telephony::NoAnswer);
        // Busy everywhere is busy, Declined is rejected.
        assert_eq!(by_code("3100", AT), Telephony::Busy);
        assert_eq!(by_name("Busy everywhere", ""), Telephony::Busy);
        assert_eq!(by_code("3110", AT), Telephony::Rejected);
        assert_eq!(by_name("Declined", ""), Telephony::Rejected);
    }
}
