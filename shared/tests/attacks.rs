//! The attack suite: every way the public example leaks a code or spends money, tried against
//! this service, on the memory store and on the DynamoDB endpoint.

mod common;

use std::sync::Arc;

use common::vobiz::{self as fake, AUTH_TOKEN, call_form, fired, last_token};
use common::{
    PHONE, PUBLIC_URL, TestService, config_with, form_req, json, json_req, spoken_digits, stored_code, text, wrong_code,
};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::domain::Phone;
use shared::ports::{Clock, Store};
use shared::router::dispatch;
use shared::vobiz::VobizClient;
use shared::vobiz::signature::{sign_v2, sign_v3, sign_v3_sdk};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The service as deployed: signatures checked when present, keyed with the Vobiz auth token.
fn deployed<S: Store>(store: S, extra: &[(&str, &str)]) -> (TestService<S>, Arc<common::FakeClock>) {
    let mut vars = vec![("VOBIZ_AUTH_TOKEN", AUTH_TOKEN)];
    vars.extend_from_slice(extra);
    common::service_with(store, config_with(&vars))
}

async fn send<S: Store>(svc: &TestService<S>, calls: &VobizClient, phone: &str) -> Response<Body> {
    dispatch(
        svc,
        calls,
        json_req("POST", "/send-otp", &format!(r#"{{"phone":"{phone}"}}"#)),
    )
    .await
}

async fn verify<S: Store>(svc: &TestService<S>, calls: &VobizClient, otp: &str) -> (u16, Value) {
    let r = dispatch(
        svc,
        calls,
        json_req(
            "POST",
            "/verify-otp",
            &format!(r#"{{"phone":"{PHONE}","otp":"{otp}"}}"#),
        ),
    )
    .await;
    (r.status().as_u16(), json(&r))
}

/// A webhook request to `/{route}/{token}`, signed V3 with `key` and `nonce` when given.
fn signed(route: &str, token: &str, extra: &[(&str, &str)], key: Option<&str>, nonce: &str) -> Request {
    let mut req = form_req(&format!("/{route}/{token}"), &call_form(extra));
    if let Some(key) = key {
        let url = format!("{PUBLIC_URL}/{route}/{token}");
        let h = req.headers_mut();
        h.insert("x-vobiz-signature-v3", sign_v3(key, &url, nonce).parse().unwrap());
        h.insert("x-vobiz-signature-v3-nonce", nonce.parse().unwrap());
    }
    req
}

async fn hook<S: Store>(svc: &TestService<S>, calls: &VobizClient, req: Request) -> (u16, String) {
    let r = dispatch(svc, calls, req).await;
    assert_eq!(r.headers()["content-type"], "application/xml");
    (r.status().as_u16(), text(&r))
}

// ---------------------------------------------------------------------------------------------
// Disclosure: no digit of a code in any reply that is not the live call's own.

async fn disclosure_paths_read_nothing<S: Store>(store: S) {
    let (svc, clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    assert_eq!(send(&svc, &calls, PHONE).await.status(), 200);
    let token = last_token(&server).await;
    let code = stored_code(&svc).await;

    // The Vobiz example's own hole: POST /answer?phone=<victim>.
    let bare = form_req("/answer?phone=%2B919876543210", &call_form(&[("Event", "StartApp")]));
    let (status, xml) = hook(&svc, &calls, bare).await;
    assert_eq!((status, spoken_digits(&xml).as_str()), (200, ""));
    // Guessed tokens: random, the Vobiz example's call id, a token with one character changed.
    let mut tampered = token.clone().into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    for guess in [
        "req-uuid-1".to_owned(),
        "A".repeat(76),
        String::from_utf8(tampered).unwrap(),
    ] {
        for route in ["answer", "otp-choice"] {
            let (_, xml) = hook(&svc, &calls, signed(route, &guess, &[("Digits", "1")], None, "")).await;
            assert_eq!(spoken_digits(&xml), "", "{route}/{guess}");
        }
    }
    // A forged signature on the real token: 403, nothing read, nothing recorded.
    let (status, xml) = hook(
        &svc,
        &calls,
        signed(
            "answer",
            &token,
            &[("Event", "StartApp")],
            Some("not-the-auth-token"),
            "n-forged",
        ),
    )
    .await;
    assert_eq!((status, spoken_digits(&xml).as_str()), (403, ""));
    assert_eq!(
        svc.store
            .get(&Phone::parse(PHONE).unwrap())
            .await
            .unwrap()
            .unwrap()
            .answered_at,
        None
    );
    // A signature for another URL (captured from another call) does not transfer.
    let mut moved = signed("answer", &token, &[], None, "");
    let other_url = format!("{PUBLIC_URL}/answer/other-token");
    moved.headers_mut().insert(
        "x-vobiz-signature-v3",
        sign_v3(AUTH_TOKEN, &other_url, "n-moved").parse().unwrap(),
    );
    moved
        .headers_mut()
        .insert("x-vobiz-signature-v3-nonce", "n-moved".parse().unwrap());
    assert_eq!(hook(&svc, &calls, moved).await.0, 403);

    // The real, signed answer reads the code once...
    let (status, xml) = hook(
        &svc,
        &calls,
        signed("answer", &token, &[("Event", "StartApp")], Some(AUTH_TOKEN), "n-1"),
    )
    .await;
    assert_eq!((status, spoken_digits(&xml)), (200, code.clone()));
    // ...and a replay of that exact request (same nonce) is refused.
    let (status, xml) = hook(
        &svc,
        &calls,
        signed("answer", &token, &[("Event", "StartApp")], Some(AUTH_TOKEN), "n-1"),
    )
    .await;
    assert_eq!((status, spoken_digits(&xml).as_str()), (403, ""));
    // Press 1 signed V2 works; replaying it does not.
    let mut v2 = form_req(&format!("/otp-choice/{token}"), &call_form(&[("Digits", "1")]));
    let url = format!("{PUBLIC_URL}/otp-choice/{token}");
    v2.headers_mut().insert(
        "x-vobiz-signature-v2",
        sign_v2(AUTH_TOKEN, &url, "n-2").parse().unwrap(),
    );
    v2.headers_mut()
        .insert("x-vobiz-signature-v2-nonce", "n-2".parse().unwrap());
    let replay = v2.clone();
    assert_eq!(spoken_digits(&hook(&svc, &calls, v2).await.1), code);
    assert_eq!(hook(&svc, &calls, replay).await.0, 403);

    // After hangup, /otp-choice replays read nothing.
    let ended = [
        ("Event", "Hangup"),
        ("CallStatus", "completed"),
        ("HangupCause", "NORMAL_CLEARING"),
        ("AnswerTime", "2026-09-21 14:13:30"),
        ("BillDuration", "30"),
    ];
    assert_eq!(
        hook(&svc, &calls, signed("hangup", &token, &ended, Some(AUTH_TOKEN), "n-3"))
            .await
            .0,
        200
    );
    for n in ["n-4", "n-5"] {
        let (status, xml) = hook(
            &svc,
            &calls,
            signed("otp-choice", &token, &[("Digits", "1")], Some(AUTH_TOKEN), n),
        )
        .await;
        assert_eq!((status, spoken_digits(&xml).as_str()), (200, ""), "{n}");
    }
    // An expired token reads nothing either, even freshly signed.
    assert_eq!(send(&svc, &calls, PHONE).await.status(), 429, "cooldown");
    clock.advance(31);
    assert_eq!(send(&svc, &calls, PHONE).await.status(), 200);
    let fresh = last_token(&server).await;
    clock.advance(301);
    let (_, xml) = hook(
        &svc,
        &calls,
        signed("answer", &fresh, &[("Event", "StartApp")], Some(AUTH_TOKEN), "n-6"),
    )
    .await;
    assert_eq!(spoken_digits(&xml), "");
}

/// Signatures as the Vobiz SDKs compute them (Plivo's V3, over the sorted form fields), either
/// of V2 and V3, every nonce recorded, and once signed always signed.
async fn signatures_as_vobiz_really_sends_them<S: Store>(store: S) {
    let (svc, clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    assert_eq!(send(&svc, &calls, PHONE).await.status(), 200);
    let token = last_token(&server).await;
    let code = stored_code(&svc).await;
    let url = |route: &str| format!("{PUBLIC_URL}/{route}/{token}");

    // The SDK form of V3 is accepted, and checks the form: a changed field fails it.
    let fields = call_form(&[("Event", "StartApp")]);
    let sdk = sign_v3_sdk(AUTH_TOKEN, &url("answer"), &fields, "n-sdk");
    let with = |form: &[(&str, &str)], v3: &str, v3_nonce: &str, v2: Option<(&str, &str)>| {
        let mut req = form_req(&format!("/answer/{token}"), form);
        let h = req.headers_mut();
        h.insert("x-vobiz-signature-v3", v3.parse().unwrap());
        h.insert("x-vobiz-signature-v3-nonce", v3_nonce.parse().unwrap());
        if let Some((sig, nonce)) = v2 {
            h.insert("x-vobiz-signature-v2", sig.parse().unwrap());
            h.insert("x-vobiz-signature-v2-nonce", nonce.parse().unwrap());
        }
        req
    };
    let mut tampered = fields.clone();
    tampered.push(("Extra", "x"));
    assert_eq!(hook(&svc, &calls, with(&tampered, &sdk, "n-sdk", None)).await.0, 403);
    let (status, xml) = hook(&svc, &calls, with(&fields, &sdk, "n-sdk", None)).await;
    assert_eq!((status, spoken_digits(&xml)), (200, code.clone()));

    // V2 valid and V3 not: accepted, and both nonces are recorded, so the same request
    // replayed with only its V2 pair is refused.
    let v2 = sign_v2(AUTH_TOKEN, &url("answer"), "n-v2");
    let (status, _) = hook(&svc, &calls, with(&fields, "AAAA", "n-v3", Some((&v2, "n-v2")))).await;
    assert_eq!(status, 200);
    let mut only_v2 = form_req(&format!("/answer/{token}"), &fields);
    only_v2
        .headers_mut()
        .insert("x-vobiz-signature-v2", v2.parse().unwrap());
    only_v2
        .headers_mut()
        .insert("x-vobiz-signature-v2-nonce", "n-v2".parse().unwrap());
    assert_eq!(hook(&svc, &calls, only_v2).await.0, 403, "a V2 pair used once");
    let v3 = sign_v3(AUTH_TOKEN, &url("answer"), "n-v3");
    assert_eq!(
        hook(&svc, &calls, with(&fields, &v3, "n-v3", None)).await.0,
        403,
        "its V3 nonce too"
    );

    // Signed once, signed always: with VOBIZ_WEBHOOK_SIGNATURE=optional, a token holder who drops
    // the headers is refused for this attempt (press 1, and the hangup).
    let unsigned = form_req(&format!("/otp-choice/{token}"), &call_form(&[("Digits", "1")]));
    let (status, xml) = hook(&svc, &calls, unsigned).await;
    assert_eq!((status, spoken_digits(&xml).as_str()), (403, ""));
    let ended = [
        ("Event", "Hangup"),
        ("CallStatus", "completed"),
        ("HangupCauseCode", "3010"),
    ];
    let unsigned_hangup = form_req(&format!("/hangup/{token}"), &call_form(&ended));
    assert_eq!(hook(&svc, &calls, unsigned_hangup).await.0, 403);
    let st = dispatch(&svc, &calls, json_req("GET", "/otp-status/+919876543210", "")).await;
    assert_eq!(json(&st)["call"]["ended"], false, "the forged hangup changed nothing");

    // A new attempt that nobody signed for still takes unsigned webhooks (optional mode).
    clock.advance(31);
    assert_eq!(send(&svc, &calls, PHONE).await.status(), 200);
    let fresh = last_token(&server).await;
    let (status, xml) = hook(
        &svc,
        &calls,
        signed("answer", &fresh, &[("Event", "StartApp")], None, ""),
    )
    .await;
    assert_eq!((status, spoken_digits(&xml).len()), (200, 6));
}

/// The Vobiz client never follows a redirect: its credentials and the call's tokens go to the
/// API host only.
async fn the_vobiz_client_follows_no_redirect<S: Store>(store: S) {
    let (svc, _clock) = deployed(store, &[]);
    let elsewhere = fake::fake(201, fired()).await;
    let redirecting = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(fake::CALLS_PATH))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", format!("{}{}", elsewhere.uri(), fake::CALLS_PATH)),
        )
        .mount(&redirecting)
        .await;
    let r = send(&svc, &fake::client(&redirecting), PHONE).await;
    assert_eq!(
        (r.status().as_u16(), json(&r)["error"].as_str()),
        (502, Some("call_failed"))
    );
    assert_eq!(
        fake::calls(&elsewhere).await,
        0,
        "nothing reached the redirect's target"
    );
}

/// The events webhook follows no redirect either: a 307 (which would re-POST the signed event
/// to wherever it points) and a 302 (which would turn it into a bodiless GET) are failed
/// deliveries, and the redirect's target receives nothing.
#[tokio::test]
async fn the_events_webhook_follows_no_redirect() {
    use shared::domain::events::{EventType, event_id};
    use shared::events::{Sink, WebhookSink};
    let event = shared::domain::events::Event {
        id: event_id("attempt-1", EventType::OtpVerified),
        kind: EventType::OtpVerified,
        time: "2026-09-21T10:00:00Z".into(),
        phone: PHONE.into(),
        attempt_id: "attempt-1".into(),
        locale: Some("en-IN".into()),
        test: false,
        client_ref: None,
        outcome: None,
        ending: None,
    };
    let mut outcomes = Vec::new();
    for status in [307, 302] {
        let elsewhere = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(204))
            .mount(&elsewhere)
            .await;
        let redirecting = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).insert_header("location", format!("{}/hooks", elsewhere.uri())))
            .mount(&redirecting)
            .await;
        let sink =
            Sink::Webhook(WebhookSink::new(&redirecting.uri(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap());
        let delivered = sink.deliver(std::slice::from_ref(&event)).await.is_ok();
        let reached = elsewhere.received_requests().await.unwrap().len();
        outcomes.push((status, delivered, reached));
    }
    // (status, counted as delivered, requests that reached the redirect's target)
    assert_eq!(outcomes, [(307, false, 0), (302, false, 0)]);
}

async fn required_signatures_refuse_unsigned_webhooks<S: Store>(store: S) {
    let (svc, _clock) = deployed(store, &[("VOBIZ_WEBHOOK_SIGNATURE", "required")]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    send(&svc, &calls, PHONE).await;
    let token = last_token(&server).await;
    let (status, xml) = hook(
        &svc,
        &calls,
        signed("answer", &token, &[("Event", "StartApp")], None, ""),
    )
    .await;
    assert_eq!((status, spoken_digits(&xml).as_str()), (403, ""));
    let (status, xml) = hook(
        &svc,
        &calls,
        signed("answer", &token, &[("Event", "StartApp")], Some(AUTH_TOKEN), "n-1"),
    )
    .await;
    assert_eq!((status, spoken_digits(&xml).len()), (200, 6));
}

// ---------------------------------------------------------------------------------------------
// Brute force

async fn the_failure_cap_survives_resends<S: Store>(store: S) {
    let (svc, clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    let mut failures = 0;
    // 3 wrong guesses per code, a new code every 31 s: the number locks at its 10th failure.
    'sends: for _ in 0..4 {
        assert_eq!(send(&svc, &calls, PHONE).await.status(), 200);
        let code = stored_code(&svc).await;
        for _ in 0..3 {
            let (status, body) = verify(&svc, &calls, &wrong_code(&code)).await;
            assert_eq!((status, body["reason"].as_str()), (400, Some("invalid")));
            failures += 1;
            assert_eq!(
                body["attempts_remaining"],
                json!((3 - (failures - 1) % 3 - 1).min(10 - failures)),
                "after {failures}"
            );
            if failures == 10 {
                let (_, body) = verify(&svc, &calls, &code).await;
                assert_eq!(
                    body["reason"], "too_many_attempts",
                    "the right code after the number's cap"
                );
                break 'sends;
            }
        }
        clock.advance(31);
    }
    assert_eq!(failures, 10);
    let status = dispatch(&svc, &calls, json_req("GET", "/otp-status/+919876543210", "")).await;
    assert_eq!(json(&status)["status"], "locked");
    clock.advance(31);
    let refused = send(&svc, &calls, PHONE).await;
    assert_eq!(refused.status(), 429, "a locked number gets no more calls");
    assert!(
        refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 80_000
    );
    assert_eq!(fake::calls(&server).await, 4);
}

async fn a_correct_verify_resets_the_failure_count<S: Store>(store: S) {
    let (svc, clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    send(&svc, &calls, PHONE).await;
    let code = stored_code(&svc).await;
    verify(&svc, &calls, &wrong_code(&code)).await;
    verify(&svc, &calls, &wrong_code(&code)).await;
    assert_eq!(verify(&svc, &calls, &code).await.0, 200);
    clock.advance(31);
    send(&svc, &calls, PHONE).await;
    let (_, body) = verify(&svc, &calls, &wrong_code(&stored_code(&svc).await)).await;
    assert_eq!(body["attempts_remaining"], 2);
    let phone = Phone::parse(PHONE).unwrap();
    let a = svc.store.get(&phone).await.unwrap().unwrap();
    assert_eq!(
        (a.failures, a.streak(clock.now())),
        (0, 1),
        "the streak restarted at the success"
    );
}

async fn concurrent_verifies_of_the_right_code_succeed_once<S: Store + 'static>(store: S) {
    let (svc, _clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    send(&svc, &calls, PHONE).await;
    let code = stored_code(&svc).await;
    let svc = Arc::new(svc);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (svc, calls, code) = (svc.clone(), calls.clone(), code.clone());
            tokio::spawn(async move { verify(&svc, &calls, &code).await })
        })
        .collect();
    let mut valid = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => valid += 1,
            400 => assert_eq!(body["reason"], "already_used"),
            other => panic!("status {other}: {body}"),
        }
    }
    assert_eq!(valid, 1);
}

