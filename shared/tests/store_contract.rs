//! The store contract: one body per rule, run against the in-memory store and against the
//! DynamoDB endpoint. The memory store must refuse exactly what DynamoDB refuses.

mod common;

use std::sync::Arc;

use shared::domain::limits::{Failure, Limits, next_failure};
use shared::domain::{Attempt, CallRef, NewAttempt, Phone, Telephony};
use shared::ports::{GlobalSlot, HangupFacts, Start, Store, Write};

const NOW: i64 = common::T0;

static PHONE: std::sync::LazyLock<Phone> = std::sync::LazyLock::new(phone);

/// A webhook of the test number's call.
fn call(token_hash: &'static str, call_uuid: &'static str, nonce: Option<&'static str>) -> CallRef<'static> {
    CallRef {
        phone: &PHONE,
        token_hash,
        call_uuid,
        nonce,
    }
}

fn new(id: &str, now: i64) -> NewAttempt {
    NewAttempt {
        phone: Phone::parse(common::PHONE).unwrap(),
        attempt_id: id.into(),
        now,
        ttl_secs: 300,
        token_hash: format!("th-{id}"),
        code_mac: format!("mac-{id}"),
        code_sealed: format!("sealed-{id}"),
        max_attempts: 3,
    }
}

fn attempt(id: &str) -> Attempt {
    Attempt::new(new(id, NOW), None, vec![NOW])
}

const SLOT: GlobalSlot = GlobalSlot {
    minute: NOW / 60,
    expires: NOW + 120,
    cap: 1000,
};

/// Starts `id` on top of whatever the number has now, as send-otp does.
async fn start<S: Store>(store: &S, id: &str, now: i64) -> Attempt {
    let prior = store.get(&phone()).await.unwrap();
    let a = Attempt::new(new(id, now), prior.as_ref(), vec![now]);
    assert_eq!(
        store.start_attempt(&a, prior.map(|p| p.version), &SLOT).await.unwrap(),
        Start::Started
    );
    store.get(&phone()).await.unwrap().unwrap()
}

/// Counts one wrong guess the way verify does.
async fn wrong<S: Store>(store: &S, now: i64) -> Write {
    let cur = store.get(&phone()).await.unwrap().unwrap();
    let f = next_failure(&cur, now, &Limits::default());
    store
        .count_wrong(
            &phone(),
            &cur.attempt_id,
            cur.failures,
            &f,
            cur.with_failure(f).keep_until(),
            now,
        )
        .await
        .unwrap()
}

fn phone() -> Phone {
    Phone::parse(common::PHONE).unwrap()
}

fn done(w: Write) -> Attempt {
    match w {
        Write::Done(a) => a,
        Write::Refused(old) => panic!("refused; old = {old:?}"),
    }
}

fn refused(w: Write) -> Option<Attempt> {
    match w {
        Write::Done(a) => panic!("expected a refusal, got {a:?}"),
        Write::Refused(old) => old,
    }
}

fn busy() -> HangupFacts {
    HangupFacts {
        telephony: Telephony::Busy,
        cause: "USER_BUSY".into(),
    }
}

async fn start_get_and_replace<S: Store>(store: S) {
    assert_eq!(store.get(&phone()).await.unwrap(), None);
    let a = attempt("a1");
    assert_eq!(store.start_attempt(&a, None, &SLOT).await.unwrap(), Start::Started);
    assert_eq!(store.get(&phone()).await.unwrap(), Some(a.clone()));
    // The old call's webhooks leave traces that the new attempt must not inherit.
    done(store.answer(&call("th-a1", "c1", Some("n1")), NOW).await.unwrap());
    done(store.hang_up(&call("th-a1", "c1", None), &busy(), NOW).await.unwrap());
    let b = Attempt::new(new("a2", NOW + 40), Some(&a), vec![NOW, NOW + 40]);
    assert_eq!(
        store.start_attempt(&b, None, &SLOT).await.unwrap(),
        Start::Conflict,
        "a record exists"
    );
    assert_eq!(
        store.start_attempt(&b, Some(a.version + 5), &SLOT).await.unwrap(),
        Start::Conflict,
        "stale version"
    );
    assert_eq!(
        store.start_attempt(&b, Some(a.version), &SLOT).await.unwrap(),
        Start::Started
    );
    assert_eq!(
        store.get(&phone()).await.unwrap(),
        Some(b.clone()),
        "a new send replaces the old attempt"
    );
    assert_eq!(
        store.start_attempt(&b, Some(a.version), &SLOT).await.unwrap(),
        Start::Conflict,
        "the same version twice"
    );
    // The old attempt's token and code no longer work.
    assert!(refused(store.answer(&call("th-a1", "c1", None), NOW + 41).await.unwrap()).is_some());
    assert!(refused(store.consume(&phone(), "mac-a1", NOW + 41).await.unwrap()).is_some());
}

async fn the_global_ceiling_holds<S: Store>(store: S) {
    let slot = GlobalSlot {
        minute: NOW / 60,
        expires: NOW + 120,
        cap: 2,
    };
    for (i, want) in [Start::Started, Start::Started, Start::GlobalLimit]
        .into_iter()
        .enumerate()
    {
        let mut n = new(&format!("g{i}"), NOW);
        n.phone = Phone::parse(&format!("+91987654321{i}")).unwrap();
        let a = Attempt::new(n, None, vec![NOW]);
        assert_eq!(store.start_attempt(&a, None, &slot).await.unwrap(), want, "call {i}");
    }
    // Refused by the ceiling: nothing was written for that number.
    assert_eq!(store.get(&Phone::parse("+919876543212").unwrap()).await.unwrap(), None);
    let next_minute = GlobalSlot {
        minute: slot.minute + 1,
        ..slot
    };
    let a = Attempt::new(
        NewAttempt {
            phone: Phone::parse("+919876543212").unwrap(),
            ..new("g3", NOW + 60)
        },
        None,
        vec![NOW + 60],
    );
    assert_eq!(
        store.start_attempt(&a, None, &next_minute).await.unwrap(),
        Start::Started
    );
}

async fn a_locked_number_cannot_start<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    let limits = Limits {
        failures_per_window: 2,
        ..Limits::default()
    };
    for _ in 0..2 {
        let cur = store.get(&phone()).await.unwrap().unwrap();
        let f = next_failure(&cur, NOW, &limits);
        done(
            store
                .count_wrong(&phone(), "a1", cur.failures, &f, cur.with_failure(f).keep_until(), NOW)
                .await
                .unwrap(),
        );
    }
    let locked = store.get(&phone()).await.unwrap().unwrap();
    assert_eq!(locked.locked_until, Some(NOW + 86_400));
    let b = Attempt::new(new("a2", NOW + 60), Some(&locked), vec![NOW + 60]);
    assert_eq!(
        store.start_attempt(&b, Some(locked.version), &SLOT).await.unwrap(),
        Start::Conflict
    );
    // The lock and the failure count survive a new attempt once it is allowed.
    let later = NOW + 86_400;
    let c = Attempt::new(new("a3", later), Some(&locked), vec![later]);
    assert_eq!(
        store.start_attempt(&c, Some(locked.version), &SLOT).await.unwrap(),
        Start::Started
    );
    let after = store.get(&phone()).await.unwrap().unwrap();
    assert_eq!(
        (after.failures, after.locked_until, after.wrong_attempts),
        (2, Some(NOW + 86_400), 0)
    );
}

