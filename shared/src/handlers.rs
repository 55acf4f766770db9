//! The six handlers. Lambda functions and the local server call these same functions. Each
//! returns `Ok(Response)` for every expected outcome and writes one structured log line per
//! request (route, outcome, status, latency, masked phone; never a code, token or secret).

use std::convert::Infallible;
use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde_json::json;
use tracing::{Instrument, Span, field};

use crate::config::{Config, Policy};
use crate::domain::limits::{Limited, Limits, admit_send, minute_slot, next_failure};
use crate::domain::script::{self, Step, Voice};
use crate::domain::secrets::{random_id, token_hash};
use crate::domain::signature::{self, SignatureMode, Signatures, Verdict};
use crate::domain::{
    Attempt, CallOutcome, HangupReport, Keys, NewAttempt, Phone, Refusal, classify_hangup, generate_code,
};
use crate::error::{Error, Result};
use crate::http::{
    Form, error_response, json_body, json_response, path_param, public_base, string_field, xml_response,
};
use crate::ports::{CallPlacer, CallRequest, Clock, GlobalSlot, HangupFacts, Start, Store, SystemClock, Write};
use crate::telemetry::{self, Metric};

/// How many times a send re-reads the number after losing a race to another send.
const MAX_SEND_CONFLICTS: u32 = 4;
/// How many times a wrong guess is re-counted after a concurrent guess changed the count.
const MAX_COUNT_CONFLICTS: u32 = 8;

/// How webhooks prove they come from Vobiz (besides their path token).
#[derive(Clone)]
pub struct WebhookAuth {
    pub mode: SignatureMode,
    /// `VOBIZ_AUTH_TOKEN`, the signing key.
    pub auth_token: Option<String>,
}

impl std::fmt::Debug for WebhookAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAuth")
            .field("mode", &self.mode)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// What every handler needs: the store, the clock, the keys and the policy.
#[derive(Debug)]
pub struct Service<S, K = SystemClock> {
    pub store: S,
    pub clock: K,
    pub keys: Keys,
    pub policy: Policy,
    pub voice: Voice,
    pub limits: Limits,
    pub webhooks: WebhookAuth,
    /// `PUBLIC_URL`; on Lambda the API Gateway stage URL is used when this is `None`.
    pub public_url: Option<String>,
    /// `APP_API_KEY`, checked by the local server's router (API Gateway checks keys on AWS).
    pub app_api_key: Option<String>,
}

impl<S: Store> Service<S, SystemClock> {
    pub fn new(cfg: &Config, keys: Keys, store: S) -> Service<S, SystemClock> {
        Service::with_clock(cfg, keys, store, SystemClock)
    }
}

impl<S: Store, K: Clock> Service<S, K> {
    pub fn with_clock(cfg: &Config, keys: Keys, store: S, clock: K) -> Service<S, K> {
        Service {
            store,
            clock,
            keys,
            policy: cfg.policy.clone(),
            voice: cfg.voice.clone(),
            limits: cfg.limits.clone(),
            webhooks: WebhookAuth {
                mode: cfg.signature_mode,
                auth_token: cfg.webhook_auth_token.clone(),
            },
            public_url: cfg.public_url.clone(),
            app_api_key: cfg.app_api_key.clone(),
        }
    }
}

