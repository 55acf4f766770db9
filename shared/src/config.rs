//! Configuration from the environment, parsed once at start-up into a struct and validated: a
//! bad value stops the process with a message naming the variable. [`VARIABLES`] documents
//! every variable; a test checks the README's configuration table against it.

use std::fmt;

use crate::domain::events::PhoneForm;
use crate::domain::fraud::{self, Guard, Velocity};
use crate::domain::limits::Limits;
use crate::domain::locale::{self, Languages, Locale};
use crate::domain::script::{CodeShape, Voice};
use crate::domain::{Keys, Phone};
use crate::error::{Error, Result};
use crate::vobiz::VobizConfig;
use crate::vobiz::signature::SignatureMode;

/// One environment variable: name, default, bounds and purpose, as the README shows them.
#[derive(Debug)]
pub struct Var {
    pub name: &'static str,
    pub default: &'static str,
    pub bounds: Bounds,
    pub purpose: &'static str,
}

/// What values a variable takes. A whole number's range is written here once: the parser
/// enforces it and the README's table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bounds {
    /// A whole number from the first to the second, inclusive.
    Range(i64, i64),
    /// Anything else, described in words (checked by its own parser).
    Text(&'static str),
}

impl fmt::Display for Bounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Range(min, max) => write!(f, "{min}-{max}"),
            Text(t) => f.write_str(t),
        }
    }
}

macro_rules! vars {
    ($( $name:literal, $default:literal, $bounds:expr, $purpose:literal; )*) => {
        pub const VARIABLES: &[Var] = &[ $( Var { name: $name, default: $default, bounds: $bounds, purpose: $purpose } ),* ];
    };
}

use Bounds::{Range, Text};

