//! Erasing a number (`POST /erase-number`) leaves nothing in the table that names it: erased
//! mid-call (the call's later webhooks write nothing back) and after a verification, with an
//! Idempotency-Key's reply, a `client_ref` and the fraud guard's counters in play. The whole
//! table is read back (a scan, on DynamoDB) and searched for the number; both stores.

mod common;

use common::vobiz::{self as fake, call_form, fired, last_token};
use common::{TestService, config_with, form_req, json, json_req};
use serde_json::json;
use shared::domain::Phone;
use shared::ports::Store;
use shared::router::dispatch;
use shared::store::{DynamoStore, MemoryStore};
use shared::vobiz::VobizClient;

/// Everything a store holds, as text to search.
trait Everything {
    fn everything(&self) -> impl Future<Output = Vec<String>>;
}

impl Everything for MemoryStore {
    async fn everything(&self) -> Vec<String> {
        let (items, counters) = self.snapshot();
        let mut all: Vec<String> = items.iter().map(|a| format!("{a:?}")).collect();
        all.extend(counters.iter().map(|c| format!("{c:?}")));
        all.extend(self.replays().iter().map(|r| format!("{r:?}")));
        all
    }
}

impl Everything for DynamoStore {
    async fn everything(&self) -> Vec<String> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .scan()
                .table_name(self.table())
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            all.extend(page.items().iter().map(|i| format!("{i:?}")));
            match page.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => break all,
            }
        }
    }
}

async fn post<S: Store>(
    svc: &TestService<S>,
    calls: &VobizClient,
    route: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = dispatch(svc, calls, json_req("POST", route, &body.to_string())).await;
    assert!(r.status().is_success(), "{route}: {}", json(&r));
    json(&r)
}

/// `To` for a webhook of `phone`'s call.
fn to(phone: &str) -> String {
    phone.trim_start_matches('+').to_owned()
}

async fn an_erased_number_leaves_nothing_behind<S: Store + Everything + 'static>(store: S) {
    let (svc, _clock) = common::service_with(store, config_with(&[]));
    let server = fake::fake(201, fired()).await;
    let calls = fake::client(&server);
    let (mid_call, verified) = ("+919876543210", "+918765432109");

    // Mid-call: a send with a key, a reference and signals; the callee picks up; then erased.
    let mut send = json_req(
        "POST",
        "/send-otp",
        &json!({"phone": mid_call, "client_ref": "signup-1", "signals": {"ip": "203.0.113.5", "user_id": "u-1"}})
            .to_string(),
    );
    send.headers_mut()
        .insert("idempotency-key", "key-of-the-first-send".parse().unwrap());
    let r = dispatch(&svc, &calls, send).await;
    assert_eq!(r.status(), 200, "{}", json(&r));
    let token = last_token(&server).await;
    let to_mid = to(mid_call);
    let pickup = |token: &str| {
        form_req(
            &format!("/answer/{token}"),
            &call_form(&[("Event", "StartApp"), ("To", &to_mid)]),
        )
    };
    assert_eq!(dispatch(&svc, &calls, pickup(&token)).await.status(), 200);
    let erased = post(&svc, &calls, "/erase-number", json!({"phone": mid_call})).await;
    assert_eq!(
        (erased["phone"].as_str(), &erased["erased"]),
        (Some(mid_call), &json!(true))
    );
    // The call goes on at the provider: its webhooks find nothing and write nothing.
    let hangup = form_req(
        &format!("/hangup/{token}"),
        &call_form(&[
            ("Event", "Hangup"),
            ("To", &to_mid),
            ("CallStatus", "completed"),
            ("HangupCause", "NORMAL_CLEARING"),
        ]),
    );
    assert_eq!(dispatch(&svc, &calls, hangup).await.status(), 200);
    assert_eq!(dispatch(&svc, &calls, pickup(&token)).await.status(), 200);

    // After a verification: its block's verified count is kept, the number is not.
    post(&svc, &calls, "/send-otp", json!({"phone": verified})).await;
    let code = common::stored_code_of(&svc, verified).await;
    assert_eq!(
        post(&svc, &calls, "/verify-otp", json!({"phone": verified, "otp": code})).await["valid"],
        true
    );
    post(&svc, &calls, "/erase-number", json!({"phone": verified})).await;

    for phone in [mid_call, verified] {
        assert!(
            svc.store.get(&Phone::parse(phone).unwrap()).await.unwrap().is_none(),
            "{phone}"
        );
    }
    let everything = svc.store.everything().await;
    assert!(!everything.is_empty(), "counters and the kept reply remain");
    for phone in [mid_call, verified] {
        let national = &phone[3..];
        for held in &everything {
            assert!(!held.contains(national), "{phone} remains in {held}");
        }
    }
    // Erasing again, or a number never seen: the same reply.
    let again = post(&svc, &calls, "/erase-number", json!({"phone": mid_call})).await;
    assert_eq!(again, erased);
}

on_both_stores!(an_erased_number_leaves_nothing_behind);
