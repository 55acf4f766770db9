//! Logs carry no secret. A whole flow (send, signed webhooks, repeats, hangup, status, wrong and
//! right verifies, a failed call, a refused API key) runs under Lambda's own JSON subscriber at
//! TRACE for every crate, dependencies included; the captured lines must not contain the code,
//! the token, the server secret, the Vobiz credentials, the API key, or an unmasked number.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::vobiz::{self as fake, AUTH_ID, AUTH_TOKEN, call_form, fired, last_token};
use common::{PHONE, PUBLIC_URL, SECRET, form_req, json_req};
use shared::domain::Phone;
use shared::ports::Store;
use shared::router::dispatch;
use shared::vobiz::signature::sign_v3;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const API_KEY: &str = "app-api-key-0123456789-abcdef";

#[tokio::test]
async fn no_secret_reaches_any_log_line() {
    // SAFETY: set before any other thread of this test binary reads the environment.
    #[allow(unsafe_code, reason = "the environment is set before any other thread reads it")]
    unsafe {
        std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON");
        std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "trace");
    }
    let capture = Capture::default();
    let sink = capture.clone();
    shared::telemetry::init_with_writer(move || sink.clone());

    let mut secrets: Vec<String> = vec![
        String::from_utf8(SECRET.to_vec()).unwrap(),
        AUTH_TOKEN.into(),
        AUTH_ID.into(),
        API_KEY.into(),
        PHONE.into(),
        PHONE.trim_start_matches('+').into(),
        "9876543210".into(),
    ];
    match common::dynamo_store_if_configured().await {
        Some(store) => flow(store, &mut secrets).await,
        None => flow(shared::store::MemoryStore::new(), &mut secrets).await,
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let handled = logs.lines().filter(|l| l.contains("\"message\":\"handled\"")).count();
    assert_eq!(handled, 11, "one line per request:\n{logs}");
    assert!(logs.contains("+91******3210"), "numbers appear masked");
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
    }
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a log line contains {s:?}:\n{}",
            logs.lines().find(|l| l.contains(s.as_str())).unwrap()
        );
    }
    assert!(
        logs.contains("\"route\":\"send-otp\"") && logs.contains("\"latency_ms\""),
        "one structured line per request"
    );
    // The provider's call ids are logged for support (request_uuid at send, never api_id).
    assert!(
        logs.contains("\"call\":\"req-uuid-1\"") && !logs.contains("api-should-not-be-used"),
        "{logs}"
    );
}

async fn flow<S: Store>(store: S, secrets: &mut Vec<String>) {
    let cfg = common::config_with(&[("VOBIZ_AUTH_TOKEN", AUTH_TOKEN), ("APP_API_KEY", API_KEY)]);
    let (svc, clock) = common::service_with(store, cfg);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    let keyed = |mut r: lambda_http::Request| {
        r.headers_mut().insert("x-api-key", API_KEY.parse().unwrap());
        r
    };
    let send = || keyed(json_req("POST", "/send-otp", &format!(r#"{{"phone":"{PHONE}"}}"#)));
    assert_eq!(dispatch(&svc, &calls, send()).await.status(), 200);
    let token = last_token(&server).await;
    let phone = Phone::parse(PHONE).unwrap();
    let a = svc.store.get(&phone).await.unwrap().unwrap();
    let code = svc
        .keys
        .open_code(&phone, &a.attempt_id, a.code_sealed.as_ref().unwrap())
        .unwrap();
    secrets.extend([
        token.clone(),
        code.clone(),
        a.code_sealed.clone().unwrap(),
        a.code_mac.clone(),
    ]);

    let signed = |route: &str, extra: &[(&str, &str)], nonce: &str| {
        let mut r = form_req(&format!("/{route}/{token}"), &call_form(extra));
        let sig = sign_v3(AUTH_TOKEN, &format!("{PUBLIC_URL}/{route}/{token}"), nonce);
        r.headers_mut().insert("x-vobiz-signature-v3", sig.parse().unwrap());
        r.headers_mut()
            .insert("x-vobiz-signature-v3-nonce", nonce.parse().unwrap());
        r
    };
    dispatch(&svc, &calls, signed("answer", &[("Event", "StartApp")], "n1")).await;
    dispatch(&svc, &calls, signed("answer", &[("Event", "StartApp")], "n1")).await; // replay
    dispatch(&svc, &calls, signed("otp-choice", &[("Digits", "1")], "n2")).await;
    dispatch(
        &svc,
        &calls,
        signed(
            "hangup",
            &[
                ("CallStatus", "completed"),
                ("HangupCause", "NORMAL_CLEARING"),
                ("BillDuration", "20"),
            ],
            "n3",
        ),
    )
    .await;
    dispatch(&svc, &calls, keyed(json_req("GET", "/otp-status/%2B919876543210", ""))).await;
    let wrong: String = code.chars().rev().collect::<String>().replace(|_: char| false, "");
    let wrong = if wrong == code { "000000".to_owned() } else { wrong };
    dispatch(
        &svc,
        &calls,
        keyed(json_req(
            "POST",
            "/verify-otp",
            &format!(r#"{{"phone":"{PHONE}","otp":"{wrong}"}}"#),
        )),
    )
    .await;
    dispatch(
        &svc,
        &calls,
        keyed(json_req(
            "POST",
            "/verify-otp",
            &format!(r#"{{"phone":"{PHONE}","otp":"{code}"}}"#),
        )),
    )
    .await;
    // A refused key, a bad body carrying a number, a failed call.
    let mut bad_key = json_req("POST", "/send-otp", &format!(r#"{{"phone":"{PHONE}"}}"#));
    bad_key
        .headers_mut()
        .insert("x-api-key", "wrong-key-wrong-key-wrong".parse().unwrap());
    dispatch(&svc, &calls, bad_key).await;
    dispatch(
        &svc,
        &calls,
        keyed(json_req("POST", "/send-otp", &format!(r#"{{"phone":"{PHONE}","#))),
    )
    .await;
    clock.advance(31);
    let failing = fake::fake(402, serde_json::json!({"error": format!("no balance on {AUTH_ID}")})).await;
    assert_eq!(dispatch(&svc, &fake::client(&failing), send()).await.status(), 502);
}
