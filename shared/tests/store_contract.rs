//! The store contract: one body per rule, run against the in-memory store and against the
//! DynamoDB endpoint. The memory store must refuse exactly what DynamoDB refuses.

mod common;

use std::sync::Arc;

use shared::domain::limits::Counter;
use shared::domain::{Attempt, CallRef, NewAttempt, Phone, Refusal, Telephony};
use shared::ports::{CallCounters, HangupFacts, Start, Store, Write};

const NOW: i64 = common::T0;

static PHONE: std::sync::LazyLock<Phone> = std::sync::LazyLock::new(phone);

/// A webhook of the test number's call.
fn call(token_hash: &'static str, call_uuid: &'static str, nonce: Option<&'static str>) -> CallRef<'static> {
    CallRef {
        phone: &PHONE,
        token_hash,
        call_uuid,
        // Leaked: a test's few bytes, for a `'static` slice.
        nonces: Box::leak(
            nonce
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        ),
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
        failures_per_window: 10,
    }
}

fn attempt(id: &str) -> Attempt {
    Attempt::new(new(id, NOW), None, vec![NOW])
}

/// A shard of a counter.
fn counter(key: &str, cap: u32) -> Counter {
    Counter {
        key: key.into(),
        expires: NOW + 120,
        cap,
    }
}

/// Counters that never fill.
fn slot() -> CallCounters {
    CallCounters {
        minute: counter(&format!("GLOBAL#calls#{}#0", NOW / 60), 1000),
        day: None,
        guard: Vec::new(),
    }
}

/// Starts `id` on top of whatever the number has now, as send-otp does.
async fn start<S: Store>(store: &S, id: &str, now: i64) -> Attempt {
    let prior = store.get(&phone()).await.unwrap();
    let a = Attempt::new(new(id, now), prior.as_ref(), vec![now]);
    assert_eq!(
        store.start_attempt(&a, prior.as_ref(), &slot(), None).await.unwrap(),
        Start::Started
    );
    store.get(&phone()).await.unwrap().unwrap()
}

/// Charges one wrong guess, as verify does.
async fn wrong<S: Store>(store: &S, now: i64) -> Write {
    store.guess(&phone(), "mac-wrong", now).await.unwrap()
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
    assert_eq!(
        store.start_attempt(&a, None, &slot(), None).await.unwrap(),
        Start::Started
    );
    assert_eq!(store.get(&phone()).await.unwrap(), Some(a.clone()));
    // The old call's webhooks leave traces that the new attempt must not inherit.
    done(store.answer(&call("th-a1", "c1", Some("n1")), None, NOW).await.unwrap());
    done(
        store
            .hang_up(&call("th-a1", "c1", Some("n2")), &busy(), NOW)
            .await
            .unwrap(),
    );
    let b = Attempt::new(new("a2", NOW + 40), Some(&a), vec![NOW, NOW + 40]);
    assert_eq!(
        store.start_attempt(&b, None, &slot(), None).await.unwrap(),
        Start::Conflict,
        "a record exists"
    );
    let stale = Attempt {
        version: a.version + 5,
        ..a.clone()
    };
    assert_eq!(
        store.start_attempt(&b, Some(&stale), &slot(), None).await.unwrap(),
        Start::Conflict,
        "stale version"
    );
    let answered = store.get(&phone()).await.unwrap().unwrap();
    assert_eq!(
        store.start_attempt(&b, Some(&answered), &slot(), None).await.unwrap(),
        Start::Started
    );
    assert_eq!(
        store.get(&phone()).await.unwrap(),
        Some(b.clone()),
        "a new send replaces the old attempt"
    );
    assert_eq!(
        store.start_attempt(&b, Some(&answered), &slot(), None).await.unwrap(),
        Start::Conflict,
        "the same version twice"
    );
    // The old attempt's token and code no longer work.
    assert!(refused(store.answer(&call("th-a1", "c1", None), None, NOW + 41).await.unwrap()).is_some());
    let c = done(store.guess(&phone(), "mac-a1", NOW + 41).await.unwrap());
    assert!(
        c.judge_last_guess().is_err(),
        "the old code is a wrong guess at the new one"
    );
}

async fn the_global_ceiling_holds<S: Store>(store: S) {
    let slot = CallCounters {
        minute: counter("GLOBAL#calls#29833333#0", 2),
        day: None,
        guard: Vec::new(),
    };
    for (i, want) in [Start::Started, Start::Started, Start::GlobalLimit]
        .into_iter()
        .enumerate()
    {
        let mut n = new(&format!("g{i}"), NOW);
        n.phone = Phone::parse(&format!("+91987654321{i}")).unwrap();
        let a = Attempt::new(n, None, vec![NOW]);
        assert_eq!(
            store.start_attempt(&a, None, &slot, None).await.unwrap(),
            want,
            "call {i}"
        );
    }
    // Refused by the ceiling: nothing was written for that number.
    assert_eq!(store.get(&Phone::parse("+919876543212").unwrap()).await.unwrap(), None);
    // Another shard (or the next minute's) is another item.
    let next_minute = CallCounters {
        minute: counter("GLOBAL#calls#29833333#1", 2),
        day: None,
        guard: Vec::new(),
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
        store.start_attempt(&a, None, &next_minute, None).await.unwrap(),
        Start::Started
    );
}

/// The day's budget shard refuses like the minute's, and a refused send writes nothing: not
/// the number, not the minute's unit.
async fn the_daily_budget_holds<S: Store>(store: S) {
    let counters = CallCounters {
        minute: counter("GLOBAL#calls#budget#0", 100),
        day: Some(counter("GLOBAL#day#20000#0", 1)),
        guard: Vec::new(),
    };
    let mut results = Vec::new();
    for i in 0..2 {
        let mut n = new(&format!("b{i}"), NOW);
        n.phone = Phone::parse(&format!("+91987654320{i}")).unwrap();
        let a = Attempt::new(n, None, vec![NOW]);
        results.push(store.start_attempt(&a, None, &counters, None).await.unwrap());
    }
    assert_eq!(results, [Start::Started, Start::BudgetLimit]);
    assert_eq!(store.get(&Phone::parse("+919876543201").unwrap()).await.unwrap(), None);
    // The minute's shard took one unit only: 99 more fit, with another day shard.
    let more = CallCounters {
        minute: counter("GLOBAL#calls#budget#0", 2),
        day: Some(counter("GLOBAL#day#20000#1", 1)),
        guard: Vec::new(),
    };
    let mut n = new("b2", NOW);
    n.phone = Phone::parse("+919876543202").unwrap();
    let a = Attempt::new(n, None, vec![NOW]);
    assert_eq!(
        store.start_attempt(&a, None, &more, None).await.unwrap(),
        Start::Started
    );
}

async fn a_locked_number_cannot_start<S: Store>(store: S) {
    let mut n = new("a1", NOW);
    n.failures_per_window = 2;
    let a = Attempt::new(n, None, vec![NOW]);
    assert_eq!(
        store.start_attempt(&a, None, &slot(), None).await.unwrap(),
        Start::Started
    );
    assert_eq!(a.guess_cap, 2, "the number's budget bounds the code's");
    done(wrong(&store, NOW).await);
    done(wrong(&store, NOW + 1).await);
    let locked = store.get(&phone()).await.unwrap().unwrap();
    assert!(refused(wrong(&store, NOW + 2).await).is_some(), "no third guess");
    assert!(locked.is_locked(2, NOW + 60) && !locked.is_locked(2, NOW + 86_400));
    assert_eq!(locked.failures_until, Some(NOW + 86_400), "opened by the first guess");
    // After the window, the count starts again, and the new attempt carries nothing.
    let later = NOW + 86_400;
    let c = Attempt::new(new("a3", later), Some(&locked), vec![later]);
    assert_eq!(
        store.start_attempt(&c, Some(&locked), &slot(), None).await.unwrap(),
        Start::Started
    );
    let after = store.get(&phone()).await.unwrap().unwrap();
    assert_eq!(
        (after.failures, after.failures_until, after.guessed(), after.guess_cap),
        (0, None, 0, 3)
    );
}

async fn failures_survive_resends_and_reset_on_success<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    done(wrong(&store, NOW).await);
    done(wrong(&store, NOW).await);
    let a2 = start(&store, "a2", NOW + 31).await;
    assert_eq!(
        (a2.guessed(), a2.failures, a2.failures_until),
        (0, 2, Some(NOW + 86_400)),
        "a new code, the same number budget"
    );
    done(wrong(&store, NOW + 32).await);
    let a = done(store.guess(&phone(), "mac-a2", NOW + 33).await.unwrap());
    assert_eq!(a.judge_last_guess(), Ok(()));
    assert_eq!(a.streak(NOW + 33), 0, "a correct verify ends the streak");
    let a3 = start(&store, "a3", NOW + 64).await;
    assert_eq!((a3.failures, a3.failures_until, a3.guess_cap), (0, None, 3));
}

