//! What one verification costs: its DynamoDB request units, Lambda invocations and GB-seconds and
//! API Gateway requests (counted by `journey.rs`), priced from `bench/prices.json`.
//!
//! The counting proxy classes every DynamoDB request by the capacity it consumes and counts the
//! items it names ([`classify`]). A unit covers an item up to 4 KB for a read and 1 KB for a
//! write, so the journey measures the largest item in the table at every step boundary
//! ([`item_size`], DynamoDB's size rule) and charges each item ⌈that size / 4 KB or 1 KB⌉ units:
//! exact while every item stays under 1 KB, an upper bound otherwise. moto's own
//! `ReturnConsumedCapacity` is not used: it answers constants whatever the sizes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

/// The price table, compiled in: the bench needs nothing outside the repository at run time.
pub const PRICES_JSON: &str = include_str!("../prices.json");
/// template.yaml's `Globals.Function.MemorySize` (arm64).
pub const MEMORY_MB: f64 = 128.0;
/// How many verifications the totals are stated for.
pub const PER: f64 = 1000.0;

/// The capacity classes [`classify`] counts items in.
pub const READ: &str = "read (strongly consistent)";
pub const EVENTUAL_READ: &str = "read (eventually consistent)";
pub const WRITE: &str = "write";
pub const TRANSACT_WRITE: &str = "transactional write";
pub const TRANSACT_READ: &str = "transactional read";

/// The capacity class of a request (by its `X-Amz-Target` and body) and how many items it
/// names; `None` for an operation the model does not price (Query, Scan, other services).
pub fn classify(target: &str, body: &[u8]) -> Option<(&'static str, u64)> {
    let op = target.rsplit('.').next().unwrap_or(target);
    if !target.starts_with("DynamoDB_") {
        return None;
    }
    if matches!(op, "PutItem" | "UpdateItem" | "DeleteItem") {
        return Some((WRITE, 1));
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let consistent = |t: &Value| [EVENTUAL_READ, READ][usize::from(t["ConsistentRead"] == true)];
    match op {
        "GetItem" => Some((consistent(&v), 1)),
        "BatchGetItem" => {
            // Each key is charged as a GetItem of its own, found or not.
            let tables = v["RequestItems"].as_object()?;
            let keys = tables
                .values()
                .map(|t| t["Keys"].as_array().map_or(0, Vec::len) as u64)
                .sum();
            Some((tables.values().next().map_or(READ, consistent), keys))
        }
        "TransactWriteItems" => Some((TRANSACT_WRITE, v["TransactItems"].as_array()?.len() as u64)),
        "TransactGetItems" => Some((TRANSACT_READ, v["TransactItems"].as_array()?.len() as u64)),
        _ => None,
    }
}

/// (read, write) request units of one item of `class` whose size is at most `size` bytes.
pub fn units(class: &str, size: u64) -> (f64, f64) {
    let read = size.div_ceil(4096).max(1) as f64;
    let write = size.div_ceil(1024).max(1) as f64;
    match class {
        READ => (read, 0.0),
        EVENTUAL_READ => (read / 2.0, 0.0),
        TRANSACT_READ => (2.0 * read, 0.0),
        WRITE => (0.0, write),
        TRANSACT_WRITE => (0.0, 2.0 * write),
        _ => (0.0, 0.0),
    }
}

/// The size of an item by DynamoDB's rule: attribute names plus values (strings and binaries
/// their bytes; numbers 1 byte per two significant digits + 1; booleans and nulls 1; lists and
/// maps 3 + 1 per element; sets their elements).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> u64 {
    item.iter().map(|(name, v)| name.len() as u64 + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> u64 {
    let number = |n: &str| {
        let mantissa = n.split(['e', 'E']).next().unwrap_or("");
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        (digits.trim_matches('0').len().max(1) as u64).div_ceil(2) + 1
    };
    match v {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number(n),
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::Ss(set) => set.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|e| value_size(e) + 1).sum::<u64>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, e)| k.len() as u64 + value_size(e) + 1).sum::<u64>(),
        _ => 1, // Bool, Null
    }
}

/// Each price of `prices.json`: (USD per unit, status); and where and when they were read.
pub struct Prices(BTreeMap<String, (f64, String)>, pub String);

impl Prices {
    pub fn parse(raw: &str) -> Result<Prices, String> {
        let v: Value = serde_json::from_str(raw).map_err(|e| format!("prices.json: {e}"))?;
        let mut out = BTreeMap::new();
        for (k, p) in v["prices"].as_object().ok_or("prices.json: no prices")? {
            let (usd, per) = p["usd"]
                .as_f64()
                .zip(p["per"].as_f64())
                .ok_or(format!("prices.json: {k}"))?;
            out.insert(k.clone(), (usd / per, p["status"].as_str().unwrap_or("?").to_owned()));
        }
        let (region, read_on) = (
            v["region"].as_str().unwrap_or("?"),
            v["read_on"].as_str().unwrap_or("?"),
        );
        Ok(Prices(out, format!("{region} list prices read {read_on}")))
    }
    pub fn usd(&self, key: &str) -> f64 {
        self.0.get(key).map_or(f64::NAN, |p| p.0)
    }
}

