//! The domain core: no AWS, no HTTP. Code policy, the attempt's state rules, the call script
//! and the keys. Time is always an explicit `now` in epoch seconds.

pub mod attempt;
pub mod call;
pub mod events;
pub mod limits;
pub mod locale;
pub mod phone;
pub mod script;
pub mod secrets;

pub use attempt::{Attempt, CallRef, NewAttempt, Refusal, Status, generate_code};
pub use call::{CallOutcome, Telephony};
pub use phone::Phone;
pub use secrets::Keys;

/// `epoch` (seconds) as RFC 3339 in UTC: `2026-11-25T10:40:00Z` (empty if out of range).
pub fn rfc3339(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
