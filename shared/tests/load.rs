//! A bank's login spike on the send path: 1 000 sends to 1 000 numbers from 100 concurrent
//! clients, against the DynamoDB endpoint, which `scripts/test.sh` runs in its contention mode
//! (concurrent transactions on one item are cancelled with `TransactionConflict`, one item
//! written past its rate is throttled: `scripts/dynamodb-endpoint.py`). With the ceiling above
//! the load none is refused; with it below, exactly the ceiling's number of calls reaches the
//! fake Vobiz, and every refusal is the global one, never the per-number message or a 503.
//! Prints sends per second and latency percentiles: figures, not assertions. (The same spike on
//! one counter item, the design the shards replaced, was measured once: bench/README.md.)

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::vobiz::{self as fake, fired};
use common::{json, json_req};
use shared::router::dispatch;
use wiremock::MockServer;

const SENDS: usize = 1000;
const CLIENTS: usize = 100;

struct Spike {
    statuses: Vec<(u16, String)>,
    calls: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

async fn spike(calls_per_minute: u32, shards: u32) -> Spike {
    let store = common::dynamo_store().await;
    let (cpm, shards) = (calls_per_minute.to_string(), shards.to_string());
    let (svc, _clock) = common::service_with(
        store,
        // Consecutive numbers, ten to a block, none verified: what the fraud guard's block rule
        // is for (shared/tests/fraud.rs). This measures the ceiling.
        common::config_with(&[
            ("CALLS_PER_MINUTE", &cpm),
            ("CALL_COUNTER_SHARDS", &shards),
            ("FRAUD_GUARD", "off"),
        ]),
    );
    let svc = Arc::new(svc);
    let vobiz = Arc::new(fake::fake(201, fired()).await);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (svc, vobiz, next) = (svc.clone(), vobiz.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= SENDS {
                    break out;
                }
                let body = format!(r#"{{"phone":"+9198765{i:05}"}}"#);
                let t = Instant::now();
                let resp = dispatch(&*svc, &fake::client(&vobiz), json_req("POST", "/send-otp", &body)).await;
                let status = resp.status().as_u16();
                let error = json(&resp)["message"].as_str().unwrap_or("").to_owned();
                out.push((status, error, t.elapsed()));
            }
        }));
    }
    let mut statuses = Vec::new();
    let mut latencies = Vec::new();
    for c in clients {
        for (status, error, latency) in c.await.unwrap() {
            statuses.push((status, error));
            latencies.push(latency);
        }
    }
    let elapsed = started.elapsed();
    let calls = vobiz.received_requests().await.unwrap().len();
    Spike {
        statuses,
        calls,
        elapsed,
        latencies,
    }
}

fn report(what: &str, s: &mut Spike) {
    s.latencies.sort_unstable();
    let refused = s.statuses.iter().filter(|(status, _)| *status != 200).count();
    let pct = |p: f64| s.latencies[((s.latencies.len() as f64 * p) as usize).min(s.latencies.len() - 1)];
    eprintln!(
        "load: {what}: {SENDS} sends from {CLIENTS} clients in {:.2} s = {:.0} sends/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} calls placed, {refused} refused; endpoint contention mode {}",
        s.elapsed.as_secs_f64(),
        SENDS as f64 / s.elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        s.latencies.last().unwrap().as_secs_f64() * 1000.0,
        s.calls,
        std::env::var("DYNAMODB_ENDPOINT_CONFLICTS").unwrap_or_else(|_| "off".into()),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a DynamoDB endpoint: scripts/test.sh starts one and runs it"]
async fn a_spike_under_the_ceiling_is_never_refused() {
    let mut s = spike(100_000, 32).await;
    report("ceiling 100000/min, 32 shards", &mut s);
    let refused: Vec<&(u16, String)> = s.statuses.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        refused.is_empty(),
        "{} refused, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    assert_eq!(s.calls, SENDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a DynamoDB endpoint: scripts/test.sh starts one and runs it"]
async fn a_spike_over_the_ceiling_places_exactly_the_ceiling() {
    let mut s = spike(300, 32).await;
    report("ceiling 300/min (6 shards)", &mut s);
    assert_eq!(s.calls, 300, "exactly the ceiling reaches Vobiz");
    let ok = s.statuses.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(ok, 300);
    for (status, message) in s.statuses.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 429, "{message}");
        assert!(
            message.starts_with("the service is placing too many calls"),
            "{message}"
        );
    }
}

/// Many sends to one number at once: one call, and the others are told about that number
/// (its cooldown), never a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a DynamoDB endpoint: scripts/test.sh starts one and runs it"]
async fn racing_sends_to_one_number_on_a_contended_endpoint() {
    let store = common::dynamo_store().await;
    let (svc, _clock) = common::service(store);
    let svc = Arc::new(svc);
    let vobiz: Arc<MockServer> = Arc::new(fake::fake(201, fired()).await);
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (svc, vobiz) = (svc.clone(), vobiz.clone());
        tasks.push(tokio::spawn(async move {
            let resp = dispatch(
                &*svc,
                &fake::client(&vobiz),
                json_req("POST", "/send-otp", r#"{"phone":"+919876543210"}"#),
            )
            .await;
            resp.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    assert_eq!(vobiz.received_requests().await.unwrap().len(), 1);
}
