//! The app routes: what the app's backend calls, with its API key. JSON in, JSON out.

use std::convert::Infallible;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use rand::Rng;
use serde_json::json;

use super::{Handled, Outcome, Service, note_call, note_phone, os_rng, rfc3339, run};
use crate::domain::limits::{
    Candidates, Limited, SHARD_TRIES, Sharded, admit_send, contention_pause, day_counter, minute_counter, shard_order,
    until_midnight,
};
use crate::domain::secrets::{ct_eq, digest, random_id, token_hash};
use crate::domain::{Attempt, NewAttempt, Phone, Refusal, generate_code};
use crate::error::Error;
use crate::http::{json_body, json_response, optional_string_field, path_param, public_base, string_field};
use crate::ports::{CallCounters, CallPlacer, CallRequest, Clock, Held, REPLAY_SECS, Replay, Start, Store, Write};
use crate::routes::Route;

/// How many times a send re-reads the number after losing a race to another send.
const MAX_SEND_CONFLICTS: u32 = 4;

/// How many times a send retries a transaction DynamoDB cancelled for contention on an item.
const MAX_CONTENDED: u32 = 8;

/// `POST /send-otp {"phone"}`: mint a code and a call token, store the attempt, place the call.
pub async fn send_otp<S: Store, K: Clock, C: CallPlacer>(
    svc: &Service<S, K>,
    calls: &C,
    req: Request,
) -> Result<Response<Body>, Infallible> {
    run(Route::SendOtp, None, send_otp_inner(svc, calls, req)).await
}