type Handled = Result<(Response<Body>, &'static str)>;

/// Runs a handler inside a span that carries the route and (once known) the masked phone, maps
/// its error (to JSON, or for a webhook, whose voice is given, to the spoken refusal), and logs
/// the one line of the request.
async fn run(
    route: &'static str,
    webhook: Option<&Voice>,
    inner: impl Future<Output = Handled>,
) -> Result<Response<Body>, Infallible> {
    let span = tracing::info_span!("request", route, phone = field::Empty, call = field::Empty);
    async move {
        let started = Instant::now();
        let (resp, outcome) = match inner.await {
            Ok(done) => done,
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::warn!(error = %e, "request failed");
                }
                let resp = match webhook {
                    Some(voice) => webhook_refusal(&e, voice),
                    None => error_response(&e),
                };
                (resp, e.code())
            }
        };
        tracing::info!(
            outcome,
            status = resp.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "handled"
        );
        if let Some(metric) = metric_for(route, outcome) {
            telemetry::count(metric, route);
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}

/// The metric a request's outcome counts towards.
fn metric_for(route: &str, outcome: &str) -> Option<Metric> {
    Some(match (route, outcome) {
        ("send-otp", "calling") => Metric::CodeSent,
        ("send-otp", "call_failed") => Metric::CallFailed,
        ("send-otp", "rate_limited") => Metric::RateLimited,
        ("answer", "served") => Metric::CallAnswered,
        ("hangup", "delivered") => Metric::CallDelivered,
        ("hangup", "not_delivered") => Metric::CallNotDelivered,
        ("verify-otp", "valid") => Metric::CodeVerified,
        ("verify-otp", "invalid" | "expired" | "not_found" | "already_used" | "too_many_attempts") => {
            Metric::VerifyFailed
        }
        _ => return None,
    })
}

fn note_phone(phone: &Phone) {
    Span::current().record("phone", field::display(phone.masked()));
}

/// The provider's id of the call (`request_uuid` at send, `CallUUID` in webhooks): the key to
/// Vobiz's own call logs.
fn note_call(id: &str) {
    Span::current().record("call", id);
}

fn os_rng() -> impl rand::RngCore + rand::CryptoRng {
    OsRng.unwrap_err()
}

// ---------------------------------------------------------------------------------------------
// App routes

/// `POST /send-otp {"phone"}`: mint a code and a call token, store the attempt, place the call.
pub async fn send_otp<S: Store, K: Clock, C: CallPlacer>(
    svc: &Service<S, K>,
    calls: &C,
    req: Request,
) -> Result<Response<Body>, Infallible> {
    run("send-otp", None, send_otp_inner(svc, calls, req)).await
}

async fn send_otp_inner<S: Store, K: Clock, C: CallPlacer>(svc: &Service<S, K>, calls: &C, req: Request) -> Handled {
    let body = json_body(&req)?;
    let phone = Phone::parse(string_field(&body, "phone")?)?;
    note_phone(&phone);
    phone.check_destination(&svc.policy.allowed_country_codes)?;
    let base = public_base(&req, svc.public_url.as_deref())
        .ok_or_else(|| Error::Config("PUBLIC_URL is not set and the request has no API Gateway context".into()))?;

    let now = svc.clock.now();
    let mut rng = os_rng();
    let mut conflicts = 0;
    // Read the number, decide, write if nobody else wrote since: one conditional transaction
    // that also counts the call against the global ceiling.
    let (attempt, token) = loop {
        let prior = svc.store.get(&phone).await?;
        let send_times = admit_send(prior.as_ref(), now, &svc.limits).map_err(Error::RateLimited)?;
        let code = generate_code(&mut rng, svc.policy.code_length);
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
        };
        drop(code);
        let attempt = Attempt::new(new, prior.as_ref(), send_times);
        let (minute, expires) = minute_slot(now);
        let slot = GlobalSlot {
            minute,
            expires,
            cap: svc.limits.calls_per_minute,
        };
        match svc
            .store
            .start_attempt(&attempt, prior.as_ref().map(|p| p.version), &slot)
            .await?
        {
            Start::Started => break (attempt, token),
            Start::GlobalLimit => {
                return Err(Error::RateLimited(Limited::Global {
                    retry_after: (minute + 1) * 60 - now,
                }));
            }
            Start::Conflict if conflicts < MAX_SEND_CONFLICTS => conflicts += 1,
            Start::Conflict => return Err(Error::RateLimited(Limited::Cooldown { retry_after: 1 })),
        }
    };
    let attempt_id = attempt.attempt_id.clone();

    let call = CallRequest {
        to: phone.clone(),
        answer_url: format!("{base}/answer/{token}"),
        hangup_url: format!("{base}/hangup/{token}"),
        time_limit: svc.policy.call_time_limit,
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
            return Err(e);
        }
    }
    let reply = json!({
        "status": "calling",
        "phone": phone.e164(),
        "expires_at": rfc3339(attempt.expires_at),
        "expires_in_seconds": svc.policy.code_ttl_secs,
        "max_attempts": attempt.max_attempts,
    });
    Ok((json_response(StatusCode::OK, &reply), "calling"))
}

