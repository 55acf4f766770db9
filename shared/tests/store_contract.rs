//! The store contract: one body per rule, run against the in-memory store and against the
//! DynamoDB endpoint. The memory store must refuse exactly what DynamoDB refuses.

mod common;

use std::sync::Arc;

use shared::domain::{Attempt, Phone, Telephony};
use shared::ports::{HangupFacts, Store, Write};

const NOW: i64 = common::T0;

fn attempt(id: &str) -> Attempt {
    Attempt {
        phone: Phone::parse(common::PHONE).unwrap(),
        attempt_id: id.into(),
        created_at: NOW,
        expires_at: NOW + 300,
        token_hash: format!("th-{id}"),
        code_mac: format!("mac-{id}"),
        code_sealed: Some(format!("sealed-{id}")),
        wrong_attempts: 0,
        max_attempts: 3,
        request_uuid: None,
        call_failed: None,
        answered_at: None,
        call_uuid: None,
        repeats: 0,
        ended_at: None,
        hangup: None,
        hangup_cause: None,
        verified_at: None,
    }
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
    HangupFacts { telephony: Telephony::Busy, cause: "USER_BUSY".into() }
}

async fn put_get_and_replace<S: Store>(store: S) {
    assert_eq!(store.get(&phone()).await.unwrap(), None);
    let a = attempt("a1");
    store.put_attempt(&a).await.unwrap();
    assert_eq!(store.get(&phone()).await.unwrap(), Some(a));
    let b = attempt("a2");
    store.put_attempt(&b).await.unwrap();
    assert_eq!(store.get(&phone()).await.unwrap(), Some(b), "a new send replaces the old attempt");
    // The old attempt's token and code no longer work.
    assert_eq!(store.answer(&phone(), "th-a1", "c1", NOW).await.unwrap(), None);
    assert!(refused(store.consume(&phone(), "mac-a1", NOW).await.unwrap()).is_some());
}

async fn call_placed_and_failed_need_the_current_attempt<S: Store>(store: S) {
    store.put_attempt(&attempt("a1")).await.unwrap();
    assert!(!store.record_call_placed(&phone(), "other", "req-x").await.unwrap());
    assert!(store.record_call_placed(&phone(), "a1", "req-1").await.unwrap());
    assert_eq!(store.get(&phone()).await.unwrap().unwrap().request_uuid.as_deref(), Some("req-1"));
    assert!(store.record_call_failed(&phone(), "a1", "HTTP 402").await.unwrap());
    let a = store.get(&phone()).await.unwrap().unwrap();
    assert_eq!(a.call_failed.as_deref(), Some("HTTP 402"));
    assert_eq!(a.code_sealed, None, "a failed call erases its sealed code");
    assert!(!a.is_live(NOW));
    assert_eq!(store.answer(&phone(), "th-a1", "c1", NOW).await.unwrap(), None);
    assert!(refused(store.consume(&phone(), "mac-a1", NOW).await.unwrap()).is_some());
    let nobody = Phone::parse("+919876500000").unwrap();
    assert!(!store.record_call_placed(&nobody, "a1", "r").await.unwrap());
}

async fn answer_binds_the_call<S: Store>(store: S) {
    store.put_attempt(&attempt("a1")).await.unwrap();
    assert_eq!(store.answer(&phone(), "th-wrong", "c1", NOW).await.unwrap(), None);
    let a = store.answer(&phone(), "th-a1", "c1", NOW + 5).await.unwrap().expect("served");
    assert_eq!((a.call_uuid.as_deref(), a.answered_at), (Some("c1"), Some(NOW + 5)));
    let again = store.answer(&phone(), "th-a1", "c1", NOW + 9).await.unwrap().expect("a retry of the same call");
    assert_eq!(again.answered_at, Some(NOW + 5), "the first answer time stays");
    assert_eq!(store.answer(&phone(), "th-a1", "c2", NOW + 9).await.unwrap(), None, "another call");
    assert_eq!(store.answer(&phone(), "th-a1", "c1", NOW + 300).await.unwrap(), None, "expired");
}

