//! [`Service`]: what every handler needs (the store, the clock, the keys, the policy), built once
//! per process from the [`Config`] and borrowed by every request.

use crate::config::{Config, Policy};
use crate::domain::Keys;
use crate::domain::limits::Limits;
use crate::domain::script::Voice;
use crate::domain::signature::SignatureMode;
use crate::ports::{Clock, Store, SystemClock};

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