/// `POST /verify-otp {"phone", "otp"}`: consume the code, or count a wrong guess; each one
/// conditional write.
pub async fn verify_otp<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run("verify-otp", None, verify_otp_inner(svc, req)).await
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
        let outcome = match reason {
            Refusal::Invalid => "invalid",
            Refusal::Expired => "expired",
            Refusal::NotFound => "not_found",
            Refusal::AlreadyUsed => "already_used",
            Refusal::TooManyAttempts => "too_many_attempts",
        };
        Ok((json_response(StatusCode::BAD_REQUEST, &body), outcome))
    };
    let max_failures = svc.limits.failures_per_window;
    let remaining_for = |a: &Attempt, r: Refusal| {
        matches!(r, Refusal::Invalid | Refusal::TooManyAttempts).then(|| a.attempts_remaining(max_failures, now))
    };

    let mut current = match svc.store.consume(&phone, &svc.keys.code_mac(&phone, otp), now).await? {
        Write::Done(_) => return Ok((json_response(StatusCode::OK, &json!({"valid": true})), "valid")),
        Write::Refused(None) => return refused(Refusal::NotFound, None),
        Write::Refused(Some(old)) => old,
    };
    // The code was refused. If the attempt is live, the code was wrong: count it against the
    // code and the number, conditional on the number's failure count we saw.
    let attempt_id = current.attempt_id.clone();
    for _ in 0..MAX_COUNT_CONFLICTS {
        if let Some(reason) = current.refusal(now) {
            return refused(reason, remaining_for(&current, reason));
        }
        if current.attempt_id != attempt_id {
            // A resend replaced the code while we checked: this guess was not checked against
            // the new code, so it is neither accepted nor counted.
            return refused(Refusal::Invalid, remaining_for(&current, Refusal::Invalid));
        }
        let failure = next_failure(&current, now, &svc.limits);
        let keep_until = current.with_failure(failure).keep_until();
        match svc
            .store
            .count_wrong(&phone, &attempt_id, current.failures, &failure, keep_until, now)
            .await?
        {
            Write::Done(a) => {
                if a.is_locked(now) {
                    tracing::warn!("number locked after too many failed verifications");
                }
                return refused(Refusal::Invalid, Some(a.attempts_remaining(max_failures, now)));
            }
            Write::Refused(Some(a)) => current = a,
            Write::Refused(None) => return refused(Refusal::NotFound, None),
        }
    }
    Err(Error::StoreUnavailable(
        "the number's failure count kept changing".into(),
    ))
}

/// `GET /otp-status/{phone}`: delivery and verification state of the number's current code.
pub async fn otp_status<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run("otp-status", None, otp_status_inner(svc, req)).await
}

async fn otp_status_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let raw = path_param(&req, "phone").ok_or(Error::MissingField("phone"))?;
    let phone = Phone::normalize_lenient(&raw)?;
    note_phone(&phone);
    let a = svc.store.get(&phone).await?.ok_or(Error::NotFound)?;
    let now = svc.clock.now();
    let body = json!({
        "phone": phone.e164(),
        "status": a.status(now),
        "call": {
            "placed": a.placed(),
            "answered": a.answered_at.is_some(),
            "ended": a.ended_at.is_some(),
            "outcome": a.call_outcome(),
            "hangup_cause": a.hangup_cause,
            "repeats": a.repeats,
        },
        "expires_at": rfc3339(a.expires_at),
        "attempts_remaining": a.attempts_remaining(svc.limits.failures_per_window, now),
    });
    Ok((json_response(StatusCode::OK, &body), "found"))
}

// ---------------------------------------------------------------------------------------------
// Vobiz webhooks

/// A webhook that may not be served gets a polite hang-up with no hint of a code. Only a store
/// outage answers 503 (Vobiz retries non-200 replies).
fn webhook_refusal(e: &Error, voice: &Voice) -> Response<Body> {
    let status = match e {
        Error::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::OK,
    };
    xml_response(status, script::render(&script::apology(), voice))
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
    /// The signature's nonce, when the request was signed.
    nonce: Option<String>,
}

