//! The fraud guard against the attacks it is for, on the memory store and on the DynamoDB
//! endpoint, with real users beside the attacker: bots driving an app's signup form to the
//! numbers of one block that earn from every call (revenue share fraud, "pumping"), and one
//! end user's IP cycling random numbers to burn the budget. A daily budget of 300 calls is set,
//! as an operator would: without the guard, the attacker spends it and real users get nothing
//! for the rest of the day.

mod common;

use std::sync::Arc;

use common::vobiz::{self as fake, fired};
use common::{TestService, config_with, json, json_req};
use serde_json::{Value, json};
use shared::ports::Store;
use shared::router::dispatch;
use shared::vobiz::VobizClient;
use wiremock::MockServer;

/// Sends the attacker makes.
const ATTACK: usize = 1000;
/// A real user comes every this many attacker sends.
const EVERY: usize = 20;
/// Attacker sends at once.
const AT_ONCE: usize = 10;

fn deployed<S: Store>(store: S, extra: &[(&str, &str)]) -> TestService<S> {
    let mut vars = vec![
        ("DAILY_CALL_BUDGET", "300"),
        ("CALLS_PER_MINUTE", "100000"),
        ("SEND_COOLDOWN_SECONDS", "0"),
    ];
    vars.extend_from_slice(extra);
    common::service_with(store, config_with(&vars)).0
}

async fn send<S: Store>(svc: &TestService<S>, calls: &VobizClient, body: Value) -> (u16, Value) {
    let r = dispatch(svc, calls, json_req("POST", "/send-otp", &body.to_string())).await;
    (r.status().as_u16(), json(&r))
}

/// A real user: its own number and IP, a call, and the code typed back. `true` if served.
async fn real_user<S: Store>(svc: &TestService<S>, calls: &VobizClient, i: usize) -> bool {
    // Distinct blocks, far from the attacked one.
    let phone = format!("+9179{i:05}123");
    let (status, body) = send(
        svc,
        calls,
        json!({"phone": phone, "signals": {"ip": format!("198.51.100.{}", i % 250), "user_id": format!("user-{i}")}, "client_ref": format!("signup-{i}")}),
    )
    .await;
    if status != 200 {
        assert_eq!((status, &body["error"]), (429, &json!("blocked")), "{phone}: {body}");
        return false;
    }
    assert_eq!(body["client_ref"], format!("signup-{i}"));
    let code = common::stored_code_of(svc, &phone).await;
    let r = dispatch(
        svc,
        calls,
        json_req("POST", "/verify-otp", &json!({"phone": phone, "otp": code}).to_string()),
    )
    .await;
    assert_eq!(r.status(), 200, "{phone} verifies");
    true
}

struct Run {
    attacker_calls: usize,
    attacker_refusals: Vec<String>,
    /// Real users served, in the first and the second half of the attack.
    served: [(usize, usize); 2],
}

/// The attack `body(i)` for `i` in `0..ATTACK`, `AT_ONCE` at a time, a real user after every
/// `EVERY` sends.
async fn attack<S: Store + 'static>(
    svc: Arc<TestService<S>>,
    server: &MockServer,
    body: impl Fn(usize) -> Value,
) -> Run {
    let calls = Arc::new(fake::client(server));
    let mut run = Run {
        attacker_calls: 0,
        attacker_refusals: Vec::new(),
        served: [(0, 0); 2],
    };
    for start in (0..ATTACK).step_by(AT_ONCE) {
        let tasks: Vec<_> = (start..start + AT_ONCE)
            .map(|i| {
                let (svc, calls, b) = (svc.clone(), calls.clone(), body(i));
                tokio::spawn(async move { send(&svc, &calls, b).await })
            })
            .collect();
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                200 => run.attacker_calls += 1,
                // Refused by the guard, never a 503: a hot counter is the attacker's own.
                429 if body["error"] == "blocked" => {
                    run.attacker_refusals.push(body["reason"].as_str().unwrap().into())
                }
                other => panic!("attacker send: {other} {body}"),
            }
        }
        if start % EVERY == 0 {
            let half = usize::from(start >= ATTACK / 2);
            run.served[half].1 += 1;
            run.served[half].0 += usize::from(real_user(&svc, &calls, start / EVERY).await);
        }
    }
    assert_eq!(
        fake::calls(server).await,
        run.attacker_calls + run.served[0].0 + run.served[1].0,
        "a call for every 200, none for a refusal"
    );
    run
}

