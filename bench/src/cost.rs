//! What a verification costs: the DynamoDB request units, Lambda invocations and GB-seconds and
//! API Gateway requests of one whole verification, as measured by `journey.rs`, priced from
//! `bench/prices.json` (public on-demand prices, us-east-1, with their date and source).
//!
//! The units are computed, not read from the endpoint: moto answers `ReturnConsumedCapacity` with
//! constants (0.5 for any GetItem, consistent or not, whatever its size; 1 for any
//! Put/Update/DeleteItem; nothing for TransactWriteItems), so the model applies DynamoDB's own
//! rules to the item sizes measured around every request:
//!
//! - item size: the sum over attributes of the name's UTF-8 bytes and the value's size (string:
//!   UTF-8 bytes; number: 1 byte per two significant digits + 1; binary: raw bytes; boolean and
//!   null: 1; list and map: 3 + their elements, 1 more byte each; sets: their elements);
//! - a read: ⌈size / 4 KB⌉ read request units when strongly consistent (at least 1), half that when
//!   eventually consistent;
//! - a write (Put/Update/DeleteItem): ⌈larger of the before and after images / 1 KB⌉ write request
//!   units (at least 1), also when its condition fails;
//! - a transaction: twice the units of each of its items.

use std::collections::HashMap;
use std::fmt::Write as _;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::stats::r3;

/// The price table, compiled in: the bench needs nothing outside the repository at run time.
pub const PRICES_JSON: &str = include_str!("../prices.json");

/// template.yaml's `Globals.Function.MemorySize` (arm64).
pub const MEMORY_MB: f64 = 128.0;

/// How many verifications the totals are stated for.
pub const PER: f64 = 1000.0;

// ---------------------------------------------------------------------------------------------
// DynamoDB's item size rule and request units (pure).

/// The size of an item by DynamoDB's rule (attribute names plus values), in bytes.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> u64 {
    item.iter().map(|(name, v)| name.len() as u64 + value_size(v)).sum()
}

/// The size of one attribute value (without its name), in bytes.
pub fn value_size(v: &AttributeValue) -> u64 {
    match v {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|e| value_size(e) + 1).sum::<u64>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, e)| k.len() as u64 + value_size(e) + 1).sum::<u64>(),
        // A type this SDK version does not know: counted as nothing, and no item here has one.
        _ => 0,
    }
}

/// A number's size: 1 byte per two significant digits (leading and trailing zeroes trimmed),
/// plus 1.
pub fn number_size(n: &str) -> u64 {
    let mantissa = n.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1) as u64;
    significant.div_ceil(2) + 1
}

/// Read request units of one read of an item of `size` bytes (absent: 0 bytes, still charged).
pub fn read_units(size: u64, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write request units of one write whose item was `before` bytes and is `after` bytes (0: absent).
pub fn write_units(before: u64, after: u64) -> f64 {
    before.max(after).div_ceil(1024).max(1) as f64
}

/// What kind of capacity a request consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read { consistent: bool },
    Write,
    TransactRead,
    TransactWrite,
}

/// One item a request touched: its size right before the request and right after (`None`: absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Touch {
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// (read request units, write request units) of one request.
pub fn units(access: Access, touches: &[Touch]) -> (f64, f64) {
    let b = |t: &Touch| t.before.unwrap_or(0);
    let a = |t: &Touch| t.after.unwrap_or(0);
    match access {
        Access::Read { consistent } => (touches.iter().map(|t| read_units(b(t), consistent)).sum(), 0.0),
        Access::TransactRead => (touches.iter().map(|t| 2.0 * read_units(b(t), true)).sum(), 0.0),
        Access::Write => (0.0, touches.iter().map(|t| write_units(b(t), a(t))).sum()),
        Access::TransactWrite => (0.0, touches.iter().map(|t| 2.0 * write_units(b(t), a(t))).sum()),
    }
}

/// A table name and the key of one item, as the request names them (JSON wire format).
pub type ItemRef = (String, serde_json::Map<String, Value>);