impl Caller {
    /// A refused write whose record already holds this nonce was a replay.
    fn replayed(&self, refused: &Option<Attempt>) -> bool {
        self.nonce
            .as_deref()
            .is_some_and(|n| refused.as_ref().is_some_and(|a| !a.fresh_nonce(Some(n))))
    }
}

/// Checks the Vobiz signature of a webhook to `{base}/{route}/{token}`, the URL we gave Vobiz.
fn check_signature<S, K>(svc: &Service<S, K>, req: &Request, url: Option<&str>) -> Result<Option<String>> {
    if svc.webhooks.mode == SignatureMode::Off {
        return Ok(None);
    }
    let header = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap_or(""));
    let sigs = Signatures {
        v3: header("x-vobiz-signature-v3"),
        v3_nonce: header("x-vobiz-signature-v3-nonce"),
        v2: header("x-vobiz-signature-v2"),
        v2_nonce: header("x-vobiz-signature-v2-nonce"),
    };
    let verdict = match url {
        Some(url) => signature::verify(svc.webhooks.auth_token.as_deref(), url, &sigs),
        None if sigs.v3.is_none() && sigs.v2.is_none() => Verdict::Absent,
        None => Verdict::Invalid,
    };
    match (verdict, svc.webhooks.mode) {
        (Verdict::Valid { nonce }, _) => Ok(Some(nonce)),
        (Verdict::Invalid, _) => Err(Error::Forbidden("the webhook signature is not valid")),
        (Verdict::Absent, SignatureMode::Required) => Err(Error::Forbidden("the webhook is not signed")),
        (Verdict::Absent, _) => Ok(None),
    }
}

/// `Ok(Err(why))` means "refuse politely" (`why` is for the log).
fn webhook_caller<S, K>(svc: &Service<S, K>, route: &str, req: &Request) -> Result<Result<Caller, &'static str>> {
    let Some(token) = path_param(req, "token") else {
        return Ok(Err("no_token"));
    };
    let base = public_base(req, svc.public_url.as_deref());
    let nonce = check_signature(
        svc,
        req,
        base.as_ref().map(|b| format!("{b}/{route}/{token}")).as_deref(),
    )?;
    let form = Form::parse(req)?;
    let Some(phone) = svc.keys.open_token(&token) else {
        return Ok(Err("unknown_token"));
    };
    note_phone(&phone);
    let to = form.get("To").and_then(|t| Phone::normalize_lenient(t).ok());
    if to.as_ref() != Some(&phone) {
        return Ok(Err("wrong_callee"));
    }
    let call_uuid = match form.get("CallUUID") {
        Some(c)
            if !c.is_empty()
                && c.len() <= 128
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            c.to_owned()
        }
        _ => return Ok(Err("no_call_uuid")),
    };
    note_call(&call_uuid);
    Ok(Ok(Caller {
        token_hash: token_hash(&token),
        phone,
        call_uuid,
        form,
        base,
        token,
        nonce,
    }))
}

fn speak<S, K>(svc: &Service<S, K>, steps: &[Step], outcome: &'static str) -> Handled {
    Ok((xml_response(StatusCode::OK, script::render(steps, &svc.voice)), outcome))
}

/// The steps that read an attempt's code, with a repeat offered while repeats are left.
fn read_code_steps<S, K>(svc: &Service<S, K>, caller: &Caller, a: &Attempt) -> Option<Vec<Step>> {
    let code = svc
        .keys
        .open_code(&caller.phone, &a.attempt_id, a.code_sealed.as_deref()?)?;
    let choice_url = caller.base.as_ref().map(|b| format!("{b}/otp-choice/{}", caller.token));
    let offer = choice_url.as_deref().filter(|_| a.repeats < svc.policy.max_repeats);
    Some(script::read_code(&code, offer))
}

/// `POST /answer/{token}` (and the bare `/answer`): read the code to a live call.
pub async fn answer<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run("answer", Some(&svc.voice), answer_inner(svc, req)).await
}

