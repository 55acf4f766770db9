//! One whole verification through the function binaries, counted for the cost model (`cost.rs`):
//! [`STEPS`], a fresh number, each step in a fresh process of its function fed its route's
//! `events/` fixture with the number, the webhook token send-otp gave Vobiz and the code put in,
//! its reply checked. Around each step: the proxy's counters, then a Scan straight to the
//! endpoint (not counted) for the size of every item.

use serde_json::Value;
use shared::domain::Phone;

use crate::cold_starts::CaseResult;
use crate::cost::{self, Step, Verification};
use crate::harness::Ctx;
use crate::seed::{FIXTURE_CODE, FIXTURE_PHONE, Numbers};
use crate::{proxy, runtime_api, scenario};

/// (step, function, the case its duration comes from, fixture, a substitution, what the reply
/// contains).
pub type StepSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (&'static str, &'static str),
    &'static str,
);

/// Send, the pickup (the key-press gate asks for a key), the key (the code is read),
/// one repeat, the hangup, the right code, one status read.
#[rustfmt::skip]
pub const STEPS: &[StepSpec] = &[
    ("send", "send-otp", "send-otp", "send-otp.json", ("", ""), "\"status\":\"calling\""),
    ("answer (pickup, key-press gate)", "answer", "answer", "answer-started.json", ("", ""), "<Gather"),
    ("otp-choice (the gate's key: code read)", "otp-choice", "otp-choice", "otp-choice-repeat.json", ("Digits=1", "Digits=5"), "<Speak"),
    ("otp-choice (repeat, Digits=1)", "otp-choice", "otp-choice", "otp-choice-repeat.json", ("", ""), "<Speak"),
    ("hangup", "hangup", "hangup", "hangup-answered.json", ("", ""), "<Hangup"),
    ("verify-otp (right code)", "verify-otp", "verify-otp (right code)", "verify-otp.json", ("", ""), "\"valid\":true"),
    ("otp-status", "otp-status", "otp-status", "otp-status.json", ("", ""), "\"status\":\"verified\""),
];

/// The phase: the verification, or a note saying why there is none (a note starting "failed"
/// fails the run).
pub async fn phase(ctx: &Ctx, results: &[CaseResult]) -> (Option<Verification>, Option<String>) {
    if let Some(missing) = STEPS.iter().map(|s| s.1).find(|f| !ctx.binary(f).is_file()) {
        return (
            None,
            Some(format!("skipped: {} is missing", ctx.binary(missing).display())),
        );
    }
    eprintln!("bench: one whole verification, priced ...");
    match run(ctx, results).await {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(format!("failed: {e}"))),
    }
}

/// Runs one verification and counts it. Durations come from `results` (this run's warm invokes
/// of the same route) where there are some, else from the step's own invoke.
pub async fn run(ctx: &Ctx, results: &[CaseResult]) -> Result<Verification, String> {
    let prices = cost::Prices::parse(cost::PRICES_JSON)?;
    // A series of its own (the cases use 10..=17, the fixtures and floors 76 and 70).
    let phone = Numbers::new(95).fresh();
    ctx.seeder.delete(&phone).await?;
    let mut largest = sizes(ctx, &phone).await?.0;
    let mut steps = Vec::new();
    let outcome = walk(ctx, &phone, results, &mut largest, &mut steps).await;
    let cleaned = ctx.seeder.delete(&phone).await;
    outcome?;
    cleaned?;
    let profile = ctx.o.profile.clone();
    Ok(Verification {
        steps,
        largest_item: largest,
        prices,
        profile,
    })
}