async fn failures_survive_resends_and_reset_on_success<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    done(wrong(&store, NOW).await);
    done(wrong(&store, NOW).await);
    let a2 = start(&store, "a2", NOW + 31).await;
    assert_eq!(
        (a2.wrong_attempts, a2.failures),
        (0, 2),
        "a new code, the same number budget"
    );
    done(wrong(&store, NOW + 32).await);
    let a = done(store.consume(&phone(), "mac-a2", NOW + 33).await.unwrap());
    assert_eq!(
        (a.failures, a.failures_since),
        (0, None),
        "a correct verify resets the count"
    );
}

async fn stale_failure_counts_are_refused<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    let cur = store.get(&phone()).await.unwrap().unwrap();
    let f = Failure {
        failures: 1,
        failures_since: NOW,
        locked_until: None,
    };
    done(
        store
            .count_wrong(&phone(), "a1", 0, &f, NOW + 86_400, NOW)
            .await
            .unwrap(),
    );
    let old = refused(
        store
            .count_wrong(&phone(), "a1", cur.failures, &f, NOW + 86_400, NOW)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(old.failures, 1, "a count based on a stale read is refused, never lost");
}

async fn a_failed_call_needs_the_current_attempt<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    assert!(
        store.get(&phone()).await.unwrap().unwrap().placed(),
        "stored before the call is requested: placed unless refused"
    );
    assert!(!store.record_call_failed(&phone(), "other", "HTTP 402").await.unwrap());
    assert!(store.get(&phone()).await.unwrap().unwrap().placed());
    assert!(store.record_call_failed(&phone(), "a1", "HTTP 402").await.unwrap());
    let a = store.get(&phone()).await.unwrap().unwrap();
    assert_eq!(a.call_failed.as_deref(), Some("HTTP 402"));
    assert_eq!(a.code_sealed, None, "a failed call erases its sealed code");
    assert!(!a.is_live(NOW) && !a.placed());
    assert!(refused(store.answer(&call("th-a1", "c1", None), NOW).await.unwrap()).is_some());
    assert!(refused(store.consume(&phone(), "mac-a1", NOW).await.unwrap()).is_some());
    let nobody = Phone::parse("+919876500000").unwrap();
    assert!(!store.record_call_failed(&nobody, "a1", "r").await.unwrap());
}

