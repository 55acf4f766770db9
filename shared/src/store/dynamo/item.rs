//! How otp-call's records look in DynamoDB: one item per number (`pk = "PHONE#+91…"`) holding
//! its [`Attempt`], one per kept reply (`pk = "IDEM#<key hash>"`), the attribute helpers, and
//! how an SDK failure reads as [`Error::StoreUnavailable`].

use std::collections::HashMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{Attempt, Phone, Telephony};
use crate::error::{Error, Result};
use crate::ports::Replay;

/// The TTL attribute (epoch seconds). DynamoDB deletes expired items lazily, within days; every
/// read and condition checks `expires_at` itself.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// How long a finished attempt stays for `/otp-status` and the audit trail after it expires.
pub const RETENTION_SECS: i64 = 24 * 3600;

pub type Item = HashMap<String, AttributeValue>;

pub fn unavailable<E: std::error::Error + 'static>(e: E) -> Error {
    Error::StoreUnavailable(DisplayErrorContext(e).to_string())
}

pub fn key(phone: &Phone) -> AttributeValue {
    AttributeValue::S(pk(phone))
}

/// The key of a number's item.
pub fn pk(phone: &Phone) -> String {
    format!("PHONE#{}", phone.e164())
}

pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The key of a reply kept under an `Idempotency-Key`: `IDEM#` and the key's hash.
pub const REPLAY_PREFIX: &str = "IDEM#";

pub fn replay_item(r: &Replay) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), AttributeValue::S(format!("{REPLAY_PREFIX}{}", r.key_hash)));
    item.insert("body_hash".into(), s(&r.body_hash));
    item.insert("status".into(), n(r.status));
    item.insert("body".into(), s(&r.body));
    item.insert("expires_at".into(), n(r.expires_at));
    item.insert(TTL_ATTRIBUTE.into(), n(r.expires_at + RETENTION_SECS));
    item
}

pub fn replay_from_item(key_hash: &str, item: &Item) -> Result<Replay> {
    let get_s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let get_n = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|x| x.parse::<i64>().ok())
    };
    let corrupt = || Error::Corrupt("a kept reply is unreadable".into());
    Ok(Replay {
        key_hash: key_hash.to_owned(),
        body_hash: get_s("body_hash").ok_or_else(corrupt)?,
        status: get_n("status")
            .and_then(|v| u16::try_from(v).ok())
            .ok_or_else(corrupt)?,
        body: get_s("body").ok_or_else(corrupt)?,
        expires_at: get_n("expires_at").ok_or_else(corrupt)?,
    })
}

pub fn to_item(a: &Attempt) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), key(&a.phone));
    item.insert("phone".into(), s(a.phone.e164()));
    item.insert("attempt_id".into(), s(&a.attempt_id));
    item.insert("created_at".into(), n(a.created_at));
    item.insert("expires_at".into(), n(a.expires_at));
    item.insert(TTL_ATTRIBUTE.into(), n(a.keep_until() + RETENTION_SECS));
    item.insert("token_hash".into(), s(&a.token_hash));
    item.insert("code_mac".into(), s(&a.code_mac));
    item.insert(
        "guesses".into(),
        AttributeValue::L(a.guesses.iter().map(|g| s(g)).collect()),
    );
    // The last guess again, for the "live" condition (a condition cannot index a list by an
    // attribute); derived, so `from_item` does not read it.
    if let Some(last) = a.guesses.last() {
        item.insert("last_guess".into(), s(last));
    }
    item.insert("guess_cap".into(), n(a.guess_cap));
    item.insert("max_attempts".into(), n(a.max_attempts));
    item.insert("reads".into(), n(a.reads));
    let mut opt_s = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            item.insert(k.into(), s(v));
        }
    };
    opt_s("code_sealed", &a.code_sealed);
    opt_s("call_failed", &a.call_failed);
    opt_s("call_uuid", &a.call_uuid);
    opt_s("hangup_cause", &a.hangup_cause);
    opt_s("hangup", &a.hangup.map(|t| t.as_str().to_owned()));
    opt_s("locale", &a.locale);
    opt_s("client_ref", &a.client_ref);
    for (k, v) in [
        ("answered_at", a.answered_at),
        ("ended_at", a.ended_at),
        ("verified_at", a.verified_at),
        ("canceled_at", a.canceled_at),
        ("failures_until", a.failures_until),
    ] {
        if let Some(v) = v {
            item.insert(k.into(), n(v));
        }
    }
    if !a.nonces.is_empty() {
        item.insert("nonces".into(), AttributeValue::Ss(a.nonces.clone()));
    }
    if a.signed {
        item.insert("signed".into(), AttributeValue::Bool(true));
    }
    if a.test {
        item.insert("test".into(), AttributeValue::Bool(true));
    }
    item.insert("version".into(), n(a.version));
    item.insert(
        "send_times".into(),
        AttributeValue::L(a.send_times.iter().map(|t| n(*t)).collect()),
    );
    item.insert("failures".into(), n(a.failures));
    item
}

