//! `docs/data-map.md` cannot drift from the code: each of its tables (between
//! `<!-- data-map:<name>:start -->` and `<!-- data-map:<name>:end -->`) lists, in backticks in its
//! first column, exactly the attributes the code writes (the number's item as `to_item` builds a
//! fully populated attempt, a kept reply as `replay_item` builds it, a counter as the store's
//! `ADD #calls` updates write it), the fields of a delivery event with every optional one set,
//! and key patterns that every kind of key the code makes matches. Every attribute an update
//! expression of the DynamoDB store names is listed too.

use std::collections::BTreeSet;

use shared::domain::events::{Ending, Event, EventType};
use shared::domain::fraud::{Guard, Signal};
use shared::domain::limits::{Limits, day_counter, minute_counter};
use shared::domain::{Attempt, CallOutcome, Keys, NewAttempt, Phone, Telephony};
use shared::ports::Replay;
use shared::store::dynamo::{TTL_ATTRIBUTE, replay_item, to_item};

const NOW: i64 = 1_790_000_000;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The first backticked word of the first cell of each row of the map's table `name`.
fn listed(name: &str) -> BTreeSet<String> {
    let doc = read("docs/data-map.md");
    let start = format!("<!-- data-map:{name}:start -->");
    let end = format!("<!-- data-map:{name}:end -->");
    let from = doc
        .find(&start)
        .unwrap_or_else(|| panic!("docs/data-map.md has no {start}"))
        + start.len();
    let to = from
        + doc[from..]
            .find(&end)
            .unwrap_or_else(|| panic!("docs/data-map.md has no {end}"));
    let rows: BTreeSet<String> = doc[from..to]
        .lines()
        .filter_map(|line| line.trim().strip_prefix('|')?.split('|').next())
        .filter_map(|cell| cell.split('`').nth(1))
        .map(str::to_owned)
        .collect();
    assert!(!rows.is_empty(), "the map's table {name} lists nothing");
    rows
}

fn assert_same(name: &str, map: &BTreeSet<String>, code: &BTreeSet<String>) {
    let missing: Vec<_> = code.difference(map).collect();
    let extra: Vec<_> = map.difference(code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/data-map.md, table {name}: not listed though the code writes them: {missing:?}; \
         listed though the code does not write them: {extra:?}"
    );
}

fn phone() -> Phone {
    Phone::parse("+919876543210").unwrap()
}

/// An attempt with every optional fact set and every list non-empty.
fn full_attempt() -> Attempt {
    let new = NewAttempt {
        phone: phone(),
        attempt_id: "a1".into(),
        now: NOW,
        ttl_secs: 300,
        token_hash: "th".into(),
        code_mac: "mac".into(),
        code_sealed: "sealed".into(),
        max_attempts: 3,
        failures_per_window: 10,
    };
    let mut a = Attempt::new(new, None, vec![NOW]);
    a.guesses = vec!["g1".into(), "g2".into()];
    a.call_failed = Some("refused".into());
    a.answered_at = Some(NOW + 10);
    a.call_uuid = Some("call-1".into());
    a.reads = 1;
    a.ended_at = Some(NOW + 30);
    a.hangup = Some(Telephony::Answered);
    a.hangup_cause = Some("NORMAL_CLEARING".into());
    a.verified_at = Some(NOW + 40);
    a.canceled_at = Some(NOW + 50);
    a.nonces = vec!["n1".into()];
    a.signed = true;
    a.test = true;
    a.failures = 1;
    a.failures_until = Some(NOW + 86_400);
    a.in_locale("hi-IN").with_client_ref(Some("order-1"))
}

#[test]
fn the_numbers_item_is_mapped() {
    let a = full_attempt();
    assert!(
        a.code_sealed.is_some() && a.client_ref.is_some() && a.locale.is_some(),
        "the attempt is fully populated"
    );
    let code: BTreeSet<String> = to_item(&a).into_keys().collect();
    assert_same("number-item", &listed("number-item"), &code);
}

#[test]
fn the_kept_reply_is_mapped() {
    let r = Replay {
        key_hash: "k".into(),
        body_hash: "b".into(),
        status: 200,
        body: "{}".into(),
        expires_at: NOW,
    };
    let code: BTreeSet<String> = replay_item(&r).into_keys().collect();
    assert_same("reply-item", &listed("reply-item"), &code);
}

