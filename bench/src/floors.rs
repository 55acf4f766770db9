//! The floors a warm invoke is compared with: bare DynamoDB round trips from Rust, with a client
//! built like `shared::lambda::dynamo_client` (same SDK config, timeouts and retries), against the
//! same endpoint through the same counting proxy; and a bare Vobiz POST with a client built like
//! `shared::vobiz::VobizClient`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use serde_json::json;

use crate::harness::Ctx;
use crate::scenario::Floor;
use crate::stats::Samples;

/// The SDK client every floor uses: `shared::lambda::sdk_config()`, endpoint set to `endpoint`.
pub async fn client(endpoint: &str) -> Client {
    let conf = shared::lambda::dynamo_config()
        .expect("sdk config")
        .to_builder()
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(conf)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// One consistent GetItem of `pk` (an attempt item, as otp-status reads it).
pub async fn get_once(c: &Client, table: &str, pk: &str) -> Result<Duration, String> {
    let t = Instant::now();
    let r = c
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .consistent_read(true)
        .send()
        .await;
    let d = t.elapsed();
    if r.map_err(|e| format!("GetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?
        .item
        .is_none()
    {
        return Err(format!("GetItem: no item {pk}"));
    }
    Ok(d)
}

/// One consistent BatchGetItem of `pk` and three counter shards, as send-otp reads a number and
/// the shards it may take a unit of.
pub async fn batch_get_once(c: &Client, table: &str, pk: &str) -> Result<Duration, String> {
    let keys = std::iter::once(pk.to_owned())
        .chain((0..shared::domain::limits::SHARD_TRIES).map(|i| format!("GLOBAL#calls#bench-floor#{i}")))
        .map(|k| HashMap::from([("pk".to_owned(), s(&k))]))
        .collect();
    let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .consistent_read(true)
        .build()
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let r = c.batch_get_item().request_items(table, request).send().await;
    let d = t.elapsed();
    let found = r
        .map_err(|e| format!("BatchGetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?
        .responses
        .and_then(|mut r| r.remove(table))
        .map_or(0, |items| items.len());
    if found == 0 {
        return Err(format!("BatchGetItem: no item {pk}"));
    }
    Ok(d)
}

/// One conditional UpdateItem of an attempt item returning ALL_NEW, as the webhooks and verify
/// write.
pub async fn update_once(c: &Client, table: &str, pk: &str, i: usize) -> Result<Duration, String> {
    let t = Instant::now();
    let r = c
        .update_item()
        .table_name(table)
        .key("pk", s(pk))
        .condition_expression("attribute_exists(#pk) AND #expires_at > :now")
        .update_expression("SET #bench = :v")
        .set_expression_attribute_names(Some(HashMap::from([
            ("#pk".to_owned(), "pk".to_owned()),
            ("#expires_at".to_owned(), "expires_at".to_owned()),
            ("#bench".to_owned(), "bench".to_owned()),
        ])))
        .set_expression_attribute_values(Some(HashMap::from([
            (":v".to_owned(), AttributeValue::N(i.to_string())),
            (":now".to_owned(), AttributeValue::N(crate::seed::now().to_string())),
        ])))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    let d = t.elapsed();
    r.map_err(|e| format!("UpdateItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    Ok(d)
}

/// One TransactWriteItems of two conditional updates (the attempt item and a per-minute
/// counter), as send-otp starts an attempt.
pub async fn transact_once(c: &Client, table: &str, pk: &str, i: usize) -> Result<Duration, String> {
    let item = Update::builder()
        .table_name(table)
        .key("pk", s(pk))
        .condition_expression("attribute_exists(#pk)")
        .update_expression("SET #bench = :v")
        .set_expression_attribute_names(Some(HashMap::from([
            ("#pk".to_owned(), "pk".to_owned()),
            ("#bench".to_owned(), "bench".to_owned()),
        ])))
        .set_expression_attribute_values(Some(HashMap::from([(
            ":v".to_owned(),
            AttributeValue::N(i.to_string()),
        )])))
        .build()
        .map_err(|e| e.to_string())?;
    let counter = Update::builder()
        .table_name(table)
        .key("pk", s("GLOBAL#bench-floor"))
        .condition_expression("attribute_not_exists(#calls) OR #calls < :cap")
        .update_expression("SET #ttl = :ttl ADD #calls :one")
        .set_expression_attribute_names(Some(HashMap::from([
            ("#calls".to_owned(), "calls".to_owned()),
            ("#ttl".to_owned(), "ttl".to_owned()),
        ])))
        .set_expression_attribute_values(Some(HashMap::from([
            (":cap".to_owned(), AttributeValue::N("1000000000".into())),
            (":one".to_owned(), AttributeValue::N("1".into())),
            (
                ":ttl".to_owned(),
                AttributeValue::N((crate::seed::now() + 3600).to_string()),
            ),
        ])))
        .build()
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let r = c
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().update(item).build())
        .transact_items(TransactWriteItem::builder().update(counter).build())
        .send()
        .await;
    let d = t.elapsed();
    r.map_err(|e| {
        format!(
            "TransactWriteItems: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )
    })?;
    Ok(d)
}

/// An HTTP client built like `VobizClient` builds its own (reqwest, rustls).
pub fn vobiz_http() -> Result<reqwest::Client, String> {
    shared::tls::reqwest_builder()
        .timeout(Duration::from_millis(8000))
        .connect_timeout(Duration::from_millis(3000))
        .build()
        .map_err(|e| e.to_string())
}

/// One Vobiz call create against the fake Vobiz.
pub async fn vobiz_once(http: &reqwest::Client, url: &str) -> Result<Duration, String> {
    let body = json!({
        "from": "+918012345678", "to": "+919876543210",
        "answer_url": "https://a1b2c3d4e5.execute-api.ap-south-1.amazonaws.com/prod/answer/x",
        "answer_method": "POST",
        "hangup_url": "https://a1b2c3d4e5.execute-api.ap-south-1.amazonaws.com/prod/hangup/x",
        "hangup_method": "POST", "time_limit": 120, "ring_timeout": 40,
    });
    let t = Instant::now();
    let r = http
        .post(url)
        .header("X-Auth-ID", "MA_BENCH")
        .header("X-Auth-Token", "bench")
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let _ = r.bytes().await.map_err(|e| e.to_string())?;
    let d = t.elapsed();
    if status.as_u16() != 201 {
        return Err(format!("fake Vobiz answered {status}"));
    }
    Ok(d)
}

/// What a paired floor sample needs: the proxied client, the floor item, the fake Vobiz.
pub struct Kit {
    pub client: Client,
    pub table: String,
    pub pk: String,
    pub http: reqwest::Client,
    pub vobiz_url: String,
}

impl Kit {
    /// One sample of `floor`, right after an invoke: the ratio is then taken within the same
    /// few milliseconds, not minutes apart on a machine whose load changes.
    pub async fn sample(&self, floor: Floor, i: usize) -> Result<Duration, String> {
        let (c, t, pk) = (&self.client, self.table.as_str(), self.pk.as_str());
        Ok(match floor {
            Floor::Hello => Duration::ZERO,
            Floor::GetItem => get_once(c, t, pk).await?,
            Floor::UpdateItem => update_once(c, t, pk, i).await?,
            Floor::TwoUpdates => update_once(c, t, pk, i).await? + update_once(c, t, pk, i + 1).await?,
            Floor::Send => {
                batch_get_once(c, t, pk).await?
                    + transact_once(c, t, pk, i).await?
                    + vobiz_once(&self.http, &self.vobiz_url).await?
            }
        })
    }

    /// `warmup + n` samples of one kind, the first `warmup` dropped.
    pub async fn series(&self, floor: Floor, warmup: usize, n: usize) -> Result<Samples, String> {
        let mut out = Samples::default();
        for i in 0..warmup + n {
            let d = self.sample(floor, i).await?;
            if i >= warmup {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub async fn vobiz_series(&self, warmup: usize, n: usize) -> Result<Samples, String> {
        let mut out = Samples::default();
        for i in 0..warmup + n {
            let d = vobiz_once(&self.http, &self.vobiz_url).await?;
            if i >= warmup {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub async fn transact_series(&self, warmup: usize, n: usize) -> Result<Samples, String> {
        let mut out = Samples::default();
        for i in 0..warmup + n {
            let d = transact_once(&self.client, &self.table, &self.pk, i).await?;
            if i >= warmup {
                out.push(d);
            }
        }
        Ok(out)
    }
}

pub struct FloorResults {
    pub get: Samples,
    pub update: Samples,
    pub transact: Samples,
    pub vobiz: Samples,
    pub ddb_requests: BTreeMap<String, u64>,
    /// Per case label: the same requests as the handler, sent from this process.
    pub same: BTreeMap<&'static str, Samples>,
}

/// The floor item, seeded, and the clients the floor samples go through.
pub async fn kit(ctx: &Ctx) -> Result<Kit, String> {
    let client = client(&format!("http://{}", ctx.proxy.addr)).await;
    // An attempt item like the ones the functions read and write.
    let phone = shared::domain::Phone::parse("+919870000001").map_err(|e| e.to_string())?;
    ctx.seeder
        .seed(&phone, crate::seed::FIXTURE_CODE, "bench-floor", false)
        .await?;
    Ok(Kit {
        client,
        table: crate::harness::TABLE.to_owned(),
        pk: format!("PHONE#{}", phone.e164()),
        http: vobiz_http()?,
        vobiz_url: format!("http://{}/api/v1/Account/MA_BENCH/Call/", ctx.vobiz.addr),
    })
}

/// Every floor, `--invokes` samples each, and the same requests as each handler.
pub async fn run(ctx: &Ctx, kit: &Kit) -> Result<FloorResults, String> {
    eprintln!("bench: floors ...");
    let client = kit.client.clone();
    let n = ctx.o.floor_samples;
    let warmup = 10.min(n);
    let before = ctx.proxy.counts.snapshot();
    let get = kit.series(Floor::GetItem, warmup, n).await?;
    let update = kit.series(Floor::UpdateItem, warmup, n).await?;
    let transact = kit.transact_series(warmup, n).await?;
    let ddb_requests = crate::proxy::delta(&before, &ctx.proxy.counts.snapshot());
    let vobiz = kit.vobiz_series(warmup, n).await?;

    // The same requests each handler sends, from a warm DynamoStore on the proxied client.
    let store = shared::store::DynamoStore::new(client, crate::harness::TABLE);
    let calls = shared::vobiz::VobizClient::new(shared::vobiz::VobizConfig {
        api_url: format!("http://{}", ctx.vobiz.addr),
        auth_id: "MA_BENCH".into(),
        auth_token: "bench-vobiz-auth-token".into(),
        from: shared::domain::Phone::parse("+918012345678").map_err(|e| e.to_string())?,
        timeout_ms: 8000,
        max_retries: 2,
    })
    .map_err(|e| e.to_string())?;
    let mut same = BTreeMap::new();
    let same_n = if ctx.o.smoke { n } else { n.min(300) };
    for case in crate::scenario::CASES.iter().filter(|c| ctx.o.wants(c)) {
        same.insert(
            case.label,
            same_request::measure(case.kind, &store, &ctx.seeder, &calls, same_n)
                .await
                .map_err(|e| format!("{}: {e}", case.label))?,
        );
    }
    Ok(FloorResults {
        get,
        update,
        transact,
        vobiz,
        ddb_requests,
        same,
    })
}

/// The exact store calls (and Vobiz call) each handler makes, sent from this process through
/// `shared::store::DynamoStore` on a warm client: the same requests, with no Lambda runtime,
/// event parsing, handler or logging around them. Seeding between samples is not timed.
pub mod same_request {
    use std::time::{Duration, Instant};

    use shared::domain::{CallRef, Phone, Telephony};
    use shared::ports::{CallCounters, CallPlacer, CallRequest, HangupFacts, Start, Store, Write};
    use shared::store::DynamoStore;
    use shared::vobiz::VobizClient;

    use crate::scenario::Kind;
    use crate::seed::{FIXTURE_CALL_UUID, FIXTURE_CODE, MAX_REPEATS, Numbers, Seeder, now};
    use crate::stats::Samples;

    fn expect_done(w: Write, what: &str) -> Result<shared::domain::Attempt, String> {
        match w {
            Write::Done(a) => Ok(a),
            Write::Refused(_) => Err(format!("{what} was refused")),
        }
    }

    pub async fn measure(
        kind: Kind,
        store: &DynamoStore,
        seeder: &Seeder,
        vobiz: &VobizClient,
        n: usize,
    ) -> Result<Samples, String> {
        let fixture = seeder.fixture_phone.clone();
        let th = seeder.fixture_token_hash.clone();
        let mut numbers = Numbers::new(90 + kind as u32);
        let mut out = Samples::default();
        let warmup = 5.min(n);
        let mut repeats_left = 0;
        if matches!(kind, Kind::Status | Kind::Answer) {
            seeder.fixture(false).await?;
        }
        let e = |e: shared::Error| e.to_string();
        let call = CallRef {
            phone: &fixture,
            token_hash: &th,
            call_uuid: FIXTURE_CALL_UUID,
            nonces: &[],
        };
        for i in 0..warmup + n {
            let d: Duration = match kind {
                Kind::Hello => return Ok(out),
                Kind::Status => {
                    let t = Instant::now();
                    store.get(&fixture).await.map_err(e)?.ok_or("no attempt")?;
                    t.elapsed()
                }
                Kind::Answer => {
                    let t = Instant::now();
                    let w = store.answer(&call, None, now()).await.map_err(e)?;
                    let d = t.elapsed();
                    expect_done(w, "answer")?;
                    d
                }
                Kind::Choice => {
                    if repeats_left == 0 {
                        seeder.fixture(true).await?;
                        repeats_left = MAX_REPEATS;
                    }
                    repeats_left -= 1;
                    let t = Instant::now();
                    let w = store.read_code(&call, MAX_REPEATS + 1, now()).await.map_err(e)?;
                    let d = t.elapsed();
                    expect_done(w, "repeat")?;
                    d
                }
                Kind::Hangup => {
                    seeder.fixture(true).await?;
                    let facts = HangupFacts {
                        telephony: Telephony::Answered,
                        cause: "4000".into(),
                    };
                    let t = Instant::now();
                    let w = store.hang_up(&call, &facts, now()).await.map_err(e)?;
                    let d = t.elapsed();
                    expect_done(w, "hang_up")?;
                    d
                }
                Kind::Cancel => {
                    seeder.fixture(false).await?;
                    let t = Instant::now();
                    let w = store.cancel(&fixture, now()).await.map_err(e)?;
                    let d = t.elapsed();
                    expect_done(w, "cancel")?;
                    d
                }
                Kind::VerifyRight | Kind::VerifyWrong => {
                    let phone = numbers.fresh();
                    seeder.seed(&phone, FIXTURE_CODE, "bench-no-webhook", false).await?;
                    let code = if kind == Kind::VerifyRight {
                        FIXTURE_CODE
                    } else {
                        "654321"
                    };
                    let mac = seeder.keys.code_mac(&phone, code);
                    let t = Instant::now();
                    // What verify-otp sends: the guess (charged, then judged), and for a right
                    // code the write that records it.
                    let w = store.guess(&phone, &mac, now()).await.map_err(e)?;
                    let Write::Done(a) = w else {
                        return Err("a guess at a live code was refused".into());
                    };
                    match (kind, a.judge_last_guess()) {
                        (Kind::VerifyRight, Ok(())) => {
                            if !store
                                .record_verified(&phone, &a.attempt_id, now(), None)
                                .await
                                .map_err(e)?
                            {
                                return Err("record_verified refused".into());
                            }
                        }
                        (Kind::VerifyWrong, Err(_)) => {}
                        _ => return Err("the guess was judged wrongly".into()),
                    }
                    let d = t.elapsed();
                    seeder.delete(&phone).await?;
                    d
                }
                Kind::Send => {
                    let phone = numbers.fresh();
                    let d = send_like(store, seeder, vobiz, &phone).await?;
                    seeder.delete(&phone).await?;
                    d
                }
            };
            if i >= warmup {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// What send-otp sends for a fresh number: read, transaction, call, record; the minting of
    /// the code and token is not timed (it is CPU work the handler does, not a round trip).
    async fn send_like(
        store: &DynamoStore,
        seeder: &Seeder,
        vobiz: &VobizClient,
        phone: &Phone,
    ) -> Result<Duration, String> {
        let e = |e: shared::Error| e.to_string();
        let nw = now();
        let limits = shared::domain::limits::Limits {
            calls_per_minute: 100_000,
            ..Default::default()
        };
        let t = Instant::now();
        let shards: Vec<String> = (0..shared::domain::limits::SHARD_TRIES as u32)
            .map(|i| shared::domain::limits::minute_counter(nw, &limits).shard(i).key)
            .collect();
        let (prior, _) = store.get_for_send(phone, &shards).await.map_err(e)?;
        let mut elapsed = t.elapsed();
        let mut rng = rand::rng();
        let attempt_id = shared::domain::secrets::random_id(&mut rng);
        let token = seeder.keys.mint_token(&mut rng, phone);
        let new = shared::domain::NewAttempt {
            phone: phone.clone(),
            attempt_id: attempt_id.clone(),
            now: nw,
            ttl_secs: 300,
            token_hash: shared::domain::secrets::token_hash(&token),
            code_mac: seeder.keys.code_mac(phone, FIXTURE_CODE),
            code_sealed: seeder.keys.seal_code(&mut rng, phone, &attempt_id, FIXTURE_CODE),
            max_attempts: 3,
            failures_per_window: 10,
        };
        let attempt = shared::domain::Attempt::new(new, prior.as_ref(), vec![nw]);
        let slot = CallCounters {
            minute: shared::domain::limits::minute_counter(nw, &limits).shard(0),
            day: None,
            guard: Vec::new(),
        };
        let base = "https://a1b2c3d4e5.execute-api.ap-south-1.amazonaws.com/prod";
        let call = CallRequest {
            to: phone.clone(),
            answer_url: format!("{base}/answer/{token}"),
            hangup_url: format!("{base}/hangup/{token}"),
            time_limit: 120,
            ring_timeout: 40,
            machine_detection: false,
        };
        let t = Instant::now();
        if store
            .start_attempt(&attempt, prior.as_ref(), &slot, None)
            .await
            .map_err(e)?
            != Start::Started
        {
            return Err("start_attempt did not start".into());
        }
        vobiz.place_call(&call).await.map_err(e)?;
        elapsed += t.elapsed();
        Ok(elapsed)
    }
}
