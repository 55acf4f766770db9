//! The Vobiz account a deployment calls from (`VOBIZ_*`, `FROM_NUMBER`; docs/configuration.md).

use std::fmt;

use crate::domain::Phone;

/// Where and as whom calls are placed. Its `Debug` never shows the credentials.
#[derive(Clone)]
pub struct VobizConfig {
    pub api_url: String,
    pub auth_id: String,
    pub auth_token: String,
    pub from: Phone,
    pub timeout_ms: u64,
    pub max_retries: u32,
}

impl fmt::Debug for VobizConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VobizConfig")
            .field("api_url", &self.api_url)
            .field("auth_id", &"<redacted>")
            .field("auth_token", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}