/// A cancel racing a right verify, on 16 distinct numbers at once: each attempt ends exactly one
/// way. Verify charges the right guess in one write and records `verified_at` in the next; a
/// cancel that lands between them must find the code used, as it would after `verified_at`.
/// In the replies (verify valid and cancel saying `verified`, or verify `canceled` and cancel
/// `canceled`) and in the facts (never both `verified_at`/a right guess and `canceled_at`, so
/// the stream cannot say both `otp.verified` and `otp.canceled`).
async fn a_cancel_racing_a_right_verify_ends_the_attempt_one_way<S: Store + 'static>(store: S) {
    // Sixteen numbers of one block, none verified yet: the fraud guard would refuse the
    // eleventh (shared/tests/fraud.rs); this is about cancel and verify.
    let (svc, _clock) = deployed(store, &[("CALLS_PER_MINUTE", "1000"), ("FRAUD_GUARD", "off")]);
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    let phones: Vec<String> = (0..16).map(|i| format!("+9198765434{i:02}")).collect();
    let mut codes = Vec::new();
    for phone in &phones {
        assert_eq!(send(&svc, &calls, phone).await.status(), 200);
        codes.push(common::stored_code_of(&svc, phone).await);
    }
    let svc = Arc::new(svc);
    let tasks: Vec<_> = phones
        .iter()
        .zip(&codes)
        .enumerate()
        .map(|(i, (phone, code))| {
            let (svc, calls) = (svc.clone(), calls.clone());
            let verify_body = format!(r#"{{"phone":"{phone}","otp":"{code}"}}"#);
            let cancel_body = format!(r#"{{"phone":"{phone}"}}"#);
            let verify = {
                let (svc, calls) = (svc.clone(), calls.clone());
                tokio::spawn(
                    async move { dispatch(&svc, &*calls, json_req("POST", "/verify-otp", &verify_body)).await },
                )
            };
            // Each cancel starts a little later than the last (on the memory store, one more
            // turn of the scheduler), so some land before the guess, some between verify's
            // two writes and some after.
            let delay = i;
            let cancel = tokio::spawn(async move {
                for _ in 0..delay {
                    tokio::task::yield_now().await;
                }
                dispatch(&svc, &*calls, json_req("POST", "/cancel-otp", &cancel_body)).await
            });
            (phone.clone(), verify, cancel)
        })
        .collect();
    for (phone, verify, cancel) in tasks {
        let (verify, cancel) = (verify.await.unwrap(), cancel.await.unwrap());
        let (v, c) = (json(&verify), json(&cancel));
        assert_eq!(cancel.status(), 200, "{phone}: {c}");
        let verified = verify.status() == 200;
        if verified {
            assert_eq!(
                (&v["valid"], &c["status"]),
                (&json!(true), &json!("verified")),
                "{phone}"
            );
        } else {
            assert_eq!(
                (&v["reason"], &c["status"]),
                (&json!("canceled"), &json!("canceled")),
                "{phone}"
            );
        }
        let a = svc.store.get(&Phone::parse(&phone).unwrap()).await.unwrap().unwrap();
        assert_eq!(
            (a.is_verified(), a.canceled_at.is_some()),
            (verified, !verified),
            "{phone}: the facts say one of verified or canceled"
        );
    }
}

async fn concurrent_wrong_guesses_are_all_counted<S: Store + 'static>(store: S) {
    let (svc, clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    send(&svc, &calls, PHONE).await;
    let bad = wrong_code(&stored_code(&svc).await);
    let svc = Arc::new(svc);
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (svc, calls, bad) = (svc.clone(), calls.clone(), bad.clone());
            tokio::spawn(async move { verify(&svc, &calls, &bad).await })
        })
        .collect();
    let mut invalid = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 400);
        invalid += (body["reason"] == "invalid") as u32;
    }
    assert_eq!(invalid, 3, "exactly the per-code budget of guesses was checked");
    let a = svc.store.get(&Phone::parse(PHONE).unwrap()).await.unwrap().unwrap();
    assert_eq!((a.guessed(), a.streak(clock.now())), (3, 3));
}