async fn answer_binds_the_call<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    assert!(refused(store.answer(&call("th-wrong", "c1", None), NOW).await.unwrap()).is_some());
    let a = done(store.answer(&call("th-a1", "c1", Some("n1")), NOW + 5).await.unwrap());
    assert_eq!(
        (a.call_uuid.as_deref(), a.answered_at, a.nonces.clone()),
        (Some("c1"), Some(NOW + 5), vec!["n1".to_owned()])
    );
    let again = done(store.answer(&call("th-a1", "c1", Some("n2")), NOW + 9).await.unwrap());
    assert_eq!(again.answered_at, Some(NOW + 5), "the first answer time stays");
    let replay = refused(store.answer(&call("th-a1", "c1", Some("n1")), NOW + 9).await.unwrap()).unwrap();
    assert!(!replay.fresh_nonce(Some("n1")), "a used nonce is refused");
    assert!(
        refused(store.answer(&call("th-a1", "c2", None), NOW + 9).await.unwrap()).is_some(),
        "another call"
    );
    assert!(
        refused(store.answer(&call("th-a1", "c1", None), NOW + 300).await.unwrap()).is_some(),
        "expired"
    );
}

async fn repeats_are_counted_and_capped<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    assert!(
        refused(store.repeat(&call("th-a1", "c1", None), 2, NOW).await.unwrap()).is_some(),
        "not answered yet"
    );
    done(store.answer(&call("th-a1", "c1", None), NOW).await.unwrap());
    assert!(
        refused(store.repeat(&call("th-a1", "c2", None), 2, NOW).await.unwrap()).is_some(),
        "another call"
    );
    assert_eq!(
        done(store.repeat(&call("th-a1", "c1", Some("r1")), 2, NOW).await.unwrap()).repeats,
        1
    );
    assert!(
        refused(store.repeat(&call("th-a1", "c1", Some("r1")), 2, NOW).await.unwrap()).is_some(),
        "replayed"
    );
    assert_eq!(
        done(store.repeat(&call("th-a1", "c1", None), 2, NOW).await.unwrap()).repeats,
        2
    );
    assert!(refused(store.repeat(&call("th-a1", "c1", None), 2, NOW).await.unwrap()).is_some());
}

async fn hangup_is_recorded_once<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    assert!(refused(store.hang_up(&call("th-x", "c1", None), &busy(), NOW).await.unwrap()).is_some());
    let a = done(
        store
            .hang_up(&call("th-a1", "c1", Some("h1")), &busy(), NOW + 20)
            .await
            .unwrap(),
    );
    assert_eq!(
        (
            a.ended_at,
            a.hangup,
            a.hangup_cause.as_deref(),
            a.code_sealed.as_deref()
        ),
        (Some(NOW + 20), Some(Telephony::Busy), Some("USER_BUSY"), None)
    );
    let other = HangupFacts {
        telephony: Telephony::Answered,
        cause: "NORMAL_CLEARING".into(),
    };
    let old = refused(
        store
            .hang_up(&call("th-a1", "c1", Some("h2")), &other, NOW + 30)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(old.hangup, Some(Telephony::Busy), "a retry changes nothing");
    assert!(
        refused(store.answer(&call("th-a1", "c1", None), NOW + 31).await.unwrap()).is_some(),
        "no code after the call ended"
    );
}

