//! End to end, the way Vobiz drives it: send → answer → press 1 → hangup → status → verify,
//! plus the busy, no-answer, failure, resend and expiry paths. The Vobiz API is a wiremock
//! server on loopback; the store is the memory store and the DynamoDB endpoint.

mod common;

use common::vobiz::{self as fake, AUTH_ID, CALLS_PATH, FROM, call_form, fired, last_token};
use common::{PHONE, PUBLIC_URL, TestService, form_req, json, json_req, spoken_digits, stored_code, text, wrong_code};
use serde_json::{Value, json};
use shared::domain::Phone;
use shared::ports::Store;
use shared::router::dispatch;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn vobiz(server: &MockServer) -> shared::vobiz::VobizClient {
    fake::client(server)
}

async fn fake_vobiz(status: u16, body: Value) -> MockServer {
    fake::fake(status, body).await
}

async fn send<S: Store>(svc: &TestService<S>, server: &MockServer) -> lambda_http::Response<lambda_http::Body> {
    dispatch(
        svc,
        &vobiz(server),
        json_req("POST", "/send-otp", &format!(r#"{{"phone":"{PHONE}"}}"#)),
    )
    .await
}

async fn webhook<S: Store>(
    svc: &TestService<S>,
    server: &MockServer,
    route: &str,
    token: &str,
    extra: &[(&str, &str)],
) -> String {
    let resp = dispatch(
        svc,
        &vobiz(server),
        form_req(&format!("/{route}/{token}"), &call_form(extra)),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
    assert_eq!(resp.headers()["content-type"], "application/xml");
    text(&resp)
}

async fn verify<S: Store>(svc: &TestService<S>, server: &MockServer, otp: &str) -> (u16, Value) {
    let resp = dispatch(
        svc,
        &vobiz(server),
        json_req(
            "POST",
            "/verify-otp",
            &format!(r#"{{"phone":"{PHONE}","otp":"{otp}"}}"#),
        ),
    )
    .await;
    (resp.status().as_u16(), json(&resp))
}

async fn status<S: Store>(svc: &TestService<S>, server: &MockServer) -> Value {
    let resp = dispatch(svc, &vobiz(server), json_req("GET", "/otp-status/%2B919876543210", "")).await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
    json(&resp)
}

async fn whole_call<S: Store>(store: S) {
    let (svc, clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;

    // send
    let resp = send(&svc, &server).await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
    let body = json(&resp);
    assert_eq!(body["status"], "calling");
    assert_eq!(body["phone"], PHONE);
    assert_eq!(body["expires_in_seconds"], 300);
    assert_eq!(body["max_attempts"], 3);
    assert_eq!(body["expires_at"], "2026-09-21T14:18:20Z");
    assert_eq!(body["locale"], "en-IN", "an Indian number's default");
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "expires_at",
            "expires_in_seconds",
            "locale",
            "max_attempts",
            "phone",
            "status"
        ],
        "no token, code or call id"
    );

    // The exact call-create request.
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].url.path(), CALLS_PATH);
    let sent: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    let token = last_token(&server).await;
    assert_eq!(
        sent,
        json!({
            "from": FROM, "to": PHONE,
            "answer_url": format!("{PUBLIC_URL}/answer/{token}"), "answer_method": "POST",
            "hangup_url": format!("{PUBLIC_URL}/hangup/{token}"), "hangup_method": "POST",
            "time_limit": 120, "ring_timeout": 40,
        })
    );
    assert!(token.len() >= 22 && !text(&resp).contains(&token));
    let phone = Phone::parse(PHONE).unwrap();
    let st = status(&svc, &server).await;
    assert_eq!(
        (&st["status"], &st["call"]["placed"]),
        (&json!("calling"), &json!(true))
    );

    // answer: the digits read are the stored code
    let code = stored_code(&svc).await;
    clock.advance(10);
    let xml = webhook(
        &svc,
        &server,
        "answer",
        &token,
        &[("Event", "StartApp"), ("CallStatus", "in-progress")],
    )
    .await;
    assert_eq!(spoken_digits(&xml), code);
    assert!(xml.contains(&format!(
        "<Gather action=\"{PUBLIC_URL}/otp-choice/{token}\" method=\"POST\" inputType=\"dtmf\" numDigits=\"1\""
    )));
    assert!(xml.contains("Press 1 to hear it again"));
    assert!(xml.trim_end().ends_with("<Hangup/>\n</Response>"));
    assert_eq!(status(&svc, &server).await["status"], "answered");

    // press 1, three times; the third reading offers no more repeats
    for n in 1..=3 {
        let xml = webhook(
            &svc,
            &server,
            "otp-choice",
            &token,
            &[("Digits", "1"), ("InputType", "dtmf")],
        )
        .await;
        assert_eq!(spoken_digits(&xml), code, "repeat {n}");
        assert_eq!(xml.contains("<Gather"), n < 3, "repeat {n}");
    }
    let xml = webhook(&svc, &server, "otp-choice", &token, &[("Digits", "1")]).await;
    assert_eq!(spoken_digits(&xml), "", "repeats are capped");
    // a timeout posts empty Digits: goodbye
    let xml = webhook(&svc, &server, "otp-choice", &token, &[("Digits", "")]).await;
    assert!(spoken_digits(&xml).is_empty() && xml.contains("<Hangup/>"));

    // hangup: answered and confirmed
    clock.advance(30);
    let hangup = [
        ("Event", "Hangup"),
        ("CallStatus", "completed"),
        ("HangupCause", "NORMAL_CLEARING"),
        ("AnswerTime", "2026-09-21 14:13:30"),
        ("Duration", "31"),
        ("BillDuration", "31"),
    ];
    webhook(&svc, &server, "hangup", &token, &hangup).await;
    webhook(&svc, &server, "hangup", &token, &hangup).await; // Vobiz retries: idempotent
    let a = svc.store.get(&phone).await.unwrap().unwrap();
    assert_eq!(a.code_sealed, None, "the readable copy is erased when the call ends");
    let st = status(&svc, &server).await;
    assert_eq!(st["status"], "delivered");
    assert_eq!(st["call"]["outcome"], "answered");
    assert_eq!(st["call"]["repeats"], 3);
    assert_eq!(st["attempts_remaining"], 3);
    // After hangup, no webhook reads the code again.
    let xml = webhook(&svc, &server, "otp-choice", &token, &[("Digits", "1")]).await;
    assert_eq!(spoken_digits(&xml), "");
    let xml = webhook(&svc, &server, "answer", &token, &[]).await;
    assert_eq!(spoken_digits(&xml), "");

    // verify: wrong, then right, then reuse
    let (s, v) = verify(&svc, &server, &wrong_code(&code)).await;
    assert_eq!(
        (s, v),
        (
            400,
            json!({"valid": false, "reason": "invalid", "attempts_remaining": 2})
        )
    );
    let (s, v) = verify(&svc, &server, &code).await;
    assert_eq!((s, v), (200, json!({"valid": true})));
    let (s, v) = verify(&svc, &server, &code).await;
    assert_eq!((s, v["reason"].as_str()), (400, Some("already_used")));
    assert_eq!(status(&svc, &server).await["status"], "verified");
}

async fn unanswered_call<S: Store>(store: S, hangup: &[(&str, &str)], outcome: &str) {
    let (svc, clock) = common::service(store);
    let server = fake_vobiz(200, fired()).await;
    assert_eq!(send(&svc, &server).await.status(), 200);
    let token = last_token(&server).await;
    clock.advance(40);
    webhook(&svc, &server, "hangup", &token, hangup).await;
    let st = status(&svc, &server).await;
    assert_eq!(st["status"], "not_delivered", "{st}");
    assert_eq!(st["call"]["outcome"], outcome, "{st}");
    assert_eq!(st["call"]["answered"], false);
    // A late or replayed answer for the ended call gets no code.
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "");
}