async fn a_guess_between_read_and_send_is_not_lost<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    let read = store.get(&phone()).await.unwrap().unwrap();
    done(wrong(&store, NOW + 1).await);
    let b = Attempt::new(new("a2", NOW + 31), Some(&read), vec![NOW, NOW + 31]);
    assert_eq!(
        store.start_attempt(&b, Some(&read), &slot(), None).await.unwrap(),
        Start::Conflict,
        "a send decided on a stale failure count is refused, so no failure is forgotten"
    );
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
    assert!(refused(store.answer(&call("th-a1", "c1", None), None, NOW).await.unwrap()).is_some());
    assert!(
        refused(store.guess(&phone(), "mac-a1", NOW).await.unwrap()).is_some(),
        "no guess is charged"
    );
    let nobody = Phone::parse("+919876500000").unwrap();
    assert!(!store.record_call_failed(&nobody, "a1", "r").await.unwrap());
}

async fn answer_binds_the_call<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    assert!(refused(store.answer(&call("th-wrong", "c1", None), None, NOW).await.unwrap()).is_some());
    let a = done(
        store
            .answer(&call("th-a1", "c1", Some("n1")), None, NOW + 5)
            .await
            .unwrap(),
    );
    assert_eq!(
        (a.call_uuid.as_deref(), a.answered_at, a.nonces.clone()),
        (Some("c1"), Some(NOW + 5), vec!["n1".to_owned()])
    );
    let again = done(
        store
            .answer(&call("th-a1", "c1", Some("n2")), None, NOW + 9)
            .await
            .unwrap(),
    );
    assert_eq!(again.answered_at, Some(NOW + 5), "the first answer time stays");
    let replay = refused(
        store
            .answer(&call("th-a1", "c1", Some("n1")), None, NOW + 9)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!replay.fresh_nonces(&["n1".to_owned()]), "a used nonce is refused");
    assert!(
        refused(store.answer(&call("th-a1", "c2", None), None, NOW + 9).await.unwrap()).is_some(),
        "another call"
    );
    assert!(
        refused(store.answer(&call("th-a1", "c1", None), None, NOW + 300).await.unwrap()).is_some(),
        "expired"
    );
}