/// Bursts of distinct guesses, the right code among them, all in flight at once. Every guess is
/// charged (one conditional write) before it is judged, so at most the cap of them is ever
/// compared with the code: the right code wins only when it was charged within the cap, and
/// then exactly once. Each verify is one request to the store, and the memory store yields
/// before each operation as a network round trip would, so the handlers interleave here as
/// they do against DynamoDB (a request-serialising test endpoint cannot hide a race between
/// two requests of one handler, and there is no second request to race with any more).
async fn raced_distinct_guesses_are_charged_before_they_are_judged<S: Store + 'static>(store: S) {
    let (svc, clock) = deployed(store, &[("SEND_COOLDOWN_SECONDS", "0"), ("SENDS_PER_HOUR", "100")]);
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    let svc = Arc::new(svc);
    let phone = Phone::parse(PHONE).unwrap();
    let mut right_won = 0;
    for burst in 0..10 {
        // A fresh code each burst; a success (or not) resets the number's streak in between.
        clock.advance(86_400);
        assert_eq!(send(&svc, &calls, PHONE).await.status(), 200, "burst {burst}");
        let code = stored_code(&svc).await;
        let mut guesses: Vec<String> = (0..19u32)
            .map(|i| format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i * 7919) % 1_000_000))
            .collect();
        guesses.insert(9, code.clone());
        let tasks: Vec<_> = guesses
            .into_iter()
            .map(|g| {
                let (svc, calls) = (svc.clone(), calls.clone());
                tokio::spawn(async move {
                    let (status, body) = verify(&svc, &calls, &g).await;
                    (g, status, body)
                })
            })
            .collect();
        let (mut judged, mut valid) = (0, 0);
        for t in tasks {
            let (g, status, body) = t.await.unwrap();
            match (status, body["reason"].as_str()) {
                (200, _) => {
                    assert_eq!(g, code, "only the right code is valid");
                    valid += 1;
                    judged += 1;
                }
                (400, Some("invalid")) => judged += 1,
                (400, Some("too_many_attempts" | "already_used")) => {}
                other => panic!("burst {burst}: {other:?} {body}"),
            }
        }
        let a = svc.store.get(&phone).await.unwrap().unwrap();
        assert!(
            judged <= 3,
            "burst {burst}: {judged} guesses were compared with the code"
        );
        // The cap was charged, unless the right code was charged first: it ends the attempt,
        // so it is the last guess charged.
        let charged_to = a.first_match().map_or(3, |i| i + 1);
        assert_eq!(
            a.guessed() as usize,
            charged_to,
            "burst {burst}: exactly the cap was charged, or up to the right code"
        );
        assert_eq!(
            valid,
            u32::from(a.first_match().is_some()),
            "burst {burst}: the right code wins once, and only if it was charged"
        );
        right_won += valid;
    }
    eprintln!("the right code was charged within the cap in {right_won} of 10 bursts");
}

