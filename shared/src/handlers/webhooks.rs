//! The Vobiz webhooks: what Vobiz calls during a call, authenticated by the call's path token
//! (and Vobiz's signature). Forms in, VobizXML out; a refusal is a polite hang-up.

use std::convert::Infallible;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::outcome::{Outcome, Rejection};
use super::runner::{Handled, note_call, note_phone, run};
use crate::domain::script::{self, Speaker, Step};
use crate::domain::secrets::token_hash;
use crate::domain::{Attempt, CallOutcome, CallRef, Phone};
use crate::error::{Error, Result};
use crate::http::{Form, path_param, public_base, xml_response};
use crate::ports::{Clock, HangupFacts, Store, Write};
use crate::routes::Route;
use crate::service::Service;
use crate::vobiz::causes::{HangupReport, classify_hangup};
use crate::vobiz::signature::{self, SignatureMode, Signatures, Verdict};

/// A webhook that may not be served gets a polite hang-up with no hint of a code. Only a store
/// outage answers 503 (Vobiz retries non-200 replies).
fn refusal(e: &Error, speaker: &Speaker<'_>) -> Response<Body> {
    let status = match e {
        Error::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::OK,
    };
    xml_response(status, script::render(&script::apology(), speaker))
}

/// The caller of a webhook, once it proved itself: a token we minted, for a number the form's
/// `To` confirms, on a call Vobiz named.
struct Caller {
    token_hash: String,
    phone: Phone,
    call_uuid: String,
    form: Form,
    base: Option<String>,
    token: String,
    /// The signature's nonces (none when the request was not signed).
    nonces: Vec<String>,
}

impl Caller {
    /// What the store's conditional writes check the webhook against.
    fn call(&self) -> CallRef<'_> {
        CallRef {
            phone: &self.phone,
            token_hash: &self.token_hash,
            call_uuid: &self.call_uuid,
            nonces: &self.nonces,
        }
    }

    /// Why a refused write is a forgery rather than a call that is over: the record already
    /// holds one of this request's nonces (a replay), or an earlier webhook of the attempt was
    /// signed and this one is not (someone holding the token dropped the headers).
    fn forged(&self, refused: &Option<Attempt>) -> Option<Error> {
        let a = refused.as_ref()?;
        if !a.fresh_nonces(&self.nonces) {
            Some(Error::Forbidden("the webhook nonce was already used"))
        } else if self.nonces.is_empty() && a.signed {
            Some(Error::Forbidden(
                "the webhook is not signed, though this call's webhooks were",
            ))
        } else {
            None
        }
    }
}

/// Checks the Vobiz signature of a webhook to `{base}/{route}/{token}`, the URL we gave Vobiz.
/// Returns the nonces of a valid signature; none when unsigned (and allowed).
fn check_signature<S, K>(svc: &Service<S, K>, req: &Request, url: Option<&str>, form: &Form) -> Result<Vec<String>> {
    if svc.webhooks.mode == SignatureMode::Off {
        return Ok(Vec::new());
    }
    let header = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap_or(""));
    let sigs = Signatures {
        v3: header("x-vobiz-signature-v3"),
        v3_nonce: header("x-vobiz-signature-v3-nonce"),
        v2: header("x-vobiz-signature-v2"),
        v2_nonce: header("x-vobiz-signature-v2-nonce"),
    };
    let verdict = match url {
        Some(url) => signature::verify(svc.webhooks.auth_token.as_deref(), url, &form.pairs(), &sigs),
        None if sigs.v3.is_none() && sigs.v2.is_none() => Verdict::Absent,
        None => Verdict::Invalid,
    };
    match (verdict, svc.webhooks.mode) {
        (Verdict::Valid { nonces }, _) => Ok(nonces),
        (Verdict::Invalid, _) => Err(Error::Forbidden("the webhook signature is not valid")),
        (Verdict::Absent, SignatureMode::Required) => Err(Error::Forbidden("the webhook is not signed")),
        (Verdict::Absent, _) => Ok(Vec::new()),
    }
}

/// Who called a webhook: a caller that proved itself, or why it is refused politely (for the
/// log). A bad form or signature is an error instead.
enum Webhook {
    Caller(Box<Caller>),
    Rejected(Rejection),
}

