//! [`Service`]: what every handler needs (the store, the clock, the keys, the policy), built once
//! per process from the [`Config`] and borrowed by every request.

use crate::config::{Config, Policy};
use crate::domain::Keys;
use crate::domain::limits::Limits;
use crate::domain::locale::Languages;
use crate::domain::script::{Speaker, Voice};
use crate::ports::{Clock, Store, SystemClock};
use crate::vobiz::signature::SignatureMode;

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
    /// How a call picks its language and where prompt packs are served.
    pub languages: Languages,
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
            languages: cfg.languages.clone(),
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

impl<S, K> Service<S, K> {
    /// Who speaks a call in `locale` (an attempt's; the configured fallback for `None`, for an
    /// attempt from before locales, or for a refusal that knows no attempt).
    pub fn speaker(&self, locale: Option<&str>) -> Speaker<'_> {
        let locale = self.languages.of_attempt(locale);
        Speaker {
            locale,
            voicing: self.languages.voicing(locale),
            voice: &self.voice,
            app_name: self.policy.app_name.as_deref(),
        }
    }
}