fn assert_contained(run: &Run, reason: &str) {
    eprintln!(
        "attacker: {} calls of {ATTACK} sends; real users served {}/{} then {}/{}",
        run.attacker_calls, run.served[0].0, run.served[0].1, run.served[1].0, run.served[1].1
    );
    assert!(
        run.attacker_calls <= 50,
        "the attacker got {} calls",
        run.attacker_calls
    );
    assert!(
        run.attacker_refusals.iter().all(|r| r == reason),
        "{:?}",
        run.attacker_refusals
    );
    let (served, users) = run.served[1];
    assert!(
        served * 100 >= users * 95,
        "real users in the attack's second half: {served} of {users} served"
    );
}

/// 1 000 sends to consecutive numbers of one block (+91 98765 0xxxx), answered and never
/// verified: the block earns no more calls than its floor; real users of other blocks are served
/// throughout, and the day's budget is not spent.
async fn an_attack_on_one_block_gets_its_floor<S: Store + 'static>(store: S) {
    let svc = Arc::new(deployed(store, &[]));
    let server = fake::fake(201, fired()).await;
    let run = attack(svc, &server, |i| json!({"phone": format!("+91987650{:04}", i % 1000)})).await;
    assert_contained(&run, "block_velocity");
}

/// 1 000 sends from one end-user IP to random Indian mobiles: the IP's hourly limit holds.
async fn an_attack_from_one_ip_gets_its_hourly_limit<S: Store + 'static>(store: S) {
    let svc = Arc::new(deployed(store, &[]));
    let server = fake::fake(201, fired()).await;
    let run = attack(svc, &server, |i| {
        // Spread over blocks (a multiplicative step through the 9xxxxxxxxx range).
        let n = (i as u64 * 7_919_777 + 12_345) % 1_000_000_000;
        json!({"phone": format!("+919{n:09}"), "signals": {"ip": "203.0.113.9"}})
    })
    .await;
    assert_eq!(run.attacker_calls, 10, "FRAUD_IP_PER_HOUR");
    assert_contained(&run, "ip_velocity");
}

/// The same IPv6 end user, with a new address of its /64 for every send, is one end user.
async fn an_ipv6_attacker_is_counted_by_its_64<S: Store + 'static>(store: S) {
    let svc = Arc::new(deployed(store, &[("FRAUD_IP_PER_HOUR", "3")]));
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    let mut statuses = Vec::new();
    for i in 0..6 {
        let body = json!({"phone": format!("+9190000{i:02}456"), "signals": {"ip": format!("2001:db8:7:9::{i:x}")}});
        let (status, body) = send(&svc, &calls, body).await;
        statuses.push((status, body["reason"].as_str().map(str::to_owned)));
    }
    let refused = Some("ip_velocity".to_owned());
    assert_eq!(
        statuses,
        [
            (200, None),
            (200, None),
            (200, None),
            (429, refused.clone()),
            (429, refused.clone()),
            (429, refused)
        ]
    );
    // Another /64 is another end user.
    let (status, _) = send(
        &svc,
        &calls,
        json!({"phone": "+919000099456", "signals": {"ip": "2001:db8:7:a::1"}}),
    )
    .await;
    assert_eq!(status, 200);
}

/// A block whose users verify earns calls: with the floor at 3 and two verifications in three
/// calls, the block keeps being called; one that never verifies stops at 3.
async fn a_block_that_verifies_keeps_its_calls<S: Store + 'static>(store: S) {
    let svc = deployed(store, &[("FRAUD_BLOCK_FLOOR", "3")]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    for i in 0..12 {
        let phone = format!("+918888800{i:03}");
        let (status, body) = send(&svc, &calls, json!({"phone": phone})).await;
        assert_eq!(status, 200, "{i}: {body}");
        if i % 3 != 2 {
            let code = common::stored_code_of(&svc, &phone).await;
            let r = dispatch(
                &svc,
                &calls,
                json_req("POST", "/verify-otp", &json!({"phone": phone, "otp": code}).to_string()),
            )
            .await;
            assert_eq!(r.status(), 200);
        }
    }
    for i in 0..4 {
        let (status, body) = send(&svc, &calls, json!({"phone": format!("+918777700{i:03}")})).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            if i < 3 {
                (200, None)
            } else {
                (429, Some("block_velocity"))
            }
        );
    }
}

/// A safe number is never refused by the velocity rules, a denied prefix always.
async fn safe_and_deny_lists<S: Store + 'static>(store: S) {
    let svc = deployed(
        store,
        &[
            ("FRAUD_SAFE_LIST", "+9186666"),
            ("FRAUD_DENY_PREFIXES", "+9185555"),
            ("FRAUD_BLOCK_FLOOR", "2"),
        ],
    );
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    for i in 0..5 {
        let (status, body) = send(&svc, &calls, json!({"phone": format!("+918666600{i:03}")})).await;
        assert_eq!(status, 200, "a safe block: {body}");
    }
    let (status, body) = send(&svc, &calls, json!({"phone": "+918555500001"})).await;
    assert_eq!((status, body["reason"].as_str()), (429, Some("blocked_prefix")));
    assert_eq!(fake::calls(&server).await, 5);
}