vars! {
    "OTP_TABLE", "(none)", Text("table name"), "DynamoDB table. Required on Lambda; the local server uses its in-memory store when unset.";
    "OTP_SECRET", "(none)", Text("at least 32 bytes"), "Server secret for code MACs, sealed codes, webhook tokens and the fraud guard's signal hashes. Required on Lambda; the local server generates one per process when unset.";
    "VOBIZ_AUTH_ID", "(none)", Text("non-empty"), "Vobiz account auth id. Required by send-otp on Lambda; the local server simulates calls when unset.";
    "VOBIZ_AUTH_TOKEN", "(none)", Text("non-empty"), "Vobiz account auth token (set with VOBIZ_AUTH_ID).";
    "FROM_NUMBER", "(none)", Text("E.164 number"), "Caller id: a number on the Vobiz account (set with VOBIZ_AUTH_ID), passed to Vobiz unchanged; in India a 160-series number for service and transactional calls (docs/deploy.md). Alone, the local simulator's caller id.";
    "VOBIZ_API_URL", "https://api.vobiz.ai", Text("https URL (http on loopback)"), "Vobiz API base URL (tests point it at a fake).";
    "PUBLIC_URL", "(derived)", Text("https URL (http on loopback)"), "Base URL Vobiz calls back on. On Lambda derived from the API Gateway request when unset; the local server uses http://127.0.0.1:HTTP_PORT.";
    "HTTP_PORT", "8000", Range(1, 65535), "Port of the local development server.";
    "OTP_CREATE_TABLE", "0", Text("0 or 1"), "Local server only: create OTP_TABLE (with TTL) when missing.";
    "OTP_LENGTH", "6", Range(4, 10), "Digits per code.";
    "OTP_TTL_SECONDS", "300", Range(60, 1800), "How long a code stays valid.";
    "OTP_MAX_ATTEMPTS", "3", Range(1, 10), "Wrong guesses allowed per code.";
    "OTP_MAX_REPEATS", "3", Range(0, 10), "Times a callee may press 1 to hear the code again.";
    "CALL_TIME_LIMIT_SECONDS", "120", Range(30, 600), "Vobiz time_limit: the longest a call may last after answer.";
    "GATHER_TIMEOUT_SECONDS", "8", Range(5, 60), "How long the call waits for a key after the prompt.";
    "RING_TIMEOUT_SECONDS", "40", Range(15, 120), "Vobiz ring_timeout: how long a call rings unanswered before it is given up (less than OTP_TTL_SECONDS).";
    "OTP_KEYPRESS_GATE", "on", Text("on or off"), "On: the callee hears \"press any key to hear your code\" and the code only after a key, so a voicemail box never records it. Off: the code is read on pickup.";
    "MACHINE_DETECTION", "off", Text("off or hangup"), "Vobiz answering-machine detection: hangup drops a call a machine answers (outcome machine) before anything is said.";
    "APP_NAME", "(none)", Text("1-30 letters, digits, spaces and . - & '"), "The app's name, spoken in the call: with Acme, \"Your Acme verification code is ...\".";
    "CALL_LANGUAGE", "en-US", Text("a supported locale"), "The call's language when the app sends no locale and the number's region has no default in REGION_LOCALES.";
    "REGION_LOCALES", "IN:en-IN", Text("REGION:locale,..."), "The default locale of each destination region (ISO 3166), before CALL_LANGUAGE. A send's own locale wins.";
    "PROMPTS_BASE_URL", "(none)", Text("https URL (http on loopback)"), "Where the prompt packs are served (PROMPTS_BASE_URL/hi-IN/7.wav): the languages Vobiz's text-to-speech lacks (hi-IN, ta-IN, te-IN, bn-IN, mr-IN) are supported only when set. The template points it at its prompts bucket; the local server serves prompts/ itself.";
    "PROMPTS_DIR", "prompts", Text("directory"), "Local server only: the prompt packs it serves at /prompts (scripts/prompt-packs.sh writes them).";
    "CODE_READS", "2", Range(1, 3), "Times the code is read in a row before \"press 1 to hear it again\".";
    "DIGIT_PAUSE_SECONDS", "1", Range(1, 5), "Pause after each digit, to write it down.";
    "CALL_VOICE", "WOMAN", Text("WOMAN or MAN"), "Text-to-speech voice.";
    "ALLOWED_REGIONS", "IN", Text("comma-separated ISO 3166 regions"), "Regions a call may go to, by the number's own region (+1 876 is JM, not US; +44 1624 is IM, not GB). Replaces ALLOWED_COUNTRY_CODES.";
    "VOBIZ_TIMEOUT_MS", "8000", Range(1000, 20000), "Timeout of one Vobiz API request.";
    "VOBIZ_MAX_RETRIES", "2", Range(0, 5), "Retries of a call create that Vobiz refused with 429.";
    "VOBIZ_WEBHOOK_SIGNATURE", "optional", Text("required, optional or off"), "Vobiz webhook signatures (V3/V2, keyed with VOBIZ_AUTH_TOKEN): required on every webhook, checked when present, or not checked.";
    "TEST_NUMBERS", "(none)", Text("+number:code,..."), "Numbers that get a fixed code and no call (an app-store review account, staging): a send places no call and reads as delivered, the fixed code verifies, every limit applies; replies and status say \"test\": true. Codes have OTP_LENGTH digits.";
    "APP_API_KEY", "(none)", Text("at least 16 characters"), "Local server only: when set, app routes require it in x-api-key; required before the local server places real Vobiz calls. On AWS the API Gateway usage plan checks keys.";
    "SEND_COOLDOWN_SECONDS", "30", Range(0, 3600), "Least time between two sends to one number.";
    "SENDS_PER_HOUR", "5", Range(1, 100), "Sends per number in any sliding hour.";
    "CALLS_PER_MINUTE", "60", Range(1, 100000), "Calls per minute across all numbers, counted in DynamoDB (sharded: never more; see DAILY_CALL_BUDGET).";
    "DAILY_CALL_BUDGET", "(none)", Range(1, 100000000), "Calls per UTC day across all numbers, a spend cap: past it sends get 429 budget_exhausted with Retry-After to midnight UTC (metric BudgetExhausted). Unset: no budget.";
    "CALL_COUNTER_SHARDS", "32", Range(1, 256), "Most items each global counter (the minute's ceiling, the day's budget) is spread over, one per 50 units of its cap, so concurrent sends to different numbers do not write one hot item.";
    "EVENT_BUS_NAME", "default", Text("EventBridge bus name or ARN"), "otp-events: the bus delivery events are put on (source otp-call, detail-type the event's type).";
    "EVENTS_WEBHOOK_URL", "(none)", Text("https URL (http on loopback)"), "Where delivery events are POSTed, signed the Standard Webhooks way (otp-events on AWS; the local server too). Unset: no webhook.";
    "EVENTS_PHONE", "full", Text("full, masked or hash"), "How delivery events carry the number: full (E.164), masked as in the logs (+91******3210), or hash: HMAC-SHA256 with EVENTS_PHONE_KEY, in hex, which the app computes from its own copy of the number to match.";
    "EVENTS_PHONE_KEY", "(none)", Text("at least 16 characters"), "The key of EVENTS_PHONE=hash, shared with the app (on AWS resolved from Secrets Manager).";
    "EVENTS_WEBHOOK_SECRET", "(none)", Text("whsec_ + base64 key"), "The events webhook's signing key (required with EVENTS_WEBHOOK_URL); on AWS resolved from Secrets Manager.";
    "MAX_FAILURES_PER_DAY", "10", Range(1, 1000), "Consecutive failed verifications of one number within 24 h before it is locked for the rest of those 24 h.";
    "LOG_RETENTION_DAYS", "400", Range(1, 3653), "How long the functions' logs are kept, as erase-number's reply tells the app; the template sets it and the log groups' retention from LogRetentionDays.";
    "FRAUD_GUARD", "block", Text("block, record or off"), "The fraud guard (docs/fraud-guard.md): block refuses sends its rules refuse (429 blocked with a reason); record refuses nothing and counts and logs what it would have refused (metric WouldBlock), to tune before enforcing; off counts nothing.";
    "FRAUD_IP_PER_HOUR", "10", Range(0, 100000), "Sends per end-user IP (signals.ip; IPv6 per /64) per hour; 0: no limit.";
    "FRAUD_IP_PER_DAY", "30", Range(0, 1000000), "Sends per end-user IP per UTC day; 0: no limit.";
    "FRAUD_DEVICE_PER_HOUR", "5", Range(0, 100000), "Sends per signals.device_id per hour; 0: no limit.";
    "FRAUD_DEVICE_PER_DAY", "15", Range(0, 1000000), "Sends per signals.device_id per UTC day; 0: no limit.";
    "FRAUD_USER_PER_HOUR", "5", Range(0, 100000), "Sends per signals.user_id per hour; 0: no limit.";
    "FRAUD_USER_PER_DAY", "15", Range(0, 1000000), "Sends per signals.user_id per UTC day; 0: no limit.";
    "FRAUD_BLOCK_DIGITS", "3", Range(0, 6), "A number's block is its E.164 less this many last digits; calls placed and codes verified are counted per block and UTC day. 0: no block guard.";
    "FRAUD_BLOCK_FLOOR", "10", Range(1, 100000), "Unverified calls a block may have in a UTC day before its verified volume counts; then it is refused (block_velocity) until the day ends.";
    "FRAUD_BLOCK_SHARE_PERCENT", "100", Range(0, 10000), "Unverified calls a block may have as a percentage of its verified calls that day, when that is more than FRAUD_BLOCK_FLOOR.";
    "FRAUD_SAFE_LIST", "(none)", Text("+prefix,..."), "Numbers or prefixes (E.164) the velocity rules never refuse (a test device farm, a support line).";
    "FRAUD_DENY_PREFIXES", "(none)", Text("+prefix,..."), "Prefixes (E.164) always refused (blocked_prefix): number ranges known to earn from calls.";
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub code_length: u32,
    pub code_ttl_secs: i64,
    pub max_attempts: u32,
    pub max_repeats: u32,
    pub call_time_limit: u32,
    /// Seconds a call may ring unanswered (Vobiz `ring_timeout`).
    pub ring_timeout: u32,
    /// The code is read only after the callee presses a key.
    pub keypress_gate: bool,
    /// Ask Vobiz to hang up on answering machines.
    pub machine_detection: bool,
    /// ISO 3166 regions calls may go to (`IN`, `GB`, ...).
    pub allowed_regions: Vec<String>,
    pub test_numbers: TestNumbers,
    /// `APP_NAME`, spoken before the code.
    pub app_name: Option<String>,
    /// `CODE_READS` and `DIGIT_PAUSE_SECONDS`.
    pub code_shape: CodeShape,
    /// The fraud guard (`FRAUD_*`).
    pub guard: Guard,
    /// How long the logs are kept (`LOG_RETENTION_DAYS`): what an erasure's reply says of them.
    pub log_retention_days: u32,
}

