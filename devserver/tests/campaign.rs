//! The bad-input campaign: 10 000 generated requests against the local server (random JSON,
//! wrong types, huge and deeply nested bodies, invalid UTF-8, base64 bodies, unicode and
//! formatted phone numbers, wrong methods and content types, forms with repeated keys, guessed
//! and mangled tokens, forged signatures). Every reply must be a response (no panic, no dropped
//! connection), never a 5xx, and a rejected request must leave the store exactly as it was.

use std::sync::{Arc, Mutex};

use base64::Engine;
use devserver::{App, serve};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use shared::Config as AppConfig;
use shared::domain::Keys;
use shared::domain::locale::find as locale;
use shared::handlers::Service;
use shared::ports::{CallPlacer, CallRequest, PlacedCall};
use shared::store::MemoryStore;

/// Accepts every call and remembers the last one (its URLs carry the token).
#[derive(Default)]
struct Accept(Mutex<Option<CallRequest>>);

impl CallPlacer for Accept {
    async fn place_call(&self, req: &CallRequest) -> shared::Result<PlacedCall> {
        *self.0.lock().unwrap() = Some(req.clone());
        Ok(PlacedCall {
            request_uuid: "campaign".into(),
        })
    }
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn phone() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("+919876543210".to_owned()),
        Just("+91 98765 43210".to_owned()),
        Just("+91-98765-43210".to_owned()),
        Just("+91 (98765) 43210".to_owned()),
        Just("+९१९८७६५४३२१०".to_owned()),
        Just("＋９１９８７６５４３２１０".to_owned()),
        Just("+91\u{200b}9876543210".to_owned()),
        Just("919876543210".to_owned()),
        Just("+447911123456".to_owned()),
        Just("+18005550123".to_owned()),
        "[+0-9 ()./-]{0,24}",
        "\\PC{0,24}",
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,30}".prop_map(Value::String),
        phone().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![Just("phone".to_owned()), Just("otp".to_owned()), "[a-z]{1,8}"],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let form_key = prop_oneof![
        Just("CallUUID".to_owned()),
        Just("To".to_owned()),
        Just("Digits".to_owned()),
        Just("Event".to_owned()),
        Just("HangupCause".to_owned()),
        Just("AnswerTime".to_owned()),
        Just("BillDuration".to_owned()),
        "[A-Za-z]{1,10}",
    ];
    let form_value = prop_oneof![
        Just("1".to_owned()),
        Just("919876543210".to_owned()),
        Just("c-1".to_owned()),
        "\\PC{0,20}"
    ];
    prop_oneof![
        3 => json_value().prop_map(|v| v.to_string().into_bytes()),
        3 => (phone(), prop::option::of(prop_oneof!["[0-9]{0,12}", "\\PC{0,8}"]))
            .prop_map(|(p, otp)| match otp {
                Some(o) => serde_json::json!({"phone": p, "otp": o}).to_string().into_bytes(),
                None => serde_json::json!({"phone": p}).to_string().into_bytes(),
            }),
        1 => (1usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
        1 => (1usize..3000).prop_map(|n| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)).into_bytes()),
        1 => (3_000usize..300_000).prop_map(|n| format!("{{\"phone\":\"+91{}\"}}", "9".repeat(n)).into_bytes()),
        2 => prop::collection::vec(any::<u8>(), 0..400),
        1 => json_value().prop_map(|v| base64::engine::general_purpose::STANDARD.encode(v.to_string()).into_bytes()),
        3 => prop::collection::vec((form_key, form_value), 0..8)
            .prop_map(|kv| serde_urlencoded::to_string(&kv).unwrap_or_default().into_bytes()),
        1 => Just(Vec::new()),
    ]
}

fn request(token: String) -> impl Strategy<Value = Req> {
    let mangled = {
        let t = token.clone();
        (0..t.len(), any::<u8>()).prop_map(move |(i, b)| {
            let mut bytes = t.clone().into_bytes();
            bytes[i] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[b as usize % 64];
            String::from_utf8(bytes).unwrap()
        })
    };
    let token_like = prop_oneof![Just(token), mangled, "[A-Za-z0-9_-]{0,120}", "[%./+ a-z]{0,12}"];
    let encoded_phone = phone().prop_map(|p| {
        p.replace('%', "%25")
            .replace('+', "%2B")
            .replace(' ', "%20")
            .replace('/', "%2F")
            .replace('?', "%3F")
            .replace('#', "%23")
    });
    let path = prop_oneof![
        3 => Just("/send-otp".to_owned()),
        3 => Just("/verify-otp".to_owned()),
        2 => encoded_phone.prop_map(|p| format!("/otp-status/{p}")),
        1 => Just("/answer".to_owned()),
        2 => (prop_oneof![Just("answer"), Just("otp-choice"), Just("hangup")], token_like).prop_map(|(r, t)| format!("/{r}/{t}")),
        1 => "/[a-z/-]{0,30}",
    ]
    .prop_map(|p| p.chars().filter(|c| c.is_ascii_graphic()).collect::<String>())
    .prop_filter("a path", |p| p.starts_with('/'));
    let method = prop_oneof![
        6 => Just("POST".to_owned()),
        2 => Just("GET".to_owned()),
        1 => prop_oneof![Just("PUT".to_owned()), Just("DELETE".to_owned()), Just("PATCH".to_owned()), Just("OPTIONS".to_owned())],
    ];
    let content_type = prop_oneof![
        3 => Just(Some("application/json".to_owned())),
        3 => Just(Some("application/x-www-form-urlencoded".to_owned())),
        1 => Just(Some("text/plain".to_owned())),
        1 => Just(Some("application/json; charset=utf-16".to_owned())),
        1 => Just(None),
        1 => "[ -~]{0,40}".prop_map(Some),
    ];
    let header = prop_oneof![
        Just(("x-vobiz-signature-v3".to_owned(), "c2lnbmF0dXJl".to_owned())),
        Just(("x-vobiz-signature-v3-nonce".to_owned(), "n-1".to_owned())),
        Just(("x-vobiz-signature-v2".to_owned(), "[ -~]{0,20}".to_owned())),
        Just(("x-api-key".to_owned(), "guess".to_owned())),
        ("x-[a-z]{1,8}", "[ -~]{0,20}"),
    ];
    (method, path, content_type, prop::collection::vec(header, 0..3), body()).prop_map(
        |(method, path, content_type, headers, body)| Req {
            method,
            path,
            content_type,
            headers,
            body,
        },
    )
}