/// The number's failure budget holds under bursts across resends: with 5 failures a day and 3
/// guesses a code, two bursts of 20 wrong guesses get exactly 3 and then 2 compared, and the
/// number is locked.
async fn raced_guesses_never_exceed_the_numbers_failures<S: Store + 'static>(store: S) {
    let (svc, clock) = deployed(store, &[("MAX_FAILURES_PER_DAY", "5")]);
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    let svc = Arc::new(svc);
    let mut invalid = Vec::new();
    for _ in 0..2 {
        assert_eq!(send(&svc, &calls, PHONE).await.status(), 200);
        let code: u32 = stored_code(&svc).await.parse().unwrap();
        let tasks: Vec<_> = (1..=20u32)
            .map(|i| {
                let (svc, calls) = (svc.clone(), calls.clone());
                let g = format!("{:06}", (code + i) % 1_000_000);
                tokio::spawn(async move { verify(&svc, &calls, &g).await })
            })
            .collect();
        let mut n = 0;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert_eq!(status, 400);
            n += u32::from(body["reason"] == "invalid");
        }
        invalid.push(n);
        clock.advance(31);
    }
    assert_eq!(invalid, [3, 2], "per code 3, per number 5");
    assert_eq!(send(&svc, &calls, PHONE).await.status(), 429, "locked");
}