fn webhook_caller<S, K>(svc: &Service<S, K>, route: Route, req: &Request) -> Result<Webhook> {
    let Some(token) = path_param(req, "token") else {
        return Ok(Webhook::Rejected(Rejection::NoToken));
    };
    let base = public_base(req, svc.public_url.as_deref());
    let form = Form::parse(req)?;
    let nonces = check_signature(
        svc,
        req,
        base.as_ref()
            .map(|b| format!("{b}/{}/{token}", route.name()))
            .as_deref(),
        &form,
    )?;
    let Some(phone) = svc.keys.open_token(&token) else {
        return Ok(Webhook::Rejected(Rejection::UnknownToken));
    };
    note_phone(&phone);
    let to = form.get("To").and_then(|t| Phone::normalize_lenient(t).ok());
    if to.as_ref() != Some(&phone) {
        return Ok(Webhook::Rejected(Rejection::WrongCallee));
    }
    let call_uuid = match form.get("CallUUID") {
        Some(c)
            if !c.is_empty()
                && c.len() <= 128
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            c.to_owned()
        }
        _ => return Ok(Webhook::Rejected(Rejection::NoCallUuid)),
    };
    note_call(&call_uuid);
    Ok(Webhook::Caller(Box::new(Caller {
        token_hash: token_hash(&token),
        phone,
        call_uuid,
        form,
        base,
        token,
        nonces,
    })))
}

/// Answers Vobiz with `steps`, spoken in the attempt's locale (`None`: no attempt is known, or
/// none may be told anything; the configured fallback speaks).
fn speak<S, K>(svc: &Service<S, K>, attempt: Option<&Attempt>, steps: &[Step], outcome: Outcome) -> Handled {
    let speaker = svc.speaker(attempt.and_then(|a| a.locale.as_deref()));
    Ok((xml_response(StatusCode::OK, script::render(steps, &speaker)), outcome))
}

/// The most times one call may read the code: once, then `OTP_MAX_REPEATS` more.
fn read_cap<S, K>(svc: &Service<S, K>) -> u32 {
    1 + svc.policy.max_repeats
}

/// Where the call's `<Gather>` posts its key: `{base}/otp-choice/{token}`.
fn choice_url(caller: &Caller) -> Option<String> {
    caller.base.as_ref().map(|b| format!("{b}/otp-choice/{}", caller.token))
}

/// The steps that read an attempt's code, with a repeat offered while reads are left.
fn read_code_steps<S, K>(svc: &Service<S, K>, caller: &Caller, a: &Attempt) -> Option<Vec<Step>> {
    let code = svc
        .keys
        .open_code(&caller.phone, &a.attempt_id, a.code_sealed.as_deref()?)?;
    let choice_url = choice_url(caller);
    let offer = choice_url.as_deref().filter(|_| a.reads < read_cap(svc));
    Some(script::read_code(&code, svc.policy.code_shape, offer))
}

/// A pickup: the answer URL's `StartApp` (or no `Event` at all) on a call in progress. Vobiz may
/// also post ring and hangup events to the answer URL (docs/vobiz.md §2); those are not pickups.
fn is_pickup(form: &Form) -> bool {
    form.get("Event").is_none_or(|e| e.eq_ignore_ascii_case("StartApp"))
        && form
            .get("CallStatus")
            .is_some_and(|s| s.eq_ignore_ascii_case("in-progress"))
}

/// `POST /answer/{token}` (and the bare `/answer`): a pickup of a live call. With the key-press
/// gate (the default) the callee is asked to press a key and hears the code only then, so a
/// voicemail box never records it; without it the code is read now.
pub async fn answer<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(
        Route::Answer,
        |e| refusal(e, &svc.speaker(None)),
        answer_inner(svc, req),
    )
    .await
}

