//! The Vobiz call API (docs/vobiz.md §1): `POST /api/v1/Account/{auth_id}/Call/` with
//! `X-Auth-ID`/`X-Auth-Token`, 429s retried briefly, no redirect ever followed; and [`Calls`],
//! the placer a deployment uses (Vobiz, or the local server's simulator).

use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};

use super::account::VobizConfig;
use super::simulator::SimulatedCalls;
use crate::error::{Error, Result};
use crate::ports::{CallPlacer, CallRequest, PlacedCall};

/// Longest we wait before retrying a 429, whatever Vobiz asks for: the app is waiting.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);
const BASE_RETRY_DELAY: Duration = Duration::from_millis(250);

/// The Vobiz call API (`POST /api/v1/Account/{auth_id}/Call/`, `X-Auth-ID`/`X-Auth-Token`).
#[derive(Clone, Debug)]
pub struct VobizClient {
    http: reqwest::Client,
    cfg: VobizConfig,
}

impl VobizClient {
    pub fn new(cfg: VobizConfig) -> Result<VobizClient> {
        let http = crate::tls::reqwest_builder()
            // The credentials (and the call's webhook tokens) go to the API host and nowhere
            // else: a redirect is an error, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .connect_timeout(Duration::from_millis(cfg.timeout_ms.min(3000)))
            .build()
            .map_err(|_| Error::Config("could not build the HTTP client for VOBIZ_API_URL".into()))?;
        Ok(VobizClient { http, cfg })
    }

    fn calls_url(&self) -> String {
        format!("{}/api/v1/Account/{}/Call/", self.cfg.api_url, self.cfg.auth_id)
    }
}

impl CallPlacer for VobizClient {
    async fn place_call(&self, req: &CallRequest) -> Result<PlacedCall> {
        let mut body = json!({
            "from": self.cfg.from.e164(),
            "to": req.to.e164(),
            "answer_url": req.answer_url,
            "answer_method": "POST",
            "hangup_url": req.hangup_url,
            "hangup_method": "POST",
            "time_limit": req.time_limit,
            "ring_timeout": req.ring_timeout,
        });
        if req.machine_detection {
            // A machine that answers is hung up on (hangup cause 9100) before anything is said.
            body["machine_detection"] = json!("hangup");
        }
        let mut retries = 0;
        loop {
            let sent = self
                .http
                .post(self.calls_url())
                .header("X-Auth-ID", &self.cfg.auth_id)
                .header("X-Auth-Token", &self.cfg.auth_token)
                .json(&body)
                .send()
                .await;
            // Never format a reqwest error: its text carries the URL, and the URL the account id.
            let resp = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Err(Error::CallFailed(
                        "Vobiz did not answer in time; a call may have been placed".into(),
                    ));
                }
                Err(_) => return Err(Error::CallFailed("could not reach Vobiz".into())),
            };
            let status = resp.status();
            if status.is_success() {
                let json: Value = resp
                    .json()
                    .await
                    .map_err(|_| Error::CallFailed(format!("Vobiz answered {status} with a body that is not JSON")))?;
                return request_uuid(&json)
                    .map(|request_uuid| PlacedCall { request_uuid })
                    .ok_or_else(|| Error::CallFailed(format!("Vobiz answered {status} without a request_uuid")));
            }
            if status.as_u16() == 429 && retries < self.cfg.max_retries {
                let header = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok());
                let from_body = resp
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|j| j.pointer("/error/details/retryAfter").and_then(Value::as_f64));
                let asked = header
                    .or(from_body)
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64);
                let backoff = BASE_RETRY_DELAY * 2u32.pow(retries);
                let jitter = Duration::from_millis(rand::rng().random_range(0..=BASE_RETRY_DELAY.as_millis() as u64));
                let delay = asked.unwrap_or(backoff + jitter).min(MAX_RETRY_DELAY);
                tracing::warn!(
                    retry = retries + 1,
                    delay_ms = delay.as_millis() as u64,
                    "Vobiz rate-limited the call; retrying"
                );
                tokio::time::sleep(delay).await;
                retries += 1;
                continue;
            }
            // The body may name the account: it is never read into the error.
            return Err(Error::CallFailed(format!(
                "Vobiz refused the call with HTTP {}",
                status.as_u16()
            )));
        }
    }
}

/// `request_uuid` identifies the call (`api_id` only identifies the API request).
fn request_uuid(json: &Value) -> Option<String> {
    let v = json.get("request_uuid")?;
    let s = v.as_str().or_else(|| v.as_array()?.first()?.as_str())?;
    (!s.is_empty() && s.len() <= 128).then(|| s.to_owned())
}

/// The call placer a deployment uses: Vobiz when configured, the simulator otherwise (local
/// server only; Lambda functions require Vobiz credentials).
#[derive(Clone, Debug)]
pub enum Calls {
    Vobiz(VobizClient),
    Simulated(SimulatedCalls),
}

impl CallPlacer for Calls {
    async fn place_call(&self, req: &CallRequest) -> Result<PlacedCall> {
        match self {
            Calls::Vobiz(v) => v.place_call(req).await,
            Calls::Simulated(s) => s.place_call(req).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_uuid_not_api_id() {
        assert_eq!(
            request_uuid(&json!({"api_id": "A", "request_uuid": "R", "message": "Call fired"})).as_deref(),
            Some("R")
        );
        assert_eq!(
            request_uuid(&json!({"api_id": "A", "request_uuid": ["R1"]})).as_deref(),
            Some("R1")
        );
        assert_eq!(request_uuid(&json!({"api_id": "A"})), None);
        assert_eq!(request_uuid(&json!({"request_uuid": ""})), None);
    }
}