async fn send_otp_inner<S: Store, K: Clock, C: CallPlacer>(svc: &Service<S, K>, calls: &C, req: Request) -> Handled {
    let body = json_body(&req)?;
    let phone = Phone::parse(string_field(&body, "phone")?)?;
    note_phone(&phone);
    let region = phone.check_destination(&svc.policy.allowed_regions)?;
    // The callee's language: the app's, else the region's default, else CALL_LANGUAGE; one this
    // deployment cannot speak is refused before anything is written or called.
    let asked = optional_string_field(&body, "locale")?;
    let locale = svc
        .languages
        .choose(asked, Some(&region))
        .map_err(Error::UnsupportedLocale)?;
    let base = public_base(&req, svc.public_url.as_deref())
        .ok_or_else(|| Error::Config("PUBLIC_URL is not set and the request has no API Gateway context".into()))?;

    let now = svc.clock.now();
    // A retry with the same Idempotency-Key and body gets the first reply, and no second call.
    // (The body is hashed only when there is a key.)
    let keyed = idempotency_key(&req)?.map(|key_hash| (key_hash, digest(req.body().as_ref())));
    if let Some((key_hash, body_hash)) = &keyed
        && let Some(kept) = svc.store.replay(key_hash, now).await?
    {
        return replayed(kept, body_hash);
    }
    let mut rng = os_rng();
    // A test number (TEST_NUMBERS) gets its fixed code and no call; every limit still applies.
    let test_code = svc.policy.test_numbers.code_for(&phone);
    // The global counters (the minute's ceiling, the day's budget) are sharded: a send reads
    // SHARD_TRIES shards of each from a random start, with the number, in one request, and
    // takes a unit of the one with most room, so sends to different numbers seldom write the
    // same item, and a full counter is refused without a write.
    let minute = minute_counter(now, &svc.limits);
    let day = day_counter(now, &svc.limits);
    let (mut conflicts, mut contended, mut held) = (0, 0, false);
    // Read the number and the shards, decide, write if nobody else wrote since: one
    // conditional transaction that also takes the call's units of the global counters.
    let (mut prior, mut minute_shards, mut day_shards) =
        read_for_send(svc, &phone, &minute, day.as_ref(), &mut rng).await?;
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
            tokio::time::sleep(contention_pause(&mut rng, contended)).await;
            (prior, minute_shards, day_shards) = read_for_send(svc, &phone, &minute, day.as_ref(), &mut rng).await?;
            held = false;
        }
        let send_times = admit_send(prior.as_ref(), now, &svc.limits).map_err(Error::RateLimited)?;
        let counters = match pick_shards(&minute_shards, day_shards.as_ref()) {
            Picked::Shards(counters) => counters,
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
            None => generate_code(&mut rng, svc.policy.code_length),
        };
        let token = svc.keys.mint_token(&mut rng, &phone);
        let attempt_id = random_id(&mut rng);
        let new = NewAttempt {
            phone: phone.clone(),
            attempt_id: attempt_id.clone(),
            now,
            ttl_secs: svc.policy.code_ttl_secs,
            token_hash: token_hash(&token),
            code_mac: svc.keys.code_mac(&phone, &code),
            code_sealed: svc.keys.seal_code(&mut rng, &phone, &attempt_id, &code),
            max_attempts: svc.policy.max_attempts,
            failures_per_window: svc.limits.failures_per_window,
        };
        drop(code);
        let attempt = Attempt::new(new, prior.as_ref(), send_times).in_locale(&locale.tag);
        let attempt = if test_code.is_some() {
            attempt.as_test(now)
        } else {
            attempt
        };
        let reply = send_reply(svc, &phone, &attempt);
        let replay = keyed.as_ref().map(|(key_hash, body_hash)| Replay {
            key_hash: key_hash.clone(),
            body_hash: body_hash.clone(),
            status: 200,
            body: reply.to_string(),
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
                    Some(kept) => replayed(kept, body_hash),
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
            // The number changed since it was read (another send or a guess): read it again.
            Start::Conflict if conflicts < MAX_SEND_CONFLICTS => {
                conflicts += 1;
                (prior, minute_shards, day_shards) =
                    read_for_send(svc, &phone, &minute, day.as_ref(), &mut rng).await?;
            }
            Start::Conflict => return Err(Error::RateLimited(Limited::Cooldown { retry_after: 1 })),
        }
    };
    let attempt_id = attempt.attempt_id.clone();
    if attempt.test {
        tracing::info!("test number: fixed code stored, no call placed");
        return Ok((json_response(StatusCode::OK, &reply), Outcome::TestCode));
    }

    let call = CallRequest {
        to: phone.clone(),
        answer_url: format!("{base}/answer/{token}"),
        hangup_url: format!("{base}/hangup/{token}"),
        time_limit: svc.policy.call_time_limit,
        ring_timeout: svc.policy.ring_timeout,
        machine_detection: svc.policy.machine_detection,
    };
    // Success writes nothing more: the stored attempt already reads as placed, and the webhooks
    // carry the call's ids. Only a refused call is written down (and frees the number at once).
    match calls.place_call(&call).await {
        Ok(placed) => note_call(&placed.request_uuid),
        Err(e) => {
            tracing::warn!(error = %e, "call not placed");
            if let Err(store_err) = svc.store.record_call_failed(&phone, &attempt_id, &e.to_string()).await {
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
    }
    Ok((json_response(StatusCode::OK, &reply), Outcome::Calling))
}

/// The reply to a send that stored `attempt` (kept under its Idempotency-Key before the call).
fn send_reply<S, K>(svc: &Service<S, K>, phone: &Phone, attempt: &Attempt) -> serde_json::Value {
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
    reply
}

/// The number's record and the candidate shards of each counter, read in one request.
async fn read_for_send<S: Store, K: Clock>(
    svc: &Service<S, K>,
    phone: &Phone,
    minute: &Sharded,
    day: Option<&Sharded>,
    rng: &mut impl Rng,
) -> Result<(Option<Attempt>, Candidates, Option<Candidates>), Error> {
    let minute_order = shard_order(rng.random(), minute.shards, SHARD_TRIES);
    let day_order = day.map(|d| shard_order(rng.random(), d.shards, SHARD_TRIES));
    let mut keys = Candidates::keys(minute, &minute_order);
    if let (Some(d), Some(order)) = (day, &day_order) {
        keys.extend(Candidates::keys(d, order));
    }
    let (prior, taken) = svc.store.get_for_send(phone, &keys).await?;
    let (minute_taken, day_taken) = taken.split_at(minute_order.len().min(taken.len()));
    let minute_shards = Candidates::new(minute, &minute_order, minute_taken);
    let day_shards = day
        .zip(day_order)
        .map(|(d, order)| Candidates::new(d, &order, day_taken));
    Ok((prior, minute_shards, day_shards))
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
        (Some(minute), None) => Picked::Shards(CallCounters { minute, day: None }),
        (Some(minute), Some(Some(day))) => Picked::Shards(CallCounters { minute, day: Some(day) }),
        _ => Picked::Busy,
    }
}

/// The `Idempotency-Key` header, as its hash: 1 to 255 visible ASCII characters.
fn idempotency_key(req: &Request) -> Result<Option<String>, Error> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(Error::InvalidField {
            field: "Idempotency-Key",
            problem: "must be 1 to 255 visible ASCII characters",
        })?;
    Ok(Some(digest(key.as_bytes())))
}

/// The first reply to a key, again, when the body is the same; else 422.
fn replayed(kept: Replay, body_hash: &str) -> Handled {
    if !ct_eq(&kept.body_hash, body_hash) {
        return Err(Error::IdempotencyKeyReused);
    }
    let status = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
    let body: serde_json::Value =
        serde_json::from_str(&kept.body).map_err(|_| Error::Corrupt("a kept reply".into()))?;
    let mut resp = json_response(status, &body);
    resp.headers_mut().insert(
        "idempotent-replayed",
        lambda_http::http::HeaderValue::from_static("true"),
    );
    Ok((resp, Outcome::Replayed))
}

/// `POST /verify-otp {"phone", "otp"}`: charge the guess (one conditional write), then judge it.
pub async fn verify_otp<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(Route::VerifyOtp, None, verify_otp_inner(svc, req)).await
}

