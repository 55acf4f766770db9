//! Seeding the table through the shared crate's public API, so every invocation exercises the
//! function's real path (a conditional write that succeeds), not a refusal. The seeder talks to
//! the DynamoDB endpoint directly, not through the counting proxy: its requests are not counted.

use rand::RngCore;
use shared::domain::limits::Counter;
use shared::domain::secrets::token_hash;
use shared::domain::{Attempt, CallRef, Keys, NewAttempt, Phone};
use shared::ports::{CallCounters, Start, Store, Write};
use shared::store::DynamoStore;

/// The secret the webhook fixtures' token was minted under.
pub const FIXTURE_SECRET: &str = "otp-call-events-fixture-secret-not-for-production";
/// The number the fixtures' token belongs to.
pub const FIXTURE_PHONE: &str = "+919876543210";
/// The `CallUUID` in the webhook fixtures.
pub const FIXTURE_CALL_UUID: &str = "c2b4b3a0-6f0e-4f3b-9d6b-2f1a7c9e8d10";
/// The code `events/verify-otp.json` sends (`verify-otp-wrong.json` sends 654321).
pub const FIXTURE_CODE: &str = "123456";
/// The webhook functions' `OTP_MAX_REPEATS`.
pub const MAX_REPEATS: u32 = 10;

pub struct Seeder {
    pub store: DynamoStore,
    pub keys: Keys,
    pub fixture_phone: Phone,
    pub fixture_token_hash: String,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Seeder {
    pub fn new(store: DynamoStore, fixture_token: &str) -> Seeder {
        Seeder {
            store,
            keys: Keys::derive(FIXTURE_SECRET.as_bytes()).expect("fixture secret"),
            fixture_phone: Phone::parse(FIXTURE_PHONE).unwrap(),
            fixture_token_hash: token_hash(fixture_token),
        }
    }

    /// Replaces `phone`'s attempt with a live one for `code` whose webhook token hash is
    /// `token_hash`; with `answered`, the fixture call has answered it (its `CallUUID` bound).
    pub async fn seed(&self, phone: &Phone, code: &str, token_hash: &str, answered: bool) -> Result<Attempt, String> {
        for _ in 0..5 {
            let now = now();
            let prior = self.store.get(phone).await.map_err(|e| e.to_string())?;
            let mut rng = rand::rng();
            let attempt_id = format!("bench-{:016x}", rng.next_u64());
            let new = NewAttempt {
                phone: phone.clone(),
                attempt_id: attempt_id.clone(),
                now,
                ttl_secs: 1800,
                token_hash: token_hash.to_owned(),
                code_mac: self.keys.code_mac(phone, code),
                code_sealed: self.keys.seal_code(&mut rng, phone, &attempt_id, code),
                max_attempts: 3,
                failures_per_window: 10,
            };
            let attempt = Attempt::new(new, prior.as_ref(), vec![now]);
            // A slot of its own, far from any real minute, that never fills.
            let slot = CallCounters {
                minute: Counter {
                    key: "GLOBAL#calls#bench-seed".into(),
                    expires: now + 3600,
                    cap: u32::MAX,
                },
                day: None,
                guard: Vec::new(),
            };
            match self
                .store
                .start_attempt(&attempt, prior.as_ref(), &slot, None)
                .await
                .map_err(|e| e.to_string())?
            {
                Start::Started => {}
                Start::Conflict | Start::Contended(_) => continue,
                Start::GlobalLimit | Start::BudgetLimit => return Err("seeding hit a global counter".into()),
                Start::KeyTaken => return Err("seeding uses no Idempotency-Key".into()),
                Start::Guarded { .. } => return Err("seeding takes no fraud guard counter".into()),
            }
            if answered {
                match self
                    .store
                    .answer(
                        &CallRef {
                            phone,
                            token_hash,
                            call_uuid: FIXTURE_CALL_UUID,
                            nonces: &[],
                        },
                        // Picked up and the code read once, as after the key-press gate.
                        Some(MAX_REPEATS + 1),
                        now,
                    )
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Write::Done(a) => return Ok(a),
                    Write::Refused(_) => return Err("seeding: the answer was refused".into()),
                }
            }
            return Ok(attempt);
        }
        Err(format!(
            "seeding {} kept conflicting (is the number locked?)",
            phone.masked()
        ))
    }

    /// The fixture number, live, for the fixture token.
    pub async fn fixture(&self, answered: bool) -> Result<Attempt, String> {
        self.seed(
            &self.fixture_phone,
            FIXTURE_CODE,
            &self.fixture_token_hash.clone(),
            answered,
        )
        .await
    }

    /// Deletes `phone`'s item. moto copies the whole table for every TransactWriteItems (to roll
    /// it back on failure), so a table that grows by one item per invoke makes sends and seeding
    /// slower and slower; the numbers used once are removed again.
    pub async fn delete(&self, phone: &Phone) -> Result<(), String> {
        self.store
            .client()
            .delete_item()
            .table_name(self.store.table())
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("PHONE#{}", phone.e164())),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("DeleteItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
    }

    pub async fn get(&self, phone: &Phone) -> Result<Option<Attempt>, String> {
        self.store.get(phone).await.map_err(|e| e.to_string())
    }
}

/// Fresh valid Indian mobile numbers (`+91 9 8 <prefix> <n>`), one series per scenario so no
/// number is reused within a run (send cooldowns, verify failure counters). Consecutive ones
/// differ in the digits before the last three, so each falls in a block of its own, as real
/// users' numbers do: the fraud guard's block rule refuses what floods one block.
pub struct Numbers {
    prefix: u32,
    next: u32,
}

impl Numbers {
    /// `prefix` is two digits, 10..=99.
    pub fn new(prefix: u32) -> Numbers {
        Numbers { prefix, next: 0 }
    }

    pub fn fresh(&mut self) -> Phone {
        loop {
            let candidate = format!("+9198{:02}{:03}{:03}", self.prefix, self.next % 1000, self.next / 1000);
            self.next += 1;
            assert!(self.next < 1_000_000, "number series exhausted");
            if let Ok(p) = Phone::parse(&candidate)
                && p.check_destination(&["IN".to_owned()]).is_ok()
            {
                return p;
            }
        }
    }
}
