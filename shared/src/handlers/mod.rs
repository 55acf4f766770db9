//! The six handlers. Lambda functions and the local server call these same functions.
//!
//! - [`app`]: the routes the app's backend calls (`send-otp`, `verify-otp`, `otp-status`,
//!   `cancel-otp`).
//! - [`webhooks`]: the routes Vobiz calls during a call (`answer`, `otp-choice`, `hangup`).
//! - this module: the request runner every handler goes through, and [`Outcome`].
//!
//! Each handler returns `Ok(Response)` for every expected outcome and writes one structured log
//! line per request (route, outcome, status, latency, masked phone; never a code, token or
//! secret), and counts its outcome's metric.

mod app;
mod outcome;
mod webhooks;

use std::convert::Infallible;
use std::time::Instant;

use lambda_http::{Body, Response};
use rand::TryRngCore;
use rand::rngs::OsRng;
use tracing::{Instrument, Span, field};

pub use app::{cancel_otp, otp_status, send_otp, verify_otp};
pub use outcome::{Outcome, Rejection};
pub use webhooks::{answer, hangup, otp_choice};

pub use crate::service::{Service, WebhookAuth};

use crate::domain::script::Speaker;
use crate::domain::{Phone, rfc3339};
use crate::error::{Result, error_response};
use crate::routes::Route;
use crate::telemetry;

/// What a handler's body produces: the response and the outcome it logs and counts.
type Handled = Result<(Response<Body>, Outcome)>;

/// Runs a handler inside a span that carries the route and (once known) the masked phone, maps
/// its error (to JSON, or for a webhook, whose speaker is given, to the spoken refusal), logs the
/// one line of the request and counts its metric.
async fn run(
    route: Route,
    webhook: Option<Speaker<'_>>,
    inner: impl Future<Output = Handled>,
) -> Result<Response<Body>, Infallible> {
    let name = route.name();
    let span = tracing::info_span!("request", route = name, phone = field::Empty, call = field::Empty);
    async move {
        let started = Instant::now();
        let (resp, outcome) = match inner.await {
            Ok(done) => done,
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::warn!(error = %e, "request failed");
                }
                let resp = match webhook {
                    Some(speaker) => webhooks::refusal(&e, &speaker),
                    None => error_response(&e),
                };
                (resp, Outcome::from(&e))
            }
        };
        tracing::info!(
            outcome = outcome.as_str(),
            status = resp.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "handled"
        );
        if let Some(metric) = outcome.metric() {
            telemetry::count(metric, name);
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}

fn note_phone(phone: &Phone) {
    Span::current().record("phone", field::display(phone.masked()));
}

/// The provider's id of the call (`request_uuid` at send, `CallUUID` in webhooks): the key to
/// Vobiz's own call logs.
fn note_call(id: &str) {
    Span::current().record("call", id);
}

fn os_rng() -> impl rand::CryptoRng {
    OsRng.unwrap_err()
}
