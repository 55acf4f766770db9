//! The callee's language and the code's shape, end to end on both stores: the app's `locale`,
//! the region's default, the refusal of a locale this deployment cannot speak, prompt packs
//! played with `<Play>` (never English text in a foreign voice), the code read twice.

mod common;

use common::vobiz::{self as fake, call_form, fired, last_token};
use common::{PHONE, TestService, form_req, json, json_req, readings, spoken_digits, stored_code, text};
use shared::domain::Phone;
use shared::domain::locale::find;
use shared::ports::Store;
use shared::router::dispatch;
use shared::vobiz::heard;
use wiremock::MockServer;

const PROMPTS: &str = "https://prompts.example/otp";

fn with_prompts(extra: &[(&'static str, &'static str)]) -> shared::Config {
    let mut vars = vec![("PROMPTS_BASE_URL", PROMPTS)];
    vars.extend_from_slice(extra);
    common::config_with(&vars)
}

async fn send<S: Store>(svc: &TestService<S>, server: &MockServer, body: &str) -> (u16, serde_json::Value) {
    let resp = dispatch(svc, &fake::client(server), json_req("POST", "/send-otp", body)).await;
    (resp.status().as_u16(), json(&resp))
}

async fn webhook<S: Store>(svc: &TestService<S>, server: &MockServer, route: &str, extra: &[(&str, &str)]) -> String {
    let token = last_token(server).await;
    let resp = dispatch(
        svc,
        &fake::client(server),
        form_req(&format!("/{route}/{token}"), &call_form(extra)),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
    text(&resp)
}

async fn status<S: Store>(svc: &TestService<S>, server: &MockServer) -> serde_json::Value {
    json(
        &dispatch(
            svc,
            &fake::client(server),
            json_req("GET", "/otp-status/%2B919876543210", ""),
        )
        .await,
    )
}

/// A Hindi send: every phrase and digit is a `<Play>` of the hi-IN pack, the code is read twice
/// from its digit files, the repeat is Hindi too, and status reports the locale.
async fn a_hindi_call_plays_the_hindi_pack<S: Store>(store: S) {
    let (svc, _clock) = common::service_with(store, with_prompts(&[("APP_NAME", "Acme")]));
    let server = fake::fake(201, fired()).await;
    let (code, body) = send(&svc, &server, &format!(r#"{{"phone":"{PHONE}","locale":"hi-IN"}}"#)).await;
    assert_eq!((code, body["locale"].as_str()), (200, Some("hi-IN")), "{body}");
    let secret = stored_code(&svc).await;

    let xml = webhook(&svc, &server, "answer", &[("Event", "StartApp")]).await;
    assert!(
        !xml.contains("<Speak"),
        "no text-to-speech in a prompt-pack call: {xml}"
    );
    assert!(
        xml.contains(&format!("<Play>{PROMPTS}/hi-IN/intro-acme.wav</Play>")),
        "{xml}"
    );
    assert_eq!(readings(&xml).len(), 2, "read twice in a row: {xml}");
    assert_eq!(spoken_digits(&xml), secret);
    for d in secret.chars() {
        assert!(xml.contains(&format!("<Play>{PROMPTS}/hi-IN/{d}.wav</Play>")));
    }
    // What the callee hears, read back through the locale file: Hindi words, no English.
    let words: Vec<String> = heard(&xml, Some("Acme")).into_iter().map(|h| h.text).collect();
    assert_eq!(words[0], "आपका Acme सत्यापन कोड है");
    let hi = find("hi-IN").unwrap();
    let first = usize::from(secret.as_bytes()[0] - b'0');
    assert_eq!(words[1], hi.digits.as_ref().unwrap()[first]);
    assert!(words.contains(&hi.phrases.prompt), "{words:?}");
    assert!(!words.concat().contains("code is"), "{words:?}");

    let again = webhook(&svc, &server, "otp-choice", &[("Digits", "1")]).await;
    assert_eq!(spoken_digits(&again), secret);
    assert!(!again.contains("<Speak"));
    assert_eq!(status(&svc, &server).await["locale"], "hi-IN");
}

/// With the key-press gate, the gate itself and its timeout are in the callee's language.
async fn the_gate_speaks_the_callees_language<S: Store>(store: S) {
    let (svc, _clock) = common::service_with(store, with_prompts(&[("OTP_KEYPRESS_GATE", "on")]));
    let server = fake::fake(201, fired()).await;
    send(&svc, &server, &format!(r#"{{"phone":"{PHONE}","locale":"ta-IN"}}"#)).await;
    let xml = webhook(&svc, &server, "answer", &[("Event", "StartApp")]).await;
    assert_eq!(spoken_digits(&xml), "");
    assert!(
        xml.contains(&format!("<Play>{PROMPTS}/ta-IN/gate.wav</Play>\n  </Gather>")),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<Play>{PROMPTS}/ta-IN/no-key.wav</Play>")),
        "{xml}"
    );
    let xml = webhook(&svc, &server, "otp-choice", &[("Digits", "4")]).await;
    assert_eq!(spoken_digits(&xml), stored_code(&svc).await);
    assert!(xml.contains("/ta-IN/intro.wav"));
}

/// Without a locale the number's region decides (`REGION_LOCALES`), else `CALL_LANGUAGE`; a
/// text-to-speech locale is spoken with its Vobiz language.
async fn the_region_decides_when_the_app_does_not<S: Store>(store: S) {
    let (svc, clock) = common::service_with(store, with_prompts(&[("REGION_LOCALES", "IN:te-IN")]));
    let server = fake::fake(201, fired()).await;
    let (_, body) = send(&svc, &server, &format!(r#"{{"phone":"{PHONE}"}}"#)).await;
    assert_eq!(body["locale"], "te-IN");
    let xml = webhook(&svc, &server, "answer", &[("Event", "StartApp")]).await;
    assert!(xml.contains("/te-IN/intro.wav"), "{xml}");

    clock.advance(31);
    let (_, body) = send(&svc, &server, &format!(r#"{{"phone":"{PHONE}","locale":"de-de"}}"#)).await;
    assert_eq!(
        body["locale"], "de-DE",
        "tags match case-insensitively and come back canonical"
    );
    let xml = webhook(&svc, &server, "answer", &[("Event", "StartApp")]).await;
    assert!(
        xml.contains("<Speak voice=\"WOMAN\" language=\"de-DE\">Ihr Bestätigungscode lautet</Speak>"),
        "{xml}"
    );
    assert_eq!(spoken_digits(&xml), stored_code(&svc).await);

    // The shipped defaults: an Indian number hears Indian English (Vobiz's en-GB voice).
    let (svc, _clock) = common::service(shared::store::MemoryStore::new());
    let (_, body) = send(&svc, &server, &format!(r#"{{"phone":"{PHONE}"}}"#)).await;
    assert_eq!(body["locale"], "en-IN");
    let xml = webhook(&svc, &server, "answer", &[("Event", "StartApp")]).await;
    assert!(
        xml.contains("language=\"en-GB\">Your verification code is</Speak>"),
        "{xml}"
    );
}

/// A locale this deployment cannot speak is a 400 that lists the ones it can, before any
/// write or call: an unknown tag, a prompt pack with no host, a non-string.
async fn an_unsupported_locale_changes_nothing<S: Store>(store: S) {
    let (svc, _clock) = common::service(store);
    let server = fake::fake(201, fired()).await;
    for locale in [r#""xx-YY""#, r#""hi-IN""#, r#""""#, r#""en_US""#] {
        let (code, body) = send(&svc, &server, &format!(r#"{{"phone":"{PHONE}","locale":{locale}}}"#)).await;
        assert_eq!(
            (code, body["error"].as_str()),
            (400, Some("unsupported_locale")),
            "{locale}: {body}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("en-IN") && message.contains("de-DE"), "{message}");
        assert!(!message.contains("hi-IN"), "no prompt host, no Hindi: {message}");
    }
    let (code, body) = send(&svc, &server, &format!(r#"{{"phone":"{PHONE}","locale":7}}"#)).await;
    assert_eq!((code, body["error"].as_str()), (400, Some("invalid_field")));
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "no call was placed"
    );
    assert!(
        svc.store.get(&Phone::parse(PHONE).unwrap()).await.unwrap().is_none(),
        "nothing was written"
    );
}

/// `CODE_READS` and `DIGIT_PAUSE_SECONDS` shape the reading.
async fn the_code_is_read_as_configured<S: Store>(store: S) {
    let (svc, _clock) = common::service_with(
        store,
        common::config_with(&[("CODE_READS", "3"), ("DIGIT_PAUSE_SECONDS", "2")]),
    );
    let server = fake::fake(201, fired()).await;
    send(&svc, &server, &format!(r#"{{"phone":"{PHONE}"}}"#)).await;
    let xml = webhook(&svc, &server, "answer", &[("Event", "StartApp")]).await;
    assert_eq!(readings(&xml), vec![stored_code(&svc).await; 3]);
    assert_eq!(xml.matches("<Wait length=\"2\"/>").count(), 18, "{xml}");
}

on_both_stores!(
    a_hindi_call_plays_the_hindi_pack,
    the_gate_speaks_the_callees_language,
    the_region_decides_when_the_app_does_not,
    an_unsupported_locale_changes_nothing,
    the_code_is_read_as_configured,
);