async fn busy_call<S: Store>(store: S) {
    unanswered_call(
        store,
        &[
            ("Event", "Hangup"),
            ("CallStatus", "busy"),
            ("HangupCause", "USER_BUSY"),
            ("AnswerTime", ""),
            ("Duration", "0"),
            ("BillDuration", "0"),
        ],
        "busy",
    )
    .await;
}

async fn no_answer_call<S: Store>(store: S) {
    // Vobiz may say "completed" even when nobody answered: the cause and AnswerTime decide.
    unanswered_call(
        store,
        &[
            ("Event", "Hangup"),
            ("CallStatus", "completed"),
            ("HangupCause", "NO_ANSWER"),
            ("AnswerTime", ""),
            ("Duration", "0"),
            ("BillDuration", "0"),
        ],
        "no_answer",
    )
    .await;
}

async fn vobiz_refusal_marks_the_attempt_failed<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake_vobiz(402, json!({"error": "insufficient balance for account MA_TESTACCOUNT"})).await;
    let resp = send(&svc, &server).await;
    assert_eq!(resp.status(), 502);
    let body = json(&resp);
    assert_eq!(body["error"], "call_failed");
    assert!(!text(&resp).contains(AUTH_ID), "the account id never reaches the app");
    let st = status(&svc, &server).await;
    assert_eq!(
        (&st["status"], &st["call"]["placed"]),
        (&json!("failed"), &json!(false))
    );
    let token = last_token(&server).await;
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "", "a failed attempt is not live");
    // The next send works normally.
    let ok = fake_vobiz(201, fired()).await;
    assert_eq!(send(&svc, &ok).await.status(), 200);
    assert_eq!(status(&svc, &ok).await["status"], "calling");
}

