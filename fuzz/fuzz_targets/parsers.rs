//! Everything that reads untrusted input, and the XML the calls are built from.
//!
//! Input format: the first byte picks the case (`byte % 8`) and a variant (`byte / 8`, 0–31);
//! the rest is the payload. Cases that take several strings split the payload on `0xFF` (never
//! part of UTF-8) and read each piece as lossy UTF-8; missing pieces are empty.
//!
//! | case | feeds | variant |
//! | --- | --- | --- |
//! | 0 | `Phone::parse`, then `check_destination` | — |
//! | 1 | `Phone::normalize_lenient` | — |
//! | 2 | `http::json_body` + `string_field` | content type (bits 0–2), text/binary body (bit 3) |
//! | 3 | `http::Form::parse` + `Form::get` → `classify_hangup` | as for 2 |
//! | 4 | `classify_hangup`: CallStatus, HangupCause, HangupCauseCode, AnswerTime, Duration, BillDuration | — |
//! | 5 | `Keys::open_token`, `Keys::open_code` | — |
//! | 6 | `signature::verify`: token, URL, V3, V3 nonce, V2, V2 nonce | which are present (bits 0–4) |
//! | 7 | `script::render` → quick-xml, `vobiz::heard`: app name, prompts URL, action, voice, language, timeout | — |

#![no_main]

use std::sync::LazyLock;

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;
use quick_xml::events::{BytesStart, Event};
use shared::Error;
use shared::domain::locale::{Phrase, Voicing, find};
use shared::domain::script::{self, Speaker, Step, Voice};
use shared::domain::{Keys, Phone, Telephony};
use shared::http::{APP_BODY_LIMIT, Form, WEBHOOK_BODY_LIMIT, json_body, string_field};
use shared::vobiz::causes::{HangupReport, classify_hangup};
use shared::vobiz::signature::{self, Signatures, Verdict};
use shared::vobiz::{heard, spoken_words};

/// Separates the strings of one input.
const SEP: u8 = 0xFF;

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys::derive(&[7u8; 32]).expect("32 bytes is enough"));
static SOME_PHONE: LazyLock<Phone> = LazyLock::new(|| Phone::parse("+919876543210").expect("a valid number"));

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let variant = selector / 8;
    match selector % 8 {
        0 => phone(payload, false),
        1 => phone(payload, true),
        2 => json(variant, payload),
        3 => form(variant, payload),
        4 => hangup(payload),
        5 => token(payload),
        6 => signatures(variant, payload),
        _ => xml(payload),
    }
});

/// The payload's first `n` strings (split on [`SEP`], lossy UTF-8), padded with empty ones.
fn strings(payload: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = payload
        .splitn(n, |&b| b == SEP)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    out.resize(n, String::new());
    out
}

fn phone(payload: &[u8], lenient: bool) {
    let input = String::from_utf8_lossy(payload);
    let e164_ok = |p: &Phone| {
        let e164 = p.e164();
        assert!(
            e164.starts_with('+') && e164.len() > 1 && e164[1..].bytes().all(|b| b.is_ascii_digit()),
            "not E.164: {e164:?}"
        );
        let _ = p.masked().to_string();
        let _ = format!("{p:?}");
    };
    if lenient {
        let Ok(p) = Phone::normalize_lenient(&input) else {
            return;
        };
        e164_ok(&p);
        // E.164 output is a fixed point of normalisation.
        assert_eq!(Phone::normalize(p.e164()).as_ref().ok(), Some(&p), "{input:?}");
        return;
    }
    let Ok(p) = Phone::parse(&input) else { return };
    e164_ok(&p);
    let _ = p.check_destination(&["IN".to_owned(), "US".to_owned(), "GB".to_owned()]);
    // What full validation accepts, normalisation (verify, status, tokens) reads the same way.
    assert_eq!(
        Phone::normalize(&input).as_ref().ok(),
        Some(&p),
        "normalize disagrees with parse on {input:?}"
    );
    // E.164 output is a fixed point of parsing.
    assert_eq!(
        Phone::parse(p.e164()).as_ref().ok(),
        Some(&p),
        "{:?} does not parse back to itself",
        p.e164()
    );
}

/// A POST with `payload` as body and a content type chosen by `variant`: one of `canned`, or
/// (variants 6 and 7) the payload's first piece. `None` when the content type is not a valid
/// header value.
fn request(variant: u8, payload: &[u8], canned: &[Option<&str>; 6]) -> Option<(Request, Vec<u8>, usize)> {
    let which = usize::from(variant % 8);
    let (content_type, body): (Option<&[u8]>, &[u8]) = match canned.get(which) {
        Some(ct) => (ct.map(str::as_bytes), payload),
        None => match payload.iter().position(|&b| b == SEP) {
            Some(i) => (Some(&payload[..i]), &payload[i + 1..]),
            None => (None, payload),
        },
    };
    let body_vec = body.to_vec();
    let lambda_body = if variant & 8 != 0 {
        match String::from_utf8(body_vec.clone()) {
            Ok(text) => Body::Text(text),
            Err(_) => Body::Binary(body_vec.clone()),
        }
    } else if body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(body_vec.clone())
    };
    let mut builder = lambda_http::http::Request::builder().method("POST").uri("/x");
    if let Some(ct) = content_type {
        builder = builder.header(CONTENT_TYPE, ct);
    }
    builder.body(lambda_body).ok().map(|r| (r, body_vec, which))
}