// ---------------------------------------------------------------------------------------------
// Cost limits

async fn fifty_concurrent_sends_place_one_call<S: Store + 'static>(store: S) {
    let (svc, _clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    let svc = Arc::new(svc);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (svc, calls) = (svc.clone(), calls.clone());
            tokio::spawn(async move {
                let r = send(&svc, &calls, PHONE).await;
                (r.status().as_u16(), r.headers().get("retry-after").is_some(), json(&r))
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            (200, _, _) => ok += 1,
            (429, true, body) => assert_eq!(body["error"], "rate_limited"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(fake::calls(&server).await, 1, "exactly one call reached Vobiz");
}

async fn the_send_window_caps_a_number<S: Store>(store: S) {
    let (svc, clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    for _ in 0..5 {
        assert_eq!(send(&svc, &calls, PHONE).await.status(), 200);
        clock.advance(31);
    }
    let refused = send(&svc, &calls, PHONE).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], (3600 - 5 * 31).to_string());
    assert_eq!(fake::calls(&server).await, 5);
    clock.advance(3600 - 5 * 31);
    assert_eq!(send(&svc, &calls, PHONE).await.status(), 200, "the window slides");
}

async fn the_global_ceiling_holds_under_concurrency<S: Store + 'static>(store: S) {
    let (svc, _clock) = deployed(store, &[("CALLS_PER_MINUTE", "3")]);
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    let svc = Arc::new(svc);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (svc, calls) = (svc.clone(), calls.clone());
            tokio::spawn(async move {
                send(&svc, &calls, &format!("+9198765432{:02}", i % 10))
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 429, "{status}");
        ok += (status == 200) as u32;
    }
    assert_eq!(ok, 3);
    assert_eq!(fake::calls(&server).await, 3, "the ceiling counts calls, not requests");
}

/// DAILY_CALL_BUDGET holds under 30 racing sends to distinct numbers: exactly the budget's calls,
/// every other send `429 budget_exhausted` with `Retry-After` to midnight UTC; the next UTC day
/// has a budget again.
async fn the_daily_budget_holds_under_concurrency_and_renews_at_midnight<S: Store + 'static>(store: S) {
    let (svc, clock) = deployed(store, &[("DAILY_CALL_BUDGET", "5"), ("CALLS_PER_MINUTE", "1000")]);
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    let svc = Arc::new(svc);
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (svc, calls) = (svc.clone(), calls.clone());
            tokio::spawn(async move {
                let r = send(&svc, &calls, &format!("+9198765431{i:02}")).await;
                let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
                (r.status().as_u16(), retry_after, json(&r))
            })
        })
        .collect();
    let now = Clock::now(&*clock);
    let to_midnight = (now.div_euclid(86_400) + 1) * 86_400 - now;
    let mut ok = 0;
    for t in tasks {
        let (status, retry_after, body) = t.await.unwrap();
        if status == 200 {
            ok += 1;
            continue;
        }
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"], "budget_exhausted", "{body}");
        assert_eq!(retry_after, Some(to_midnight.to_string()));
    }
    assert_eq!(ok, 5);
    assert_eq!(fake::calls(&server).await, 5, "the budget counts calls");
    clock.advance(to_midnight);
    assert_eq!(send(&svc, &calls, "+919876543199").await.status(), 200, "a new day");
    assert_eq!(fake::calls(&server).await, 6);
}