async fn vobiz_429_is_retried<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALLS_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALLS_PATH))
        .respond_with(ResponseTemplate::new(201).set_body_json(fired()))
        .mount(&server)
        .await;
    assert_eq!(send(&svc, &server).await.status(), 200);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

async fn vobiz_5xx_is_not_retried<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake_vobiz(500, json!({})).await;
    assert_eq!(send(&svc, &server).await.status(), 502);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "a 5xx may have placed a call: no blind retry"
    );
}

async fn resend_replaces_the_code<S: Store>(store: S) {
    let (svc, clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let old_token = last_token(&server).await;
    let old_code = stored_code(&svc).await;
    clock.advance(31);
    send(&svc, &server).await;
    let new_token = last_token(&server).await;
    let new_code = stored_code(&svc).await;
    assert_ne!(old_token, new_token);
    let xml = webhook(&svc, &server, "answer", &old_token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "", "the old call reads nothing");
    let xml = webhook(&svc, &server, "answer", &new_token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), new_code);
    if old_code != new_code {
        assert_eq!(verify(&svc, &server, &old_code).await.1["reason"], "invalid");
    }
    assert_eq!(verify(&svc, &server, &new_code).await.0, 200);
}

async fn codes_expire<S: Store>(store: S) {
    let (svc, clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let token = last_token(&server).await;
    let code = stored_code(&svc).await;
    clock.advance(300);
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "");
    assert_eq!(
        verify(&svc, &server, &code).await,
        (400, json!({"valid": false, "reason": "expired"}))
    );
    assert_eq!(status(&svc, &server).await["status"], "expired");
}

async fn wrong_attempts_lock_the_code<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let code = stored_code(&svc).await;
    for remaining in [2, 1, 0] {
        assert_eq!(
            verify(&svc, &server, &wrong_code(&code)).await,
            (
                400,
                json!({"valid": false, "reason": "invalid", "attempts_remaining": remaining})
            )
        );
    }
    assert_eq!(
        verify(&svc, &server, &code).await,
        (
            400,
            json!({"valid": false, "reason": "too_many_attempts", "attempts_remaining": 0})
        )
    );
    assert_eq!(status(&svc, &server).await["status"], "locked");
}

async fn unknown_numbers<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;
    assert_eq!(
        verify(&svc, &server, "123456").await,
        (400, json!({"valid": false, "reason": "not_found"}))
    );
    let resp = dispatch(&svc, &vobiz(&server), json_req("GET", "/otp-status/+919876543210", "")).await;
    assert_eq!(
        (resp.status().as_u16(), json(&resp)["error"].as_str()),
        (404, Some("not_found"))
    );
}

async fn answer_checks_the_callee<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let token = last_token(&server).await;
    let form = [
        ("CallUUID", "call-uuid-1"),
        ("To", "919876500000"),
        ("Event", "StartApp"),
    ];
    let resp = dispatch(&svc, &vobiz(&server), form_req(&format!("/answer/{token}"), &form)).await;
    assert_eq!(
        spoken_digits(&text(&resp)),
        "",
        "a token for another number reads nothing"
    );
    let form = [("CallUUID", "call-uuid-1"), ("Event", "StartApp")];
    let resp = dispatch(&svc, &vobiz(&server), form_req(&format!("/answer/{token}"), &form)).await;
    assert_eq!(spoken_digits(&text(&resp)), "", "no To, no code");
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml).len(), 6, "the real callee still gets the code");
}