async fn reads_are_counted_and_capped<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    assert!(
        refused(store.read_code(&call("th-a1", "c1", None), 3, NOW).await.unwrap()).is_some(),
        "not picked up yet"
    );
    let a = done(store.answer(&call("th-a1", "c1", None), None, NOW).await.unwrap());
    assert_eq!(a.reads, 0, "a pickup alone reads nothing (the key-press gate)");
    assert!(
        refused(store.read_code(&call("th-a1", "c2", None), 3, NOW).await.unwrap()).is_some(),
        "another call"
    );
    assert_eq!(
        done(store.read_code(&call("th-a1", "c1", Some("r1")), 3, NOW).await.unwrap()).reads,
        1
    );
    assert!(
        refused(store.read_code(&call("th-a1", "c1", Some("r1")), 3, NOW).await.unwrap()).is_some(),
        "replayed"
    );
    assert!(
        refused(store.read_code(&call("th-a1", "c1", None), 3, NOW).await.unwrap()).is_some(),
        "unsigned, after a signed webhook of this attempt"
    );
    assert!(
        refused(store.read_code(&call("th-a1", "c1", Some("r3")), 1, NOW).await.unwrap()).is_some(),
        "the gate's key reads only the first time"
    );
    // A replayed answer that reads is a read like "press 1": together they stop at the cap.
    assert_eq!(
        done(
            store
                .answer(&call("th-a1", "c1", Some("r4")), Some(3), NOW)
                .await
                .unwrap()
        )
        .reads,
        2
    );
    assert_eq!(
        done(store.read_code(&call("th-a1", "c1", Some("r5")), 3, NOW).await.unwrap()).reads,
        3
    );
    assert!(refused(store.read_code(&call("th-a1", "c1", Some("r6")), 3, NOW).await.unwrap()).is_some());
    assert!(
        refused(
            store
                .answer(&call("th-a1", "c1", Some("r7")), Some(3), NOW)
                .await
                .unwrap()
        )
        .is_some()
    );
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
        refused(store.answer(&call("th-a1", "c1", None), None, NOW + 31).await.unwrap()).is_some(),
        "no code after the call ended"
    );
}

