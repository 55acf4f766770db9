//! The send use case, over the ports: admit the send (the number's own limits), read the
//! number and the global counters' candidate shards, pick the shards, store the attempt and take
//! its units in one transaction (retried on conflict and contention), place the call, and
//! record a refused call. The handler (`POST /send-otp`) reads the request and writes the reply
//! around it.

use rand::Rng;
use serde_json::{Value, json};

use crate::domain::fraud::{Decision, Guard, Mode, Plan, Signals, Tally};
use crate::domain::limits::{
    Candidates, Limited, SHARD_TRIES, Sharded, admit_send, contention_pause, day_counter, minute_counter, shard_order,
    until_midnight,
};
use crate::domain::secrets::{ct_eq, random_id, token_hash};
use crate::domain::{Attempt, NewAttempt, Phone, generate_code, rfc3339};
use crate::error::{Error, Result};
use crate::ports::{CallCounters, CallPlacer, CallRequest, Clock, Held, REPLAY_SECS, Replay, Start, Store};
use crate::service::Service;
use crate::telemetry::{self, Metric};

/// How many times a send re-reads the number after losing a race to another send.
const MAX_SEND_CONFLICTS: u32 = 4;

/// How many times a send retries a transaction DynamoDB cancelled for contention on an item.
const MAX_CONTENDED: u32 = 8;

/// How many times a send retries when another transaction held one of the fraud guard's
/// counters; then the send is refused (a counter that stays hot is an attack's own).
const MAX_GUARD_CONTENDED: u32 = 2;

/// A send, as the handler read it: the number (valid, and a destination this deployment
/// calls), the locale the call speaks, the base URL of the webhooks, and its idempotency key.
#[derive(Clone, Debug)]
pub struct SendRequest<'a> {
    pub phone: &'a Phone,
    pub locale: &'a str,
    pub base: &'a str,
    pub idempotency: Option<Idempotency>,
    /// What the app knows of its end user, for the fraud guard.
    pub signals: &'a Signals,
    /// The app's own reference, echoed in the reply, the status and every event.
    pub client_ref: Option<&'a str>,
}

/// An `Idempotency-Key` and the request body it came with, as hashes.
#[derive(Clone, Debug)]
pub struct Idempotency {
    pub key_hash: String,
    pub body_hash: String,
}

/// How a send ended, when it did not fail.
#[derive(Debug)]
pub enum Sent {
    /// The attempt is stored and the provider accepted the call.
    Calling { reply: Value, request_uuid: String },
    /// A test number: its fixed code is stored, no call placed.
    TestCode { reply: Value },
    /// A retry with an earlier send's key and body: that send's reply, and nothing else done.
    Replayed { status: u16, body: Value },
}

