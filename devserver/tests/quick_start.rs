//! The README's quick start, as a newcomer runs it: the `devserver` binary with no configuration
//! at all (memory store, simulated call), a send, the code read from what the server prints on
//! its console, the call ending `delivered`, and the code verifying once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PHONE: &str = "+919876543210";

/// The server process, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Starts `devserver` as `cargo run -p devserver` does, with an empty environment (but the port),
/// and forwards every line it prints on stdout.
fn start() -> (Server, u16, mpsc::Receiver<String>) {
    start_with(&[])
}

/// [`start`], with these variables set.
fn start_with(vars: &[(&str, &str)]) -> (Server, u16, mpsc::Receiver<String>) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_devserver"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HTTP_PORT", port.to_string())
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start devserver");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Server(child), port, rx)
}

/// What the callee hears, word by word, from the first "callee hears:" line the server prints.
fn heard_words(console: &mpsc::Receiver<String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = console.recv_timeout(left) else { break };
        if let Some(heard) = line.split("callee hears:").nth(1) {
            return heard.split('…').map(|w| w.trim().to_owned()).collect();
        }
    }
    panic!("the server printed no simulated call within 20 s");
}

/// The digits of the first "callee hears:" line the server prints.
fn heard_digits(console: &mpsc::Receiver<String>) -> String {
    heard_words(console)
        .into_iter()
        .filter(|w| w.len() == 1 && w.as_bytes()[0].is_ascii_digit())
        .collect()
}

/// An HTTP client, once the server at `base` answers.
async fn client_when_up(base: &str) -> reqwest::Client {
    let http = shared::tls::reqwest_builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/otp-status/{PHONE}")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not listen on {base}");
    http
}

/// `POST {base}{route}` with a JSON body.
async fn post(http: &reqwest::Client, base: &str, route: &str, body: Value) -> reqwest::Response {
    http.post(format!("{base}{route}")).json(&body).send().await.unwrap()
}

/// The README's first command, `cargo run -p devserver`, must pick the server among the
/// crate's binaries.
#[test]
fn cargo_run_picks_the_server() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    assert!(
        manifest
            .lines()
            .any(|l| l.replace(' ', "") == "default-run=\"devserver\""),
        "devserver/Cargo.toml needs default-run = \"devserver\""
    );
}

