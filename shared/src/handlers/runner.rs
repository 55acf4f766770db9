//! The request runner every handler goes through: one span, one log line and one metric per
//! request, and its error mapped to a reply.

use std::convert::Infallible;
use std::time::Instant;

use lambda_http::{Body, Response};
use rand::TryRngCore;
use rand::rngs::OsRng;
use tracing::{Instrument, Span, field};

use super::outcome::Outcome;
use crate::domain::Phone;
use crate::error::{Error, Result};
use crate::routes::Route;
use crate::telemetry;

/// What a handler's body produces: the response and the outcome it logs and counts.
pub(super) type Handled = Result<(Response<Body>, Outcome)>;

/// Runs a handler inside a span that carries the route and (once known) the masked phone, maps
/// its error with `on_error` (to JSON, or for a webhook to the spoken refusal), logs the
/// one line of the request and counts its metric.
pub(super) async fn run(
    route: Route,
    on_error: impl FnOnce(&Error) -> Response<Body>,
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
                (on_error(&e), Outcome::from(&e))
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

pub(super) fn note_phone(phone: &Phone) {
    Span::current().record("phone", field::display(phone.masked()));
}

/// The provider's id of the call (`request_uuid` at send, `CallUUID` in webhooks): the key to
/// Vobiz's own call logs.
pub(super) fn note_call(id: &str) {
    Span::current().record("call", id);
}

pub(super) fn os_rng() -> impl rand::CryptoRng {
    OsRng.unwrap_err()
}
