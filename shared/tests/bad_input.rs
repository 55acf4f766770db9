//! Bad input gets a clear 4xx JSON error (or, on a webhook, the safe XML hang-up), never a
//! panic, and changes nothing: the number's record is the same before and after.

mod common;

use common::{PHONE, TestService, json, spoken_digits, text};
use lambda_http::Body;
use shared::domain::Phone;
use shared::ports::{CallPlacer, CallRequest, PlacedCall, Store};
use shared::router::dispatch;

/// A call placer that must never be reached by bad input.
struct NoCalls;

impl CallPlacer for NoCalls {
    async fn place_call(&self, _: &CallRequest) -> shared::Result<PlacedCall> {
        panic!("bad input placed a call")
    }
}

fn raw(method: &str, path: &str, content_type: Option<&str>, body: Body) -> lambda_http::Request {
    let mut b = lambda_http::http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(body).unwrap()
}

async fn snapshot<S: Store>(svc: &TestService<S>) -> Option<shared::domain::Attempt> {
    svc.store.get(&Phone::parse(PHONE).unwrap()).await.unwrap()
}

/// A live attempt to protect: sent through a simulated Vobiz that accepts everything.
struct Accept;
impl CallPlacer for Accept {
    async fn place_call(&self, _: &CallRequest) -> shared::Result<PlacedCall> {
        Ok(PlacedCall {
            request_uuid: "r".into(),
        })
    }
}