async fn repeats_are_counted_and_capped<S: Store>(store: S) {
    store.put_attempt(&attempt("a1")).await.unwrap();
    assert_eq!(store.repeat(&phone(), "th-a1", "c1", 2, NOW).await.unwrap(), None, "not answered yet");
    store.answer(&phone(), "th-a1", "c1", NOW).await.unwrap().unwrap();
    assert_eq!(store.repeat(&phone(), "th-a1", "c2", 2, NOW).await.unwrap(), None, "another call");
    assert_eq!(store.repeat(&phone(), "th-a1", "c1", 2, NOW).await.unwrap().unwrap().repeats, 1);
    assert_eq!(store.repeat(&phone(), "th-a1", "c1", 2, NOW).await.unwrap().unwrap().repeats, 2);
    assert_eq!(store.repeat(&phone(), "th-a1", "c1", 2, NOW).await.unwrap(), None);
}

async fn hangup_is_recorded_once<S: Store>(store: S) {
    store.put_attempt(&attempt("a1")).await.unwrap();
    assert!(refused(store.hang_up(&phone(), "th-x", &busy(), NOW).await.unwrap()).is_some());
    let a = done(store.hang_up(&phone(), "th-a1", &busy(), NOW + 20).await.unwrap());
    assert_eq!((a.ended_at, a.hangup, a.hangup_cause.as_deref(), a.code_sealed.as_deref()), (Some(NOW + 20), Some(Telephony::Busy), Some("USER_BUSY"), None));
    let other = HangupFacts { telephony: Telephony::Answered, cause: "NORMAL_CLEARING".into() };
    let old = refused(store.hang_up(&phone(), "th-a1", &other, NOW + 30).await.unwrap()).unwrap();
    assert_eq!(old.hangup, Some(Telephony::Busy), "a retry changes nothing");
    assert_eq!(store.answer(&phone(), "th-a1", "c1", NOW + 31).await.unwrap(), None, "no code after the call ended");
}

async fn consume_once<S: Store>(store: S) {
    assert_eq!(refused(store.consume(&phone(), "mac-a1", NOW).await.unwrap()), None, "no record");
    store.put_attempt(&attempt("a1")).await.unwrap();
    let old = refused(store.consume(&phone(), "mac-wrong", NOW).await.unwrap()).unwrap();
    assert_eq!(old.verified_at, None);
    let a = done(store.consume(&phone(), "mac-a1", NOW + 10).await.unwrap());
    assert_eq!((a.verified_at, a.code_sealed.as_deref()), (Some(NOW + 10), None));
    let old = refused(store.consume(&phone(), "mac-a1", NOW + 11).await.unwrap()).unwrap();
    assert_eq!(old.verified_at, Some(NOW + 10));
}

async fn consume_refuses_expired<S: Store>(store: S) {
    store.put_attempt(&attempt("a1")).await.unwrap();
    let old = refused(store.consume(&phone(), "mac-a1", NOW + 300).await.unwrap()).unwrap();
    assert_eq!(old.verified_at, None, "TTL deletion is lazy: expiry is checked by the condition");
}

async fn wrong_guesses_are_capped<S: Store>(store: S) {
    store.put_attempt(&attempt("a1")).await.unwrap();
    assert!(refused(store.count_wrong(&phone(), "other", NOW).await.unwrap()).is_some());
    for n in 1..=3 {
        assert_eq!(done(store.count_wrong(&phone(), "a1", NOW).await.unwrap()).wrong_attempts, n);
    }
    assert_eq!(refused(store.count_wrong(&phone(), "a1", NOW).await.unwrap()).unwrap().wrong_attempts, 3);
    assert!(refused(store.consume(&phone(), "mac-a1", NOW).await.unwrap()).is_some(), "the right code after the cap fails");
}

async fn concurrent_consumes_succeed_exactly_once<S: Store + 'static>(store: S) {
    store.put_attempt(&attempt("a1")).await.unwrap();
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
    store.put_attempt(&attempt("a1")).await.unwrap();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { matches!(s.count_wrong(&phone(), "a1", NOW).await.unwrap(), Write::Done(_)) })
        })
        .collect();
    let mut counted = 0;
    for t in tasks {
        counted += t.await.unwrap() as u32;
    }
    assert_eq!(counted, 3);
    assert_eq!(store.get(&phone()).await.unwrap().unwrap().wrong_attempts, 3);
}

on_both_stores!(
    put_get_and_replace,
    call_placed_and_failed_need_the_current_attempt,
    answer_binds_the_call,
    repeats_are_counted_and_capped,
    hangup_is_recorded_once,
    consume_once,
    consume_refuses_expired,
    wrong_guesses_are_capped,
    concurrent_consumes_succeed_exactly_once,
    concurrent_wrong_guesses_never_exceed_the_cap,
);