async fn destinations_outside_the_allow_list_are_refused<S: Store>(store: S) {
    let (svc, _clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    for number in ["+447911123456", "+12025550123", "+33612345678", "+1 900 555 0123"] {
        let r = send(&svc, &calls, number).await;
        assert_eq!(r.status(), 403, "{number}: {}", text(&r));
        assert_eq!(json(&r)["error"], "destination_not_allowed");
    }
    let (svc, _clock) = deployed(shared::store::MemoryStore::new(), &[("ALLOWED_REGIONS", "IN,US")]);
    assert_eq!(send(&svc, &calls, "+18005550123").await.status(), 403, "toll free");
    assert_eq!(send(&svc, &calls, "+19005550123").await.status(), 403, "premium rate");
    assert_eq!(fake::calls(&server).await, 0);
}

// ---------------------------------------------------------------------------------------------
// Faults

async fn vobiz_faults_give_clear_errors_and_do_not_block<S: Store>(store: S) {
    let (svc, clock) = deployed(store, &[("SENDS_PER_HOUR", "100")]);
    let ok = fake::fake(201, fired()).await;
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(fake::CALLS_PATH))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(fired())
                .set_delay(std::time::Duration::from_secs(5)),
        )
        .mount(&slow)
        .await;
    let garbled = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(fake::CALLS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not json"))
        .mount(&garbled)
        .await;
    // Every server stays alive for the whole test (wiremock hands a dropped one to other tests).
    let limited = fake::fake(429, json!({"error": {"details": {"retryAfter": 0}}})).await;
    let broken = fake::fake(500, json!({"error": "internal"})).await;
    let no_id = fake::fake(201, json!({"api_id": "a", "message": "Call fired"})).await;
    let faults: Vec<(&str, VobizClient)> = vec![
        ("429 after retries", fake::client(&limited)),
        ("500", fake::client(&broken)),
        ("malformed JSON", fake::client(&garbled)),
        ("no request_uuid", fake::client(&no_id)),
        ("timeout", fake::client_with_timeout(&slow, 1000)),
    ];
    for (what, calls) in faults {
        let r = send(&svc, &calls, PHONE).await;
        assert_eq!(r.status(), 502, "{what}");
        assert_eq!(json(&r)["error"], "call_failed", "{what}");
        assert!(!text(&r).contains(fake::AUTH_ID), "{what}");
        let st = dispatch(&svc, &calls, json_req("GET", "/otp-status/+919876543210", "")).await;
        assert_eq!(json(&st)["status"], "failed", "{what}");
        // The failed attempt does not block the next send (no cooldown after a failed call).
        let r = send(&svc, &fake::client(&ok), PHONE).await;
        assert_eq!(r.status(), 200, "after {what}: {}", text(&r));
        let st = dispatch(&svc, &calls, json_req("GET", "/otp-status/+919876543210", "")).await;
        assert_eq!(json(&st)["status"], "calling", "{what}");
        clock.advance(31); // past the cooldown the successful call started
    }
    assert_eq!(fake::calls(&limited).await, 3, "a 429 is retried twice");
    assert_eq!(
        fake::calls(&broken).await,
        1,
        "a 500 may have placed a call: never retried"
    );
}

