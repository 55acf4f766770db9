//! Every `events/*.json` fixture (API Gateway REST proxy events, payload 1.0) is parsed by
//! `lambda_http::request::from_str` and run through its function's handler, as `sam local
//! invoke -e` and `cargo lambda invoke --data-file` would run it.
//!
//! The webhook fixtures carry a token minted for +919876543210 under [`FIXTURE_SECRET`]; run a
//! function with `OTP_SECRET` set to it and the fixtures' token is valid. A fresh token:
//! `cargo run -p shared --example fixture-token -- <FIXTURE_SECRET>`.

mod common;

use std::path::PathBuf;

use common::FakeClock;
use common::{json, spoken_digits, text};
use serde_json::json;
use shared::domain::limits::Counter;
use shared::domain::secrets::token_hash;
use shared::domain::{Attempt, CallRef, Keys, NewAttempt, Phone};
use shared::handlers::{self, Service};
use shared::ports::{CallCounters, Start, Store, Write};
use shared::store::MemoryStore;
use shared::vobiz::VobizClient;
use shared::vobiz::VobizConfig;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const FIXTURE_SECRET: &str = "otp-call-events-fixture-secret-not-for-production";
const CODE: &str = "123456";
const CALL_UUID: &str = "c2b4b3a0-6f0e-4f3b-9d6b-2f1a7c9e8d10";
/// 2026-11-25T10:00:00Z, the events' request time.
const NOW: i64 = 1_795_600_800;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn fixture_token() -> String {
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("answer-started.json")).unwrap()).unwrap();
    ev["pathParameters"]["token"].as_str().unwrap().to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Setup {
    Fresh,
    Live,
    Answered,
}

async fn service(setup: Setup) -> Service<MemoryStore, FakeClock> {
    // No PUBLIC_URL: webhook URLs come from the event's API Gateway request context. The prompt
    // packs are hosted, as the template hosts them.
    let cfg = shared::Config::from_lookup(|k| {
        (k == "PROMPTS_BASE_URL").then(|| "https://prompts.example/prompts".to_owned())
    })
    .unwrap();
    let svc = Service::with_clock(
        &cfg,
        Keys::derive(FIXTURE_SECRET.as_bytes()).unwrap(),
        MemoryStore::new(),
        FakeClock::at(NOW),
    );
    if setup != Setup::Fresh {
        let phone = Phone::parse("+919876543210").unwrap();
        let new = NewAttempt {
            phone: phone.clone(),
            attempt_id: "fixture-attempt".into(),
            now: NOW - 20,
            ttl_secs: 300,
            token_hash: token_hash(&fixture_token()),
            code_mac: svc.keys.code_mac(&phone, CODE),
            code_sealed: svc.keys.seal_code(&mut rand::rng(), &phone, "fixture-attempt", CODE),
            max_attempts: 3,
            failures_per_window: 10,
        };
        let attempt = Attempt::new(new, None, vec![NOW - 20]);
        let slot = CallCounters {
            minute: Counter {
                key: "GLOBAL#calls#0#0".into(),
                expires: 0,
                cap: 1,
            },
            day: None,
            guard: Vec::new(),
        };
        assert_eq!(
            svc.store.start_attempt(&attempt, None, &slot, None).await.unwrap(),
            Start::Started
        );
        if setup == Setup::Answered {
            assert!(matches!(
                svc.store
                    .answer(
                        &CallRef {
                            phone: &phone,
                            token_hash: &attempt.token_hash,
                            call_uuid: CALL_UUID,
                            nonces: &[]
                        },
                        Some(4), // picked up and read once: 1 + OTP_MAX_REPEATS reads allowed
                        NOW - 5
                    )
                    .await
                    .unwrap(),
                Write::Done(_)
            ));
        }
    }
    svc
}