/// A counter's attributes: its key and those the store's counter updates (`ADD #calls`) name.
#[test]
fn a_counter_is_mapped() {
    let store = read("shared/src/store/dynamo/mod.rs");
    let mut code: BTreeSet<String> = store
        .lines()
        .filter(|l| l.contains("ADD #calls"))
        .flat_map(names)
        .collect();
    code.insert("pk".into());
    assert!(code.contains(TTL_ATTRIBUTE) && code.contains("calls"), "{code:?}");
    assert_same("counter-item", &listed("counter-item"), &code);
}

/// Every `#name` in a line of code (not a comment) of the store, before its tests.
fn store_names() -> BTreeSet<String> {
    let store = read("shared/src/store/dynamo/mod.rs");
    let code = store.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(names)
        .collect()
}

fn names(line: &str) -> Vec<String> {
    line.split('#')
        .skip(1)
        .map(|w| {
            w.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

#[test]
fn every_attribute_the_store_names_is_mapped() {
    let mapped: BTreeSet<String> = ["number-item", "reply-item", "counter-item"]
        .into_iter()
        .flat_map(listed)
        .collect();
    let unmapped: Vec<_> = store_names().into_iter().filter(|n| !mapped.contains(n)).collect();
    assert!(
        unmapped.is_empty(),
        "the DynamoDB store names attributes docs/data-map.md does not list: {unmapped:?}"
    );
}

#[test]
fn the_event_is_mapped() {
    let event = Event {
        id: "evt_0".into(),
        kind: EventType::CallNotDelivered,
        time: "2026-01-01T00:00:00Z".into(),
        phone: "+919876543210".into(),
        attempt_id: "a1".into(),
        locale: Some("hi-IN".into()),
        test: false,
        client_ref: Some("order-1".into()),
        outcome: Some(CallOutcome::Busy),
        ending: Some(Ending::Replaced),
    };
    let value = serde_json::to_value(&event).unwrap();
    let code: BTreeSet<String> = value.as_object().unwrap().keys().cloned().collect();
    assert_same("event", &listed("event"), &code);
}

/// `key` matches `pattern` when both have as many `#`-separated parts and each part is equal,
/// or a `<placeholder>` against a non-empty part.
fn matches(pattern: &str, key: &str) -> bool {
    let (p, k): (Vec<_>, Vec<_>) = (pattern.split('#').collect(), key.split('#').collect());
    p.len() == k.len()
        && p.iter()
            .zip(&k)
            .all(|(p, k)| p == k || (p.starts_with('<') && p.ends_with('>') && !k.is_empty()))
}

#[test]
fn every_kind_of_key_is_mapped() {
    let keys = Keys::derive(b"test-secret-0123456789-abcdefghijklmnopqrstuvwxyz").unwrap();
    let hashed: Vec<_> = [
        (Signal::Ip, "203.0.113.7"),
        (Signal::Device, "d1"),
        (Signal::User, "u1"),
    ]
    .into_iter()
    .map(|(s, v)| (s, keys.signal_hash(s.as_str(), v)))
    .collect();
    let limits = Limits {
        daily_call_budget: Some(1000),
        ..Limits::default()
    };
    let mut code = Guard::default().plan(&phone(), &hashed, NOW).keys();
    code.push(minute_counter(NOW, &limits).shard(0).key);
    code.push(day_counter(NOW, &limits).unwrap().shard(0).key);
    assert_eq!(
        code.len(),
        10,
        "six signal counters, a block's two, two global: {code:?}"
    );

    let patterns = listed("counter-keys");
    for key in &code {
        assert!(
            patterns.iter().any(|p| matches(p, key)),
            "docs/data-map.md, table counter-keys: no pattern matches the key {key}"
        );
    }
    for p in &patterns {
        assert!(
            code.iter().any(|key| matches(p, key)),
            "docs/data-map.md, table counter-keys: the code makes no key like {p}"
        );
    }

    // The items' own keys, as the map's headings give them.
    let doc = read("docs/data-map.md");
    let number = to_item(&full_attempt())["pk"].as_s().unwrap().clone();
    let reply = replay_item(&Replay {
        key_hash: "k".into(),
        body_hash: "b".into(),
        status: 200,
        body: "{}".into(),
        expires_at: NOW,
    })["pk"]
        .as_s()
        .unwrap()
        .clone();
    for (pattern, key) in [("PHONE#<E.164>", number), ("IDEM#<key hash>", reply)] {
        assert!(doc.contains(&format!("`pk = {pattern}`")), "the map names {pattern}");
        assert!(matches(pattern, &key), "{key} is not like {pattern}");
    }
}
