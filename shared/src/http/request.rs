//! Reading requests: size, content type, JSON, forms, path parameters, the public base URL.

use lambda_http::http::HeaderMap;
use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};

use crate::error::Error;

/// Largest app request body (a phone number and a code need far less).
pub const APP_BODY_LIMIT: usize = 4 * 1024;
/// Largest webhook body (Vobiz's forms are about 1 KB).
pub const WEBHOOK_BODY_LIMIT: usize = 16 * 1024;

fn media_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(CONTENT_TYPE)?.to_str().unwrap_or("invalid");
    Some(raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

fn body_bytes(req: &Request, limit: usize) -> Result<&[u8], Error> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    Ok(bytes)
}

/// The body as a JSON object. A missing content type is accepted; any other than
/// `application/json` (or `+json`) is not.
pub fn json_body(req: &Request) -> Result<Map<String, Value>, Error> {
    if let Some(mt) = media_type(req.headers())
        && mt != "application/json"
        && !mt.ends_with("+json")
    {
        return Err(Error::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    let bytes = body_bytes(req, APP_BODY_LIMIT)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidJson("the body is empty".into()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::InvalidJson("expected a JSON object".into())),
        Err(e) => Err(Error::InvalidJson(format!(
            "{} at line {} column {}",
            classify(&e),
            e.line(),
            e.column()
        ))),
    }
}

fn classify(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected data",
        Category::Eof => "unexpected end",
    }
}

/// A required string field of a JSON object.
pub fn string_field<'a>(body: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Err(Error::MissingField(field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Error::InvalidField {
            field,
            problem: "must be a string",
        }),
    }
}

/// An optional string field: absent or `null` is `None`; any other type is refused.
pub fn optional_string_field<'a>(body: &'a Map<String, Value>, field: &'static str) -> Result<Option<&'a str>, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => string_field(body, field).map(Some),
    }
}

/// A Vobiz webhook's form body. A key that occurs twice makes the whole form unusable: Vobiz
/// never repeats one, so repetition is tampering.
#[derive(Debug)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(req: &Request) -> Result<Form, Error> {
        if let Some(mt) = media_type(req.headers())
            && mt != "application/x-www-form-urlencoded"
        {
            return Err(Error::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded",
            });
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body_bytes(req, WEBHOOK_BODY_LIMIT)?).map_err(|_| Error::InvalidField {
                field: "body",
                problem: "is not a form",
            })?;
        let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidField {
                field: "body",
                problem: "repeats a key",
            });
        }
        Ok(Form(pairs))
    }

    /// Every field, as sent.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A path parameter: from API Gateway's `pathParameters` (or the local server's router),
/// percent-decoded.
pub fn path_param(req: &Request, name: &str) -> Option<String> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first(name).map(str::to_owned))?;
    let decoded = percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!decoded.is_empty()).then_some(decoded)
}

/// The public base URL webhooks are built on: `PUBLIC_URL` when configured, else the API
/// Gateway stage URL from the request context (set by AWS, not by the caller). The `Host`
/// header is never trusted: whoever controls the webhook URL receives the call's token.
pub fn public_base(req: &Request, configured: Option<&str>) -> Option<String> {
    if let Some(url) = configured {
        return Some(url.to_owned());
    }
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => {
            let domain = ctx.domain_name.as_deref().filter(|d| !d.is_empty())?;
            let stage = ctx.stage.as_deref().filter(|s| !s.is_empty())?;
            Some(format!("https://{domain}/{stage}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::{Body, http};

    fn req(content_type: Option<&str>, body: &str) -> Request {
        let mut b = http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        b.body(Body::from(body)).unwrap()
    }

    #[test]
    fn json_bodies_are_checked() {
        assert!(json_body(&req(Some("application/json; charset=utf-8"), r#"{"a":1}"#)).is_ok());
        assert!(json_body(&req(None, r#"{"a":1}"#)).is_ok());
        assert!(matches!(
            json_body(&req(Some("text/plain"), "{}")),
            Err(Error::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            json_body(&req(Some("application/json"), "[1]")),
            Err(Error::InvalidJson(_))
        ));
        assert!(matches!(
            json_body(&req(Some("application/json"), "{")),
            Err(Error::InvalidJson(_))
        ));
        assert!(matches!(
            json_body(&req(Some("application/json"), "")),
            Err(Error::InvalidJson(_))
        ));
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(APP_BODY_LIMIT));
        assert!(matches!(
            json_body(&req(None, &big)),
            Err(Error::PayloadTooLarge { .. })
        ));
    }

    #[test]
    fn string_fields_must_be_strings() {
        let m: Map<String, Value> = serde_json::from_str(r#"{"s":"x","n":1,"z":null}"#).unwrap();
        assert_eq!(string_field(&m, "s").unwrap(), "x");
        assert!(matches!(string_field(&m, "n"), Err(Error::InvalidField { .. })));
        assert!(matches!(string_field(&m, "z"), Err(Error::MissingField("z"))));
        assert!(matches!(string_field(&m, "q"), Err(Error::MissingField("q"))));
    }

    #[test]
    fn forms_refuse_repeated_keys_and_wrong_types() {
        let f = Form::parse(&req(
            Some("application/x-www-form-urlencoded"),
            "Digits=1&CallUUID=abc%2D1",
        ))
        .unwrap();
        assert_eq!(f.get("Digits"), Some("1"));
        assert_eq!(f.get("CallUUID"), Some("abc-1"));
        assert!(Form::parse(&req(Some("application/x-www-form-urlencoded"), "Digits=1&Digits=2")).is_err());
        assert!(Form::parse(&req(Some("application/json"), "{}")).is_err());
    }
}