async fn consume_once<S: Store>(store: S) {
    assert_eq!(
        refused(store.consume(&phone(), "mac-a1", NOW).await.unwrap()),
        None,
        "no record"
    );
    start(&store, "a1", NOW).await;
    let old = refused(store.consume(&phone(), "mac-wrong", NOW).await.unwrap()).unwrap();
    assert_eq!(old.verified_at, None);
    let a = done(store.consume(&phone(), "mac-a1", NOW + 10).await.unwrap());
    assert_eq!((a.verified_at, a.code_sealed.as_deref()), (Some(NOW + 10), None));
    let old = refused(store.consume(&phone(), "mac-a1", NOW + 11).await.unwrap()).unwrap();
    assert_eq!(old.verified_at, Some(NOW + 10));
}

async fn consume_refuses_expired<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    let old = refused(store.consume(&phone(), "mac-a1", NOW + 300).await.unwrap()).unwrap();
    assert_eq!(
        old.verified_at, None,
        "TTL deletion is lazy: expiry is checked by the condition"
    );
}

async fn wrong_guesses_are_capped<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    let f = Failure {
        failures: 1,
        failures_since: NOW,
        locked_until: None,
    };
    assert!(refused(store.count_wrong(&phone(), "other", 0, &f, NOW, NOW).await.unwrap()).is_some());
    for n in 1..=3 {
        let a = done(wrong(&store, NOW).await);
        assert_eq!((a.wrong_attempts, a.failures), (n, n));
    }
    assert_eq!(refused(wrong(&store, NOW).await).unwrap().wrong_attempts, 3);
    assert!(
        refused(store.consume(&phone(), "mac-a1", NOW).await.unwrap()).is_some(),
        "the right code after the cap fails"
    );
}

async fn concurrent_consumes_succeed_exactly_once<S: Store + 'static>(store: S) {
    start(&store, "a1", NOW).await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..25)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { matches!(s.consume(&phone(), "mac-a1", NOW).await.unwrap(), Write::Done(_)) })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap() as u32;
    }
    assert_eq!(wins, 1);
}

async fn concurrent_wrong_guesses_never_exceed_the_cap<S: Store + 'static>(store: S) {
    start(&store, "a1", NOW).await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move {
                // As verify does: retry on a stale failure count, stop when refused for good.
                loop {
                    let cur = s.get(&phone()).await.unwrap().unwrap();
                    if !cur.is_live(NOW) {
                        return false;
                    }
                    let f = next_failure(&cur, NOW, &Limits::default());
                    match s
                        .count_wrong(&phone(), "a1", cur.failures, &f, cur.with_failure(f).keep_until(), NOW)
                        .await
                        .unwrap()
                    {
                        Write::Done(_) => return true,
                        Write::Refused(_) => continue,
                    }
                }
            })
        })
        .collect();
    let mut counted = 0;
    for t in tasks {
        counted += t.await.unwrap() as u32;
    }
    assert_eq!(counted, 3);
    let a = store.get(&phone()).await.unwrap().unwrap();
    assert_eq!((a.wrong_attempts, a.failures), (3, 3), "no count lost to a race");
}

async fn a_hangup_of_another_call_changes_nothing<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    done(store.answer(&call("th-a1", "c1", None), NOW + 5).await.unwrap());
    let old = refused(
        store
            .hang_up(&call("th-a1", "c2", None), &busy(), NOW + 9)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (old.ended_at, old.code_sealed.is_some()),
        (None, true),
        "the bound call goes on"
    );
    let a = done(
        store
            .hang_up(&call("th-a1", "c1", None), &busy(), NOW + 20)
            .await
            .unwrap(),
    );
    assert_eq!(a.ended_at, Some(NOW + 20));
}

on_both_stores!(
    start_get_and_replace,
    the_global_ceiling_holds,
    a_locked_number_cannot_start,
    failures_survive_resends_and_reset_on_success,
    stale_failure_counts_are_refused,
    a_failed_call_needs_the_current_attempt,
    answer_binds_the_call,
    repeats_are_counted_and_capped,
    hangup_is_recorded_once,
    a_hangup_of_another_call_changes_nothing,
    consume_once,
    consume_refuses_expired,
    wrong_guesses_are_capped,
    concurrent_consumes_succeed_exactly_once,
    concurrent_wrong_guesses_never_exceed_the_cap,
);
