//! otp-call: phone-call one-time passwords on AWS Lambda.
//!
//! - [`domain`]: the core (codes, attempts, call outcomes, the call script, keys); no AWS, no HTTP.
//! - [`usecases`]: what the service does, over the ports (the send).
//! - [`ports`]: the traits the handlers need ([`ports::Store`], [`ports::CallPlacer`], [`ports::Clock`]).
//! - [`store`], [`vobiz`]: adapters (DynamoDB, memory; Vobiz, simulated calls).
//! - [`events`]: delivery events to EventBridge, a signed webhook or the console.
//! - [`http`], [`handlers`], [`routes`], [`router`]: the HTTP edge, shared by Lambda and the
//!   local server;
//!   [`service`] holds what every handler borrows; [`error`] is the one error type and its
//!   mapping to HTTP.

// The library serves untrusted input and must never panic on it: no unwrap, expect or panic
// outside tests (an infallible one allows it locally and says why).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod handlers;
pub mod http;
#[cfg(all(feature = "aws", feature = "http-client"))] // it builds the Vobiz client too
pub mod lambda;
pub mod ports;
pub mod router;
pub mod routes;
pub mod service;
pub mod store;
pub mod telemetry;
#[cfg(any(feature = "aws", feature = "http-client"))]
pub mod tls;
pub mod usecases;
pub mod vobiz;

pub use config::Config;
pub use error::{Error, Result};
pub use service::Service;