async fn guesses_are_charged_then_judged<S: Store>(store: S) {
    assert_eq!(
        refused(store.guess(&phone(), "mac-a1", NOW).await.unwrap()),
        None,
        "no record"
    );
    start(&store, "a1", NOW).await;
    let a = done(store.guess(&phone(), "mac-wrong", NOW).await.unwrap());
    assert_eq!(
        (a.guesses.as_slice(), a.judge_last_guess()),
        (&["mac-wrong".to_owned()][..], Err(Refusal::Invalid))
    );
    let a = done(store.guess(&phone(), "mac-a1", NOW + 10).await.unwrap());
    assert_eq!(a.judge_last_guess(), Ok(()));
    assert!(store.record_verified(&phone(), "a1", NOW + 10, None).await.unwrap());
    assert!(
        !store.record_verified(&phone(), "a1", NOW + 11, None).await.unwrap(),
        "recorded once"
    );
    let old = refused(store.guess(&phone(), "mac-a1", NOW + 11).await.unwrap()).unwrap();
    assert_eq!(
        (old.verified_at, old.code_sealed.as_deref(), old.guessed()),
        (Some(NOW + 10), None, 2)
    );
    assert_eq!(old.refusal(NOW + 11), Some(Refusal::AlreadyUsed));
}

/// A right guess ends the attempt at once, before verify records `verified_at`: a cancel, a
/// further guess and a read of the code in between all find the code used.
async fn a_right_guess_ends_the_attempt_before_verified_at<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    let hook = call("th-a1", "call-1", None);
    done(store.answer(&hook, None, NOW + 1).await.unwrap());
    let a = done(store.guess(&phone(), "mac-a1", NOW + 5).await.unwrap());
    assert_eq!(a.judge_last_guess(), Ok(()));
    let old = refused(store.cancel(&phone(), NOW + 6).await.unwrap()).expect("the record");
    assert_eq!(
        (old.canceled_at, old.verified_at, old.status(NOW + 6)),
        (None, None, shared::domain::Status::Verified),
        "a cancel between the right guess and verified_at finds the code used"
    );
    let old = refused(store.guess(&phone(), "mac-a1", NOW + 6).await.unwrap()).expect("the record");
    assert_eq!((old.guessed(), old.refusal(NOW + 6)), (1, Some(Refusal::AlreadyUsed)));
    assert!(refused(store.read_code(&hook, 5, NOW + 6).await.unwrap()).is_some());
    assert!(store.record_verified(&phone(), "a1", NOW + 7, None).await.unwrap());
    let a = store.get(&phone()).await.unwrap().unwrap();
    assert_eq!((a.verified_at, a.canceled_at), (Some(NOW + 7), None));
}