#[tokio::test]
async fn the_quick_start_delivers_a_code_that_verifies_once() {
    let (_server, port, console) = start();
    let base = format!("http://127.0.0.1:{port}");
    let http = client_when_up(&base).await;

    let sent = post(&http, &base, "/send-otp", json!({ "phone": PHONE })).await;
    assert_eq!(sent.status(), 200);
    let body: Value = sent.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["phone"].as_str()),
        (Some("calling"), Some(PHONE))
    );

    // The simulated callee hears the code (read twice or more); the first six digits are it.
    let digits = heard_digits(&console);
    assert!(digits.len() >= 6, "heard {digits:?}");
    let code = &digits[..6];
    assert_eq!(digits.len() % 6, 0, "the code is read whole: {digits:?}");
    assert!(digits.as_bytes().chunks(6).all(|c| c == code.as_bytes()), "{digits:?}");

    // The simulator hangs up after the answer: the attempt ends delivered.
    let mut status = Value::Null;
    for _ in 0..200 {
        status = http
            .get(format!("{base}/otp-status/%2B919876543210"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["status"], "delivered", "{status}");
    assert_eq!(status["call"]["outcome"], "answered", "{status}");

    let verify = |otp: String| {
        let http = http.clone();
        let url = format!("{base}/verify-otp");
        async move {
            let r = http
                .post(url)
                .json(&json!({"phone": PHONE, "otp": otp}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(verify(code.to_owned()).await, (200, json!({"valid": true})));
    let (status, again) = verify(code.to_owned()).await;
    assert_eq!((status, again["reason"].as_str()), (400, Some("already_used")));
}

/// The generated prompt packs (`scripts/prompt-packs.sh`; `scripts/test.sh` runs it first).
fn packs() -> std::path::PathBuf {
    let dir = std::env::var_os("PROMPTS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts"));
    assert!(
        dir.join("hi-IN").is_dir(),
        "no prompt packs in {}: run scripts/prompt-packs.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// Every prompt pack holds every phrase and digit as telephone audio: RIFF/WAVE, PCM, mono,
/// 8 kHz, 16-bit, at least a fifth of a second of sound.
#[test]
#[ignore = "needs the prompt packs: scripts/test.sh runs scripts/prompt-packs.sh first"]
fn every_prompt_pack_is_complete_telephone_audio() {
    let dir = packs();
    let packs: Vec<_> = shared::domain::locale::catalogue()
        .unwrap()
        .iter()
        .filter(|l| l.is_prompt_pack())
        .collect();
    assert!(packs.len() >= 5);
    for locale in packs {
        for phrase in shared::domain::locale::Phrase::ALL {
            let path = dir.join(&locale.tag).join(format!("{}.wav", phrase.file_stem(None)));
            let wav = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let u16_at = |i: usize| u16::from_le_bytes([wav[i], wav[i + 1]]);
            let u32_at = |i: usize| u32::from_le_bytes([wav[i], wav[i + 1], wav[i + 2], wav[i + 3]]);
            assert!(
                wav.len() > 44 && &wav[..4] == b"RIFF" && &wav[8..12] == b"WAVE",
                "{}",
                path.display()
            );
            // Walk the chunks: "fmt " gives the format, "data" the samples.
            let (mut at, mut format, mut data) = (12, None, 0);
            while at + 8 <= wav.len() {
                let (id, len) = (&wav[at..at + 4], u32_at(at + 4) as usize);
                if id == b"fmt " {
                    format = Some((u16_at(at + 8), u16_at(at + 10), u32_at(at + 12), u16_at(at + 22)));
                } else if id == b"data" {
                    data = len.min(wav.len() - at - 8);
                }
                at += 8 + len + (len & 1);
            }
            assert_eq!(
                format,
                Some((1, 1, 8000, 16)),
                "{}: PCM, mono, 8 kHz, 16-bit",
                path.display()
            );
            assert!(data >= 8000 * 2 / 5, "{}: {data} bytes of sound", path.display());
        }
    }
}

/// The quick start in Hindi: the local server serves the packs at /prompts, its simulated call
/// plays them (and would say if one were missing), the console shows the call in Hindi, and
/// the code heard in Hindi digits verifies.
#[tokio::test]
#[ignore = "needs the prompt packs: scripts/test.sh runs scripts/prompt-packs.sh first"]
async fn a_hindi_call_through_the_local_server_plays_the_served_pack() {
    let dir = packs();
    let (_server, port, console) = start_with(&[("PROMPTS_DIR", dir.to_str().unwrap())]);
    let base = format!("http://127.0.0.1:{port}");
    let http = client_when_up(&base).await;

    let sent = post(&http, &base, "/send-otp", json!({ "phone": PHONE, "locale": "hi-IN" })).await;
    assert_eq!(sent.status(), 200);
    assert_eq!(sent.json::<Value>().await.unwrap()["locale"], "hi-IN");

    let hi = shared::domain::locale::find("hi-IN").unwrap();
    let words = heard_words(&console);
    assert_eq!(words[0], hi.phrases.gate, "{words:?}");
    assert!(words.contains(&hi.phrases.intro), "{words:?}");
    let digit_words = hi.digits.as_ref().unwrap();
    let code: String = words
        .iter()
        .filter_map(|w| digit_words.iter().position(|d| d == w))
        .map(|d| char::from(b'0' + d as u8))
        .collect();
    assert_eq!(code.len(), 12, "the code, read twice: {words:?}");
    let code = &code[..6];
    // Every played file was served: the simulator prints a warning line otherwise.
    while let Ok(line) = console.recv_timeout(Duration::from_millis(500)) {
        assert!(!line.contains("prompts not served"), "{line}");
    }
    let verified = post(&http, &base, "/verify-otp", json!({"phone": PHONE, "otp": code})).await;
    assert_eq!(verified.status(), 200);

    let audio = http.get(format!("{base}/prompts/hi-IN/7.wav")).send().await.unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(audio.headers()["content-type"], "audio/wav");
    assert_eq!(&audio.bytes().await.unwrap()[..4], b"RIFF");
    for outside in [
        "hi-IN/STARTER",
        "hi-IN/%2e%2e%2f%2e%2e%2fCargo.toml",
        "xx-YY/7.wav",
        "de-DE/7.wav",
        "hi-IN/8.mp3",
    ] {
        let r = http.get(format!("{base}/prompts/{outside}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{outside}");
    }
}

/// Delivery events, locally: the local server derives them from its store's changes with the
/// same code as otp-events, prints them, and posts them signed the Standard Webhooks way to
/// `EVENTS_WEBHOOK_URL`.
#[tokio::test]
async fn the_local_server_posts_signed_delivery_events() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let url = format!("{}/otp-events", receiver.uri());
    let (_server, port, console) = start_with(&[("EVENTS_WEBHOOK_URL", &url), ("EVENTS_WEBHOOK_SECRET", SECRET)]);
    let base = format!("http://127.0.0.1:{port}");
    let http = client_when_up(&base).await;
    let sent = post(&http, &base, "/send-otp", json!({ "phone": PHONE })).await;
    assert_eq!(sent.status(), 200);
    let code = heard_digits(&console)[..6].to_owned();
    let verified = post(&http, &base, "/verify-otp", json!({"phone": PHONE, "otp": code})).await;
    assert_eq!(verified.status(), 200);

    let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let kinds = loop {
        let requests = receiver.received_requests().await.unwrap();
        let mut kinds = Vec::new();
        for r in &requests {
            let mut headers = lambda_http::http::HeaderMap::new();
            for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
                headers.insert(name, r.headers[name].clone());
            }
            verifier
                .verify(&r.body, &headers)
                .expect("signed the Standard Webhooks way");
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(
                (body["phone"].as_str(), body["test"].as_bool()),
                (Some(PHONE), Some(false))
            );
            kinds.push(body["type"].as_str().unwrap().to_owned());
        }
        if kinds.len() >= 2 || Instant::now() > deadline {
            break kinds;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // (The verify can overtake the simulated call's hangup: two changes, either order.)
    let mut kinds = kinds;
    kinds.sort();
    assert_eq!(kinds, ["call.delivered", "otp.verified"]);
    // And on the console, as the app would receive them.
    let mut printed = Vec::new();
    while let Ok(line) = console.recv_timeout(Duration::from_millis(300)) {
        if let Some(rest) = line.strip_prefix("📣 event ") {
            printed.push(rest.split(':').next().unwrap().to_owned());
        }
    }
    assert!(printed.contains(&"otp.verified".to_owned()), "{printed:?}");
}