/// The capacity kind of a request (by its `X-Amz-Target`) and the items it names; `None` for an
/// operation the model does not price (it is listed as such in the report).
pub fn classify(target: &str, body: &Value, key_names: &[&str]) -> Option<(Access, Vec<ItemRef>)> {
    let op = target.rsplit('.').next().unwrap_or(target);
    let table = |v: &Value| v["TableName"].as_str().unwrap_or_default().to_owned();
    let key = |v: &Value| -> Option<ItemRef> {
        let map = if let Some(k) = v["Key"].as_object() {
            k.clone()
        } else {
            // A Put names its item; the key is the item's key attributes.
            let item = v["Item"].as_object()?;
            key_names
                .iter()
                .filter_map(|n| item.get(*n).map(|x| ((*n).to_owned(), x.clone())))
                .collect()
        };
        Some((table(v), map))
    };
    match op {
        "GetItem" => Some((
            Access::Read {
                consistent: body["ConsistentRead"].as_bool().unwrap_or(false),
            },
            key(body).into_iter().collect(),
        )),
        "BatchGetItem" => {
            // Each key is charged as a GetItem of its own (found or not), by its own size.
            let tables = body["RequestItems"].as_object()?;
            let consistent = tables.values().all(|t| t["ConsistentRead"].as_bool() == Some(true));
            let refs = tables
                .iter()
                .flat_map(|(name, t)| {
                    t["Keys"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|k| Some((name.clone(), k.as_object()?.clone())))
                })
                .collect();
            Some((Access::Read { consistent }, refs))
        }
        "PutItem" | "UpdateItem" | "DeleteItem" => Some((Access::Write, key(body).into_iter().collect())),
        "TransactWriteItems" => {
            let items = body["TransactItems"].as_array()?;
            // ConditionCheck is counted as a transactional write of its item (none in this flow).
            let refs = items
                .iter()
                .filter_map(|i| {
                    ["Put", "Update", "Delete", "ConditionCheck"]
                        .iter()
                        .find_map(|k| i.get(*k))
                })
                .filter_map(key)
                .collect();
            Some((Access::TransactWrite, refs))
        }
        "TransactGetItems" => {
            let items = body["TransactItems"].as_array()?;
            Some((
                Access::TransactRead,
                items.iter().filter_map(|i| i.get("Get")).filter_map(key).collect(),
            ))
        }
        _ => None,
    }
}

/// Lambda's billed GB-seconds of one invocation billed `ms` milliseconds at `memory_mb`.
pub fn gb_seconds(ms: f64, memory_mb: f64) -> f64 {
    ms / 1000.0 * memory_mb / 1024.0
}

// ---------------------------------------------------------------------------------------------
// Prices.

#[derive(Clone, Debug)]
pub struct Price {
    pub key: &'static str,
    /// USD per one unit.
    pub usd: f64,
    /// As the table states it: `quoted` USD per `per` units.
    pub quoted: f64,
    pub per: f64,
    pub unit: String,
    pub status: String,
    pub source: String,
}

#[derive(Clone, Debug)]
pub struct Prices {
    pub read_on: String,
    pub region: String,
    pub wru: Price,
    pub rru: Price,
    pub gb_second: Price,
    pub lambda_request: Price,
    pub api_request: Price,
    pub twilio_verification: Price,
}