async fn run(
    file: &str,
    setup: Setup,
) -> (
    Service<MemoryStore, FakeClock>,
    MockServer,
    lambda_http::Response<lambda_http::Body>,
) {
    let raw = std::fs::read_to_string(events_dir().join(file)).unwrap();
    let req = lambda_http::request::from_str(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
    let svc = service(setup).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/Account/MA_FIXTURE/Call/"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"api_id": "a", "message": "Call fired", "request_uuid": "r-1"})),
        )
        .mount(&server)
        .await;
    let calls = VobizClient::new(VobizConfig {
        api_url: server.uri(),
        auth_id: "MA_FIXTURE".into(),
        auth_token: "t".into(),
        from: Phone::parse("+918012345678").unwrap(),
        timeout_ms: 2000,
        max_retries: 0,
    })
    .unwrap();
    let resp = match file.split('.').next().unwrap() {
        f if f.starts_with("send-otp") => handlers::send_otp(&svc, &calls, req).await,
        f if f.starts_with("verify-otp") => handlers::verify_otp(&svc, req).await,
        f if f.starts_with("otp-status") => handlers::otp_status(&svc, req).await,
        f if f.starts_with("cancel-otp") => handlers::cancel_otp(&svc, req).await,
        f if f.starts_with("erase-number") => handlers::erase_number(&svc, req).await,
        f if f.starts_with("answer") => handlers::answer(&svc, req).await,
        f if f.starts_with("otp-choice") => handlers::otp_choice(&svc, req).await,
        f if f.starts_with("hangup") => handlers::hangup(&svc, req).await,
        other => panic!("events/{other}.json names no function"),
    }
    .unwrap();
    (svc, server, resp)
}

async fn status_of(svc: &Service<MemoryStore, FakeClock>) -> serde_json::Value {
    let a = svc
        .store
        .get(&Phone::parse("+919876543210").unwrap())
        .await
        .unwrap()
        .unwrap();
    json!({"status": a.status(NOW), "outcome": a.call_outcome()})
}

#[tokio::test]
async fn every_fixture_has_a_test_here() {
    let covered = [
        "send-otp.json",
        "send-otp-hindi.json",
        "send-otp-invalid-phone.json",
        "verify-otp.json",
        "verify-otp-wrong.json",
        "otp-status.json",
        "cancel-otp.json",
        "erase-number.json",
        "answer-started.json",
        "answer-bare.json",
        "answer-unknown-token.json",
        "otp-choice-repeat.json",
        "otp-choice-timeout.json",
        "hangup-answered.json",
        "hangup-busy.json",
        "hangup-no-answer.json",
        // DynamoDB stream events of otp-events: tests/event_stream.rs runs them.
        "otp-events-delivered-verified.json",
        "otp-events-erased.json",
        "otp-events-expired.json",
    ];
    let mut found: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    let mut want: Vec<String> = covered.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want);
}

#[tokio::test]
async fn send_otp_places_a_call_on_the_stage_url() {
    let (_svc, server, resp) = run("send-otp.json", Setup::Fresh).await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
    assert_eq!(json(&resp)["status"], "calling");
    let reqs = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert!(
        body["answer_url"]
            .as_str()
            .unwrap()
            .starts_with("https://a1b2c3d4e5.execute-api.ap-south-1.amazonaws.com/prod/answer/"),
        "{body}"
    );
}

#[tokio::test]
async fn send_otp_in_hindi() {
    let (svc, server, resp) = run("send-otp-hindi.json", Setup::Fresh).await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
    assert_eq!(json(&resp)["locale"], "hi-IN");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    let phone = Phone::parse("+919876543211").unwrap();
    let a = svc.store.get(&phone).await.unwrap().unwrap();
    assert_eq!(a.locale.as_deref(), Some("hi-IN"));
}