async fn app_routes_refuse_bad_input<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let sent = dispatch(
        &svc,
        &Accept,
        common::json_req("POST", "/send-otp", &format!(r#"{{"phone":"{PHONE}"}}"#)),
    )
    .await;
    assert_eq!(sent.status(), 200);
    let before = snapshot(&svc).await;
    let j = Some("application/json");
    let big = format!(r#"{{"phone":"{PHONE}","pad":"{}"}}"#, "x".repeat(5000));
    // (method, path, content type, body, expected status, expected error code)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Body, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("POST", "/send-otp", j, Body::from("{"), 400, "invalid_json"),
        ("POST", "/send-otp", j, Body::from(""), 400, "invalid_json"),
        ("POST", "/send-otp", j, Body::from("[]"), 400, "invalid_json"),
        ("POST", "/send-otp", j, Body::from("{}"), 400, "missing_field"),
        (
            "POST",
            "/send-otp",
            j,
            Body::from(r#"{"phone":919876543210}"#),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/send-otp",
            j,
            Body::from(r#"{"phone":"98765 43210"}"#),
            400,
            "invalid_phone",
        ),
        (
            "POST",
            "/send-otp",
            j,
            Body::from(r#"{"phone":"+447911123456"}"#),
            403,
            "destination_not_allowed",
        ),
        (
            "POST",
            "/send-otp",
            Some("text/plain"),
            Body::from(format!(r#"{{"phone":"{PHONE}"}}"#)),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/send-otp",
            Some("application/x-www-form-urlencoded"),
            Body::from("phone=%2B919876543210"),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/send-otp",
            j,
            Body::from(big.clone()),
            413,
            "payload_too_large",
        ),
        (
            "POST",
            "/send-otp",
            j,
            Body::Binary(vec![0xff, 0xfe, b'{', 0x80]),
            400,
            "invalid_json",
        ),
        ("GET", "/send-otp", None, Body::Empty, 405, "method_not_allowed"),
        (
            "POST",
            "/verify-otp",
            j,
            Body::from(format!(r#"{{"phone":"{PHONE}"}}"#)),
            400,
            "missing_field",
        ),
        (
            "POST",
            "/verify-otp",
            j,
            Body::from(format!(r#"{{"phone":"{PHONE}","otp":123456}}"#)),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/verify-otp",
            j,
            Body::from(format!(r#"{{"phone":"{PHONE}","otp":"12a456"}}"#)),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/verify-otp",
            j,
            Body::from(format!(r#"{{"phone":"{PHONE}","otp":"12345"}}"#)),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/verify-otp",
            j,
            Body::from(format!(r#"{{"phone":"{PHONE}","otp":"１２３４５６"}}"#)),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/verify-otp",
            j,
            Body::from(format!(r#"{{"phone":"{PHONE}","otp":""}}"#)),
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/verify-otp",
            Some("multipart/form-data"),
            Body::from("x"),
            415,
            "unsupported_media_type",
        ),
        ("POST", "/verify-otp", j, Body::from(big), 413, "payload_too_large"),
        ("GET", "/otp-status/12", None, Body::Empty, 400, "invalid_phone"),
        ("GET", "/otp-status/%ZZ", None, Body::Empty, 400, "invalid_phone"),
        (
            "POST",
            "/otp-status/+919876543210",
            None,
            Body::Empty,
            405,
            "method_not_allowed",
        ),
        ("GET", "/nowhere", None, Body::Empty, 404, "no_route"),
    ];
    for (method, path, ct, body, status, code) in cases {
        let resp = dispatch(&svc, &NoCalls, raw(method, path, ct, body)).await;
        assert_eq!(resp.status().as_u16(), status, "{method} {path}: {}", text(&resp));
        assert_eq!(resp.headers()["content-type"], "application/json", "{method} {path}");
        assert_eq!(json(&resp)["error"], code, "{method} {path}");
        assert!(json(&resp)["message"].as_str().is_some_and(|m| !m.is_empty()));
        if status == 405 {
            assert!(
                resp.headers().contains_key("allow"),
                "{method} {path}: 405 names the allowed methods"
            );
        }
    }
    assert_eq!(snapshot(&svc).await, before, "nothing changed");
}

async fn webhooks_hang_up_on_bad_input<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    dispatch(
        &svc,
        &Accept,
        common::json_req("POST", "/send-otp", &format!(r#"{{"phone":"{PHONE}"}}"#)),
    )
    .await;
    let before = snapshot(&svc).await;
    let f = Some("application/x-www-form-urlencoded");
    let good = "CallUUID=c1&To=919876543210&Event=StartApp&Digits=1&CallStatus=completed&HangupCause=NORMAL_CLEARING&AnswerTime=2026-01-01+00%3A00%3A00";
    let guessed = "A".repeat(76);
    let cases: Vec<(String, Option<&str>, Body)> = vec![
        ("/answer".into(), f, Body::from(good)),
        (format!("/answer/{guessed}"), f, Body::from(good)),
        ("/answer/short".into(), f, Body::from(good)),
        (format!("/answer/{}", "x".repeat(5000)), f, Body::from(good)),
        ("/otp-choice".into(), f, Body::from(good)),
        (format!("/otp-choice/{guessed}"), f, Body::from(good)),
        ("/hangup".into(), f, Body::from(good)),
        (format!("/hangup/{guessed}"), f, Body::from(good)),
        (format!("/answer/{guessed}"), Some("application/json"), Body::from("{}")),
        (format!("/answer/{guessed}"), f, Body::from("x".repeat(20_000))),
        (
            format!("/answer/{guessed}"),
            f,
            Body::Binary(vec![0xff, 0x00, b'=', 0x80]),
        ),
        (format!("/hangup/{guessed}"), f, Body::from("CallUUID=c1&CallUUID=c2")),
    ];
    for (path, ct, body) in cases {
        let resp = dispatch(&svc, &NoCalls, raw("POST", &path, ct, body)).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/xml", "{path}");
        let xml = text(&resp);
        assert_eq!(spoken_digits(&xml), "", "{path}");
        assert!(xml.contains("<Hangup/>"), "{path}");
    }
    assert_eq!(snapshot(&svc).await, before, "nothing changed");
}

async fn app_routes_need_the_local_api_key<S: Store>(store: S) {
    let key = "local-app-key-0123456789";
    let (svc, _clock) = common::service_with(store, common::config_with(&[("APP_API_KEY", key)]));
    for given in [
        None,
        Some("local-app-key-012345678"),
        Some("LOCAL-APP-KEY-0123456789"),
        Some(""),
    ] {
        for (method, path, body) in [
            ("POST", "/send-otp", format!(r#"{{"phone":"{PHONE}"}}"#)),
            (
                "POST",
                "/verify-otp",
                format!(r#"{{"phone":"{PHONE}","otp":"123456"}}"#),
            ),
            ("GET", "/otp-status/+919876543210", String::new()),
        ] {
            let mut req = common::json_req(method, path, &body);
            if let Some(k) = given {
                req.headers_mut().insert("x-api-key", k.parse().unwrap());
            }
            let resp = dispatch(&svc, &NoCalls, req).await;
            assert_eq!(
                (resp.status().as_u16(), json(&resp)["error"].as_str()),
                (401, Some("unauthorized")),
                "{path} with {given:?}"
            );
        }
    }
    let mut ok = common::json_req("GET", "/otp-status/+919876543210", "");
    ok.headers_mut().insert("x-api-key", key.parse().unwrap());
    assert_eq!(dispatch(&svc, &NoCalls, ok).await.status(), 404, "the right key passes");
    // Webhooks do not take the app key: they carry their own token.
    let hook = dispatch(&svc, &NoCalls, common::form_req("/answer", &[("CallUUID", "c")])).await;
    assert_eq!(hook.status(), 200);
    assert_eq!(snapshot(&svc).await, None);
}

on_both_stores!(
    app_routes_refuse_bad_input,
    webhooks_hang_up_on_bad_input,
    app_routes_need_the_local_api_key
);
