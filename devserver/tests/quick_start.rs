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
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_devserver"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HTTP_PORT", port.to_string())
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

/// The digits of the first "callee hears:" line the server prints.
fn heard_digits(console: &mpsc::Receiver<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = console.recv_timeout(left) else { break };
        if let Some(heard) = line.split("callee hears:").nth(1) {
            return heard
                .split('…')
                .map(str::trim)
                .filter(|w| w.len() == 1 && w.as_bytes()[0].is_ascii_digit())
                .collect();
        }
    }
    panic!("the server printed no simulated call within 20 s");
}

#[tokio::test]
async fn the_quick_start_delivers_a_code_that_verifies_once() {
    let (_server, port, console) = start();
    let base = format!("http://127.0.0.1:{port}");
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

    let sent = http
        .post(format!("{base}/send-otp"))
        .json(&json!({ "phone": PHONE }))
        .send()
        .await
        .unwrap();
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