/// Sends a code to `req.phone`: at most one call per admitted send, none when refused.
pub async fn send<S: Store, K: Clock, C: CallPlacer>(
    svc: &Service<S, K>,
    calls: &C,
    req: SendRequest<'_>,
    rng: &mut (impl rand::CryptoRng + Send),
) -> Result<Sent> {
    let phone = req.phone;
    let now = svc.clock.now();
    // A retry with the same Idempotency-Key and body gets the first reply, and no second call.
    let keyed = req
        .idempotency
        .as_ref()
        .map(|k| (k.key_hash.clone(), k.body_hash.clone()));
    if let Some((key_hash, body_hash)) = &keyed
        && let Some(kept) = svc.store.replay(key_hash, now).await?
    {
        return replayed(kept, body_hash, phone);
    }
    // A test number (TEST_NUMBERS) gets its fixed code and no call; every limit still applies.
    let test_code = svc.policy.test_numbers.code_for(phone);
    // The global counters (the minute's ceiling, the day's budget) are sharded: a send reads
    // SHARD_TRIES shards of each from a random start, with the number, in one request, and
    // takes a unit of the one with most room, so sends to different numbers seldom write the
    // same item, and a full counter is refused without a write.
    let minute = minute_counter(now, &svc.limits);
    let day = day_counter(now, &svc.limits);
    // The fraud guard's counters (the signals', the number's block): read with the rest, taken
    // in the same transaction. A signal is counted under its keyed hash.
    let guard = &svc.policy.guard;
    let hashed: Vec<_> = req
        .signals
        .given()
        .map(|(kind, value)| (kind, svc.keys.signal_hash(kind.as_str(), value)))
        .collect();
    let plan = guard.plan(phone, &hashed, now);
    // Counters record mode found held: left out (record mode refuses nothing).
    let mut skipped: Vec<String> = Vec::new();
    let (mut conflicts, mut contended, mut held, mut guard_contended) = (0, 0, false, 0);
    // Read the number and the shards, decide, write if nobody else wrote since: one
    // conditional transaction that also takes the call's units of the global counters.
    let (mut prior, mut minute_shards, mut day_shards, mut units) =
        read_for_send(svc, phone, &minute, day.as_ref(), &plan, rng).await?;
    let (attempt, token, reply, replay) = loop {
        if held {
            // Other transactions held the items this send could write: nothing was written.
            // Again after a random pause that doubles each time, from a fresh read (another
            // send to this number may have won: then its cooldown answers); at last 503, which
            // is not the number's fault.
            if contended == MAX_CONTENDED {
                return Err(Error::Busy);
            }
            contended += 1;
            tokio::time::sleep(contention_pause(rng, contended)).await;
            (prior, minute_shards, day_shards, units) =
                read_for_send(svc, phone, &minute, day.as_ref(), &plan, rng).await?;
            held = false;
        }
        let send_times = admit_send(prior.as_ref(), now, &svc.limits).map_err(Error::RateLimited)?;
        let tallies: Vec<Tally> = guard_tallies(guard, &plan, &units, now)?
            .into_iter()
            .filter(|t| !skipped.contains(&t.key))
            .collect();
        let counters = match pick_shards(&minute_shards, day_shards.as_ref()) {
            Picked::Shards(mut counters) => {
                counters.guard = tallies.iter().map(Tally::counter).collect();
                counters
            }
            Picked::Spent(Spent::Minute) => {
                return Err(Error::RateLimited(Limited::Global {
                    retry_after: minute.expires - 60 - now,
                }));
            }
            Picked::Spent(Spent::Day) => {
                return Err(Error::RateLimited(Limited::Budget {
                    retry_after: until_midnight(now),
                }));
            }
            Picked::Busy => {
                held = true;
                continue;
            }
        };
        let code = match test_code {
            Some(fixed) => fixed.to_owned(),
            None => generate_code(rng, svc.policy.code_length),
        };
        let token = svc.keys.mint_token(rng, phone);
        let attempt_id = random_id(rng);
        let new = NewAttempt {
            phone: phone.clone(),
            attempt_id: attempt_id.clone(),
            now,
            ttl_secs: svc.policy.code_ttl_secs,
            token_hash: token_hash(&token),
            code_mac: svc.keys.code_mac(phone, &code),
            code_sealed: svc.keys.seal_code(rng, phone, &attempt_id, &code),
            max_attempts: svc.policy.max_attempts,
            failures_per_window: svc.limits.failures_per_window,
        };
        drop(code);
        let attempt = Attempt::new(new, prior.as_ref(), send_times)
            .in_locale(req.locale)
            .with_client_ref(req.client_ref);
        let attempt = if test_code.is_some() {
            attempt.as_test(now)
        } else {
            attempt
        };
        let reply = send_reply(svc, phone, &attempt);
        let replay = keyed.as_ref().map(|(key_hash, body_hash)| Replay {
            key_hash: key_hash.clone(),
            body_hash: body_hash.clone(),
            status: 200,
            body: kept_reply(&reply).to_string(),
            expires_at: now + REPLAY_SECS,
        });
        match svc
            .store
            .start_attempt(&attempt, prior.as_ref(), &counters, replay.as_ref())
            .await?
        {
            Start::Started => break (attempt, token, reply, replay),
            Start::KeyTaken => {
                // A concurrent send with the same key won: its reply is kept (same transaction).
                let Some((key_hash, body_hash)) = &keyed else {
                    return Err(Error::Corrupt("a key was taken, though the send had none".into()));
                };
                return match svc.store.replay(key_hash, now).await? {
                    Some(kept) => replayed(kept, body_hash, phone),
                    None => Err(Error::IdempotencyKeyInUse),
                };
            }
            // That shard is full, or another transaction held it: another one of those read.
            Start::GlobalLimit => minute_shards.full(&counters.minute),
            Start::BudgetLimit => {
                if let (Some(d), Some(shard)) = (day_shards.as_mut(), &counters.day) {
                    d.full(shard);
                }
            }
            Start::Contended(Held::Minute) => minute_shards.busy(&counters.minute),
            Start::Contended(Held::Day) => {
                if let (Some(d), Some(shard)) = (day_shards.as_mut(), &counters.day) {
                    d.busy(shard);
                }
            }
            // The number's item (or the request) was held or throttled.
            Start::Contended(Held::Other) => held = true,
            // A guard's counter filled since it was read, or another send held it: refused
            // (record mode: noted, and the send goes on without that counter).
            Start::Guarded {
                index,
                held: guard_held,
            } => {
                let Some(t) = tallies.get(index) else {
                    return Err(Error::Corrupt(
                        "the store named a guard counter the send did not write".into(),
                    ));
                };
                // Another send held it: two real users of one block at one moment, most likely,
                // unless the counter stays hot; then it is an attack's own counter.
                if guard_held && guard_contended < MAX_GUARD_CONTENDED {
                    guard_contended += 1;
                    tokio::time::sleep(contention_pause(rng, guard_contended)).await;
                    (prior, minute_shards, day_shards, units) =
                        read_for_send(svc, phone, &minute, day.as_ref(), &plan, rng).await?;
                    continue;
                }
                if guard.mode == Mode::Block {
                    return Err(Error::Blocked {
                        reason: t.reason,
                        retry_after: t.retry_after,
                    });
                }
                would_block(t.reason);
                skipped.push(t.key.clone());
            }
            // The number changed since it was read (another send or a guess): read it again.
            Start::Conflict if conflicts < MAX_SEND_CONFLICTS => {
                conflicts += 1;
                (prior, minute_shards, day_shards, units) =
                    read_for_send(svc, phone, &minute, day.as_ref(), &plan, rng).await?;
            }
            Start::Conflict => return Err(Error::RateLimited(Limited::Cooldown { retry_after: 1 })),
        }
    };
    let attempt_id = attempt.attempt_id.clone();
    if attempt.test {
        tracing::info!("test number: fixed code stored, no call placed");
        return Ok(Sent::TestCode { reply });
    }

    let call = CallRequest {
        to: phone.clone(),
        answer_url: format!("{}/answer/{token}", req.base),
        hangup_url: format!("{}/hangup/{token}", req.base),
        time_limit: svc.policy.call_time_limit,
        ring_timeout: svc.policy.ring_timeout,
        machine_detection: svc.policy.machine_detection,
    };
    // Success writes nothing more: the stored attempt already reads as placed, and the webhooks
    // carry the call's ids. Only a refused call is written down (and frees the number at once).
    let placed = match calls.place_call(&call).await {
        Ok(placed) => placed,
        Err(e) => {
            tracing::warn!(error = %e, "call not placed");
            if let Err(store_err) = svc.store.record_call_failed(phone, &attempt_id, &e.to_string()).await {
                tracing::warn!(error = %store_err, "could not mark the attempt failed");
            }
            // A retry with this key gets the same 502, not a second call that may ring twice.
            if let Some(mut r) = replay {
                r.status = e.status().as_u16();
                r.body = e.body().to_string();
                if let Err(store_err) = svc.store.update_replay(&r).await {
                    tracing::warn!(error = %store_err, "could not keep the failed send's reply");
                }
            }
            return Err(e);
        }
    };
    Ok(Sent::Calling {
        reply,
        request_uuid: placed.request_uuid,
    })
}

