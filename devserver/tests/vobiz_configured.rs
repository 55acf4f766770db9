//! The local server configured with Vobiz credentials places the call over HTTP exactly as
//! Lambda does, here to a fake Vobiz API (wiremock): the same request, webhooks on PUBLIC_URL.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn the_local_server_calls_vobiz_when_configured() {
    let vobiz = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/Account/MA_LOCAL/Call/"))
        .and(header("X-Auth-ID", "MA_LOCAL"))
        .and(header("X-Auth-Token", "local-token"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"api_id": "a", "message": "Call fired", "request_uuid": "r-local"})),
        )
        .expect(1)
        .mount(&vobiz)
        .await;
    let uri = vobiz.uri();
    let with_key = |key: Option<&str>| {
        let key = key.map(str::to_owned);
        let uri = uri.clone();
        shared::Config::from_lookup(move |k| match k {
            "VOBIZ_AUTH_ID" => Some("MA_LOCAL".into()),
            "VOBIZ_AUTH_TOKEN" => Some("local-token".into()),
            // A 160-series caller id (service and transactional calls in India), unchanged.
            "FROM_NUMBER" => Some("+911600123456".into()),
            "VOBIZ_API_URL" => Some(uri.clone()),
            "PUBLIC_URL" => Some("https://tunnel.example".into()),
            "APP_API_KEY" => key.clone(),
            _ => None,
        })
        .unwrap()
    };
    // Without an API key the local server refuses to start with real credentials: anyone who
    // reached its port could make the account call any allowed number.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = devserver::run(with_key(None), listener).await.unwrap_err().to_string();
    assert!(refused.contains("APP_API_KEY"), "{refused}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(devserver::run(with_key(Some("local-api-key-0123456789")), listener));

    let http = shared::tls::reqwest_builder().build().unwrap();
    let resp = http
        .post(format!("{base}/send-otp"))
        .header("x-api-key", "local-api-key-0123456789")
        .json(&json!({"phone": "+91 98765 43210"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let reqs = vobiz.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    let token = body["answer_url"]
        .as_str()
        .unwrap()
        .strip_prefix("https://tunnel.example/answer/")
        .unwrap()
        .to_owned();
    assert_eq!(
        body,
        json!({
            "from": "+911600123456", "to": "+919876543210",
            "answer_url": format!("https://tunnel.example/answer/{token}"), "answer_method": "POST",
            "hangup_url": format!("https://tunnel.example/hangup/{token}"), "hangup_method": "POST",
            "time_limit": 120, "ring_timeout": 40,
        })
    );
    let status: Value = http
        .get(format!("{base}/otp-status/%2B919876543210"))
        .header("x-api-key", "local-api-key-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "calling");
    assert_eq!(status["call"]["placed"], true);
}