#[tokio::test]
#[ignore = "needs a DynamoDB endpoint: scripts/test.sh starts one and runs it"]
async fn the_database_going_away_gives_503_and_nothing_half_written() {
    let Some((store, proxy)) = common::proxied_dynamo_store().await else {
        return;
    };
    let (svc, _clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    assert_eq!(send(&svc, &calls, PHONE).await.status(), 200);
    let token = last_token(&server).await;
    let code = stored_code(&svc).await;

    proxy.stop().await;
    let r = send(&svc, &calls, "+919876543211").await;
    assert_eq!(
        (r.status().as_u16(), json(&r)["error"].as_str()),
        (503, Some("store_unavailable"))
    );
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(fake::calls(&server).await, 1, "no call without a stored attempt");
    let (status, body) = verify(&svc, &calls, &code).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("store_unavailable")));
    let st = dispatch(&svc, &calls, json_req("GET", "/otp-status/+919876543210", "")).await;
    assert_eq!(st.status(), 503);
    // Webhooks answer 503 (Vobiz retries) with no digits.
    let (status, xml) = hook(
        &svc,
        &calls,
        signed("answer", &token, &[("Event", "StartApp")], Some(AUTH_TOKEN), "n-1"),
    )
    .await;
    assert_eq!((status, spoken_digits(&xml).as_str()), (503, ""));

    proxy.resume().await;
    // Vobiz's retry of the same webhook now works: the failed attempt recorded nothing.
    let (status, xml) = hook(
        &svc,
        &calls,
        signed("answer", &token, &[("Event", "StartApp")], Some(AUTH_TOKEN), "n-1"),
    )
    .await;
    assert_eq!((status, spoken_digits(&xml)), (200, code.clone()));
    // The number the outage refused is not blocked.
    assert_eq!(send(&svc, &calls, "+919876543211").await.status(), 200);
    assert_eq!(verify(&svc, &calls, &code).await.0, 200);
}

