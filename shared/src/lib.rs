//! otp-call: phone-call one-time passwords on AWS Lambda.
//!
//! - [`domain`]: the core (codes, attempts, call outcomes, the call script, keys); no AWS, no HTTP.
//! - [`ports`]: the traits the handlers need ([`ports::Store`], [`ports::CallPlacer`], [`ports::Clock`]).
//! - [`store`], [`vobiz`]: adapters (DynamoDB, memory; Vobiz, simulated calls).
//! - [`http`], [`handlers`], [`routes`]: the HTTP edge, shared by Lambda and the local server.

pub mod config;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod http;
#[cfg(all(feature = "aws", feature = "http-client"))] // it builds the Vobiz client too
pub mod lambda;
pub mod ports;
pub mod routes;
pub mod store;
pub mod telemetry;
#[cfg(any(feature = "aws", feature = "http-client"))]
pub mod tls;
pub mod vobiz;

pub use config::Config;
pub use error::{Error, Result};
pub use handlers::Service;