async fn verify_otp_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let body = json_body(&req)?;
    // A lookup: the number was validated when its code was sent.
    let phone = Phone::normalize(string_field(&body, "phone")?)?;
    note_phone(&phone);
    let otp = string_field(&body, "otp")?;
    if otp.is_empty() || otp.len() > 10 || !otp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidField {
            field: "otp",
            problem: "must be the digits of the code",
        });
    }
    if otp.len() != svc.policy.code_length as usize {
        return Err(Error::InvalidField {
            field: "otp",
            problem: "has the wrong number of digits",
        });
    }
    let now = svc.clock.now();
    let refused = |reason: Refusal, remaining: Option<u32>| {
        let mut body = json!({"valid": false, "reason": reason});
        if let Some(n) = remaining {
            body["attempts_remaining"] = n.into();
        }
        Ok((json_response(StatusCode::BAD_REQUEST, &body), Outcome::Refused(reason)))
    };
    let remaining_for = |a: &Attempt, r: Refusal| {
        matches!(r, Refusal::Invalid | Refusal::TooManyAttempts).then(|| a.attempts_remaining())
    };

    // Charge first: the guess is appended to the attempt's guesses in one conditional write
    // (refused once the code's guesses, or the number's failures, are used up). Only a charged
    // guess is judged, against the record that write returned: right only if it is the first
    // that matches. So no burst, however concurrent, gets more guesses compared with a code
    // than the cap, and a right code is accepted once.
    let a = match svc.store.guess(&phone, &svc.keys.code_mac(&phone, otp), now).await? {
        Write::Done(a) => a,
        Write::Refused(None) => return refused(Refusal::NotFound, None),
        Write::Refused(Some(old)) => {
            // Refused means not live; the refusal says why (the same predicate).
            let reason = old.refusal(now).unwrap_or(Refusal::TooManyAttempts);
            return refused(reason, remaining_for(&old, reason));
        }
    };
    match a.judge_last_guess() {
        Ok(()) => {
            // The guess decided; this write only records it and erases the sealed code.
            if let Err(e) = svc.store.record_verified(&phone, &a.attempt_id, now).await {
                tracing::warn!(error = %e, "verified, but could not record it");
            }
            if a.test {
                tracing::info!("test number: its fixed code verified");
                let body = json!({"valid": true, "test": true});
                return Ok((json_response(StatusCode::OK, &body), Outcome::ValidTest));
            }
            Ok((json_response(StatusCode::OK, &json!({"valid": true})), Outcome::Valid))
        }
        Err(reason) => {
            if a.is_locked(svc.limits.failures_per_window, now) {
                tracing::warn!("number locked after too many failed verifications");
            }
            refused(reason, remaining_for(&a, reason))
        }
    }
}

/// `GET /otp-status/{phone}`: delivery and verification state of the number's current code.
pub async fn otp_status<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(Route::OtpStatus, None, otp_status_inner(svc, req)).await
}

async fn otp_status_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let raw = path_param(&req, "phone").ok_or(Error::MissingField("phone"))?;
    let phone = Phone::normalize_lenient(&raw)?;
    note_phone(&phone);
    let a = svc.store.get(&phone).await?.ok_or(Error::NotFound)?;
    let now = svc.clock.now();
    let mut body = json!({
        "phone": phone.e164(),
        "status": a.status(now),
        "call": {
            "placed": a.placed(),
            "answered": a.answered_at.is_some(),
            "ended": a.ended_at.is_some(),
            "outcome": a.call_outcome(),
            "hangup_cause": a.hangup_cause,
            "repeats": a.reads.saturating_sub(1),
        },
        "expires_at": rfc3339(a.expires_at),
        "attempts_remaining": a.attempts_remaining(),
        "locale": svc.languages.of_attempt(a.locale.as_deref()).tag,
    });
    if a.test {
        body["test"] = true.into();
    }
    Ok((json_response(StatusCode::OK, &body), Outcome::Found))
}

/// `POST /cancel-otp {"phone"}`: the number's live attempt ends now (one conditional write):
/// verify then says `canceled`, a call picked up afterwards reads nothing, status reads
/// `canceled`. Idempotent: an attempt already over is left as it is and its status returned.
pub async fn cancel_otp<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(Route::CancelOtp, None, cancel_otp_inner(svc, req)).await
}

async fn cancel_otp_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let body = json_body(&req)?;
    let phone = Phone::normalize(string_field(&body, "phone")?)?;
    note_phone(&phone);
    let now = svc.clock.now();
    let (a, outcome) = match svc.store.cancel(&phone, now).await? {
        Write::Done(a) => (a, Outcome::Canceled),
        Write::Refused(Some(a)) => (a, Outcome::NothingToCancel),
        Write::Refused(None) => return Err(Error::NotFound),
    };
    let reply = json!({"phone": phone.e164(), "status": a.status(now)});
    Ok((json_response(StatusCode::OK, &reply), outcome))
}