async fn answer_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let caller = match webhook_caller(svc, "answer", &req)? {
        Ok(c) => c,
        Err(why) => return speak(svc, &script::apology(), why),
    };
    let now = svc.clock.now();
    match svc
        .store
        .answer(
            &caller.phone,
            &caller.token_hash,
            &caller.call_uuid,
            caller.nonce.as_deref(),
            now,
        )
        .await?
    {
        Write::Done(a) => match read_code_steps(svc, &caller, &a) {
            Some(steps) => speak(svc, &steps, "served"),
            None => speak(svc, &script::apology(), "unreadable_code"),
        },
        Write::Refused(old) if caller.replayed(&old) => Err(Error::Forbidden("the webhook nonce was already used")),
        Write::Refused(_) => speak(svc, &script::apology(), "not_live"),
    }
}

/// `POST /otp-choice/{token}`: `Digits=1` reads the code again; anything else says goodbye.
pub async fn otp_choice<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run("otp-choice", Some(&svc.voice), otp_choice_inner(svc, req)).await
}

async fn otp_choice_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let caller = match webhook_caller(svc, "otp-choice", &req)? {
        Ok(c) => c,
        Err(why) => return speak(svc, &script::apology(), why),
    };
    if caller.form.get("Digits") != Some("1") {
        return speak(svc, &script::goodbye(), "goodbye");
    }
    let now = svc.clock.now();
    match svc
        .store
        .repeat(
            &caller.phone,
            &caller.token_hash,
            &caller.call_uuid,
            caller.nonce.as_deref(),
            svc.policy.max_repeats,
            now,
        )
        .await?
    {
        Write::Done(a) => match read_code_steps(svc, &caller, &a) {
            Some(steps) => speak(svc, &steps, "repeated"),
            None => speak(svc, &script::goodbye(), "unreadable_code"),
        },
        Write::Refused(old) if caller.replayed(&old) => Err(Error::Forbidden("the webhook nonce was already used")),
        Write::Refused(_) => speak(svc, &script::goodbye(), "no_repeat"),
    }
}

/// `POST /hangup/{token}`: record what the call did and erase the sealed code. Idempotent.
pub async fn hangup<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Result<Response<Body>, Infallible> {
    run("hangup", Some(&svc.voice), hangup_inner(svc, req)).await
}

async fn hangup_inner<S: Store, K: Clock>(svc: &Service<S, K>, req: Request) -> Handled {
    let caller = match webhook_caller(svc, "hangup", &req)? {
        Ok(c) => c,
        Err(why) => return speak(svc, &[Step::Hangup], why),
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
    let outcome = match svc
        .store
        .hang_up(
            &caller.phone,
            &caller.token_hash,
            caller.nonce.as_deref(),
            &facts,
            svc.clock.now(),
        )
        .await?
    {
        Write::Done(a) if a.call_outcome() == Some(CallOutcome::Answered) => "delivered",
        Write::Done(_) => "not_delivered",
        Write::Refused(old) if caller.replayed(&old) => {
            return Err(Error::Forbidden("the webhook nonce was already used"));
        }
        Write::Refused(Some(_)) => "already_recorded",
        Write::Refused(None) => "unknown_attempt",
    };
    tracing::info!(telephony = telephony.as_str(), "call ended");
    speak(svc, &[Step::Hangup], outcome)
}

fn rfc3339(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_count_towards_their_metrics() {
        assert_eq!(metric_for("send-otp", "calling"), Some(Metric::CodeSent));
        assert_eq!(metric_for("send-otp", "rate_limited"), Some(Metric::RateLimited));
        assert_eq!(metric_for("hangup", "delivered"), Some(Metric::CallDelivered));
        assert_eq!(
            metric_for("verify-otp", "too_many_attempts"),
            Some(Metric::VerifyFailed)
        );
        assert_eq!(metric_for("otp-status", "found"), None);
        // Every metric is reachable from some outcome.
        let outcomes = [
            ("send-otp", "calling"),
            ("send-otp", "call_failed"),
            ("answer", "served"),
            ("hangup", "delivered"),
            ("hangup", "not_delivered"),
            ("verify-otp", "valid"),
            ("verify-otp", "invalid"),
            ("send-otp", "rate_limited"),
        ];
        for m in Metric::ALL {
            assert!(outcomes.iter().any(|(r, o)| metric_for(r, o) == Some(m)), "{m:?}");
        }
    }

    #[test]
    fn rfc3339_is_utc() {
        assert_eq!(super::rfc3339(1_764_067_200), "2025-11-25T10:40:00Z");
    }
}
