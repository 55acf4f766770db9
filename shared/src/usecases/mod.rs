//! Use cases: what the service does, as functions over the ports ([`crate::ports`]), with no
//! HTTP. A handler reads the request, calls one, and writes its outcome as the reply.

pub mod send;