impl Prices {
    pub fn parse(raw: &str) -> Result<Prices, String> {
        let v: Value = serde_json::from_str(raw).map_err(|e| format!("prices.json: {e}"))?;
        let price = |key: &'static str| -> Result<Price, String> {
            let p = &v["prices"][key];
            let usd = p["usd"].as_f64().ok_or(format!("prices.json: {key}.usd"))?;
            let per = p["per"]
                .as_f64()
                .filter(|x| *x > 0.0)
                .ok_or(format!("prices.json: {key}.per"))?;
            let s = |f: &str| p[f].as_str().unwrap_or_default().to_owned();
            Ok(Price {
                key,
                usd: usd / per,
                quoted: usd,
                per,
                unit: s("unit"),
                status: s("status"),
                source: s("source"),
            })
        };
        Ok(Prices {
            read_on: v["read_on"].as_str().unwrap_or_default().to_owned(),
            region: v["region"].as_str().unwrap_or_default().to_owned(),
            wru: price("dynamodb_write_request_unit")?,
            rru: price("dynamodb_read_request_unit")?,
            gb_second: price("lambda_arm64_gb_second")?,
            lambda_request: price("lambda_request")?,
            api_request: price("api_gateway_rest_request")?,
            twilio_verification: price("twilio_verify_successful_verification")?,
        })
    }

    pub fn all(&self) -> [&Price; 6] {
        [
            &self.wru,
            &self.rru,
            &self.gb_second,
            &self.lambda_request,
            &self.api_request,
            &self.twilio_verification,
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// One whole verification, measured.

/// One DynamoDB request a step made, with the items it touched.
#[derive(Clone, Debug)]
pub struct Request {
    /// The `X-Amz-Target` operation (`GetItem`, ...).
    pub op: String,
    /// `None`: not priced by the model.
    pub access: Option<Access>,
    pub touches: Vec<Touch>,
}

impl Request {
    pub fn units(&self) -> (f64, f64) {
        self.access.map_or((0.0, 0.0), |a| units(a, &self.touches))
    }
}

/// One invocation of the verification.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: &'static str,
    pub function: &'static str,
    pub requests: Vec<Request>,
    /// API Gateway requests (each route invocation comes through the REST API).
    pub api_requests: u32,
    /// Billed duration of one invocation, ms (mean of the samples, each rounded up to 1 ms).
    pub billed_ms: f64,
    /// Where the duration comes from.
    pub ms_source: String,
}

impl Step {
    pub fn units(&self) -> (f64, f64) {
        self.requests
            .iter()
            .map(Request::units)
            .fold((0.0, 0.0), |(r, w), (dr, dw)| (r + dr, w + dw))
    }
    pub fn gb_seconds(&self) -> f64 {
        gb_seconds(self.billed_ms, MEMORY_MB)
    }
}

/// USD of one verification, by component.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bill {
    pub dynamodb: f64,
    pub lambda: f64,
    pub api_gateway: f64,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.dynamodb + self.lambda + self.api_gateway
    }
    /// The largest component and its share of the total.
    pub fn dominant(&self) -> (&'static str, f64) {
        let parts = [
            ("API Gateway", self.api_gateway),
            ("Lambda", self.lambda),
            ("DynamoDB", self.dynamodb),
        ];
        let (name, x) = parts
            .into_iter()
            .fold(("", f64::MIN), |m, p| if p.1 > m.1 { p } else { m });
        (name, if self.total() > 0.0 { x / self.total() } else { f64::NAN })
    }
}

/// Totals of a list of steps: (RRU, WRU, invocations, GB-seconds, API Gateway requests).
pub fn totals(steps: &[Step]) -> (f64, f64, f64, f64, f64) {
    steps.iter().fold((0.0, 0.0, 0.0, 0.0, 0.0), |t, s| {
        let (r, w) = s.units();
        (
            t.0 + r,
            t.1 + w,
            t.2 + 1.0,
            t.3 + s.gb_seconds(),
            t.4 + s.api_requests as f64,
        )
    })
}

/// The bill of one verification made of `steps`.
pub fn bill(steps: &[Step], p: &Prices) -> Bill {
    let (rru, wru, invocations, gbs, api) = totals(steps);
    Bill {
        dynamodb: rru * p.rru.usd + wru * p.wru.usd,
        lambda: invocations * p.lambda_request.usd + gbs * p.gb_second.usd,
        api_gateway: api * p.api_request.usd,
    }
}