/// The key-press gate (the default): the pickup hears a prompt and no digit; any key reads the
/// code; "press 1" reads it again; a callee who presses nothing never hears it, and the call
/// ends `not_delivered` with outcome `no_key`.
async fn the_keypress_gate_keeps_the_code_from_voicemail<S: Store>(store: S) {
    let (svc, clock) = common::service_with(store, common::config_with(&[("OTP_KEYPRESS_GATE", "on")]));
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let token = last_token(&server).await;
    let code = stored_code(&svc).await;
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "", "no digit on pickup");
    assert!(
        xml.contains(&shared::domain::locale::find("en-IN").unwrap().phrases.gate)
            && xml.contains(&format!("/otp-choice/{token}"))
    );
    assert_eq!(status(&svc, &server).await["status"], "answered");
    // A replayed pickup asks again and reads nothing.
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "");
    // No key yet (the Gather timed out into an empty Digits): goodbye, no digit.
    let xml = webhook(&svc, &server, "otp-choice", &token, &[("Digits", "")]).await;
    assert_eq!(spoken_digits(&xml), "");
    // Any key reads the code; then only "1" reads it again.
    let xml = webhook(&svc, &server, "otp-choice", &token, &[("Digits", "7")]).await;
    assert_eq!(spoken_digits(&xml), code);
    let xml = webhook(&svc, &server, "otp-choice", &token, &[("Digits", "7")]).await;
    assert_eq!(spoken_digits(&xml), "", "another key after the code is goodbye");
    let xml = webhook(&svc, &server, "otp-choice", &token, &[("Digits", "1")]).await;
    assert_eq!(spoken_digits(&xml), code);
    webhook(&svc, &server, "hangup", &token, &answered_hangup()).await;
    let st = status(&svc, &server).await;
    assert_eq!(
        (st["status"].as_str(), st["call"]["repeats"].as_u64()),
        (Some("delivered"), Some(1))
    );

    // A second code, picked up by a machine that presses nothing: never read, `no_key`.
    clock.advance(31);
    send(&svc, &server).await;
    let token = last_token(&server).await;
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "");
    webhook(&svc, &server, "hangup", &token, &answered_hangup()).await;
    let st = status(&svc, &server).await;
    assert_eq!(
        (st["status"].as_str(), st["call"]["outcome"].as_str()),
        (Some("not_delivered"), Some("no_key"))
    );
}

/// `APP_NAME` is spoken before the code.
async fn the_app_name_is_spoken<S: Store>(store: S) {
    let (svc, _clock) = common::service_with(store, common::config_with(&[("APP_NAME", "Acme")]));
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let token = last_token(&server).await;
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert!(xml.contains(">Your Acme verification code is</Speak>"), "{xml}");
    assert_eq!(spoken_digits(&xml), stored_code(&svc).await);
}

/// Only a pickup reads the code, marks the attempt answered or binds the call: a ring or a
/// hangup posted to the answer URL gets an empty 200 and changes nothing.
async fn only_a_pickup_reads_or_binds<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let token = last_token(&server).await;
    let before = svc.store.get(&Phone::parse(PHONE).unwrap()).await.unwrap();
    for form in [
        vec![("Event", "Ring"), ("CallStatus", "ringing"), ("CallUUID", "other-call")],
        vec![
            ("Event", "Hangup"),
            ("CallStatus", "completed"),
            ("CallUUID", "other-call"),
        ],
        vec![
            ("Event", "StartApp"),
            ("CallStatus", "ringing"),
            ("CallUUID", "other-call"),
        ],
        vec![("CallStatus", "completed"), ("CallUUID", "other-call")],
    ] {
        let mut f = vec![("To", "919876543210"), ("From", "918012345678")];
        f.extend(form);
        let resp = dispatch(&svc, &vobiz(&server), form_req(&format!("/answer/{token}"), &f)).await;
        assert_eq!(resp.status(), 200);
        let xml = text(&resp);
        assert!(!xml.contains("<Speak") && !xml.contains("<Hangup"), "{f:?}: {xml}");
    }
    assert_eq!(
        svc.store.get(&Phone::parse(PHONE).unwrap()).await.unwrap(),
        before,
        "nothing written"
    );
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml).len(), 6, "the pickup itself still reads");
}

