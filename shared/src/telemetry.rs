//! Logging and metrics.
//!
//! Logs follow Lambda's advanced logging controls like `lambda_http::tracing` does
//! (`AWS_LAMBDA_LOG_FORMAT=JSON`, `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), with one
//! difference: the HTTP and AWS SDK crates are capped at INFO whatever the level. At DEBUG and
//! TRACE they log whole request and response bodies, and the bodies carry phone numbers and
//! sealed codes (`tests/logs.rs` shows it). Naming a more specific target of one of them
//! explicitly (`RUST_LOG=aws_smithy_runtime::client=trace`) still overrides the cap: a
//! deliberate act for debugging, never a default.
//!
//! Metrics are CloudWatch embedded metric format (EMF) lines on stdout, which Lambda turns
//! into metrics in the `otp-call` namespace.

use std::io::Write;
use std::sync::OnceLock;

use crate::domain::fraud::Reason;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;

/// Crates whose DEBUG/TRACE output contains request and response bodies.
const CAPPED: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_smithy_json",
    "aws_sdk_dynamodb",
    "aws_runtime",
    "aws_sigv4",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tower",
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
];

/// The filter directives: the configured level, then the caps.
pub fn filter_directives(level: Option<&str>) -> String {
    let mut d = level.filter(|l| !l.trim().is_empty()).unwrap_or("info").to_owned();
    for c in CAPPED {
        d.push_str(&format!(",{c}=info"));
    }
    d
}

/// `RUST_LOG`-style directives (`level`, `target=level`, comma-separated; the longest matching
/// target wins) as a [`Targets`] filter. A directive that does not parse is skipped, as
/// `EnvFilter::parse_lossy` would; span and field filters are not supported (and not needed:
/// `Targets` keeps the `regex` crate out of the functions that do not parse phone numbers).
pub fn targets(directives: &str) -> Targets {
    let level = |l: &str| match l {
        "fatal" => Some(LevelFilter::ERROR), // Lambda's name for its highest level
        "" => None,
        l => l.parse::<LevelFilter>().ok(),
    };
    let mut t = Targets::new().with_default(LevelFilter::INFO);
    for d in directives
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
    {
        match d.split_once('=') {
            None => {
                if let Some(l) = level(&d) {
                    t = t.with_default(l);
                }
            }
            Some((target, l)) => {
                if let (false, Some(l)) = (target.is_empty(), level(l)) {
                    t = t.with_target(target.to_owned(), l);
                }
            }
        }
    }
    t
}

/// Installs the process's subscriber, writing to stdout.
pub fn init() {
    init_with_writer(std::io::stdout);
}

pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let filter = targets(&filter_directives(level.as_deref()));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt()
        .with_target(false)
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer);
    // On Lambda, CloudWatch stamps every line; locally, a time helps.
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    use tracing_subscriber::layer::SubscriberExt;
    let result = match (json, on_lambda) {
        (true, _) => tracing::subscriber::set_global_default(fmt.json().without_time().finish().with(filter)),
        (false, true) => tracing::subscriber::set_global_default(fmt.without_time().finish().with(filter)),
        (false, false) => tracing::subscriber::set_global_default(fmt.finish().with(filter)),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

/// The business events worth a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// send-otp stored a code and Vobiz accepted the call.
    CodeSent,
    /// Vobiz refused or failed the call.
    CallFailed,
    /// The answer webhook read a code to a callee.
    CallAnswered,
    /// The hangup webhook recorded a delivered call (answered, code served).
    CallDelivered,
    /// The hangup webhook recorded an undelivered call (busy, no answer, ...).
    CallNotDelivered,
    CodeVerified,
    VerifyFailed,
    /// A send refused by a cooldown, window, lock or the global ceiling.
    RateLimited,
    /// send-otp stored a test number's fixed code (`TEST_NUMBERS`); no call.
    TestCodeSent,
    /// verify-otp accepted a test number's code.
    TestCodeVerified,
    /// A send refused because `DAILY_CALL_BUDGET` is spent (an alarm watches it).
    BudgetExhausted,
    /// A send refused with 503 after DynamoDB kept cancelling its transaction for contention.
    Contended,
    /// A send the fraud guard refused, by its reason.
    Blocked(Reason),
    /// A send the fraud guard would have refused, in record mode (`FRAUD_GUARD=record`).
    WouldBlock(Reason),
}

