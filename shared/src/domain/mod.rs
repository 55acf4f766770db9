//! The domain core: no AWS, no HTTP. Code policy, the attempt's state rules, the call script
//! and the keys. Time is always an explicit `now` in epoch seconds.

pub mod attempt;
pub mod call;
pub mod events;
pub mod fraud;
pub mod limits;
pub mod locale;
pub mod phone;
pub mod script;
pub mod secrets;
pub mod time;

pub use attempt::{Attempt, CallRef, NewAttempt, Refusal, Status, generate_code};
pub use call::{CallOutcome, Telephony};
pub use phone::Phone;
pub use secrets::Keys;
pub use time::rfc3339;
