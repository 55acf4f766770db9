//! Writing responses: JSON and XML bodies, never cached. A leaf: how an error becomes a
//! response is [`crate::error::error_response`], built on these.

use lambda_http::http::StatusCode;
use lambda_http::http::header::{CONTENT_TYPE, HeaderValue};
use lambda_http::{Body, Response};
use serde_json::Value;

pub fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    response(status, "application/json", body.to_string())
}

pub fn xml_response(status: StatusCode, xml: String) -> Response<Body> {
    response(status, "application/xml", xml)
}

fn response(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}