/// One invocation of the verification, as counted.
pub struct Step {
    pub name: &'static str,
    pub function: &'static str,
    /// DynamoDB requests by operation, and the items they named by capacity class.
    pub requests: BTreeMap<String, u64>,
    pub items: BTreeMap<String, u64>,
    /// The verification's item after the step, bytes.
    pub item_bytes: Option<u64>,
    /// Billed duration of one invocation, ms (each invoke rounded up to 1 ms), and its source.
    pub billed_ms: f64,
    pub ms_source: String,
}

/// One whole verification, and the largest item in the table at any step boundary (bytes): the
/// size every item is charged as.
pub struct Verification {
    pub steps: Vec<Step>,
    pub largest_item: u64,
    pub prices: Prices,
    pub profile: String,
}

impl Verification {
    fn step_units(&self, st: &Step) -> (f64, f64) {
        st.items.iter().fold((0.0, 0.0), |(r, w), (class, n)| {
            let (dr, dw) = units(class, self.largest_item);
            (r + dr * *n as f64, w + dw * *n as f64)
        })
    }

    /// Per verification: DynamoDB requests, RRU, WRU, GB-seconds; one Lambda invocation and one
    /// API Gateway request a step (every route, the webhooks too, comes through the REST API).
    pub fn totals(&self) -> (u64, f64, f64, f64) {
        self.steps.iter().fold((0, 0.0, 0.0, 0.0), |t, st| {
            let (r, w) = self.step_units(st);
            let gb_s = st.billed_ms / 1000.0 * MEMORY_MB / 1024.0;
            (t.0 + st.requests.values().sum::<u64>(), t.1 + r, t.2 + w, t.3 + gb_s)
        })
    }

    /// USD of one verification: DynamoDB, Lambda, API Gateway.
    pub fn bill(&self) -> [f64; 3] {
        let ((_, rru, wru, gb_s), n, p) = (self.totals(), self.steps.len() as f64, &self.prices);
        [
            rru * p.usd("dynamodb_read_request_unit") + wru * p.usd("dynamodb_write_request_unit"),
            n * p.usd("lambda_request") + gb_s * p.usd("lambda_arm64_gb_second"),
            n * p.usd("api_gateway_rest_request"),
        ]
    }

    pub fn markdown(&self, s: &mut String) {
        let list = |m: &BTreeMap<String, u64>| {
            let each = m
                .iter()
                .map(|(k, n)| format!("{} {n}", k.rsplit('.').next().unwrap_or(k)));
            each.collect::<Vec<_>>().join(", ")
        };
        let bound = match self.largest_item {
            0..=1024 => "≤ 1 KB: one unit an item, ×2 in a transaction, ½ for an eventually consistent read",
            _ => "over 1 KB: the units are an upper bound",
        };
        let _ = writeln!(
            s,
            "\n### What a verification costs\n\nOne whole verification (bench/README.md): DynamoDB requests and the items they name by capacity class, counted by the proxy, every item charged as the largest in the table at any step boundary, {} bytes ({bound}). Lambda {MEMORY_MB:.0} MB arm64, billed ms from this run's warm invokes (profile `{}`). Prices: `bench/prices.json` ({}, no free tier).\n\n\
             | step | function | DynamoDB requests | items | its item, bytes | RRU | WRU | billed ms |\n|---|---|---|---|---|---|---|---|",
            self.largest_item, self.profile, self.prices.1
        );
        for st in &self.steps {
            let ((r, w), bytes) = (self.step_units(st), st.item_bytes.map_or("–".into(), |b| b.to_string()));
            let (req, items) = (list(&st.requests), list(&st.items));
            let (name, f, ms, src) = (st.name, st.function, st.billed_ms, &st.ms_source);
            let _ = writeln!(
                s,
                "| {name} | {f} | {req} | {items} | {bytes} | {r} | {w} | {ms:.1} ({src}) |"
            );
        }
        let ((requests, rru, wru, gb_s), n) = (self.totals(), self.steps.len());
        let [ddb, lambda, api] = self.bill().map(|x| x * PER);
        let twilio = &self.prices.0["twilio_verify_successful_verification"];
        let (total, fee) = (ddb + lambda + api, twilio.0 * PER);
        let _ = writeln!(
            s,
            "\n| | DynamoDB | Lambda | API Gateway (REST) | **total (AWS)** | Twilio Verify's fee, beside it |\n|---|---|---|---|---|---|\n\
             | per verification | {requests} requests: {rru} RRU + {wru} WRU | {n} invocations, {gb_s:.6} GB-s | {n} requests | | 1 verification ({}) |\n\
             | USD per {PER:.0} verifications | ${ddb:.4} | ${lambda:.4} | ${api:.4} | **${total:.4}** | ${fee:.2} ({:.0}×) |",
            twilio.1,
            fee / total
        );
    }