/// The reply to a send that stored `attempt` (kept under its Idempotency-Key before the call).
fn send_reply<S, K>(svc: &Service<S, K>, phone: &Phone, attempt: &Attempt) -> Value {
    let mut reply = json!({
        "status": "calling",
        "phone": phone.e164(),
        "expires_at": rfc3339(attempt.expires_at),
        "expires_in_seconds": svc.policy.code_ttl_secs,
        "max_attempts": attempt.guess_cap,
        "locale": attempt.locale,
    });
    if attempt.test {
        reply["test"] = true.into();
    }
    if let Some(r) = &attempt.client_ref {
        reply["client_ref"] = r.as_str().into();
    }
    reply
}

/// What a send decides on, read in one request: the number's record, the candidate shards of
/// each global counter, and the units of the fraud guard's counters (in `plan`'s order).
type ReadForSend = (Option<Attempt>, Candidates, Option<Candidates>, Vec<u32>);

async fn read_for_send<S: Store, K: Clock>(
    svc: &Service<S, K>,
    phone: &Phone,
    minute: &Sharded,
    day: Option<&Sharded>,
    plan: &Plan,
    rng: &mut impl Rng,
) -> Result<ReadForSend, Error> {
    let minute_order = shard_order(rng.random(), minute.shards, SHARD_TRIES);
    let day_order = day.map(|d| shard_order(rng.random(), d.shards, SHARD_TRIES));
    let mut keys = Candidates::keys(minute, &minute_order);
    if let (Some(d), Some(order)) = (day, &day_order) {
        keys.extend(Candidates::keys(d, order));
    }
    let shard_keys = keys.len();
    keys.extend(plan.keys());
    let (prior, taken) = svc.store.get_for_send(phone, &keys).await?;
    let (shards_taken, guard_units) = taken.split_at(shard_keys.min(taken.len()));
    let (minute_taken, day_taken) = shards_taken.split_at(minute_order.len().min(shards_taken.len()));
    let minute_shards = Candidates::new(minute, &minute_order, minute_taken);
    let day_shards = day
        .zip(day_order)
        .map(|(d, order)| Candidates::new(d, &order, day_taken));
    Ok((prior, minute_shards, day_shards, guard_units.to_vec()))
}