async fn guesses_at_an_expired_code_are_refused<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    let old = refused(store.guess(&phone(), "mac-a1", NOW + 300).await.unwrap()).unwrap();
    assert_eq!(
        (old.guessed(), old.refusal(NOW + 300)),
        (0, Some(Refusal::Expired)),
        "TTL deletion is lazy: expiry is checked by the condition"
    );
}

async fn wrong_guesses_are_capped<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    for n in 1..=3 {
        let a = done(wrong(&store, NOW).await);
        assert_eq!((a.guessed(), a.streak(NOW)), (n, n));
    }
    let old = refused(store.guess(&phone(), "mac-a1", NOW).await.unwrap()).unwrap();
    assert_eq!(
        (old.guessed(), old.refusal(NOW)),
        (3, Some(Refusal::TooManyAttempts)),
        "the right code after the cap is never compared"
    );
}

async fn concurrent_right_guesses_succeed_exactly_once<S: Store + 'static>(store: S) {
    start(&store, "a1", NOW).await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..25)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move {
                match s.guess(&phone(), "mac-a1", NOW).await.unwrap() {
                    Write::Done(a) => a.judge_last_guess().is_ok(),
                    Write::Refused(_) => false,
                }
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap() as u32;
    }
    assert_eq!(wins, 1);
    assert_eq!(
        store.get(&phone()).await.unwrap().unwrap().guessed(),
        1,
        "the right guess ends the attempt: none is charged after it"
    );
}

async fn concurrent_distinct_guesses_never_exceed_the_cap<S: Store + 'static>(store: S) {
    start(&store, "a1", NOW).await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = store.clone();
            let mac = if i == 10 {
                "mac-a1".to_owned()
            } else {
                format!("mac-guess-{i}")
            };
            tokio::spawn(async move {
                match s.guess(&phone(), &mac, NOW).await.unwrap() {
                    Write::Done(a) => Some(a.judge_last_guess().is_ok()),
                    Write::Refused(_) => None,
                }
            })
        })
        .collect();
    let (mut charged, mut right) = (0, 0);
    for t in tasks {
        if let Some(ok) = t.await.unwrap() {
            charged += 1;
            right += ok as u32;
        }
    }
    let a = store.get(&phone()).await.unwrap().unwrap();
    // The cap, unless the right guess was charged first: it ends the attempt.
    let charged_to = a.first_match().map_or(3, |i| i as u32 + 1);
    assert_eq!(
        (charged, a.guessed()),
        (charged_to, charged_to),
        "exactly the cap (or up to the right guess) was charged, and only charged guesses were judged"
    );
    assert_eq!(right, u32::from(a.first_match().is_some()));
}

async fn a_hangup_of_another_call_changes_nothing<S: Store>(store: S) {
    start(&store, "a1", NOW).await;
    done(store.answer(&call("th-a1", "c1", None), None, NOW + 5).await.unwrap());
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
    the_daily_budget_holds,
    a_locked_number_cannot_start,
    failures_survive_resends_and_reset_on_success,
    a_guess_between_read_and_send_is_not_lost,
    a_failed_call_needs_the_current_attempt,
    answer_binds_the_call,
    reads_are_counted_and_capped,
    hangup_is_recorded_once,
    a_hangup_of_another_call_changes_nothing,
    guesses_are_charged_then_judged,
    a_right_guess_ends_the_attempt_before_verified_at,
    guesses_at_an_expired_code_are_refused,
    wrong_guesses_are_capped,
    concurrent_right_guesses_succeed_exactly_once,
    concurrent_distinct_guesses_never_exceed_the_cap,
);
