//! The app routes: what the app's backend calls, with its API key. JSON in, JSON out.

use std::convert::Infallible;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::outcome::Outcome;
use super::runner::{Handled, note_call, note_phone, os_rng, run};
use crate::domain::fraud::{Signals, printable_id};
use crate::domain::rfc3339;
use crate::domain::secrets::digest;
use crate::domain::{Attempt, Phone, Refusal};
use crate::error::{Error, error_response};
use crate::http::{json_body, json_response, optional_string_field, path_param, public_base, string_field};
use crate::ports::{CallPlacer, Clock, Store, Write};
use crate::routes::Route;
use crate::service::Service;
use crate::usecases::send::{Idempotency, SendRequest, Sent, send};

/// `POST /send-otp {"phone"}`: mint a code and a call token, store the attempt, place the call.
pub async fn send_otp<S: Store, K: Clock, C: CallPlacer>(
    svc: &Service<S, K>,
    calls: &C,
    req: Request,
) -> Result<Response<Body>, Infallible> {
    run(Route::SendOtp, error_response, send_otp_inner(svc, calls, req)).await
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
    // The body is hashed only when there is a key.
    let idempotency = idempotency_key(&req)?.map(|key_hash| Idempotency {
        key_hash,
        body_hash: svc.keys.body_hash(req.body().as_ref()),
    });
    let signals = signals(&body)?;
    let client_ref = optional_string_field(&body, "client_ref")?
        .map(|r| printable_id(r, "client_ref"))
        .transpose()?;
    let request = SendRequest {
        phone: &phone,
        locale: &locale.tag,
        base: &base,
        idempotency,
        signals: &signals,
        client_ref: client_ref.as_deref(),
    };
    match send(svc, calls, request, &mut os_rng()).await? {
        Sent::Calling { reply, request_uuid } => {
            note_call(&request_uuid);
            Ok((json_response(StatusCode::OK, &reply), Outcome::Calling))
        }
        Sent::TestCode { reply } => {
            tracing::info!("test number: fixed code stored, no call placed");
            Ok((json_response(StatusCode::OK, &reply), Outcome::TestCode))
        }
        Sent::Replayed { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut resp = json_response(status, &body);
            resp.headers_mut().insert(
                "idempotent-replayed",
                lambda_http::http::HeaderValue::from_static("true"),
            );
            Ok((resp, Outcome::Replayed))
        }
    }
}

/// `"signals": {"ip", "device_id", "user_id"}`: each optional, strings; the object too.
fn signals(body: &serde_json::Map<String, serde_json::Value>) -> Result<Signals, Error> {
    let Some(raw) = body.get("signals").filter(|v| !v.is_null()) else {
        return Ok(Signals::default());
    };
    let Some(obj) = raw.as_object() else {
        return Err(Error::InvalidField {
            field: "signals",
            problem: "must be an object with ip, device_id and user_id",
        });
    };
    if let Some(other) = obj
        .keys()
        .find(|k| !["ip", "device_id", "user_id"].contains(&k.as_str()))
    {
        tracing::debug!(field = %other, "unknown signal ignored");
    }
    let field = |name: &'static str, path: &'static str| -> Result<Option<&str>, Error> {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::InvalidField {
                field: path,
                problem: "must be a string",
            }),
        }
    };
    Ok(Signals::parse(
        field("ip", "signals.ip")?,
        field("device_id", "signals.device_id")?,
        field("user_id", "signals.user_id")?,
    )?)
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

/// `POST /verify-otp {"phone", "otp"}`: charge the guess (one conditional write), then judge it.
pub async fn verify_otp<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(Route::VerifyOtp, error_response, verify_otp_inner(svc, req)).await
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
            // A test number's code is no evidence about its block.
            let tally = (!a.test)
                .then(|| svc.policy.guard.verified_counter(&phone, now))
                .flatten();
            if let Err(e) = svc
                .store
                .record_verified(&phone, &a.attempt_id, now, tally.as_ref())
                .await
            {
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
    run(Route::OtpStatus, error_response, otp_status_inner(svc, req)).await
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
    if let Some(r) = &a.client_ref {
        body["client_ref"] = r.as_str().into();
    }
    Ok((json_response(StatusCode::OK, &body), Outcome::Found))
}

/// `POST /cancel-otp {"phone"}`: the number's live attempt ends now (one conditional write):
/// verify then says `canceled`, a call picked up afterwards reads nothing, status reads
/// `canceled`. Idempotent: an attempt already over is left as it is and its status returned.
pub async fn cancel_otp<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(Route::CancelOtp, error_response, cancel_otp_inner(svc, req)).await
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

/// `POST /erase-number {"phone"}`: everything otp-call holds about the number is erased (its
/// record, in one delete; kept replies and the fraud guard's counters never name it). An
/// unknown number gets the same reply: erasing is no way to learn who has a record. The reply
/// says what remains elsewhere, and for how long.
pub async fn erase_number<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(Route::EraseNumber, error_response, erase_number_inner(svc, req)).await
}

async fn erase_number_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let body = json_body(&req)?;
    let phone = Phone::normalize(string_field(&body, "phone")?)?;
    note_phone(&phone);
    svc.store.erase(&phone).await?;
    let reply = json!({
        "phone": phone.e164(),
        "erased": true,
        "remains": [
            {
                "what": "logs",
                "holds": format!("the number masked ({}) in each request's log line; never a code", phone.masked()),
                "kept_days": svc.policy.log_retention_days,
            },
            {
                "what": "fraud guard counters",
                "holds": "counts per number block (the number less its last digits) and per keyed hash of a signal; no number",
                "kept_days": 2,
            },
            {
                "what": "the table's stream and backups",
                "holds": "the erased record's last image in the stream (read by otp-events) and in point-in-time recovery",
                "kept_days": 35,
            },
            {
                "what": "delivery events already sent, and the call provider's call records",
                "holds": "what the app, its event targets and Vobiz keep under their own terms",
                "kept_days": null,
            },
        ],
    });
    Ok((json_response(StatusCode::OK, &reply), Outcome::Erased))
}