fn json(variant: u8, payload: &[u8]) {
    const CANNED: [Option<&str>; 6] = [
        Some("application/json"),
        None,
        Some("Application/JSON; charset=UTF-8"),
        Some("application/vnd.otp+json"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ];
    let Some((req, body, which)) = request(variant, payload, &CANNED) else {
        return;
    };
    let result = json_body(&req);
    match which {
        4 | 5 => assert!(
            matches!(result, Err(Error::UnsupportedMediaType { .. })),
            "{:?} accepted as JSON",
            CANNED[which]
        ),
        0..=3 if body.len() > APP_BODY_LIMIT => assert!(
            matches!(result, Err(Error::PayloadTooLarge { .. })),
            "{} bytes accepted",
            body.len()
        ),
        _ => {}
    }
    let Ok(map) = result else { return };
    assert!(body.len() <= APP_BODY_LIMIT);
    for field in ["phone", "otp", "code", ""] {
        if let Ok(s) = string_field(&map, field) {
            // A string field of a parsed body goes on to the phone parser in the handlers.
            let _ = Phone::parse(s);
        }
    }
}

fn form(variant: u8, payload: &[u8]) {
    const CANNED: [Option<&str>; 6] = [
        Some("application/x-www-form-urlencoded"),
        None,
        Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
        Some("application/json"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
    ];
    let Some((req, body, which)) = request(variant, payload, &CANNED) else {
        return;
    };
    let result = Form::parse(&req);
    match which {
        3..=5 => assert!(
            matches!(result, Err(Error::UnsupportedMediaType { .. })),
            "{:?} accepted as a form",
            CANNED[which]
        ),
        0..=2 if body.len() > WEBHOOK_BODY_LIMIT => assert!(
            matches!(result, Err(Error::PayloadTooLarge { .. })),
            "{} bytes accepted",
            body.len()
        ),
        _ => {}
    }
    let Ok(form) = result else { return };
    assert!(body.len() <= WEBHOOK_BODY_LIMIT);
    for key in ["Event", "CallUUID", "RequestUUID", "From", "Direction", "Digits", ""] {
        let _ = form.get(key);
    }
    if let Some(to) = form.get("To") {
        let _ = Phone::normalize_lenient(to);
    }
    // As the hangup handler reads it.
    check_hangup(&HangupReport::from_fields(|k| form.get(k).unwrap_or("")));
}

fn hangup(payload: &[u8]) {
    let s = strings(payload, 7);
    check_hangup(&HangupReport {
        call_status: &s[0],
        hangup_cause: &s[1],
        hangup_cause_code: &s[2],
        answer_time: &s[3],
        duration: &s[4],
        bill_duration: &s[5],
        hangup_cause_name: &s[6],
    });
}

fn check_hangup(report: &HangupReport<'_>) {
    let t = classify_hangup(report);
    assert_eq!(Telephony::parse(t.as_str()), Some(t));
    let _ = (
        t.delivery(true, true),
        t.delivery(false, true),
        t.delivery(false, false),
    );
}

fn token(payload: &[u8]) {
    let token = String::from_utf8_lossy(payload);
    if let Some(p) = KEYS.open_token(&token) {
        // Only a token minted with these keys opens (the seed corpus has one).
        assert_eq!(Phone::parse(p.e164()).as_ref().ok(), Some(&p));
    }
    if let Some(code) = KEYS.open_code(&SOME_PHONE, "attempt-1", &token) {
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
    }
}

fn nonce_ok(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_graphic())
}

fn signatures(variant: u8, payload: &[u8]) {
    let s = strings(payload, 6);
    let present = |bit: u8, value: &str| -> Option<String> { (variant & (1 << bit) != 0).then(|| value.to_owned()) };
    let auth_token = present(0, &s[0]);
    let url = &s[1];
    let (v3, v3_nonce, v2, v2_nonce) = (
        present(1, &s[2]),
        present(2, &s[3]),
        present(3, &s[4]),
        present(4, &s[5]),
    );
    let sigs = Signatures {
        v3: v3.as_deref(),
        v3_nonce: v3_nonce.as_deref(),
        v2: v2.as_deref(),
        v2_nonce: v2_nonce.as_deref(),
    };
    match signature::verify(auth_token.as_deref(), url, &[], &sigs) {
        Verdict::Absent => assert!(v3.is_none() && v2.is_none()),
        Verdict::Valid { nonces } => {
            assert!(auth_token.is_some());
            assert!(!nonces.is_empty());
            for nonce in &nonces {
                assert!(nonce_ok(nonce));
                assert!(Some(nonce) == v3_nonce.as_ref() || Some(nonce) == v2_nonce.as_ref());
            }
        }
        Verdict::Invalid => assert!(v3.is_some() || v2.is_some()),
    }
    // What we sign ourselves verifies, for every well-formed nonce, and only those.
    if let Some(key) = auth_token.as_deref() {
        let nonce = &s[3];
        let expected = if nonce_ok(nonce) {
            Verdict::Valid {
                nonces: vec![nonce.clone()],
            }
        } else {
            Verdict::Invalid
        };
        let v3 = signature::sign_v3(key, url, nonce);
        assert_eq!(
            signature::verify(
                Some(key),
                url,
                &[],
                &Signatures {
                    v3: Some(&v3),
                    v3_nonce: Some(nonce),
                    ..Default::default()
                }
            ),
            expected
        );
        let v2 = signature::sign_v2(key, url, nonce);
        assert_eq!(
            signature::verify(
                Some(key),
                url,
                &[],
                &Signatures {
                    v2: Some(&v2),
                    v2_nonce: Some(nonce),
                    ..Default::default()
                }
            ),
            expected
        );
    }
}

/// XML 1.0's `Char` production (Rust strings hold no surrogates).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn xml(payload: &[u8]) {
    let s = strings(payload, 6);
    // The app's name, the prompts URL and the language are configuration, validated at start;
    // render must still make well-formed XML of anything.
    let (app, base_url, action) = (&s[0], &s[1], &s[2]);
    let voice = Voice {
        voice: s[3].clone(),
        gather_timeout: s[5]
            .bytes()
            .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b))),
    };
    let language = &s[4];
    let steps = [
        Step::Say(Phrase::Intro),
        Step::Wait(1),
        Step::Gather {
            action: action.clone(),
            prompt: Phrase::Prompt,
        },
        Step::Hangup,
    ];
    let en = find("en-US").expect("the en-US locale");
    let speaker = Speaker {
        locale: en,
        voicing: Voicing::Tts { language },
        voice: &voice,
        app_name: Some(app),
    };
    let xml = script::render(&steps, &speaker);
    let text = &en.text(Phrase::Intro, Some(app));
    let prompt = &en.text(Phrase::Prompt, None);
    // A prompt-pack call plays the files under any base URL, and heard() reads them back.
    let played = Speaker {
        voicing: Voicing::Prompts { base_url },
        ..speaker
    };
    let played_xml = script::render(&steps, &played);
    if base_url.chars().all(xml_char) && !base_url.contains(char::is_whitespace) {
        let urls: Vec<String> = heard(&played_xml, Some(app))
            .into_iter()
            .filter_map(|h| h.url)
            .collect();
        assert_eq!(
            urls,
            [
                played.audio_url(Phrase::Intro).unwrap(),
                played.audio_url(Phrase::Prompt).unwrap()
            ],
            "heard lost a played file:\n{played_xml}"
        );
    }
    // Text XML 1.0 cannot carry is dropped by render, so exact round trips hold for clean text only.
    let clean = [text, prompt, action, &voice.voice, language]
        .iter()
        .all(|t| t.chars().all(xml_char));

    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut collect = |e: &BytesStart<'_>, clean: bool| {
        for attr in e.attributes() {
            match attr.map_err(quick_xml::Error::from).and_then(|a| {
                Ok((
                    String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                    a.unescape_value()?.into_owned(),
                ))
            }) {
                Ok(kv) => attrs.push(kv),
                Err(e) => assert!(!clean, "bad attribute ({e}) in\n{xml}"),
            }
        }
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                collect(&e, clean);
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                collect(&e, clean);
                if depth == 0 {
                    roots += 1;
                }
            }
            Ok(Event::End(_)) => depth = depth.checked_sub(1).expect("quick-xml checks end tags"),
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                assert!(
                    !clean,
                    "render made XML that does not parse: {e} at byte {}\n{xml}",
                    reader.error_position()
                );
                break;
            }
        }
    }
    let words = spoken_words(&xml);
    // Whatever it was given, render never emits a character XML 1.0 forbids (it drops them).
    assert!(
        xml.chars().all(xml_char),
        "render emitted a character XML 1.0 forbids:\n{xml:?}"
    );
    if !clean {
        return;
    }
    assert_eq!((depth, roots), (0, 1), "not one closed root element:\n{xml}");
    assert_eq!(
        words,
        [text.trim(), prompt.trim()],
        "spoken_words lost or changed the text:\n{xml}"
    );
    let attr = |name: &str| {
        attrs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        attr("action"),
        [action.as_str()],
        "the Gather action did not survive:\n{xml}"
    );
    assert_eq!(
        attr("voice"),
        [voice.voice.as_str(); 2],
        "the voice did not survive:\n{xml}"
    );
    assert_eq!(
        attr("language"),
        [language.as_str(); 2],
        "the language did not survive:\n{xml}"
    );
}