/// `TEST_NUMBERS`: numbers that get a fixed code and no call. Its `Debug` shows how many there
/// are, never a number or a code.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TestNumbers(Vec<(Phone, String)>);

impl TestNumbers {
    /// The fixed code of `phone`, if it is a test number.
    pub fn code_for(&self, phone: &Phone) -> Option<&str> {
        self.0.iter().find(|(p, _)| p == phone).map(|(_, c)| c.as_str())
    }

    fn parse(raw: &str, code_length: u32) -> Result<TestNumbers> {
        let bad = |what: &str| {
            Error::Config(format!(
                "TEST_NUMBERS must be +number:code pairs, comma-separated; {what}"
            ))
        };
        let mut numbers = Vec::new();
        for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (number, code) = pair.split_once(':').ok_or_else(|| bad("a pair has no ':'"))?;
            let phone = Phone::normalize(number.trim()).map_err(|_| bad("a number is not E.164"))?;
            let code = code.trim();
            if code.len() != code_length as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("a code does not have OTP_LENGTH digits"));
            }
            if numbers.iter().any(|(p, _)| p == &phone) {
                return Err(bad("a number is listed twice"));
            }
            numbers.push((phone, code.to_owned()));
        }
        Ok(TestNumbers(numbers))
    }
}

impl fmt::Debug for TestNumbers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TestNumbers({} numbers)", self.0.len())
    }
}

/// `EVENT_BUS_NAME`, and the webhook (`EVENTS_WEBHOOK_URL` with `EVENTS_WEBHOOK_SECRET`). Its
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct EventsConfig {
    pub bus: String,
    /// The URL and the `whsec_` secret.
    pub webhook: Option<(String, String)>,
    /// How events carry the number (`EVENTS_PHONE`, `EVENTS_PHONE_KEY`).
    pub phone: PhoneForm,
}

impl fmt::Debug for EventsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsConfig")
            .field("bus", &self.bus)
            .field("webhook", &self.webhook.as_ref().map(|(url, _)| url))
            .field("phone", &self.phone)
            .finish()
    }
}

#[derive(Clone)]
pub struct Config {
    pub table: Option<String>,
    /// `FROM_NUMBER`: the caller id of Vobiz calls, and of the local simulator's.
    pub caller_id: Option<Phone>,
    /// Keys derived from `OTP_SECRET`; `None` when it is unset.
    pub keys: Option<Keys>,
    pub public_url: Option<String>,
    pub vobiz: Option<VobizConfig>,
    pub vobiz_api_url: String,
    pub http_port: u16,
    pub create_table: bool,
    pub policy: Policy,
    pub voice: Voice,
    pub languages: Languages,
    /// `PROMPTS_DIR`: the prompt packs the local server serves.
    pub prompts_dir: String,
    /// Where delivery events go.
    pub events: EventsConfig,
    pub limits: Limits,
    pub signature_mode: SignatureMode,
    /// `VOBIZ_AUTH_TOKEN`, the webhook signing key; webhook functions get it without the rest of
    /// the Vobiz credentials.
    pub webhook_auth_token: Option<String>,
    pub app_api_key: Option<String>,
}

