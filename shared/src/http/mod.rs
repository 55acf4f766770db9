//! The HTTP edge, shared by Lambda and the local server: [`request`] reads what arrives,
//! [`response`] writes what leaves.

pub mod request;
pub mod response;

pub use request::{
    APP_BODY_LIMIT, Form, WEBHOOK_BODY_LIMIT, json_body, optional_string_field, path_param, public_base, string_field,
};
pub use response::{json_response, xml_response};