#[tokio::test]
async fn send_otp_invalid_phone() {
    let (_svc, server, resp) = run("send-otp-invalid-phone.json", Setup::Fresh).await;
    assert_eq!(
        (resp.status().as_u16(), json(&resp)["error"].as_str()),
        (400, Some("invalid_phone"))
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn verify_otp_right_and_wrong() {
    let (_svc, _s, resp) = run("verify-otp.json", Setup::Live).await;
    assert_eq!((resp.status().as_u16(), json(&resp)), (200, json!({"valid": true})));
    let (_svc, _s, resp) = run("verify-otp-wrong.json", Setup::Live).await;
    assert_eq!(
        (resp.status().as_u16(), json(&resp)),
        (
            400,
            json!({"valid": false, "reason": "invalid", "attempts_remaining": 2})
        )
    );
}

#[tokio::test]
async fn otp_status_reads_the_encoded_number() {
    let (_svc, _s, resp) = run("otp-status.json", Setup::Live).await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
    assert_eq!(json(&resp)["status"], "calling");
    let (_svc, _s, resp) = run("otp-status.json", Setup::Fresh).await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn cancel_ends_the_live_attempt() {
    let (svc, _s, resp) = run("cancel-otp.json", Setup::Live).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(&resp)["status"], "canceled");
    assert_eq!(status_of(&svc).await["status"], "canceled");
    let (_svc, _s, resp) = run("cancel-otp.json", Setup::Fresh).await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn erase_removes_the_record_and_an_unknown_number_reads_the_same() {
    let (svc, _s, live) = run("erase-number.json", Setup::Live).await;
    assert_eq!(live.status(), 200);
    assert!(
        svc.store
            .get(&Phone::parse("+919876543210").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let (_svc, _s, fresh) = run("erase-number.json", Setup::Fresh).await;
    assert_eq!(
        (fresh.status(), json(&fresh)),
        (live.status(), json(&live)),
        "no oracle"
    );
    assert_eq!(json(&live)["erased"], true);
    assert_eq!(json(&live)["remains"][0]["what"], "logs");
}

#[tokio::test]
async fn answer_reads_the_code_only_with_a_live_token() {
    // The key-press gate is on by default: the pickup asks for a key, and the key (posted to the
    // Gather's action, otp-choice) reads the code.
    let (_svc, _s, resp) = run("answer-started.json", Setup::Live).await;
    let xml = text(&resp);
    assert_eq!(spoken_digits(&xml), "", "no digit before a key");
    assert!(xml.contains(&shared::domain::locale::find("en-IN").unwrap().phrases.gate));
    assert!(xml.contains("https://a1b2c3d4e5.execute-api.ap-south-1.amazonaws.com/prod/otp-choice/"));
    for (file, setup) in [
        ("answer-started.json", Setup::Fresh),
        ("answer-bare.json", Setup::Live),
        ("answer-unknown-token.json", Setup::Live),
    ] {
        let (_svc, _s, resp) = run(file, setup).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(spoken_digits(&text(&resp)), "", "{file} {setup:?}");
        assert!(text(&resp).contains("<Hangup/>"));
    }
}

#[tokio::test]
async fn otp_choice_repeats_or_says_goodbye() {
    let (_svc, _s, resp) = run("otp-choice-repeat.json", Setup::Answered).await;
    assert_eq!(spoken_digits(&text(&resp)), CODE);
    let (_svc, _s, resp) = run("otp-choice-repeat.json", Setup::Live).await;
    assert_eq!(spoken_digits(&text(&resp)), "", "not answered by this call");
    let (_svc, _s, resp) = run("otp-choice-timeout.json", Setup::Answered).await;
    assert_eq!(spoken_digits(&text(&resp)), "");
    assert!(text(&resp).contains("Goodbye"));
}

#[tokio::test]
async fn hangups_record_what_the_call_did() {
    let (svc, _s, resp) = run("hangup-answered.json", Setup::Answered).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        status_of(&svc).await,
        json!({"status": "delivered", "outcome": "answered"})
    );
    let (svc, _s, _) = run("hangup-busy.json", Setup::Live).await;
    assert_eq!(
        status_of(&svc).await,
        json!({"status": "not_delivered", "outcome": "busy"})
    );
    let (svc, _s, _) = run("hangup-no-answer.json", Setup::Live).await;
    assert_eq!(
        status_of(&svc).await,
        json!({"status": "not_delivered", "outcome": "no_answer"})
    );
}