fn default_of(name: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.default)
        .unwrap_or("")
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets are never printed, only whether they are set.
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("secret", &self.keys.as_ref().map(|_| "<set>"))
            .field("public_url", &self.public_url)
            .field("vobiz", &self.vobiz)
            .field("policy", &self.policy)
            .field("events", &self.events)
            .field("limits", &self.limits)
            .field("signature_mode", &self.signature_mode)
            .field("webhook_auth_token", &self.webhook_auth_token.as_ref().map(|_| "<set>"))
            .field("app_api_key", &self.app_api_key.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// A Standard Webhooks secret: `whsec_` and the base64 of at least 24 bytes.
fn is_webhook_secret(secret: &str) -> bool {
    use base64::Engine;
    secret
        .strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .is_some_and(|key| key.len() >= 24)
}

/// `rest` (what follows `http://`) names a loopback host: `127.x.x.x`, `[::1]` or `localhost`.
fn is_loopback_authority(rest: &str) -> bool {
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// A variable that is one of two words (its default from [`VARIABLES`]): `yes` is true.
    fn switch(&self, name: &str, yes: &str, no: &str) -> Result<bool> {
        match self.get(name).as_deref().unwrap_or(default_of(name)) {
            v if v == yes => Ok(true),
            v if v == no => Ok(false),
            other => Err(Error::Config(format!("{name} must be {yes} or {no}, got {other:?}"))),
        }
    }

    /// A whole-number variable, within the [`Bounds::Range`] its row in [`VARIABLES`] gives.
    fn number<T: TryFrom<i64>>(&self, name: &str) -> Result<T> {
        let Some(Var {
            bounds: Range(min, max),
            default,
            ..
        }) = VARIABLES.iter().find(|v| v.name == name)
        else {
            return Err(Error::Config(format!("{name} has no range in the configuration table")));
        };
        let raw = self.get(name).unwrap_or_else(|| (*default).to_owned());
        let v: i64 = raw
            .parse()
            .map_err(|_| Error::Config(format!("{name} must be a whole number, got {raw:?}")))?;
        if v < *min || v > *max {
            return Err(Error::Config(format!(
                "{name} must be between {min} and {max}, got {v}"
            )));
        }
        T::try_from(v).map_err(|_| Error::Config(format!("{name}: {v} does not fit")))
    }

    /// An `https:` URL without query or fragment; plain `http:` only on loopback (a local fake
    /// or the local server), since the Vobiz credentials and the call tokens travel in it.
    fn url(&self, name: &str) -> Result<Option<String>> {
        let Some(u) = self.get(name) else { return Ok(None) };
        let well_formed = !u.contains(char::is_whitespace) && !u.contains('?') && !u.contains('#');
        let secure = u.starts_with("https://") || u.strip_prefix("http://").is_some_and(is_loopback_authority);
        if well_formed && secure {
            Ok(Some(u.trim_end_matches('/').to_owned()))
        } else {
            Err(Error::Config(format!(
                "{name} must be an https URL without query or fragment (http only on loopback)"
            )))
        }
    }
}

/// A comma-separated list of E.164 prefixes (`+91140,+4470`): `+` and 1 to 15 digits each.
fn prefixes<F: Fn(&str) -> Option<String>>(env: &Env<F>, name: &str) -> Result<Vec<String>> {
    let Some(raw) = env.get(name) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let digits = p.strip_prefix('+').unwrap_or("");
            if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(p.to_owned())
            } else {
                Err(Error::Config(format!(
                    "{name} must be E.164 prefixes such as +91140,+4470; got {p:?}"
                )))
            }
        })
        .collect()
}

/// The fraud guard's variables.
fn guard<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Guard> {
    let raw_mode = env
        .get("FRAUD_GUARD")
        .unwrap_or_else(|| default_of("FRAUD_GUARD").into());
    let mode = fraud::Mode::parse(&raw_mode)
        .ok_or_else(|| Error::Config(format!("FRAUD_GUARD must be block, record or off, got {raw_mode:?}")))?;
    let velocity = |hour: &str, day: &str| -> Result<Velocity> {
        Ok(Velocity {
            per_hour: env.number(hour)?,
            per_day: env.number(day)?,
        })
    };
    Ok(Guard {
        mode,
        ip: velocity("FRAUD_IP_PER_HOUR", "FRAUD_IP_PER_DAY")?,
        device: velocity("FRAUD_DEVICE_PER_HOUR", "FRAUD_DEVICE_PER_DAY")?,
        user: velocity("FRAUD_USER_PER_HOUR", "FRAUD_USER_PER_DAY")?,
        block_digits: env.number("FRAUD_BLOCK_DIGITS")?,
        block_floor: env.number("FRAUD_BLOCK_FLOOR")?,
        block_share_percent: env.number("FRAUD_BLOCK_SHARE_PERCENT")?,
        safe: prefixes(env, "FRAUD_SAFE_LIST")?,
        deny: prefixes(env, "FRAUD_DENY_PREFIXES")?,
    })
}

/// `CALL_LANGUAGE`, `REGION_LOCALES` and `PROMPTS_BASE_URL`: every locale named must be one this
/// deployment speaks (a prompt pack only with `PROMPTS_BASE_URL`).
fn languages<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Languages> {
    locale::catalogue().map_err(|e| Error::Config(format!("the locale files are broken: {e}")))?;
    let prompts_url = env.url("PROMPTS_BASE_URL")?;
    let speakable = |name: &str, tag: &str| -> Result<&'static Locale> {
        let found = locale::find(tag).ok_or_else(|| {
            Error::Config(format!(
                "{name}: {tag:?} is not a locale otp-call has (shared/locales: {})",
                locale::source_tags().collect::<Vec<_>>().join(", ")
            ))
        })?;
        if found.is_prompt_pack() && prompts_url.is_none() {
            return Err(Error::Config(format!(
                "{name}: {tag} is played from a prompt pack: set PROMPTS_BASE_URL to where the packs are served"
            )));
        }
        Ok(found)
    };
    let fallback = speakable(
        "CALL_LANGUAGE",
        &env.get("CALL_LANGUAGE")
            .unwrap_or_else(|| default_of("CALL_LANGUAGE").into()),
    )?;
    let mut by_region: Vec<(String, &'static Locale)> = Vec::new();
    let raw = env
        .get("REGION_LOCALES")
        .unwrap_or_else(|| default_of("REGION_LOCALES").into());
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty() && *p != "none") {
        let (region, tag) = pair.split_once(':').ok_or_else(|| {
            Error::Config(format!(
                "REGION_LOCALES must be REGION:locale pairs such as IN:hi-IN, got {pair:?}"
            ))
        })?;
        let region = region.trim().to_ascii_uppercase();
        if !crate::domain::phone::is_region(&region) || by_region.iter().any(|(r, _)| *r == region) {
            return Err(Error::Config(format!(
                "REGION_LOCALES: {region:?} is not an ISO 3166 region, or is listed twice"
            )));
        }
        by_region.push((region, speakable("REGION_LOCALES", tag.trim())?));
    }
    Ok(Languages {
        fallback,
        by_region,
        prompts_url,
    })
}