/// The guard's decision on a send: the counters to take, or (block mode) the refusal. Record
/// mode takes every counter without its cap and notes what it would have refused.
fn guard_tallies(guard: &Guard, plan: &Plan, units: &[u32], now: i64) -> Result<Vec<Tally>, Error> {
    match (guard.decide(plan, units, now), guard.mode) {
        (Decision::Admit(take), Mode::Block) => Ok(take),
        (Decision::Refuse { reason, retry_after }, Mode::Block) => Err(Error::Blocked { reason, retry_after }),
        (Decision::Refuse { reason, .. }, _) => {
            would_block(reason);
            Ok(Guard::uncapped(plan, now))
        }
        (Decision::Admit(_), _) => Ok(Guard::uncapped(plan, now)),
    }
}

/// Record mode: what the guard would have refused is logged and counted, nothing refused.
fn would_block(reason: crate::domain::fraud::Reason) {
    tracing::warn!(
        reason = reason.as_str(),
        "the fraud guard would refuse this send (record mode)"
    );
    telemetry::count(Metric::WouldBlock(reason), "send-otp");
}

enum Picked {
    Shards(CallCounters),
    /// Every shard read of a counter is full.
    Spent(Spent),
    /// Some shards read have room, but other transactions held each of them.
    Busy,
}

enum Spent {
    Minute,
    Day,
}

/// The shards a send writes, one of each counter.
fn pick_shards(minute: &Candidates, day: Option<&Candidates>) -> Picked {
    if minute.spent() {
        return Picked::Spent(Spent::Minute);
    }
    if day.is_some_and(Candidates::spent) {
        return Picked::Spent(Spent::Day);
    }
    match (minute.pick(), day.map(Candidates::pick)) {
        (Some(minute), None) => Picked::Shards(CallCounters {
            minute,
            day: None,
            guard: Vec::new(),
        }),
        (Some(minute), Some(Some(day))) => Picked::Shards(CallCounters {
            minute,
            day: Some(day),
            guard: Vec::new(),
        }),
        _ => Picked::Busy,
    }
}

/// A reply as it is kept under its key: without the number, so that a kept reply names no one
/// (the number is in the request, whose body the key's retry must repeat; its hash is keyed).
fn kept_reply(reply: &Value) -> Value {
    let mut kept = reply.clone();
    if let Some(fields) = kept.as_object_mut() {
        fields.remove("phone");
    }
    kept
}

/// The first reply to a key, again, when the body is the same (so is the number); else 422.
fn replayed(kept: Replay, body_hash: &str, phone: &Phone) -> Result<Sent> {
    if !ct_eq(&kept.body_hash, body_hash) {
        return Err(Error::IdempotencyKeyReused);
    }
    let mut body: Value = serde_json::from_str(&kept.body).map_err(|_| Error::Corrupt("a kept reply".into()))?;
    if kept.status == 200
        && let Some(fields) = body.as_object_mut()
    {
        fields.insert("phone".into(), phone.e164().into());
    }
    Ok(Sent::Replayed {
        status: kept.status,
        body,
    })
}
