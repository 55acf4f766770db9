//! Everything otp-call knows about Vobiz (docs/vobiz.md), at the edge: the domain speaks of
//! [`Telephony`](crate::domain::Telephony) and [`CallPlacer`](crate::ports::CallPlacer), and
//! this module turns them into Vobiz's API, webhooks and XML and back.
//!
//! - [`causes`]: the hangup causes, and what a hangup says the call did (§2).
//! - [`signature`]: webhook signatures (§4).
//! - [`xml`]: reading VobizXML back into what the callee hears (§3).
//! - [`account`]: the account calls are placed from.
//! - the call API client and the local server's simulator, which need the HTTP client
//!   (feature `http-client`; the fuzz target builds without it).

pub mod account;
pub mod causes;
pub mod signature;
pub mod xml;

#[cfg(feature = "http-client")]
mod client;
#[cfg(feature = "http-client")]
mod simulator;

pub use account::VobizConfig;
pub use xml::{Heard, gather_action, heard, spoken_words};
#[cfg(feature = "http-client")]
pub use {
    client::{Calls, VobizClient},
    simulator::SimulatedCalls,
};