impl Config {
    pub fn from_env() -> Result<Config> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let env = Env(lookup);
        let keys = match env.get("OTP_SECRET") {
            None => None,
            Some(s) => Some(
                Keys::derive(s.as_bytes())
                    .ok_or_else(|| Error::Config("OTP_SECRET must be at least 32 bytes long".into()))?,
            ),
        };
        let vobiz_api_url = env
            .url("VOBIZ_API_URL")?
            .unwrap_or_else(|| default_of("VOBIZ_API_URL").to_owned());
        let timeout_ms = env.number("VOBIZ_TIMEOUT_MS")?;
        let max_retries = env.number("VOBIZ_MAX_RETRIES")?;
        let creds = [
            env.get("VOBIZ_AUTH_ID"),
            env.get("VOBIZ_AUTH_TOKEN"),
            env.get("FROM_NUMBER"),
        ];
        let webhook_auth_token = creds[1].clone();
        // The caller id, kept exactly as configured (a 160-series number for service and
        // transactional calls in India: docs/deploy.md); alone, the local simulator's `From`.
        let caller_id = creds[2]
            .as_deref()
            .map(|from| {
                Phone::normalize(from)
                    .map_err(|_| Error::Config("FROM_NUMBER must be an E.164 number such as +918012345678".into()))
            })
            .transpose()?;
        let vobiz = match creds {
            [None, None, _] | [None, Some(_), None] => None,
            [Some(auth_id), Some(auth_token), Some(_)] => Some(VobizConfig {
                api_url: vobiz_api_url.clone(),
                auth_id,
                auth_token,
                from: caller_id
                    .clone()
                    .ok_or_else(|| Error::Config("FROM_NUMBER is required with the Vobiz credentials".into()))?,
                timeout_ms,
                max_retries,
            }),
            _ => {
                let missing: Vec<&str> = ["VOBIZ_AUTH_ID", "VOBIZ_AUTH_TOKEN", "FROM_NUMBER"]
                    .iter()
                    .zip(&creds)
                    .filter(|(_, v)| v.is_none())
                    .map(|(n, _)| *n)
                    .collect();
                return Err(Error::Config(format!(
                    "{} must be set together with the other Vobiz credentials",
                    missing.join(", ")
                )));
            }
        };
        if env.get("ALLOWED_COUNTRY_CODES").is_some() {
            return Err(Error::Config(
                "ALLOWED_COUNTRY_CODES is replaced by ALLOWED_REGIONS (ISO 3166 regions such as IN,GB): a calling \
                 code admits every region that shares it (+1 is 25 regions)"
                    .into(),
            ));
        }
        let allowed_regions = env
            .get("ALLOWED_REGIONS")
            .unwrap_or_else(|| default_of("ALLOWED_REGIONS").to_owned())
            .split(',')
            .map(|r| {
                let r = r.trim().to_ascii_uppercase();
                if crate::domain::phone::is_region(&r) {
                    Ok(r)
                } else {
                    Err(Error::Config(format!(
                        "ALLOWED_REGIONS must be ISO 3166 regions such as IN,GB; got {r:?}"
                    )))
                }
            })
            .collect::<Result<Vec<String>>>()?;
        let languages = languages(&env)?;
        let voice = env.get("CALL_VOICE").unwrap_or_else(|| default_of("CALL_VOICE").into());
        if voice != "WOMAN" && voice != "MAN" {
            return Err(Error::Config(format!("CALL_VOICE must be WOMAN or MAN, got {voice:?}")));
        }
        let keypress_gate = env.switch("OTP_KEYPRESS_GATE", "on", "off")?;
        let machine_detection = env.switch("MACHINE_DETECTION", "hangup", "off")?;
        let app_name = env.get("APP_NAME");
        if let Some(name) = &app_name
            && !(name.chars().count() <= 30 && name.chars().all(|c| c.is_alphanumeric() || " .-&'".contains(c)))
        {
            return Err(Error::Config(format!(
                "APP_NAME must be 1 to 30 letters, digits, spaces and . - & ' (it is spoken), got {name:?}"
            )));
        }
        let code_ttl_secs: i64 = env.number("OTP_TTL_SECONDS")?;
        let code_length: u32 = env.number("OTP_LENGTH")?;
        let test_numbers = TestNumbers::parse(&env.get("TEST_NUMBERS").unwrap_or_default(), code_length)?;
        let ring_timeout: u32 = env.number("RING_TIMEOUT_SECONDS")?;
        if i64::from(ring_timeout) >= code_ttl_secs {
            return Err(Error::Config(format!(
                "RING_TIMEOUT_SECONDS ({ring_timeout}) must be less than OTP_TTL_SECONDS ({code_ttl_secs})"
            )));
        }
        let create_table = match env.get("OTP_CREATE_TABLE").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => return Err(Error::Config(format!("OTP_CREATE_TABLE must be 0 or 1, got {other:?}"))),
        };
        let signature_mode = match env.get("VOBIZ_WEBHOOK_SIGNATURE") {
            None => SignatureMode::Optional,
            Some(m) => SignatureMode::parse(&m).ok_or_else(|| {
                Error::Config(format!(
                    "VOBIZ_WEBHOOK_SIGNATURE must be required, optional or off, got {m:?}"
                ))
            })?,
        };
        if signature_mode == SignatureMode::Required && webhook_auth_token.is_none() {
            return Err(Error::Config(
                "VOBIZ_WEBHOOK_SIGNATURE=required needs VOBIZ_AUTH_TOKEN to check signatures with".into(),
            ));
        }
        let app_api_key = env.get("APP_API_KEY");
        if app_api_key.as_ref().is_some_and(|k| k.len() < 16) {
            return Err(Error::Config("APP_API_KEY must be at least 16 characters".into()));
        }
        let limits = Limits {
            send_cooldown_secs: env.number("SEND_COOLDOWN_SECONDS")?,
            sends_per_window: env.number("SENDS_PER_HOUR")?,
            calls_per_minute: env.number("CALLS_PER_MINUTE")?,
            failures_per_window: env.number("MAX_FAILURES_PER_DAY")?,
            daily_call_budget: match env.get("DAILY_CALL_BUDGET") {
                None => None,
                Some(_) => Some(env.number("DAILY_CALL_BUDGET")?),
            },
            counter_shards: env.number("CALL_COUNTER_SHARDS")?,
        };
        let phone = match (
            env.get("EVENTS_PHONE")
                .unwrap_or_else(|| default_of("EVENTS_PHONE").into())
                .as_str(),
            env.get("EVENTS_PHONE_KEY"),
        ) {
            ("full", _) => PhoneForm::Full,
            ("masked", _) => PhoneForm::Masked,
            ("hash", Some(key)) if key.len() >= 16 => PhoneForm::Hashed(key.into_bytes()),
            ("hash", _) => {
                return Err(Error::Config(
                    "EVENTS_PHONE=hash needs EVENTS_PHONE_KEY, at least 16 characters (the app keeps a copy)".into(),
                ));
            }
            (other, _) => {
                return Err(Error::Config(format!(
                    "EVENTS_PHONE must be full, masked or hash, got {other:?}"
                )));
            }
        };
        let events = EventsConfig {
            phone,
            bus: env
                .get("EVENT_BUS_NAME")
                .unwrap_or_else(|| default_of("EVENT_BUS_NAME").into()),
            webhook: match (env.url("EVENTS_WEBHOOK_URL")?, env.get("EVENTS_WEBHOOK_SECRET")) {
                (None, _) => None,
                (Some(url), Some(secret)) if is_webhook_secret(&secret) => Some((url, secret)),
                (Some(_), _) => {
                    return Err(Error::Config(
                        "EVENTS_WEBHOOK_URL needs EVENTS_WEBHOOK_SECRET: whsec_ and the base64 of at least 24 key bytes"
                            .into(),
                    ));
                }
            },
        };
        let table = env.get("OTP_TABLE");
        if let Some(t) = &table
            && (t.len() < 3 || t.len() > 255 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)))
        {
            return Err(Error::Config("OTP_TABLE must be a valid DynamoDB table name".into()));
        }
        Ok(Config {
            table,
            keys,
            caller_id,
            public_url: env.url("PUBLIC_URL")?,
            vobiz,
            vobiz_api_url,
            http_port: env.number("HTTP_PORT")?,
            create_table,
            policy: Policy {
                code_length,
                code_ttl_secs,
                max_attempts: env.number("OTP_MAX_ATTEMPTS")?,
                max_repeats: env.number("OTP_MAX_REPEATS")?,
                call_time_limit: env.number("CALL_TIME_LIMIT_SECONDS")?,
                ring_timeout,
                keypress_gate,
                machine_detection,
                allowed_regions,
                test_numbers,
                app_name,
                code_shape: CodeShape {
                    reads: env.number("CODE_READS")?,
                    digit_pause: env.number("DIGIT_PAUSE_SECONDS")?,
                },
                guard: guard(&env)?,
                log_retention_days: env.number("LOG_RETENTION_DAYS")?,
            },
            voice: Voice {
                voice,
                gather_timeout: env.number("GATHER_TIMEOUT_SECONDS")?,
            },
            languages,
            prompts_dir: env
                .get("PROMPTS_DIR")
                .unwrap_or_else(|| default_of("PROMPTS_DIR").into()),
            events,
            limits,
            signature_mode,
            webhook_auth_token,
            app_api_key,
        })
    }

    /// The keys, or a configuration error naming `OTP_SECRET` (Lambda functions require it).
    pub fn require_keys(&self) -> Result<Keys> {
        self.keys
            .clone()
            .ok_or_else(|| Error::Config("OTP_SECRET is required".into()))
    }

    pub fn require_table(&self) -> Result<String> {
        self.table
            .clone()
            .ok_or_else(|| Error::Config("OTP_TABLE is required".into()))
    }

    pub fn require_vobiz(&self) -> Result<VobizConfig> {
        self.vobiz
            .clone()
            .ok_or_else(|| Error::Config("VOBIZ_AUTH_ID, VOBIZ_AUTH_TOKEN and FROM_NUMBER are required".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(move |k| map.get(k).cloned())
    }

    #[test]
    fn a_160_series_caller_id_is_kept_as_configured() {
        // TRAI's series for service and transactional calls (1600… for RBI, SEBI, PFRDA and
        // IRDAI regulated entities): an ordinary E.164 number to Vobiz, passed on unchanged.
        let c = cfg(&[
            ("VOBIZ_AUTH_ID", "MA123"),
            ("VOBIZ_AUTH_TOKEN", "tok"),
            ("FROM_NUMBER", "+91 1600 123 456"),
        ])
        .unwrap();
        assert_eq!(c.vobiz.unwrap().from.e164(), "+911600123456");
        let alone = cfg(&[("FROM_NUMBER", "+911601234567")]).unwrap();
        assert!(alone.vobiz.is_none(), "no credentials: calls are simulated");
        assert_eq!(alone.caller_id.unwrap().e164(), "+911601234567");
        assert!(
            cfg(&[("FROM_NUMBER", "160-SBI")])
                .unwrap_err()
                .to_string()
                .contains("FROM_NUMBER")
        );
    }

    #[test]
    fn the_fraud_guard_is_configured_and_checked() {
        let c = cfg(&[
            ("FRAUD_GUARD", "record"),
            ("FRAUD_IP_PER_HOUR", "0"),
            ("FRAUD_SAFE_LIST", "+919999900001, +9180"),
            ("FRAUD_DENY_PREFIXES", "+91140"),
        ])
        .unwrap();
        let g = &c.policy.guard;
        assert_eq!((g.mode, g.ip.per_hour, g.ip.per_day), (fraud::Mode::Record, 0, 30));
        assert_eq!((g.safe.len(), g.deny.as_slice()), (2, &["+91140".to_owned()][..]));
        for (name, value) in [
            ("FRAUD_GUARD", "on"),
            ("FRAUD_SAFE_LIST", "919999900001"),
            ("FRAUD_DENY_PREFIXES", "+91-140"),
            ("FRAUD_BLOCK_DIGITS", "7"),
        ] {
            let err = cfg(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = cfg(&[]).unwrap();
        assert_eq!(
            c.policy,
            Policy {
                code_length: 6,
                code_ttl_secs: 300,
                max_attempts: 3,
                max_repeats: 3,
                call_time_limit: 120,
                ring_timeout: 40,
                keypress_gate: true,
                machine_detection: false,
                allowed_regions: vec!["IN".into()],
                test_numbers: TestNumbers::default(),
                app_name: None,
                code_shape: CodeShape {
                    reads: 2,
                    digit_pause: 1
                },
                guard: Guard::default(),
                log_retention_days: 400,
            }
        );
        assert_eq!(
            c.voice,
            Voice {
                voice: "WOMAN".into(),
                gather_timeout: 8
            }
        );
        assert_eq!(c.languages.fallback.tag, "en-US");
        assert_eq!(
            c.languages.by_region,
            [("IN".to_owned(), locale::find("en-IN").unwrap())]
        );
        assert_eq!(c.languages.prompts_url, None);
        assert_eq!(c.prompts_dir, "prompts");
        assert_eq!(c.http_port, 8000);
        assert_eq!(c.vobiz_api_url, "https://api.vobiz.ai");
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.signature_mode, SignatureMode::Optional);
        assert!(c.vobiz.is_none() && c.keys.is_none() && c.table.is_none() && !c.create_table);
        for v in VARIABLES.iter().filter(|v| !v.default.starts_with('(')) {
            assert!(!v.default.is_empty(), "{}", v.name);
        }
    }

    #[test]
    fn every_range_is_enforced_at_its_edges() {
        let ranges: Vec<_> = VARIABLES
            .iter()
            .filter_map(|v| match v.bounds {
                Range(min, max) => Some((v.name, v.default, min, max)),
                Text(_) => None,
            })
            .collect();
        assert_eq!(ranges.len(), 28, "every whole-number variable has its range");
        for (name, default, min, max) in ranges {
            // An optional number ("(none)": unset means off) has no default to check.
            if default != "(none)" {
                let d: i64 = default
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: default {default:?}"));
                assert!((min..=max).contains(&d), "{name}: default {d} outside {min}-{max}");
            }
            for ok in [min, max] {
                assert!(cfg(&[(name, &ok.to_string())]).is_ok(), "{name}={ok} is allowed");
            }
            for bad in [min - 1, max + 1] {
                let err = cfg(&[(name, &bad.to_string())]).unwrap_err().to_string();
                assert!(
                    err.contains(name) && err.contains(&format!("{min} and {max}")),
                    "{name}={bad}: {err}"
                );
            }
        }
    }

    #[test]
    fn test_numbers_have_fixed_codes_and_never_print_them() {
        let c = cfg(&[("TEST_NUMBERS", " +919999900001:482913 , +919999900002:000111")]).unwrap();
        let t = &c.policy.test_numbers;
        assert_eq!(t.code_for(&Phone::normalize("+919999900001").unwrap()), Some("482913"));
        assert_eq!(t.code_for(&Phone::normalize("+919999900003").unwrap()), None);
        let shown = format!("{c:?}");
        assert!(!shown.contains("482913") && !shown.contains("9999900001"), "{shown}");
    }

    #[test]
    fn a_call_stops_ringing_before_its_code_expires() {
        let err = cfg(&[("OTP_TTL_SECONDS", "60"), ("RING_TIMEOUT_SECONDS", "60")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RING_TIMEOUT_SECONDS") && err.contains("OTP_TTL_SECONDS"),
            "{err}"
        );
        let c = cfg(&[("OTP_KEYPRESS_GATE", "off"), ("MACHINE_DETECTION", "hangup")]).unwrap();
        assert!(!c.policy.keypress_gate && c.policy.machine_detection);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("OTP_LENGTH", "3"),
            ("OTP_LENGTH", "11"),
            ("OTP_LENGTH", "six"),
            ("OTP_TTL_SECONDS", "5"),
            ("OTP_MAX_ATTEMPTS", "0"),
            ("OTP_MAX_REPEATS", "11"),
            ("CALL_TIME_LIMIT_SECONDS", "9999"),
            ("GATHER_TIMEOUT_SECONDS", "4"),
            ("RING_TIMEOUT_SECONDS", "10"),
            ("OTP_KEYPRESS_GATE", "maybe"),
            ("MACHINE_DETECTION", "continue"),
            ("HTTP_PORT", "0"),
            ("HTTP_PORT", "70000"),
            ("CALL_LANGUAGE", "english"),
            ("CALL_LANGUAGE", "xx-YY"),
            ("CALL_LANGUAGE", "hi-IN"),
            ("REGION_LOCALES", "IN:ta-IN"),
            ("REGION_LOCALES", "IN"),
            ("REGION_LOCALES", "XX:en-US"),
            ("REGION_LOCALES", "IN:en-IN,IN:en-GB"),
            ("PROMPTS_BASE_URL", "http://prompts.example"),
            ("CODE_READS", "0"),
            ("EVENTS_WEBHOOK_URL", "https://app.example/hooks"),
            ("EVENTS_WEBHOOK_URL", "http://app.example/hooks"),
            ("DIGIT_PAUSE_SECONDS", "9"),
            ("CALL_VOICE", "ROBOT"),
            ("ALLOWED_REGIONS", "IN,XX"),
            ("ALLOWED_REGIONS", "91"),
            ("ALLOWED_COUNTRY_CODES", "91"),
            ("PUBLIC_URL", "http://otp.example.com"),
            ("VOBIZ_API_URL", "http://api.vobiz.ai"),
            ("OTP_SECRET", "short"),
            ("PUBLIC_URL", "ftp://x"),
            ("PUBLIC_URL", "https://x/?a=1"),
            ("VOBIZ_API_URL", "not a url"),
            ("OTP_CREATE_TABLE", "yes"),
            ("OTP_TABLE", "a b"),
            ("VOBIZ_TIMEOUT_MS", "10"),
            ("VOBIZ_MAX_RETRIES", "9"),
            ("VOBIZ_WEBHOOK_SIGNATURE", "maybe"),
            ("VOBIZ_WEBHOOK_SIGNATURE", "required"),
            ("APP_API_KEY", "short"),
            ("APP_NAME", "Acme <script>"),
            ("APP_NAME", "A name far too long to be spoken in a call"),
            ("TEST_NUMBERS", "+919999900001"),
            ("TEST_NUMBERS", "+919999900001:12345"),
            ("TEST_NUMBERS", "919999900001:123456"),
            ("TEST_NUMBERS", "+919999900001:123456,+919999900001:654321"),
            ("SEND_COOLDOWN_SECONDS", "-1"),
            ("SENDS_PER_HOUR", "0"),
            ("CALLS_PER_MINUTE", "0"),
            ("MAX_FAILURES_PER_DAY", "0"),
        ] {
            let err = cfg(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn vobiz_credentials_come_together() {
        let c = cfg(&[
            ("VOBIZ_AUTH_ID", "MA123"),
            ("VOBIZ_AUTH_TOKEN", "tok"),
            ("FROM_NUMBER", "+918012345678"),
            ("VOBIZ_API_URL", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        let v = c.vobiz.unwrap();
        assert_eq!(v.api_url, "http://127.0.0.1:9");
        assert_eq!(v.from.e164(), "+918012345678");
        let dbg = format!("{v:?}");
        assert!(!dbg.contains("MA123") && !dbg.contains("tok\""), "{dbg}");
        let err = cfg(&[("VOBIZ_AUTH_ID", "MA123"), ("VOBIZ_AUTH_TOKEN", "tok")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("FROM_NUMBER"), "{err}");
        // Webhook functions get only the auth token, to check signatures with.
        let w = cfg(&[("VOBIZ_AUTH_TOKEN", "tok"), ("VOBIZ_WEBHOOK_SIGNATURE", "required")]).unwrap();
        assert!(w.vobiz.is_none());
        assert_eq!(w.webhook_auth_token.as_deref(), Some("tok"));
        assert!(!format!("{w:?}").contains("tok\""));
    }

    #[test]
    fn lists_and_urls_are_normalised() {
        let c = cfg(&[
            ("ALLOWED_REGIONS", " in, GB ,us"),
            ("VOBIZ_API_URL", "http://127.0.0.1:9000"),
            ("PUBLIC_URL", "https://abc.example/prod/"),
            ("OTP_SECRET", &"s".repeat(32)),
        ])
        .unwrap();
        assert_eq!(c.policy.allowed_regions, ["IN", "GB", "US"]);
        assert_eq!(c.vobiz_api_url, "http://127.0.0.1:9000", "plain http on loopback only");
        assert!(cfg(&[("PUBLIC_URL", "http://localhost:8000")]).is_ok());
        assert_eq!(c.public_url.as_deref(), Some("https://abc.example/prod"));
        assert!(c.keys.is_some());
    }

    #[test]
    fn the_events_webhook_needs_its_secret_and_never_shows_it() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let c = cfg(&[
            ("EVENTS_WEBHOOK_URL", "https://app.example/hooks/"),
            ("EVENTS_WEBHOOK_SECRET", secret),
        ])
        .unwrap();
        assert_eq!(
            c.events.webhook,
            Some(("https://app.example/hooks".into(), secret.into()))
        );
        assert_eq!(c.events.bus, "default");
        assert!(!format!("{c:?}").contains("MfKQ9r8"));
        for bad in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_short", "whsec_!!!"] {
            let err = cfg(&[
                ("EVENTS_WEBHOOK_URL", "https://app.example/h"),
                ("EVENTS_WEBHOOK_SECRET", bad),
            ]);
            assert!(err.unwrap_err().to_string().contains("EVENTS_WEBHOOK_SECRET"), "{bad}");
        }
    }

    #[test]
    fn prompt_pack_locales_need_their_host() {
        let c = cfg(&[
            ("PROMPTS_BASE_URL", "https://bucket.example/prompts/"),
            ("REGION_LOCALES", "in:hi-in, gb:en-GB"),
            ("CALL_LANGUAGE", "ta-IN"),
        ])
        .unwrap();
        assert_eq!(
            c.languages.prompts_url.as_deref(),
            Some("https://bucket.example/prompts")
        );
        assert_eq!(c.languages.fallback.tag, "ta-IN");
        let regions: Vec<(&str, &str)> = c
            .languages
            .by_region
            .iter()
            .map(|(r, l)| (r.as_str(), l.tag.as_str()))
            .collect();
        assert_eq!(regions, [("IN", "hi-IN"), ("GB", "en-GB")]);
        assert!(
            cfg(&[("REGION_LOCALES", "none")])
                .unwrap()
                .languages
                .by_region
                .is_empty()
        );
    }
}
