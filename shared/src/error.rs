//! The one error type of the library. Every variant maps to exactly one HTTP status and one
//! machine code in [`crate::http::error_response`]; nothing here carries a code, a token or a
//! secret, so an error may always be logged.

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
    #[error("calls to this destination are not allowed")]
    DestinationNotAllowed,
    #[error("the request body must be {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    RateLimited(crate::domain::limits::Limited),
    #[error("a valid x-api-key header is required")]
    Unauthorized,
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
    #[error("the data store is unavailable: {0}")]
    StoreUnavailable(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("configuration: {0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
