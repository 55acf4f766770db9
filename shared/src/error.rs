//! The one error type of the library, and the one place it becomes HTTP: every variant maps to
//! exactly one status, one machine code and one public message ([`Error::status`],
//! [`Error::code`], [`error_response`]). Nothing here carries a code, a token or a secret, so an
//! error may always be logged; what the app is told leaves server-side detail out.

use std::borrow::Cow;

use lambda_http::http::StatusCode;
use lambda_http::http::header::{HeaderValue, RETRY_AFTER};
use lambda_http::{Body, Response};
use serde_json::json;

use crate::domain::fraud::{Reason, SignalError};
use crate::domain::phone::PhoneError;
use crate::http::response::json_response;
use crate::telemetry::Metric;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the field `{0}` is required")]
    MissingField(&'static str),
    #[error("the field `{field}` {problem}")]
    InvalidField { field: &'static str, problem: &'static str },
    #[error("not a valid phone number in international format (+<country code><number>): {0}")]
    InvalidPhone(&'static str),
    #[error("unsupported locale; supported: {}", .0.join(", "))]
    UnsupportedLocale(Vec<&'static str>),
    #[error("calls to this destination are not allowed")]
    DestinationNotAllowed,
    #[error("the request body must be {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    RateLimited(crate::domain::limits::Limited),
    #[error("this send was refused by the fraud guard ({}); retry after {retry_after} s", .reason.as_str())]
    Blocked { reason: Reason, retry_after: i64 },
    #[error("a valid x-api-key header is required")]
    Unauthorized,
    #[error("this Idempotency-Key was used with another request body")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still in progress; retry shortly")]
    IdempotencyKeyInUse,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no record for this phone number")]
    NotFound,
    #[error("no such route")]
    NoRoute,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("the call could not be placed: {0}")]
    CallFailed(String),
    #[error("the service is busy; retry in a moment")]
    Busy,
    #[error("events could not be delivered: {0}")]
    EventDelivery(String),
    #[error("the data store is unavailable: {0}")]
    StoreUnavailable(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("configuration: {0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<SignalError> for Error {
    fn from(e: SignalError) -> Error {
        Error::InvalidField {
            field: e.field,
            problem: e.problem,
        }
    }
}

impl From<PhoneError> for Error {
    fn from(e: PhoneError) -> Error {
        match e {
            PhoneError::Invalid(problem) => Error::InvalidPhone(problem),
            PhoneError::NotAllowed => Error::DestinationNotAllowed,
        }
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidJson(_)
            | Error::MissingField(_)
            | Error::InvalidField { .. }
            | Error::InvalidPhone(_)
            | Error::UnsupportedLocale(_) => StatusCode::BAD_REQUEST,
            Error::DestinationNotAllowed | Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Error::IdempotencyKeyInUse => StatusCode::CONFLICT,
            Error::RateLimited(_) | Error::Blocked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::NotFound | Error::NoRoute => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::CallFailed(_) | Error::EventDelivery(_) => StatusCode::BAD_GATEWAY,
            Error::StoreUnavailable(_) | Error::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Error::Corrupt(_) | Error::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidJson(_) => "invalid_json",
            Error::MissingField(_) => "missing_field",
            Error::InvalidField { .. } => "invalid_field",
            Error::InvalidPhone(_) => "invalid_phone",
            Error::UnsupportedLocale(_) => "unsupported_locale",
            Error::DestinationNotAllowed => "destination_not_allowed",
            Error::RateLimited(crate::domain::limits::Limited::Budget { .. }) => "budget_exhausted",
            Error::RateLimited(_) => "rate_limited",
            Error::Blocked { .. } => "blocked",
            Error::Busy => "busy",
            Error::Unauthorized => "unauthorized",
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::IdempotencyKeyInUse => "idempotency_key_in_use",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound => "not_found",
            Error::NoRoute => "no_route",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::UnsupportedMediaType { .. } => "unsupported_media_type",
            Error::CallFailed(_) => "call_failed",
            Error::EventDelivery(_) => "event_delivery_failed",
            Error::StoreUnavailable(_) => "store_unavailable",
            Error::Corrupt(_) | Error::Config(_) => "internal",
        }
    }

    /// The metric a request that failed this way counts towards, if any.
    pub fn metric(&self) -> Option<Metric> {
        match self {
            Error::CallFailed(_) => Some(Metric::CallFailed),
            Error::RateLimited(crate::domain::limits::Limited::Budget { .. }) => Some(Metric::BudgetExhausted),
            Error::RateLimited(_) => Some(Metric::RateLimited),
            Error::Blocked { reason, .. } => Some(Metric::Blocked(*reason)),
            Error::Busy => Some(Metric::Contended),
            _ => None,
        }
    }

    /// What the app is told. Server-side detail (store errors, configuration) stays in the log.
    pub fn public_message(&self) -> Cow<'static, str> {
        match self {
            Error::StoreUnavailable(_) => "the data store is unavailable; try again shortly".into(),
            Error::Corrupt(_) | Error::Config(_) => "internal error".into(),
            other => other.to_string().into(),
        }
    }
}

impl Error {
    /// The JSON error body: `{"error": "<code>", "message": "<for a person>"}`, and a
    /// fraud guard's refusal says why (`"reason"`).
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({"error": self.code(), "message": self.public_message()});
        if let Error::Blocked { reason, .. } = self {
            body["reason"] = reason.as_str().into();
        }
        body
    }
}

/// The error as a response: its status, [`Error::body`], and `Retry-After` where one applies.
pub fn error_response(e: &Error) -> Response<Body> {
    let mut resp = json_response(e.status(), &e.body());
    let retry_after = match e {
        Error::RateLimited(l) => Some(l.retry_after()),
        Error::Blocked { retry_after, .. } => Some((*retry_after).max(1)),
        Error::StoreUnavailable(_) | Error::IdempotencyKeyInUse | Error::Busy => Some(1),
        _ => None,
    };
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_json_with_a_code() {
        let e = Error::StoreUnavailable("secret detail".into());
        let r = error_response(&e);
        assert_eq!(r.status(), 503);
        let body = match r.body() {
            Body::Text(t) => t.clone(),
            _ => unreachable!(),
        };
        assert!(!body.contains("secret detail"));
        assert!(body.contains("\"store_unavailable\""));
        assert_eq!(r.headers()["retry-after"], "1");
    }
}
