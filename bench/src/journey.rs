//! One whole verification through the function binaries, for the cost model (`cost.rs`): send,
//! the pickup, the key press of the key-press gate (the code is read), one repeat (`Digits=1`),
//! the hangup, the verify with the right code, one status read. A fresh number; each step in a
//! fresh process of its function, fed the `events/` fixture of its route with the number, the
//! webhook token send-otp gave Vobiz and the code put in.
//!
//! While each step runs, the counting proxy's tap is open: every DynamoDB request is held until
//! the items it names have been read (straight from the endpoint, not counted), so each request's
//! before-image is exact; its after-image is the next request's before-image of the same item, or
//! the item read once the step is over.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use serde_json::Value;
use shared::domain::Phone;

use crate::cost::{self, Access, ItemRef, Request, Step, Touch};
use crate::proxy::Tapped;
use crate::scenario;
use crate::seed::{FIXTURE_PHONE, Numbers};
use crate::{CaseResult, Ctx, runtime_api};

/// The functions a verification goes through.
pub const FUNCTIONS: &[&str] = &["send-otp", "answer", "otp-choice", "hangup", "verify-otp", "otp-status"];

/// The table's key attributes (template.yaml: `pk` only).
const KEY: &[&str] = &["pk"];

/// The fixtures' webhook token (every webhook fixture carries the same one).
fn fixture_token(events: &std::path::Path) -> Result<String, String> {
    let ev = scenario::load_event(events, "answer-started.json")?;
    ev["pathParameters"]["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "answer-started.json has no token".into())
}

/// Runs one verification and prices it. Durations come from `results` (this run's warm invokes
/// of the same route) where there are some, else from the step's own invoke.
pub async fn run(ctx: &Ctx, results: &[CaseResult]) -> Result<cost::Verification, String> {
    let prices = cost::Prices::parse(cost::PRICES_JSON)?;
    // A series of its own (the cases use 10..=17, the fixtures and floors 76 and 70).
    let phone = Numbers::new(95).fresh();
    ctx.seeder.delete(&phone).await?;
    let outcome = steps(ctx, &phone, results).await;
    let moto = match &outcome {
        Ok(_) => consumed_capacity_probe(ctx, &phone).await,
        Err(_) => None,
    };
    let cleaned = ctx.seeder.delete(&phone).await;
    let steps = outcome?;
    cleaned?;
    Ok(cost::Verification {
        steps,
        prices,
        profile: ctx.o.profile.clone(),
        moto_consumed: moto,
    })
}

async fn steps(ctx: &Ctx, phone: &Phone, results: &[CaseResult]) -> Result<Vec<Step>, String> {
    let events = &ctx.o.events;
    let old_token = fixture_token(events)?;
    let old_digits = FIXTURE_PHONE.trim_start_matches('+');
    let digits = phone.e164().trim_start_matches('+').to_owned();
    let mut out = Vec::new();

    // 1. send-otp: a call is placed; the token is in the answer URL Vobiz was given.
    *ctx.vobiz.last_call.lock().unwrap() = None;
    let ev = event(events, "send-otp.json", &[(old_digits, &digits)])?;
    let (body, step) = run_step(ctx, results, "send", "send-otp", "send-otp", ev).await?;
    expect(&body, 200, "\"status\":\"calling\"")?;
    out.push(step);
    let call = ctx
        .vobiz
        .last_call
        .lock()
        .unwrap()
        .clone()
        .ok_or("send-otp placed no call")?;
    let call: Value = serde_json::from_str(&call).map_err(|e| format!("the call request is not JSON: {e}"))?;
    let token = call["answer_url"]
        .as_str()
        .and_then(|u| u.rsplit_once("/answer/"))
        .map(|(_, t)| t.to_owned())
        .ok_or("the call request has no answer URL with a token")?;
    // The code, from the record send-otp wrote (sealed under the fixtures' secret, which the
    // bench gives the functions as OTP_SECRET).
    let a = ctx.seeder.get(phone).await?.ok_or("send-otp stored no attempt")?;
    let code = a
        .code_sealed
        .as_deref()
        .and_then(|sealed| ctx.seeder.keys.open_code(phone, &a.attempt_id, sealed))
        .ok_or("the stored code cannot be opened")?;

    let webhook = |file: &str, extra: &[(&str, &str)]| {
        let mut subs = vec![(old_token.as_str(), token.as_str()), (old_digits, digits.as_str())];
        subs.extend_from_slice(extra);
        event(events, file, &subs)
    };
    // 2. The pickup: the key-press gate asks for a key.
    let ev = webhook("answer-started.json", &[])?;
    let (body, step) = run_step(ctx, results, "answer (pickup, key-press gate)", "answer", "answer", ev).await?;
    expect(&body, 200, "<Gather")?;
    out.push(step);
    // 3. The key: the code is read. 4. One repeat.
    for (label, subs) in [
        (
            "otp-choice (the gate's key: code read)",
            &[("Digits=1", "Digits=5")][..],
        ),
        ("otp-choice (repeat, Digits=1)", &[]),
    ] {
        let ev = webhook("otp-choice-repeat.json", subs)?;
        let (body, step) = run_step(ctx, results, label, "otp-choice", "otp-choice", ev).await?;
        // The code is read: digits are spoken, so the call says at least one `<Speak`.
        expect(&body, 200, "<Speak")?;
        out.push(step);
    }
    // 5. The hangup.
    let ev = webhook("hangup-answered.json", &[])?;
    let (body, step) = run_step(ctx, results, "hangup", "hangup", "hangup", ev).await?;
    expect(&body, 200, "<Hangup")?;
    out.push(step);
    // 6. The right code.
    let mut ev = scenario::load_event(events, "verify-otp.json")?;
    ev["body"] = Value::String(serde_json::json!({"phone": phone.e164(), "otp": code}).to_string());
    let (body, step) = run_step(
        ctx,
        results,
        "verify-otp (right code)",
        "verify-otp",
        "verify-otp (right code)",
        ev.to_string(),
    )
    .await?;
    expect(&body, 200, "\"valid\":true")?;
    out.push(step);
    // 7. One status read.
    let ev = event(events, "otp-status.json", &[(old_digits, &digits)])?;
    let (body, step) = run_step(ctx, results, "otp-status", "otp-status", "otp-status", ev).await?;
    expect(&body, 200, "\"status\":\"verified\"")?;
    out.push(step);
    Ok(out)
}

/// An `events/` fixture with each `(from, to)` replaced throughout.
fn event(events: &std::path::Path, file: &str, subs: &[(&str, &str)]) -> Result<String, String> {
    let mut ev = scenario::load_event(events, file)?.to_string();
    for (from, to) in subs {
        ev = ev.replace(from, to);
    }
    Ok(ev)
}

fn expect(body: &(u16, String), status: u16, contains: &str) -> Result<(), String> {
    if body.0 == status && body.1.contains(contains) {
        Ok(())
    } else {
        Err(format!(
            "unexpected reply {}: {}",
            body.0,
            body.1.chars().take(300).collect::<String>()
        ))
    }
}

/// One invocation in a fresh process, its DynamoDB requests tapped.
async fn run_step(
    ctx: &Ctx,
    results: &[CaseResult],
    name: &'static str,
    function: &'static str,
    case_label: &str,
    event: String,
) -> Result<((u16, String), Step), String> {
    let mut api = runtime_api::RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let log = ctx.logs.join(format!("{function}.log"));
    let (mut child, _) = ctx
        .spawn(function, api.addr, &ctx.function_env(function), &log)
        .map_err(|e| format!("{function}: {e}"))?;
    let result = async {
        api.first_next(&mut child, ctx.o.init_timeout).await?;
        let (out, requests) = tapped(ctx, &api, event).await?;
        if out.error {
            return Err(format!("{function} posted an error: {}", out.body));
        }
        let reply = scenario::read_reply(&out.body)?;
        let (billed_ms, ms_source) = match results.iter().find(|r| r.label == case_label && !r.warm.is_empty()) {
            Some(r) => (
                r.warm.mean_billed_ms(),
                format!("{} warm invokes of `{}`", r.warm.len(), r.label),
            ),
            None => (
                crate::stats::ms(out.latency).ceil(),
                "this step's own invoke: the route was not measured".to_owned(),
            ),
        };
        Ok((
            reply,
            Step {
                name,
                function,
                requests,
                api_requests: 1,
                billed_ms,
                ms_source,
            },
        ))
    }
    .await;
    runtime_api::stop(&mut child);
    result.map_err(|e| format!("{name}: {e}"))
}

/// One request as the tap saw it: what it is, the items it names and their sizes before it.
struct Seen {
    op: String,
    access: Option<Access>,
    items: Vec<ItemRef>,
    before: Vec<Option<u64>>,
}

/// Invokes with the proxy's tap open; returns the outcome and the requests with their touches.
async fn tapped(
    ctx: &Ctx,
    api: &runtime_api::RuntimeApi,
    event: String,
) -> Result<(runtime_api::Outcome, Vec<Request>), String> {
    let mut rx = ctx.proxy.tap.open();
    let serve = async {
        let mut seen = Vec::new();
        let mut error = None;
        while let Some(Tapped { target, body, release }) = rx.recv().await {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let op = target.rsplit('.').next().unwrap_or(&target).to_owned();
            let (access, items) = match cost::classify(&target, &body, KEY) {
                Some((a, items)) => (Some(a), items),
                None => (None, Vec::new()),
            };
            let mut before = Vec::new();
            for item in &items {
                match size_of(ctx, item).await {
                    Ok(s) => before.push(s),
                    Err(e) => {
                        error.get_or_insert(e);
                        before.push(None);
                    }
                }
            }
            let _ = release.send(());
            seen.push(Seen {
                op,
                access,
                items,
                before,
            });
        }
        (seen, error)
    };
    let call = async {
        let out = api.invoke(event, ctx.o.invoke_timeout).await;
        ctx.proxy.tap.close();
        out
    };
    let (out, (seen, error)) = tokio::join!(call, serve);
    let out = out?;
    if let Some(e) = error {
        return Err(e);
    }
    let mut requests = Vec::new();
    for (i, s) in seen.iter().enumerate() {
        let mut touches = Vec::new();
        for (j, item) in s.items.iter().enumerate() {
            // After this request: the next request's view of the same item, or the item now.
            let next = seen[i + 1..]
                .iter()
                .find_map(|later| later.items.iter().position(|x| x == item).map(|k| later.before[k]));
            let after = match next {
                Some(a) => a,
                None => size_of(ctx, item).await?,
            };
            touches.push(Touch {
                before: s.before[j],
                after,
            });
        }
        requests.push(Request {
            op: s.op.clone(),
            access: s.access,
            touches,
        });
    }
    Ok((out, requests))
}

/// A key in the JSON wire format as the SDK's values (strings and numbers: the table's key types).
fn sdk_key(key: &serde_json::Map<String, Value>) -> Option<HashMap<String, AttributeValue>> {
    key.iter()
        .map(|(k, v)| {
            let attr = if let Some(s) = v["S"].as_str() {
                AttributeValue::S(s.to_owned())
            } else {
                AttributeValue::N(v["N"].as_str()?.to_owned())
            };
            Some((k.clone(), attr))
        })
        .collect()
}

/// The size of an item now (`None`: absent), read straight from the endpoint (not counted).
async fn size_of(ctx: &Ctx, (table, key): &ItemRef) -> Result<Option<u64>, String> {
    let key = sdk_key(key).ok_or("a request names a key of a type the model does not read")?;
    let got = ctx
        .seeder
        .store
        .client()
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| format!("GetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    Ok(got.item().map(cost::item_size))
}

/// What moto says a strongly consistent GetItem of the verification's item consumed, beside what
/// DynamoDB's rule gives for its measured size.
async fn consumed_capacity_probe(ctx: &Ctx, phone: &Phone) -> Option<(f64, f64)> {
    let got = ctx
        .seeder
        .store
        .client()
        .get_item()
        .table_name(ctx.seeder.store.table())
        .key("pk", AttributeValue::S(format!("PHONE#{}", phone.e164())))
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .ok()?;
    let rule = cost::read_units(got.item().map_or(0, cost::item_size), true);
    Some((got.consumed_capacity()?.capacity_units()?, rule))
}