/// Across answer replays (a Vobiz retry, or anyone holding the URL) and "press 1", one call
/// reads the code at most 1 + OTP_MAX_REPEATS times.
async fn one_call_reads_the_code_at_most_one_plus_repeats_times<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let token = last_token(&server).await;
    let mut reads = 0;
    for i in 0..6 {
        for (route, extra) in [("answer", [("Event", "StartApp")]), ("otp-choice", [("Digits", "1")])] {
            let xml = webhook(&svc, &server, route, &token, &extra).await;
            if !spoken_digits(&xml).is_empty() {
                reads += 1;
            }
            assert!(reads <= 4, "round {i}: read {reads} times");
        }
    }
    assert_eq!(reads, 4, "1 + OTP_MAX_REPEATS (3)");
}

/// The call asks Vobiz for machine detection when configured, and rings for RING_TIMEOUT_SECONDS.
async fn machine_detection_and_ring_timeout_go_to_vobiz<S: Store>(store: S) {
    let (svc, _clock) = common::service_with(
        store,
        common::config_with(&[("MACHINE_DETECTION", "hangup"), ("RING_TIMEOUT_SECONDS", "35")]),
    );
    let server = fake_vobiz(201, fired()).await;
    send(&svc, &server).await;
    let reqs = server.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(
        (sent["machine_detection"].as_str(), sent["ring_timeout"].as_u64()),
        (Some("hangup"), Some(35))
    );
    let token = last_token(&server).await;
    let machine = [
        ("Event", "Hangup"),
        ("CallStatus", "completed"),
        ("HangupCauseCode", "9100"),
    ];
    webhook(&svc, &server, "hangup", &token, &machine).await;
    let st = status(&svc, &server).await;
    assert_eq!(
        (st["status"].as_str(), st["call"]["outcome"].as_str()),
        (Some("not_delivered"), Some("machine"))
    );
}

/// What the hangup webhook says of a call that was answered and ran its course.
fn answered_hangup() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Event", "Hangup"),
        ("CallStatus", "completed"),
        ("HangupCause", "NORMAL_CLEARING"),
        ("HangupCauseCode", "4000"),
        ("AnswerTime", "2026-11-25 10:00:05"),
        ("Duration", "31"),
        ("BillDuration", "60"),
    ]
}

/// A test number (TEST_NUMBERS): its fixed code, no call, delivered at once, every limit, and
/// `"test": true` in every reply.
async fn test_numbers_get_their_fixed_code_and_no_call<S: Store>(store: S) {
    let (svc, clock) = common::service_with(store, common::config_with(&[("TEST_NUMBERS", "+919876543210:482913")]));
    let server = fake_vobiz(201, fired()).await;
    let sent = send(&svc, &server).await;
    assert_eq!(
        (sent.status().as_u16(), json(&sent)["test"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(fake::calls(&server).await, 0, "no call for a test number");
    let st = status(&svc, &server).await;
    assert_eq!(
        (st["status"].as_str(), st["test"].as_bool()),
        (Some("delivered"), Some(true))
    );
    assert_eq!(send(&svc, &server).await.status(), 429, "the cooldown still applies");
    let (status, body) = verify(&svc, &server, "000000").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("invalid")),
        "a wrong code is a wrong code"
    );
    let (status, body) = verify(&svc, &server, "482913").await;
    assert_eq!((status, body), (200, json!({"valid": true, "test": true})));
    let (status, body) = verify(&svc, &server, "482913").await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("already_used")));
    // Other numbers are untouched: a real call, no `test`.
    clock.advance(31);
    let other = dispatch(
        &svc,
        &vobiz(&server),
        json_req("POST", "/send-otp", r#"{"phone":"+919876543211"}"#),
    )
    .await;
    assert_eq!(
        (other.status().as_u16(), json(&other).get("test").is_none()),
        (200, true)
    );
    assert_eq!(fake::calls(&server).await, 1);
}

fn keyed_send(key: &str, body: &str) -> lambda_http::Request {
    let mut req = json_req("POST", "/send-otp", body);
    req.headers_mut().insert("idempotency-key", key.parse().unwrap());
    req
}