    pub fn json(&self) -> Value {
        let ((requests, rru, wru, gb_s), n) = (self.totals(), self.steps.len());
        let [ddb, lambda, api] = self.bill().map(|x| x * PER);
        let steps = self.steps.iter().map(|st| {
            let (r, w) = self.step_units(st);
            json!({"step": st.name, "function": st.function, "dynamodb_requests": st.requests,
                   "items_by_class": st.items, "item_bytes_after": st.item_bytes, "rru": r, "wru": w,
                   "lambda_billed_ms": st.billed_ms, "lambda_ms_source": st.ms_source})
        });
        json!({
            "profile": self.profile, "memory_mb": MEMORY_MB, "largest_item_bytes": self.largest_item,
            "steps": steps.collect::<Vec<_>>(), "prices": self.prices.1,
            "per_verification": {"dynamodb_requests": requests, "rru": rru, "wru": wru,
                "lambda_invocations": n, "gb_seconds": gb_s, "api_gateway_requests": n},
            "usd_per_1000_verifications": {"dynamodb": ddb, "lambda": lambda, "api_gateway": api,
                "total": ddb + lambda + api,
                "twilio_verify_fee": self.prices.usd("twilio_verify_successful_verification") * PER},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classed_with_the_items_they_name() {
        let t = |op: &str| format!("DynamoDB_20120810.{op}");
        assert_eq!(classify(&t("UpdateItem"), b""), Some((WRITE, 1)));
        assert_eq!(classify(&t("GetItem"), br#"{"ConsistentRead":true}"#), Some((READ, 1)));
        assert_eq!(classify(&t("GetItem"), b"{}"), Some((EVENTUAL_READ, 1)));
        let batch = br#"{"RequestItems":{"t":{"ConsistentRead":true,"Keys":[{},{},{},{}]}}}"#;
        assert_eq!(classify(&t("BatchGetItem"), batch), Some((READ, 4)));
        let tx = br#"{"TransactItems":[{"Put":{}},{"Update":{}}]}"#;
        assert_eq!(classify(&t("TransactWriteItems"), tx), Some((TRANSACT_WRITE, 2)));
        assert_eq!(classify(&t("Query"), b"{}"), None);
        assert_eq!(classify("AWSEvents.PutEvents", b"{}"), None);
    }

    #[test]
    fn units_round_up_to_4_kb_reads_and_1_kb_writes_doubled_in_transactions() {
        assert_eq!(units(READ, 0), (1.0, 0.0));
        assert_eq!(units(READ, 4097), (2.0, 0.0));
        assert_eq!(units(EVENTUAL_READ, 100), (0.5, 0.0));
        assert_eq!(units(WRITE, 1024), (0.0, 1.0));
        assert_eq!(units(WRITE, 1025), (0.0, 2.0));
        assert_eq!(units(TRANSACT_WRITE, 500), (0.0, 2.0));
    }

    #[test]
    fn sizes_follow_dynamodbs_rule() {
        let (s, n) = (
            |x: &str| AttributeValue::S(x.into()),
            |x: &str| AttributeValue::N(x.into()),
        );
        let item = HashMap::from([("pk".to_owned(), s("PHONE#+919876543210")), ("é".to_owned(), s("ü"))]);
        assert_eq!(item_size(&item), 2 + 19 + 2 + 2);
        let numbers = [
            ("1", 2),
            ("123", 3),
            ("1000", 2),
            ("-0.0012", 2),
            ("1795600800", 5),
            ("1.5E3", 2),
        ];
        assert!(numbers.iter().all(|(x, bytes)| value_size(&n(x)) == *bytes));
        assert_eq!(value_size(&AttributeValue::L(vec![n("12"), s("ab")])), 3 + 3 + 3);
        let map = HashMap::from([("ab".to_owned(), s("xyz"))]);
        assert_eq!(value_size(&AttributeValue::M(map)), 3 + 2 + 3 + 1);
    }

    #[test]
    fn the_repository_price_table_parses_and_the_bill_adds_up() {
        let p = Prices::parse(PRICES_JSON).unwrap();
        let (wru, gbs) = (p.usd("dynamodb_write_request_unit"), p.usd("lambda_arm64_gb_second"));
        let (req, api) = (p.usd("lambda_request"), p.usd("api_gateway_rest_request"));
        let step = |items: &[(&str, u64)], billed_ms| Step {
            name: "x",
            function: "f",
            requests: BTreeMap::new(),
            items: items.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
            item_bytes: None,
            billed_ms,
            ms_source: String::new(),
        };
        let steps = vec![step(&[(TRANSACT_WRITE, 2)], 8.0), step(&[], 2.0)];
        let v = Verification {
            steps,
            largest_item: 300,
            prices: p,
            profile: String::new(),
        };
        let [ddb, lambda, a] = v.bill();
        assert_eq!((ddb, a), (4.0 * wru, 2.0 * api));
        assert!((lambda - (2.0 * req + 10.0 / 1000.0 * 128.0 / 1024.0 * gbs)).abs() < 1e-15);
    }
}