impl Metric {
    pub const ALL: [Metric; 22] = [
        Metric::CodeSent,
        Metric::CallFailed,
        Metric::CallAnswered,
        Metric::CallDelivered,
        Metric::CallNotDelivered,
        Metric::CodeVerified,
        Metric::VerifyFailed,
        Metric::RateLimited,
        Metric::TestCodeSent,
        Metric::TestCodeVerified,
        Metric::BudgetExhausted,
        Metric::Contended,
        Metric::Blocked(Reason::IpVelocity),
        Metric::Blocked(Reason::DeviceVelocity),
        Metric::Blocked(Reason::UserVelocity),
        Metric::Blocked(Reason::BlockVelocity),
        Metric::Blocked(Reason::BlockedPrefix),
        Metric::WouldBlock(Reason::IpVelocity),
        Metric::WouldBlock(Reason::DeviceVelocity),
        Metric::WouldBlock(Reason::UserVelocity),
        Metric::WouldBlock(Reason::BlockVelocity),
        Metric::WouldBlock(Reason::BlockedPrefix),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::CodeSent => "CodeSent",
            Metric::CallFailed => "CallFailed",
            Metric::CallAnswered => "CallAnswered",
            Metric::CallDelivered => "CallDelivered",
            Metric::CallNotDelivered => "CallNotDelivered",
            Metric::CodeVerified => "CodeVerified",
            Metric::VerifyFailed => "VerifyFailed",
            Metric::RateLimited => "RateLimited",
            Metric::TestCodeSent => "TestCodeSent",
            Metric::TestCodeVerified => "TestCodeVerified",
            Metric::BudgetExhausted => "BudgetExhausted",
            Metric::Contended => "Contended",
            Metric::Blocked(r) => match r {
                Reason::IpVelocity => "BlockedIpVelocity",
                Reason::DeviceVelocity => "BlockedDeviceVelocity",
                Reason::UserVelocity => "BlockedUserVelocity",
                Reason::BlockVelocity => "BlockedBlockVelocity",
                Reason::BlockedPrefix => "BlockedPrefix",
            },
            Metric::WouldBlock(r) => match r {
                Reason::IpVelocity => "WouldBlockIpVelocity",
                Reason::DeviceVelocity => "WouldBlockDeviceVelocity",
                Reason::UserVelocity => "WouldBlockUserVelocity",
                Reason::BlockVelocity => "WouldBlockBlockVelocity",
                Reason::BlockedPrefix => "WouldBlockPrefix",
            },
        }
    }
}

pub const NAMESPACE: &str = "otp-call";

/// One EMF line counting `metric` once, with the route as its dimension.
pub fn emf_line(metric: Metric, route: &str, timestamp_ms: u128) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Route"]],
                "Metrics": [{"Name": metric.name(), "Unit": "Count"}],
            }],
        },
        "Route": route,
        metric.name(): 1,
    })
    .to_string()
}

/// Emits `metric` as an EMF line when running on Lambda (elsewhere there is no collector).
pub fn count(metric: Metric, route: &str) {
    static ON_LAMBDA: OnceLock<bool> = OnceLock::new();
    if !*ON_LAMBDA.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()) {
        return;
    }
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", emf_line(metric, route, ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_lines_are_what_cloudwatch_expects() {
        let line: serde_json::Value =
            serde_json::from_str(&emf_line(Metric::CodeVerified, "verify-otp", 1_795_600_800_000)).unwrap();
        assert_eq!(line["_aws"]["Timestamp"], 1_795_600_800_000u64);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "otp-call");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Route"]])
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            serde_json::json!({"Name": "CodeVerified", "Unit": "Count"})
        );
        assert_eq!(line["Route"], "verify-otp");
        assert_eq!(line["CodeVerified"], 1);
    }

    #[test]
    fn dependency_crates_are_capped_whatever_the_level() {
        let d = filter_directives(Some("trace"));
        assert!(d.starts_with("trace,"));
        assert!(d.contains("aws_smithy_runtime=info") && d.contains("hyper=info") && d.contains("reqwest=info"));
        assert!(filter_directives(None).starts_with("info,"));
    }

    #[test]
    fn directives_become_targets_like_rust_log() {
        use tracing::Level;
        let t = targets(&filter_directives(Some("TRACE")));
        assert!(t.would_enable("shared::handlers", &Level::TRACE));
        assert!(!t.would_enable("aws_smithy_runtime::client::orchestrator", &Level::DEBUG));
        assert!(t.would_enable("aws_smithy_runtime::client::orchestrator", &Level::INFO));
        // A more specific target named on purpose overrides the cap.
        let t = targets(&filter_directives(Some("warn,aws_smithy_runtime::client=trace")));
        assert!(t.would_enable("aws_smithy_runtime::client::orchestrator", &Level::TRACE));
        assert!(!t.would_enable("aws_smithy_runtime::retries", &Level::DEBUG));
        assert!(!t.would_enable("shared", &Level::INFO));
        assert!(t.would_enable("shared", &Level::WARN));
        // Lambda's FATAL, garbage and empty input.
        assert!(!targets("fatal").would_enable("shared", &Level::WARN));
        assert!(targets("fatal").would_enable("shared", &Level::ERROR));
        assert!(targets("loud,=debug,x=").would_enable("shared", &Level::INFO));
        assert!(!targets("loud,=debug,x=").would_enable("shared", &Level::DEBUG));
        assert!(targets("").would_enable("shared", &Level::INFO));
    }
}
