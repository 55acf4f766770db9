//! The eight route handlers. Lambda functions and the local server call these same functions.
//!
//! - [`app`]: the routes the app's backend calls (`send-otp`, `verify-otp`, `otp-status`,
//!   `cancel-otp`, `erase-number`).
//! - [`webhooks`]: the routes Vobiz calls during a call (`answer`, `otp-choice`, `hangup`).
//! - [`runner`]: the request runner every handler goes through; [`outcome`]: what it logs.
//!
//! Each handler returns `Ok(Response)` for every expected outcome and writes one structured log
//! line per request (route, outcome, status, latency, masked phone; never a code, token or
//! secret), and counts its outcome's metric.

mod app;
mod outcome;
mod runner;
mod webhooks;

pub use app::{cancel_otp, erase_number, otp_status, send_otp, verify_otp};
pub use outcome::{Outcome, Rejection};
pub use webhooks::{answer, hangup, otp_choice};

pub use crate::service::{Service, WebhookAuth};