async fn answer_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let caller = match webhook_caller(svc, Route::Answer, &req)? {
        Webhook::Caller(c) => c,
        Webhook::Rejected(why) => return speak(svc, None, &script::apology(), Outcome::Rejected(why)),
    };
    if !is_pickup(&caller.form) {
        // Nothing said, nothing written: a ring or hangup event must not end or bind the call.
        return speak(svc, None, &[], Outcome::NotPickup);
    }
    let now = svc.clock.now();
    let gate = svc.policy.keypress_gate;
    match svc
        .store
        .answer(&caller.call(), (!gate).then(|| read_cap(svc)), now)
        .await?
    {
        Write::Done(a) if gate => match choice_url(&caller) {
            Some(url) => speak(svc, Some(&a), &script::gate(&url), Outcome::Gated),
            None => speak(svc, Some(&a), &script::apology(), Outcome::NoCallbackUrl),
        },
        Write::Done(a) => match read_code_steps(svc, &caller, &a) {
            Some(steps) => speak(svc, Some(&a), &steps, Outcome::Served),
            None => speak(svc, Some(&a), &script::apology(), Outcome::UnreadableCode),
        },
        Write::Refused(old) => match caller.forged(&old) {
            Some(e) => Err(e),
            None => speak(svc, old.as_ref(), &script::apology(), Outcome::NotLive),
        },
    }
}

/// `POST /otp-choice/{token}`: the `<Gather>`'s key. At the key-press gate any key reads the
/// code; after it, `Digits=1` reads it again while reads are left. No key, or another key after
/// the code: goodbye.
pub async fn otp_choice<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(
        Route::OtpChoice,
        |e| refusal(e, &svc.speaker(None)),
        otp_choice_inner(svc, req),
    )
    .await
}

async fn otp_choice_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let caller = match webhook_caller(svc, Route::OtpChoice, &req)? {
        Webhook::Caller(c) => c,
        Webhook::Rejected(why) => return speak(svc, None, &script::apology(), Outcome::Rejected(why)),
    };
    // "1" may read while reads are left; any other key only as the gate's key (no read yet).
    let cap = match caller.form.get("Digits").unwrap_or("") {
        "" => return speak(svc, None, &script::goodbye(), Outcome::Goodbye),
        "1" => read_cap(svc),
        _ if svc.policy.keypress_gate => 1,
        _ => return speak(svc, None, &script::goodbye(), Outcome::Goodbye),
    };
    let now = svc.clock.now();
    match svc.store.read_code(&caller.call(), cap, now).await? {
        Write::Done(a) => match read_code_steps(svc, &caller, &a) {
            Some(steps) if a.reads == 1 => speak(svc, Some(&a), &steps, Outcome::Served),
            Some(steps) => speak(svc, Some(&a), &steps, Outcome::Repeated),
            None => speak(svc, Some(&a), &script::goodbye(), Outcome::UnreadableCode),
        },
        Write::Refused(old) => match caller.forged(&old) {
            Some(e) => Err(e),
            None => speak(svc, old.as_ref(), &script::goodbye(), Outcome::NoRepeat),
        },
    }
}

/// `POST /hangup/{token}`: record what the call did and erase the sealed code. Idempotent.
pub async fn hangup<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run(
        Route::Hangup,
        |e| refusal(e, &svc.speaker(None)),
        hangup_inner(svc, req),
    )
    .await
}

async fn hangup_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let caller = match webhook_caller(svc, Route::Hangup, &req)? {
        Webhook::Caller(c) => c,
        Webhook::Rejected(why) => return speak(svc, None, &[Step::Hangup], Outcome::Rejected(why)),
    };
    let report = HangupReport::from_fields(|k| caller.form.get(k).unwrap_or(""));
    let telephony = classify_hangup(&report);
    let cause: String = [report.hangup_cause_code, report.hangup_cause]
        .iter()
        .find(|c| !c.is_empty())
        .map(|c| {
            c.chars()
                .filter(|ch| ch.is_ascii_graphic() || *ch == ' ')
                .take(64)
                .collect()
        })
        .unwrap_or_default();
    let facts = HangupFacts { telephony, cause };
    let outcome = match svc.store.hang_up(&caller.call(), &facts, svc.clock.now()).await? {
        Write::Done(a) if a.call_outcome() == Some(CallOutcome::Answered) => Outcome::Delivered,
        Write::Done(_) => Outcome::NotDelivered,
        Write::Refused(old) => match caller.forged(&old) {
            Some(e) => return Err(e),
            None if old.is_some() => Outcome::AlreadyRecorded,
            None => Outcome::UnknownAttempt,
        },
    };
    tracing::info!(telephony = telephony.as_str(), "call ended");
    speak(svc, None, &[Step::Hangup], outcome)
}