async fn walk(
    ctx: &Ctx,
    phone: &Phone,
    results: &[CaseResult],
    largest: &mut u64,
    out: &mut Vec<Step>,
) -> Result<(), String> {
    let fixture_token = scenario::load_event(&ctx.o.events, "answer-started.json")?["pathParameters"]["token"]
        .as_str()
        .ok_or("answer-started.json has no token")?
        .to_owned();
    let otp = |code: &str| format!(r#"\"otp\": \"{code}\""#);
    let mut subs = vec![(
        FIXTURE_PHONE.trim_start_matches('+').to_owned(),
        phone.e164()[1..].to_owned(),
    )];
    *ctx.vobiz.last_call.lock().unwrap() = None;
    for (i, &(name, function, case, file, extra, contains)) in STEPS.iter().enumerate() {
        let mut event = scenario::load_event(&ctx.o.events, file)?.to_string();
        for (from, to) in subs.iter().map(|(f, t)| (f.as_str(), t.as_str())).chain([extra]) {
            if !from.is_empty() {
                event = event.replace(from, to);
            }
        }
        let (mut step, reply) = run_step(ctx, results, (name, function, case), event).await?;
        if !reply.contains(contains) {
            return Err(format!(
                "{name}: unexpected reply: {}",
                reply.chars().take(300).collect::<String>()
            ));
        }
        let (now_largest, item) = sizes(ctx, phone).await?;
        (*largest, step.item_bytes) = ((*largest).max(now_largest), item);
        out.push(step);
        if i == 0 {
            // The webhook token is in the answer URL send-otp gave Vobiz; the code is in the
            // record it wrote, sealed under the fixtures' secret.
            let call = ctx
                .vobiz
                .last_call
                .lock()
                .unwrap()
                .clone()
                .ok_or("send-otp placed no call")?;
            let call: Value = serde_json::from_str(&call).map_err(|e| format!("the call request: {e}"))?;
            let token = call["answer_url"].as_str().and_then(|u| u.rsplit_once("/answer/"));
            let token = token
                .ok_or("the call request has no answer URL with a token")?
                .1
                .to_owned();
            let a = ctx.seeder.get(phone).await?.ok_or("send-otp stored no attempt")?;
            let sealed = a.code_sealed.as_deref().ok_or("no sealed code")?;
            let code = ctx
                .seeder
                .keys
                .open_code(phone, &a.attempt_id, sealed)
                .ok_or("the code cannot be opened")?;
            subs.extend([(fixture_token.clone(), token), (otp(FIXTURE_CODE), otp(&code))]);
        }
    }
    Ok(())
}

/// One invocation in a fresh process, its DynamoDB requests counted; a 200 reply's body.
async fn run_step(
    ctx: &Ctx,
    results: &[CaseResult],
    (name, function, case): (&'static str, &'static str, &str),
    event: String,
) -> Result<(Step, String), String> {
    let mut api = runtime_api::RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let log = ctx.logs.join(format!("{function}.log"));
    let (mut child, _) = ctx
        .spawn(function, api.addr, &ctx.function_env(function), &log)
        .map_err(|e| e.to_string())?;
    let result = async {
        api.first_next(&mut child, ctx.o.init_timeout).await?;
        let (requests, items) = (ctx.proxy.counts.snapshot(), ctx.proxy.items.snapshot());
        let out = api.invoke(event, ctx.o.invoke_timeout).await?;
        let requests = proxy::delta(&requests, &ctx.proxy.counts.snapshot());
        let items = proxy::delta(&items, &ctx.proxy.items.snapshot());
        let (status, body) = scenario::read_reply(&out.body)?;
        if out.error || status != 200 {
            return Err(format!(
                "unexpected reply {status}: {}",
                out.body.chars().take(300).collect::<String>()
            ));
        }
        let (billed_ms, ms_source) = match results.iter().find(|r| r.label == case && !r.warm.is_empty()) {
            Some(r) => (r.warm.mean_billed_ms(), format!("{} warm invokes", r.warm.len())),
            None => (crate::stats::ms(out.latency).ceil(), "its own invoke".to_owned()),
        };
        let step = Step {
            name,
            function,
            requests,
            items,
            item_bytes: None,
            billed_ms,
            ms_source,
        };
        Ok((step, body))
    }
    .await;
    runtime_api::stop(&mut child);
    result.map_err(|e| format!("{name}: {e}"))
}

/// The largest item in the table now and `phone`'s item (`None`: absent), bytes.
async fn sizes(ctx: &Ctx, phone: &Phone) -> Result<(u64, Option<u64>), String> {
    let (store, pk) = (&ctx.seeder.store, format!("PHONE#{}", phone.e164()));
    let mut pages = store
        .client()
        .scan()
        .table_name(store.table())
        .into_paginator()
        .items()
        .send();
    let (mut largest, mut mine) = (0, None);
    while let Some(item) = pages.next().await {
        let item = item.map_err(|e| format!("Scan: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        let size = cost::item_size(&item);
        largest = largest.max(size);
        if item.get("pk").and_then(|v| v.as_s().ok()) == Some(&pk) {
            mine = Some(size);
        }
    }
    Ok((largest, mine))
}