#[test]
fn ten_thousand_generated_requests_never_break_anything() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let (base, app) = rt.block_on(async {
        let cfg = AppConfig::from_lookup(|k| match k {
            "VOBIZ_AUTH_TOKEN" => Some("campaign-auth-token".into()),
            "PUBLIC_URL" => Some("http://127.0.0.1:9".into()),
            _ => None,
        })
        .unwrap();
        let keys = Keys::derive(&[3u8; 32]).unwrap();
        let app = Arc::new(App {
            svc: Service::new(&cfg, keys, MemoryStore::new()),
            calls: Accept::default(),
            prompts: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, app.clone()));
        (base, app)
    });
    let http = shared::tls::reqwest_builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    // A live attempt to protect, and its real token for the generator to use and mangle.
    let sent = rt
        .block_on(
            http.post(format!("{base}/send-otp"))
                .json(&serde_json::json!({"phone": "+919876543210"}))
                .send(),
        )
        .unwrap();
    assert_eq!(sent.status(), 200);
    let call = app.calls.0.lock().unwrap().clone().unwrap();
    let token = call.answer_url.rsplit('/').next().unwrap().to_owned();

    let mut runner = TestRunner::new(Config {
        cases: 10_000,
        failure_persistence: None,
        ..Config::default()
    });
    let mut by_status = std::collections::BTreeMap::<u16, u32>::new();
    let tally = std::cell::RefCell::new(&mut by_status);
    runner
        .run(&request(token), |r| {
            let before = app.svc.store.snapshot();
            let (status, allow, text) = rt.block_on(async {
                let mut b = http
                    .request(r.method.parse().unwrap(), format!("{base}{}", r.path))
                    .body(r.body.clone());
                if let Some(ct) = &r.content_type {
                    b = b.header("content-type", ct);
                }
                for (k, v) in &r.headers {
                    b = b.header(k, v);
                }
                let resp = b.send().await.unwrap_or_else(|e| panic!("no response to {r:?}: {e}"));
                let status = resp.status().as_u16();
                let allow = resp.headers().get("allow").cloned();
                (status, allow, resp.text().await.unwrap_or_default())
            });
            *tally.borrow_mut().entry(status).or_default() += 1;
            prop_assert!(status < 500, "{status} for {r:?}: {text}");
            prop_assert!(status != 405 || allow.is_some(), "a 405 without Allow for {r:?}");
            // Rejected: an error body, or a webhook's apology. (A wrong code on /verify-otp is
            // not rejected: it is a checked guess, and counting it is the point.)
            let error_body = serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.get("error").is_some());
            let rejected = (status >= 400 && error_body) || text.contains(&locale("en-IN").unwrap().phrases.apology);
            if rejected {
                prop_assert!(
                    app.svc.store.snapshot() == before,
                    "a rejected request ({status}) changed the store: {r:?}"
                );
            }
            Ok(())
        })
        .unwrap();
    // Still serving, and the protected attempt's code still readable by its real call.
    let alive = rt
        .block_on(http.get(format!("{base}/otp-status/%2B919876543210")).send())
        .unwrap();
    assert!(alive.status().is_success() || alive.status() == 400 || alive.status() == 404);
    eprintln!("campaign: 10000 requests, replies by status: {by_status:?}");
}

/// Every 405 the local server gives names the methods the resource allows (RFC 9110): the
/// prompt files (GET, HEAD) and every route of the table.
#[tokio::test]
async fn every_405_names_the_allowed_methods() {
    let cfg = AppConfig::from_lookup(|_| None).unwrap();
    let app = Arc::new(App {
        svc: Service::new(&cfg, Keys::derive(&[3u8; 32]).unwrap(), MemoryStore::new()),
        calls: Accept::default(),
        prompts: Some(std::env::temp_dir().join("otp-call-no-prompts")),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, app));
    let http = shared::tls::reqwest_builder().build().unwrap();
    let mut refused = Vec::new();
    for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let mut paths = vec!["/prompts/en-IN/7.wav".to_owned()];
        paths.extend(
            shared::routes::ROUTES
                .iter()
                .map(|r| r.path.replace("{phone}", "%2B919876543210").replace("{token}", "t")),
        );
        for path in paths {
            let resp = http
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .send()
                .await
                .unwrap();
            if resp.status() == 405 {
                let allow = resp.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
                refused.push((method, path, allow));
            }
        }
    }
    let prompts: Vec<_> = refused.iter().filter(|(_, p, _)| p.starts_with("/prompts/")).collect();
    assert_eq!(prompts.len(), 5, "every method but GET and HEAD: {prompts:?}");
    assert!(
        refused.len() > prompts.len(),
        "the routes refuse methods too: {refused:?}"
    );
    for (method, path, allow) in &refused {
        let expected = if path.starts_with("/prompts/") {
            "GET, HEAD".to_owned()
        } else {
            shared::routes::allowed_methods(path).join(", ")
        };
        assert_eq!(allow.as_deref(), Some(expected.as_str()), "{method} {path}");
    }
}