/// The measured verification and what it was measured with.
pub struct Verification {
    pub steps: Vec<Step>,
    pub prices: Prices,
    pub profile: String,
    /// What moto answered to `ReturnConsumedCapacity=TOTAL` on a consistent GetItem of the
    /// verification's item, beside what DynamoDB's rule gives for it.
    pub moto_consumed: Option<(f64, f64)>,
}

fn usd(x: f64) -> String {
    if x >= 1.0 {
        format!("${x:.2}")
    } else {
        format!("${x:.4}")
    }
}

/// A price as the table states it, at least two decimals ($3.50 / M, $0.0000133334).
fn price(p: &Price) -> String {
    let s = format!("{}", p.quoted);
    let amount = match s.split_once('.') {
        Some((_, d)) if d.len() >= 2 => format!("${s}"),
        _ => format!("${:.2}", p.quoted),
    };
    match p.per {
        1.0 => amount,
        1_000_000.0 => format!("{amount} / M"),
        per => format!("{amount} / {per}"),
    }
}

fn touches(r: &Request) -> String {
    r.touches
        .iter()
        .map(|t| {
            let b = |x: Option<u64>| x.map_or("–".to_owned(), |v| v.to_string());
            if t.before == t.after {
                b(t.before)
            } else {
                format!("{}→{}", b(t.before), b(t.after))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn units_cell(x: f64) -> String {
    if x == 0.0 {
        "–".into()
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

impl Verification {
    pub fn bill(&self) -> Bill {
        bill(&self.steps, &self.prices)
    }

    pub fn markdown(&self, s: &mut String) {
        let p = &self.prices;
        let _ = writeln!(s, "\n### What a verification costs\n");
        let _ = writeln!(
            s,
            "One whole verification through the functions (a fresh number; the key-press gate is on, as by default, so the pickup asks for a key and a second `otp-choice` reads the code): DynamoDB requests counted by the proxy; each item's size measured by DynamoDB's rule right before and right after each request (bytes, before→after); units by DynamoDB's rules (reads ⌈size/4 KB⌉, strongly consistent; writes ⌈larger image/1 KB⌉; transactions ×2). Lambda: {MEMORY_MB:.0} MB arm64, billed ms = the mean over this run's warm invokes of that route, each rounded up to 1 ms (profile `{}`{}). Priced from `bench/prices.json` ({} list prices read {}, no free tier).\n",
            self.profile,
            if self.profile == "release" {
                ""
            } else {
                ": unoptimised binaries, slower than the release ones Lambda runs"
            },
            p.region,
            p.read_on
        );
        let _ = writeln!(
            s,
            "| step | function | DynamoDB requests | item bytes | RRU | WRU | Lambda billed ms | GB-s | API Gateway requests |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
        for st in &self.steps {
            let (r, w) = st.units();
            let reqs = if st.requests.is_empty() {
                "none".to_owned()
            } else {
                st.requests
                    .iter()
                    .map(|q| {
                        if q.access.is_some() {
                            q.op.clone()
                        } else {
                            format!("{} (not priced)", q.op)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" + ")
            };
            let bytes = st.requests.iter().map(touches).collect::<Vec<_>>().join("; ");
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {:.1} ({}) | {:.6} | {} |",
                st.name,
                st.function,
                reqs,
                if bytes.is_empty() { "–".into() } else { bytes },
                units_cell(r),
                units_cell(w),
                st.billed_ms,
                st.ms_source,
                st.gb_seconds(),
                st.api_requests
            );
        }
        let (rru, wru, inv, gbs, api) = totals(&self.steps);
        let ddb_requests: usize = self.steps.iter().map(|st| st.requests.len()).sum();
        let _ = writeln!(
            s,
            "| **one verification** | {inv:.0} invocations | {ddb_requests} | | **{}** | **{}** | | **{gbs:.6}** | **{api:.0}** |",
            units_cell(rru),
            units_cell(wru)
        );
        let b = self.bill();
        let (dom, share) = b.dominant();
        let _ = writeln!(
            s,
            "\n| component | per verification | price | USD per {PER:.0} verifications | share |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        let row = |s: &mut String, name: &str, qty: String, price: String, x: f64| {
            let _ = writeln!(
                s,
                "| {name} | {qty} | {price} | {} | {:.0} % |",
                usd(x * PER),
                100.0 * x / b.total()
            );
        };
        row(
            s,
            "DynamoDB",
            format!("{} RRU + {} WRU", units_cell(rru), units_cell(wru)),
            format!(
                "{} RRU, {} WRU ({}, {})",
                price(&p.rru),
                price(&p.wru),
                p.rru.status,
                p.wru.status
            ),
            b.dynamodb,
        );
        row(
            s,
            "Lambda",
            format!("{inv:.0} invocations, {gbs:.6} GB-s"),
            format!(
                "{} requests, {} / GB-s ({}, {})",
                price(&p.lambda_request),
                price(&p.gb_second),
                p.lambda_request.status,
                p.gb_second.status
            ),
            b.lambda,
        );
        row(
            s,
            "API Gateway (REST)",
            format!("{api:.0} requests"),
            format!("{} ({})", price(&p.api_request), p.api_request.status),
            b.api_gateway,
        );
        let _ = writeln!(s, "| **total (AWS)** | | | **{}** | 100 % |", usd(b.total() * PER));
        let tw = p.twilio_verification.usd;
        let _ = writeln!(
            s,
            "| Twilio Verify, beside it | 1 successful verification (its fee alone) | {} each, **{}** | {} | {:.0}× the AWS total |",
            price(&p.twilio_verification),
            p.twilio_verification.status,
            usd(tw * PER),
            tw / b.total()
        );
        let _ = writeln!(
            s,
            "\n**{dom} dominates** ({:.0} % of the AWS cost): {}",
            100.0 * share,
            match dom {
                "API Gateway" => format!(
                    "{api:.0} REST API requests at {} outweigh every DynamoDB unit and Lambda millisecond.",
                    price(&p.api_request)
                ),
                "Lambda" => "invocations and their billed milliseconds outweigh the rest.".to_owned(),
                _ => "the request units outweigh the rest.".to_owned(),
            }
        );
        if let Some((said, rule)) = self.moto_consumed {
            if (said - rule).abs() < 1e-9 {
                let _ = writeln!(
                    s,
                    "\nThe endpoint's own `ConsumedCapacity` (`ReturnConsumedCapacity=TOTAL`) for a strongly consistent GetItem of this verification's item agrees with the rule: {said}."
                );
            } else {
                let _ = writeln!(
                    s,
                    "\nThe endpoint's own `ConsumedCapacity` is not used: asked (`ReturnConsumedCapacity=TOTAL`) for a strongly consistent GetItem of this verification's item, it answered {said} units where DynamoDB's rule gives {rule} (moto answers every GetItem 0.5, every single-item write 1 and a TransactWriteItems nothing, whatever the sizes)."
                );
            }
        }
        let _ = writeln!(
            s,
            "\nOutside the model: the call itself (Vobiz's per-minute charge: no published price found; Twilio's voice channel fee likewise comes on top of its Verify fee), cold starts (init is billed on `provided.al2023`; ≈ 3 ms here, plus a slower first invoke), otp-events and EventBridge (the stream's reads by Lambda are free), CloudWatch Logs, storage. Durations here are against moto (≈ 10 ms a request); DynamoDB in the same region answers in a few ms, while 128 MB of arm64 is ≈ 1/14 of a vCPU."
        );
    }

    pub fn json(&self) -> Value {
        let p = &self.prices;
        let b = self.bill();
        let (rru, wru, inv, gbs, api) = totals(&self.steps);
        let (dom, share) = b.dominant();
        json!({
            "profile": self.profile,
            "memory_mb": MEMORY_MB,
            "steps": self.steps.iter().map(|st| {
                let (r, w) = st.units();
                json!({
                    "step": st.name, "function": st.function,
                    "dynamodb_requests": st.requests.iter().map(|q| {
                        let (qr, qw) = q.units();
                        json!({"op": q.op, "priced": q.access.is_some(),
                               "items": q.touches.iter().map(|t| json!({"bytes_before": t.before, "bytes_after": t.after})).collect::<Vec<_>>(),
                               "rru": qr, "wru": qw})
                    }).collect::<Vec<_>>(),
                    "rru": r, "wru": w,
                    "lambda_billed_ms": r3(st.billed_ms), "lambda_ms_source": st.ms_source,
                    "gb_seconds": st.gb_seconds(), "api_gateway_requests": st.api_requests,
                })
            }).collect::<Vec<_>>(),
            "per_verification": {"rru": rru, "wru": wru, "lambda_invocations": inv, "gb_seconds": gbs, "api_gateway_requests": api},
            "usd_per_1000_verifications": {
                "dynamodb": b.dynamodb * PER, "lambda": b.lambda * PER, "api_gateway": b.api_gateway * PER,
                "total": b.total() * PER,
                "twilio_verify_fee": p.twilio_verification.usd * PER,
            },
            "dominant": {"component": dom, "share": r3(share)},
            "endpoint_consumed_capacity_get_item": self.moto_consumed.map(|(m, r)| json!({"endpoint": m, "dynamodb_rule": r})),
            "prices": {
                "read_on": p.read_on, "region": p.region,
                "items": p.all().iter().map(|x| json!({"key": x.key, "usd_per_unit": x.usd, "unit": x.unit, "status": x.status, "source": x.source})).collect::<Vec<_>>(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.into())
    }
    fn n(x: &str) -> AttributeValue {
        AttributeValue::N(x.into())
    }

    #[test]
    fn strings_count_their_utf8_bytes_and_the_name() {
        let item = HashMap::from([("pk".to_owned(), s("PHONE#+919876543210")), ("é".to_owned(), s("ü"))]);
        // "pk" 2 + 19, "é" 2 + "ü" 2
        assert_eq!(item_size(&item), 2 + 19 + 2 + 2);
    }

    #[test]
    fn numbers_take_a_byte_per_two_significant_digits_plus_one() {
        assert_eq!(number_size("1"), 2);
        assert_eq!(number_size("12"), 2);
        assert_eq!(number_size("123"), 3);
        // Leading and trailing zeroes are trimmed; sign and point are not digits.
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("-0.0012"), 2);
        assert_eq!(number_size("1795600800"), 5);
        assert_eq!(number_size("0"), 2);
        assert_eq!(number_size("1.5E3"), 2);
    }

    #[test]
    fn lists_and_maps_add_three_bytes_and_one_per_element() {
        assert_eq!(value_size(&AttributeValue::L(vec![])), 3);
        // Two numbers of 2 digits: 2 bytes each, +1 each, +3.
        assert_eq!(value_size(&AttributeValue::L(vec![n("12"), n("34")])), 3 + 3 + 3);
        let m = AttributeValue::M(HashMap::from([("ab".to_owned(), s("xyz"))]));
        assert_eq!(value_size(&m), 3 + 2 + 3 + 1);
        assert_eq!(value_size(&AttributeValue::Bool(true)), 1);
        assert_eq!(value_size(&AttributeValue::Null(true)), 1);
        assert_eq!(value_size(&AttributeValue::Ss(vec!["ab".into(), "c".into()])), 3);
        assert_eq!(value_size(&AttributeValue::Ns(vec!["12".into(), "345".into()])), 2 + 3);
        assert_eq!(
            value_size(&AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![
                0u8;
                7
            ]))),
            7
        );
    }

    #[test]
    fn reads_round_up_to_4_kb_and_halve_when_eventually_consistent() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(1, true), 1.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(100, false), 0.5);
    }

    #[test]
    fn writes_round_the_larger_image_up_to_1_kb() {
        assert_eq!(write_units(0, 1), 1.0);
        assert_eq!(write_units(1024, 0), 1.0);
        assert_eq!(write_units(1025, 10), 2.0);
        assert_eq!(write_units(900, 2049), 3.0);
        assert_eq!(write_units(0, 0), 1.0);
    }

    #[test]
    fn transactions_count_double_per_item() {
        let small = Touch {
            before: Some(300),
            after: Some(600),
        };
        let big = Touch {
            before: None,
            after: Some(1500),
        };
        assert_eq!(units(Access::TransactWrite, &[small, big]), (0.0, 2.0 * (1.0 + 2.0)));
        assert_eq!(units(Access::Write, &[small]), (0.0, 1.0));
        assert_eq!(units(Access::TransactRead, &[big]), (2.0, 0.0));
        assert_eq!(units(Access::Read { consistent: true }, &[small]), (1.0, 0.0));
        assert_eq!(units(Access::Read { consistent: false }, &[small]), (0.5, 0.0));
    }

    #[test]
    fn requests_are_classified_by_target_with_their_items() {
        let get = json!({"TableName": "t", "Key": {"pk": {"S": "a"}}, "ConsistentRead": true});
        let (a, items) = classify("DynamoDB_20120810.GetItem", &get, &["pk"]).unwrap();
        assert_eq!(a, Access::Read { consistent: true });
        assert_eq!(items, vec![("t".to_owned(), get["Key"].as_object().unwrap().clone())]);
        let tx = json!({"TransactItems": [
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}, "x": {"N": "1"}}}},
        ]});
        let (a, items) = classify("DynamoDB_20120810.TransactWriteItems", &tx, &["pk"]).unwrap();
        assert_eq!(a, Access::TransactWrite);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].1["pk"], json!({"S": "b"}));
        let batch = json!({"RequestItems": {"t": {"ConsistentRead": true, "Keys": [
            {"pk": {"S": "PHONE#+91"}}, {"pk": {"S": "GLOBAL#calls#1#0"}}, {"pk": {"S": "GLOBAL#calls#1#1"}},
        ]}}});
        let (a, items) = classify("DynamoDB_20120810.BatchGetItem", &batch, &["pk"]).unwrap();
        assert_eq!(a, Access::Read { consistent: true });
        assert_eq!(items.len(), 3, "each key is a read of its own");
        assert_eq!(items[2].1["pk"], json!({"S": "GLOBAL#calls#1#1"}));
        assert!(classify("DynamoDB_20120810.DescribeTable", &json!({}), &["pk"]).is_none());
        assert!(classify("AWSEvents.PutEvents", &json!({}), &["pk"]).is_none());
    }

    #[test]
    fn lambda_bills_gb_seconds_of_the_configured_memory() {
        assert_eq!(gb_seconds(1000.0, 1024.0), 1.0);
        assert_eq!(gb_seconds(8.0, 128.0), 0.001);
    }

    #[test]
    fn the_repository_price_table_parses_and_the_bill_adds_up() {
        let p = Prices::parse(PRICES_JSON).unwrap();
        assert!(
            p.all()
                .iter()
                .all(|x| x.usd > 0.0 && !x.source.is_empty() && !x.status.is_empty())
        );
        let step = |requests, ms| Step {
            name: "x",
            function: "f",
            requests,
            api_requests: 1,
            billed_ms: ms,
            ms_source: String::new(),
        };
        let write = Request {
            op: "UpdateItem".into(),
            access: Some(Access::Write),
            touches: vec![Touch {
                before: Some(10),
                after: Some(20),
            }],
        };
        let steps = [step(vec![write], 8.0), step(vec![], 2.0)];
        let b = bill(&steps, &p);
        assert_eq!(b.dynamodb, p.wru.usd);
        let lambda = 2.0 * p.lambda_request.usd + gb_seconds(10.0, MEMORY_MB) * p.gb_second.usd;
        assert!((b.lambda - lambda).abs() < 1e-15);
        assert_eq!(b.api_gateway, 2.0 * p.api_request.usd);
        assert_eq!(b.dominant().0, "API Gateway");
    }
}