/// A send's transaction commits, but its reply comes after the client's attempt timeout (the
/// production bounds): the SDK sends it again with the same ClientRequestToken, DynamoDB answers
/// that retry with the first one's success, and the send places its one call. (Run again as a
/// new transaction, the write would fail its conditions against itself and read as "a code was
/// just sent to this number", with no call placed.)
#[tokio::test]
#[ignore = "needs a DynamoDB endpoint: scripts/test.sh starts one and runs it"]
async fn a_late_transaction_reply_and_the_sdks_retry_place_one_call() {
    let Some((store, proxy)) = common::proxied_dynamo_store().await else {
        return;
    };
    let (svc, _clock) = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    // Past the 1.5 s attempt timeout of shared::lambda::dynamo_config, well inside its 4 s
    // operation timeout (the retry waits at most 1 s).
    proxy.delay_next_reply(
        "DynamoDB_20120810.TransactWriteItems",
        std::time::Duration::from_millis(2200),
    );
    let r = send(&svc, &calls, PHONE).await;
    assert_eq!(
        proxy.seen(),
        2,
        "the SDK sent the transaction again after the late reply"
    );
    assert_eq!(r.status(), 200, "{}", text(&r));
    assert_eq!(fake::calls(&server).await, 1, "one call");
    let code = stored_code(&svc).await;
    assert_eq!(verify(&svc, &calls, &code).await.0, 200);
}

on_both_stores!(
    disclosure_paths_read_nothing,
    required_signatures_refuse_unsigned_webhooks,
    signatures_as_vobiz_really_sends_them,
    the_vobiz_client_follows_no_redirect,
    the_failure_cap_survives_resends,
    a_correct_verify_resets_the_failure_count,
    concurrent_verifies_of_the_right_code_succeed_once,
    a_cancel_racing_a_right_verify_ends_the_attempt_one_way,
    concurrent_wrong_guesses_are_all_counted,
    raced_distinct_guesses_are_charged_before_they_are_judged,
    raced_guesses_never_exceed_the_numbers_failures,
    fifty_concurrent_sends_place_one_call,
    the_send_window_caps_a_number,
    the_global_ceiling_holds_under_concurrency,
    the_daily_budget_holds_under_concurrency_and_renews_at_midnight,
    destinations_outside_the_allow_list_are_refused,
    vobiz_faults_give_clear_errors_and_do_not_block,
);