/// Record mode: nothing is refused, and every send the guard would have refused is logged (and
/// counted: the `WouldBlock*` metric is emitted at the same line) with its reason. The log is
/// captured on this test's thread only (the runtime is single-threaded).
async fn record_mode_refuses_nothing_and_counts_every_would_be_refusal<S: Store + 'static>(store: S) {
    let svc = deployed(
        store,
        &[
            ("FRAUD_GUARD", "record"),
            ("FRAUD_BLOCK_FLOOR", "3"),
            ("FRAUD_IP_PER_HOUR", "2"),
            ("FRAUD_DENY_PREFIXES", "+9185555"),
        ],
    );
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    let log = Capture::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _on_this_thread = tracing::subscriber::set_default(subscriber);
    // Eight sends from one IP to one block, then two to a denied prefix (no IP).
    for i in 0..8 {
        let body = json!({"phone": format!("+918444400{i:03}"), "signals": {"ip": "203.0.113.77"}});
        let (status, body) = send(&svc, &calls, body).await;
        assert_eq!(status, 200, "{i}: {body}");
    }
    for i in 0..2 {
        let (status, _) = send(&svc, &calls, json!({"phone": format!("+91855550000{i}")})).await;
        assert_eq!(status, 200, "record mode refuses not even a denied prefix");
    }
    assert_eq!(fake::calls(&server).await, 10);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let would: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("the fraud guard would refuse this send"))
        .map(|l| {
            l.rsplit("reason=")
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .trim_matches('"')
        })
        .collect();
    // The IP's third send on (2 an hour), then the denied prefix twice.
    let mut expected = vec!["ip_velocity"; 6];
    expected.extend(["blocked_prefix"; 2]);
    assert_eq!(would, expected, "{text}");
}

#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Without the guard, the attack on one block is what it costs: the day's budget spent on the
/// attacker, and real users refused for the rest of the day.
#[tokio::test]
async fn without_the_guard_the_attacker_spends_the_budget() {
    let svc = Arc::new(deployed(shared::store::MemoryStore::new(), &[("FRAUD_GUARD", "off")]));
    let server = fake::fake(201, fired()).await;
    let calls = Arc::new(fake::client(&server));
    let (mut attacker, mut late_users_served) = (0, 0);
    for i in 0..ATTACK {
        let (status, body) = send(&svc, &calls, json!({"phone": format!("+91987650{:04}", i)})).await;
        attacker += usize::from(status == 200);
        assert!(status == 200 || body["error"] == "budget_exhausted", "{body}");
        if i % EVERY == 0 && i >= ATTACK / 2 {
            let user = json!({"phone": format!("+9179{i:05}123")});
            late_users_served += usize::from(send(&svc, &calls, user).await.0 == 200);
        }
    }
    eprintln!(
        "without the guard: the attacker got {attacker} calls, real users in the second half {late_users_served}"
    );
    assert!(attacker >= 250, "{attacker}");
    assert_eq!(late_users_served, 0);
}

/// Bad signals: 400 naming the field, nothing written, no call.
async fn bad_signals_change_nothing<S: Store + 'static>(store: S) {
    let svc = deployed(store, &[]);
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    for (body, field) in [
        (json!({"phone": "+919876543210", "signals": "203.0.113.9"}), "signals"),
        (
            json!({"phone": "+919876543210", "signals": {"ip": "203.0.113"}}),
            "signals.ip",
        ),
        (json!({"phone": "+919876543210", "signals": {"ip": 7}}), "signals.ip"),
        (
            json!({"phone": "+919876543210", "signals": {"device_id": ""}}),
            "signals.device_id",
        ),
        (
            json!({"phone": "+919876543210", "signals": {"user_id": "a\u{7}b"}}),
            "signals.user_id",
        ),
        (
            json!({"phone": "+919876543210", "client_ref": "x".repeat(129)}),
            "client_ref",
        ),
    ] {
        let (status, reply) = send(&svc, &calls, body).await;
        assert_eq!((status, &reply["error"]), (400, &json!("invalid_field")), "{reply}");
        assert!(reply["message"].as_str().unwrap().contains(field), "{field}: {reply}");
    }
    assert_eq!(fake::calls(&server).await, 0);
    assert!(
        svc.store
            .get(&shared::domain::Phone::parse("+919876543210").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

on_both_stores!(
    an_attack_on_one_block_gets_its_floor,
    an_attack_from_one_ip_gets_its_hourly_limit,
    an_ipv6_attacker_is_counted_by_its_64,
    a_block_that_verifies_keeps_its_calls,
    safe_and_deny_lists,
    record_mode_refuses_nothing_and_counts_every_would_be_refusal,
    bad_signals_change_nothing,
);