/// `Idempotency-Key`: a retry with the same key and body gets the first reply (and no second
/// call), even when the retries race; another body under the key is 422; a send whose call
/// failed keeps its 502 for the key.
async fn idempotency_keys_make_retries_safe<S: Store + 'static>(store: S) {
    let (svc, clock) = common::service_with(store, common::config_with(&[("SEND_COOLDOWN_SECONDS", "0")]));
    let server = fake_vobiz(201, fired()).await;
    let calls = vobiz(&server);
    let body = format!(r#"{{"phone":"{PHONE}"}}"#);
    let first = dispatch(&svc, &calls, keyed_send("order-1", &body)).await;
    assert_eq!(first.status(), 200);
    let again = dispatch(&svc, &calls, keyed_send("order-1", &body)).await;
    assert_eq!(
        (again.status(), text(&again)),
        (first.status(), text(&first)),
        "the first reply"
    );
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(fake::calls(&server).await, 1, "no second call");
    let other = dispatch(&svc, &calls, keyed_send("order-1", r#"{"phone":"+919876543211"}"#)).await;
    assert_eq!(
        (other.status().as_u16(), json(&other)["error"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let bad = dispatch(&svc, &calls, keyed_send("  ", &body)).await;
    assert_eq!(bad.status(), 400, "a blank key is refused, not ignored");

    // Ten retries of one timed-out request, all at once: one call, one reply for all.
    clock.advance(31);
    let svc = std::sync::Arc::new(svc);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (svc, calls, body) = (svc.clone(), vobiz(&server), body.clone());
            tokio::spawn(async move {
                let r = dispatch(&svc, &calls, keyed_send("order-2", &body)).await;
                (r.status().as_u16(), text(&r))
            })
        })
        .collect();
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    assert_eq!(fake::calls(&server).await, 2, "one more call for the ten");
    let ok: Vec<_> = replies.iter().filter(|(s, _)| *s == 200).collect();
    assert!(ok.iter().all(|r| r.1 == ok[0].1), "every 200 is the same reply");
    assert!(replies.iter().all(|(s, _)| *s == 200 || *s == 409), "{replies:?}");

    // A send whose call failed keeps its 502 under the key: a retry does not ring twice.
    clock.advance(31);
    let broken = fake_vobiz(500, json!({})).await;
    let failed = dispatch(&svc, &vobiz(&broken), keyed_send("order-3", &body)).await;
    assert_eq!(failed.status(), 502);
    let retried = dispatch(&svc, &vobiz(&broken), keyed_send("order-3", &body)).await;
    assert_eq!((retried.status().as_u16(), text(&retried)), (502, text(&failed)));
    assert_eq!(fake::calls(&broken).await, 1);
}

/// `POST /cancel-otp`: the live attempt ends; verify says `canceled`, a pickup afterwards reads
/// nothing, status reads `canceled`; a second cancel changes nothing.
async fn cancel_ends_the_attempt<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake_vobiz(201, fired()).await;
    let calls = vobiz(&server);
    let cancel_req = || json_req("POST", "/cancel-otp", &format!(r#"{{"phone":"{PHONE}"}}"#));
    assert_eq!(
        dispatch(&svc, &calls, cancel_req()).await.status(),
        404,
        "nothing was ever sent"
    );
    send(&svc, &server).await;
    let token = last_token(&server).await;
    let code = stored_code(&svc).await;
    let r = dispatch(&svc, &calls, cancel_req()).await;
    assert_eq!(
        (r.status().as_u16(), json(&r)["status"].as_str()),
        (200, Some("canceled"))
    );
    let (verified, body) = verify(&svc, &server, &code).await;
    assert_eq!(
        (verified, body["reason"].as_str()),
        (400, Some("canceled")),
        "the right code, canceled"
    );
    let xml = webhook(&svc, &server, "answer", &token, &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "", "a pickup after the cancel reads nothing");
    assert_eq!(status(&svc, &server).await["status"], "canceled");
    let again = dispatch(&svc, &calls, cancel_req()).await;
    assert_eq!(
        (again.status().as_u16(), json(&again)["status"].as_str()),
        (200, Some("canceled")),
        "idempotent"
    );
}

on_both_stores!(
    the_app_name_is_spoken,
    cancel_ends_the_attempt,
    idempotency_keys_make_retries_safe,
    test_numbers_get_their_fixed_code_and_no_call,
    the_keypress_gate_keeps_the_code_from_voicemail,
    only_a_pickup_reads_or_binds,
    one_call_reads_the_code_at_most_one_plus_repeats_times,
    machine_detection_and_ring_timeout_go_to_vobiz,
    whole_call,
    busy_call,
    no_answer_call,
    vobiz_refusal_marks_the_attempt_failed,
    vobiz_429_is_retried,
    vobiz_5xx_is_not_retried,
    resend_replaces_the_code,
    codes_expire,
    wrong_attempts_lock_the_code,
    unknown_numbers,
    answer_checks_the_callee,
);
