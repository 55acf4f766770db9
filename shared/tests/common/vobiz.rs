//! The fake Vobiz API (wiremock on loopback) and what a test needs to play Vobiz.

use serde_json::{Value, json};
use shared::domain::Phone;
use shared::vobiz::VobizClient;
use shared::vobiz::VobizConfig;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const AUTH_ID: &str = "MA_TESTACCOUNT";
pub const AUTH_TOKEN: &str = "vobiz-auth-token-for-tests";
pub const FROM: &str = "+918012345678";
pub const CALLS_PATH: &str = "/api/v1/Account/MA_TESTACCOUNT/Call/";

pub fn client(server: &MockServer) -> VobizClient {
    client_with_timeout(server, 2000)
}

pub fn client_with_timeout(server: &MockServer, timeout_ms: u64) -> VobizClient {
    VobizClient::new(VobizConfig {
        api_url: server.uri(),
        auth_id: AUTH_ID.into(),
        auth_token: AUTH_TOKEN.into(),
        from: Phone::parse(FROM).unwrap(),
        timeout_ms,
        max_retries: 2,
    })
    .unwrap()
}

/// A fake Vobiz that answers every well-formed call create with `status` and `body`.
pub async fn fake(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALLS_PATH))
        .and(header("X-Auth-ID", AUTH_ID))
        .and(header("X-Auth-Token", AUTH_TOKEN))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

pub fn fired() -> Value {
    json!({"api_id": "api-should-not-be-used", "message": "Call fired", "request_uuid": "req-uuid-1"})
}

/// How many calls reached the fake.
pub async fn calls(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// The token Vobiz was given, read from the last call-create request.
pub async fn last_token(server: &MockServer) -> String {
    let reqs = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&reqs.last().unwrap().body).unwrap();
    let answer = body["answer_url"].as_str().unwrap();
    answer
        .strip_prefix(&format!("{}/answer/", super::PUBLIC_URL))
        .unwrap()
        .to_owned()
}

/// The form fields Vobiz posts on every webhook of the test call, plus `extra`.
pub fn call_form<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("CallUUID", "call-uuid-1"),
        ("RequestUUID", "req-uuid-1"),
        ("From", "918012345678"),
        ("To", "919876543210"),
        ("Direction", "outbound"),
    ];
    f.extend_from_slice(extra);
    // A call in progress, as Vobiz says on the answer URL and on a Gather's action, unless the
    // test says otherwise (a hangup's `completed`).
    if !f.iter().any(|(k, _)| *k == "CallStatus") {
        f.push(("CallStatus", "in-progress"));
    }
    f
}