pub fn from_item(item: &Item) -> Result<Attempt> {
    let get_s = |k: &str| -> Option<String> { item.get(k).and_then(|v| v.as_s().ok()).cloned() };
    let req_s = |k: &str| get_s(k).ok_or_else(|| Error::Corrupt(format!("missing string attribute {k}")));
    let get_n = |k: &str| -> Result<Option<i64>> {
        match item.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_n()
                .ok()
                .and_then(|x| x.parse::<i64>().ok())
                .map(Some)
                .ok_or_else(|| Error::Corrupt(format!("attribute {k} is not an integer"))),
        }
    };
    let req_n = |k: &str| get_n(k)?.ok_or_else(|| Error::Corrupt(format!("missing number attribute {k}")));
    let count = |k: &str| -> Result<u32> {
        u32::try_from(req_n(k)?).map_err(|_| Error::Corrupt(format!("attribute {k} out of range")))
    };
    let send_times = match item.get("send_times") {
        None => Vec::new(),
        Some(v) => v
            .as_l()
            .map_err(|_| Error::Corrupt("send_times is not a list".into()))?
            .iter()
            .map(|t| {
                t.as_n()
                    .ok()
                    .and_then(|x| x.parse::<i64>().ok())
                    .ok_or_else(|| Error::Corrupt("send_times holds a non-integer".into()))
            })
            .collect::<Result<Vec<i64>>>()?,
    };
    let guesses = match item.get("guesses") {
        None => Vec::new(),
        Some(v) => v
            .as_l()
            .map_err(|_| Error::Corrupt("guesses is not a list".into()))?
            .iter()
            .map(|g| {
                g.as_s()
                    .cloned()
                    .map_err(|_| Error::Corrupt("guesses holds a non-string".into()))
            })
            .collect::<Result<Vec<String>>>()?,
    };
    let mut nonces = item
        .get("nonces")
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    nonces.sort();
    let hangup = match get_s("hangup") {
        None => None,
        Some(t) => Some(Telephony::parse(&t).ok_or_else(|| Error::Corrupt("unknown hangup outcome".into()))?),
    };
    Ok(Attempt {
        phone: Phone::normalize(&req_s("phone")?).map_err(|_| Error::Corrupt("stored phone is invalid".into()))?,
        attempt_id: req_s("attempt_id")?,
        created_at: req_n("created_at")?,
        expires_at: req_n("expires_at")?,
        token_hash: req_s("token_hash")?,
        code_mac: req_s("code_mac")?,
        code_sealed: get_s("code_sealed"),
        guesses,
        // An item of the earlier data model has no cap: its code may take max_attempts guesses.
        guess_cap: match get_n("guess_cap")? {
            Some(_) => count("guess_cap")?,
            None => count("max_attempts")?,
        },
        max_attempts: count("max_attempts")?,
        call_failed: get_s("call_failed"),
        answered_at: get_n("answered_at")?,
        call_uuid: get_s("call_uuid"),
        reads: match get_n("reads")? {
            Some(_) => count("reads")?,
            None => 0, // an item of the earlier data model counted repeats instead
        },
        ended_at: get_n("ended_at")?,
        hangup,
        hangup_cause: get_s("hangup_cause"),
        verified_at: get_n("verified_at")?,
        canceled_at: get_n("canceled_at")?,
        locale: get_s("locale"),
        client_ref: get_s("client_ref"),
        nonces,
        signed: item
            .get("signed")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        test: item
            .get("test")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        version: get_n("version")?.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
        send_times,
        failures: get_n("failures")?.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        failures_until: get_n("failures_until")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let mut a = crate::domain::attempt::tests::attempt(1_000);
        assert_eq!(from_item(&to_item(&a)).unwrap(), a);
        assert_eq!(
            to_item(&a)[TTL_ATTRIBUTE],
            n(1_000 + 3600 + RETENTION_SECS),
            "kept while the send window is open"
        );
        a.hangup = Some(Telephony::Busy);
        a.hangup_cause = Some("USER_BUSY".into());
        a.ended_at = Some(1_030);
        a.code_sealed = None;
        a.verified_at = Some(1_040);
        a.nonces = vec!["n1".into(), "n2".into()];
        a.failures = 4;
        a.failures_until = Some(990 + 86_400);
        a.guesses = vec!["g1".into(), "g2".into()];
        a.guess_cap = 2;
        let item = to_item(&a);
        assert_eq!(
            item[TTL_ATTRIBUTE],
            n(990 + 86_400 + RETENTION_SECS),
            "kept while the failure window is open"
        );
        assert!(!item.contains_key("code_sealed"));
        assert_eq!(from_item(&item).unwrap(), a);
    }
}
