//! Delivery events from real stream records: whole calls driven through the handlers against
//! the DynamoDB endpoint (its table has a stream with new and old images, as the template's),
//! the records read back with the Streams API, run through the `otp-events` handler, and what
//! reaches EventBridge (on the same endpoint: a rule sends otp-call's events to a log group)
//! and a webhook receiver on loopback checked, signatures and schema included. Then the faults:
//! a receiver that fails or is slow makes the batch report its first undelivered record, and the
//! retry from it loses nothing and mints no new id.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use common::vobiz::{self as fake, call_form, fired, last_token};
use common::{TestService, form_req, json, json_req, stored_code_of, text, wrong_code};
use serde_json::{Value, json};
use shared::domain::events::PhoneForm;
use shared::events::{EventBridgeSink, Sink, WebhookSink};
use shared::lambda::{EventsService, on_stream};
use shared::router::dispatch;
use shared::store::DynamoStore;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const A: &str = "+919876543210";
const B: &str = "+919876543211";
const C: &str = "+919876543212";
const D: &str = "+919876543213";

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("scripts/test.sh sets AWS_ENDPOINT_URL_DYNAMODB")
}

/// A raw AWS JSON-protocol call to the endpoint (moto serves Streams, EventBridge and Logs
/// there too); `service` goes in the credential scope, which moto dispatches on.
async fn aws(service: &str, target: &str, body: Value) -> Value {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let version = if target.starts_with("DynamoDBStreams") {
        "1.0"
    } else {
        "1.1"
    };
    let resp = shared::tls::reqwest_builder()
        .build()
        .unwrap()
        .post(endpoint())
        .header("x-amz-target", target)
        .header("content-type", format!("application/x-amz-json-{version}"))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20261201/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{target}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Every record of the table's stream so far, as Lambda would hand them to otp-events.
async fn stream_records(table: &str) -> Vec<Value> {
    let d = aws(
        "dynamodb",
        "DynamoDB_20120810.DescribeTable",
        json!({"TableName": table}),
    )
    .await;
    let arn = d["Table"]["LatestStreamArn"]
        .as_str()
        .expect("the table has a stream")
        .to_owned();
    let s = aws(
        "dynamodb",
        "DynamoDBStreams_20120810.DescribeStream",
        json!({"StreamArn": arn}),
    )
    .await;
    let mut out = Vec::new();
    for shard in s["StreamDescription"]["Shards"].as_array().unwrap() {
        let it = aws(
            "dynamodb",
            "DynamoDBStreams_20120810.GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let mut iterator = it["ShardIterator"].clone();
        loop {
            let r = aws(
                "dynamodb",
                "DynamoDBStreams_20120810.GetRecords",
                json!({"ShardIterator": iterator, "Limit": 1000}),
            )
            .await;
            let records = r["Records"].as_array().cloned().unwrap_or_default();
            if records.is_empty() {
                break;
            }
            out.extend(records);
            iterator = r["NextShardIterator"].clone();
        }
    }
    // Lambda gives the record time as epoch seconds; the Streams API (and moto) a timestamp.
    for r in &mut out {
        let t = &mut r["dynamodb"]["ApproximateCreationDateTime"];
        if let Some(s) = t.as_str() {
            let parsed = time::OffsetDateTime::parse(
                &format!("{}Z", s.trim_end_matches('Z').split('+').next().unwrap()),
                &time::format_description::well_known::Rfc3339,
            )
            .map(|d| d.unix_timestamp() as f64)
            .unwrap_or(0.0);
            *t = json!(parsed);
        }
        r["eventSourceARN"] = json!("arn:aws:dynamodb:us-east-1:123456789012:table/test/stream/x");
    }
    out
}

fn batch(records: &[Value]) -> StreamEvent {
    serde_json::from_value(json!({ "Records": records })).expect("a Lambda DynamoDB stream event")
}

fn eventbridge_client() -> aws_sdk_eventbridge::Client {
    use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        ))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint())
        .http_client(shared::tls::sdk_http_client(false).unwrap())
        .build();
    aws_sdk_eventbridge::Client::from_conf(conf)
}

/// A rule on the default bus that sends otp-call's events to a log group, to read them back.
async fn eventbridge_log(group: &str) {
    aws("logs", "Logs_20140328.CreateLogGroup", json!({"logGroupName": group})).await;
    let rule = format!("otp-call-{}", group.replace('/', "-"));
    aws(
        "events",
        "AWSEvents.PutRule",
        json!({"Name": rule, "EventPattern": json!({"source": ["otp-call"]}).to_string()}),
    )
    .await;
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    aws(
        "events",
        "AWSEvents.PutTargets",
        json!({"Rule": rule, "Targets": [{"Id": "log", "Arn": format!("arn:aws:logs:{region}:123456789012:log-group:{group}")}]}),
    )
    .await;
}

/// The `detail` of every EventBridge event the log group received.
async fn eventbridge_details(group: &str) -> Vec<Value> {
    let r = aws("logs", "Logs_20140328.FilterLogEvents", json!({"logGroupName": group})).await;
    r["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let envelope: Value = serde_json::from_str(e["message"].as_str().unwrap()).unwrap();
            assert_eq!(envelope["source"], "otp-call");
            assert_eq!(envelope["detail-type"], envelope["detail"]["type"]);
            envelope["detail"].clone()
        })
        .collect()
}

/// The webhook deliveries a receiver answered with a 2xx, each signature checked the way an
/// app checks it (the Standard Webhooks reference library), as (id, body).
async fn delivered(receiver: &MockServer) -> Vec<(String, Value)> {
    let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
    let mut out = Vec::new();
    for req in receiver.received_requests().await.unwrap() {
        let mut headers = lambda_http::http::HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let v = req.headers.get(name).unwrap_or_else(|| panic!("no {name}"));
            headers.insert(name, lambda_http::http::HeaderValue::from_bytes(v.as_bytes()).unwrap());
        }
        verifier
            .verify(&req.body, &headers)
            .expect("a valid Standard Webhooks signature");
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(req.headers["webhook-id"].to_str().unwrap(), body["id"]);
        out.push((body["id"].as_str().unwrap().to_owned(), body));
    }
    out
}

fn schema() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/otp-event.schema.json")).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&serde_json::from_str(&text).unwrap())
        .unwrap()
}

async fn send(svc: &TestService<DynamoStore>, vobiz: &MockServer, phone: &str) -> String {
    let resp = dispatch(
        svc,
        &fake::client(vobiz),
        json_req("POST", "/send-otp", &format!(r#"{{"phone":"{phone}"}}"#)),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
    last_token(vobiz).await
}

async fn hook(
    svc: &TestService<DynamoStore>,
    vobiz: &MockServer,
    route: &str,
    token: &str,
    phone: &str,
    extra: &[(&str, &str)],
) {
    let to = phone.trim_start_matches('+');
    let mut form = call_form(extra);
    form.retain(|(k, _)| *k != "To");
    form.push(("To", to));
    let resp = dispatch(svc, &fake::client(vobiz), form_req(&format!("/{route}/{token}"), &form)).await;
    assert_eq!(resp.status(), 200, "{}", text(&resp));
}

async fn verify(svc: &TestService<DynamoStore>, vobiz: &MockServer, phone: &str, otp: &str) -> Value {
    let body = format!(r#"{{"phone":"{phone}","otp":"{otp}"}}"#);
    json(&dispatch(svc, &fake::client(vobiz), json_req("POST", "/verify-otp", &body)).await)
}

/// Drives the calls every event type comes from, and gives the events each number should see.
async fn drive(svc: &TestService<DynamoStore>, clock: &common::FakeClock) -> BTreeMap<&'static str, Vec<&'static str>> {
    let vobiz = fake::fake(201, fired()).await;
    let answered: Vec<(&str, &str)> = vec![
        ("Event", "Hangup"),
        ("CallStatus", "completed"),
        ("HangupCause", "NORMAL_CLEARING"),
        ("HangupCauseCode", "4000"),
        ("AnswerTime", "2026-09-21 14:13:30"),
        ("Duration", "24"),
        ("BillDuration", "24"),
    ];
    // A: answered, read, a wrong guess, the right one.
    let token = send(svc, &vobiz, A).await;
    let code = stored_code_of(svc, A).await; // (the hangup erases the readable copy)
    hook(svc, &vobiz, "answer", &token, A, &[("Event", "StartApp")]).await;
    hook(svc, &vobiz, "hangup", &token, A, &answered).await;
    verify(svc, &vobiz, A, &wrong_code(&code)).await;
    assert_eq!(verify(svc, &vobiz, A, &code).await["valid"], true);
    // B: busy; later a new send replaces the undelivered attempt.
    let token = send(svc, &vobiz, B).await;
    hook(
        svc,
        &vobiz,
        "hangup",
        &token,
        B,
        &[
            ("Event", "Hangup"),
            ("CallStatus", "busy"),
            ("HangupCause", "USER_BUSY"),
            ("HangupCauseCode", "3010"),
        ],
    )
    .await;
    // C: canceled.
    send(svc, &vobiz, C).await;
    let resp = dispatch(
        svc,
        &fake::client(&vobiz),
        json_req("POST", "/cancel-otp", &format!(r#"{{"phone":"{C}"}}"#)),
    )
    .await;
    assert_eq!(json(&resp)["status"], "canceled");
    // D: every guess wrong.
    send(svc, &vobiz, D).await;
    let code = stored_code_of(svc, D).await;
    for _ in 0..3 {
        verify(svc, &vobiz, D, &wrong_code(&code)).await;
    }
    clock.advance(31);
    send(svc, &vobiz, B).await;
    BTreeMap::from([
        (A, vec!["call.delivered", "otp.verified"]),
        (B, vec!["call.not_delivered", "otp.expired"]),
        (C, vec!["otp.canceled"]),
        (D, vec!["otp.failed"]),
    ])
}

fn events_service(receiver: &MockServer) -> EventsService {
    EventsService {
        sinks: vec![
            Sink::EventBridge(EventBridgeSink::new(eventbridge_client(), "default")),
            Sink::Webhook(WebhookSink::new(&format!("{}/hooks", receiver.uri()), SECRET).unwrap()),
        ],
        failures_per_window: 10,
        phone: Default::default(),
    }
}

#[tokio::test]
#[ignore = "needs a DynamoDB endpoint: scripts/test.sh starts one and runs it"]
async fn stream_records_reach_eventbridge_and_the_signed_webhook_once_per_change() {
    let store = common::dynamo_store_with_stream().await;
    let table = store.table().to_owned();
    let (svc, clock) = common::service_with(store, common::config());
    let expected = drive(&svc, &clock).await;
    let records = stream_records(&table).await;
    assert!(records.len() >= 12, "every write is a record: {}", records.len());

    let group = format!("/otp-call/events-{}", table);
    eventbridge_log(&group).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let svc_events = events_service(&receiver);

    let resp = on_stream(&svc_events, batch(&records)).await.unwrap();
    assert!(resp.batch_item_failures.is_empty(), "{:?}", resp.batch_item_failures);

    let got = delivered(&receiver).await;
    let validator = schema();
    let mut by_phone: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, body) in &got {
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{body} does not match the schema: {errors:?}");
        by_phone
            .entry(body["phone"].as_str().unwrap().to_owned())
            .or_default()
            .push(body["type"].as_str().unwrap().to_owned());
        let text = body.to_string();
        assert!(!text.contains("token") && !text.contains("code_mac"), "{text}");
    }
    let expected: BTreeMap<String, Vec<String>> = expected
        .into_iter()
        .map(|(p, kinds)| (p.to_owned(), kinds.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(by_phone, expected, "each number's events, in order, once");
    let busy = got.iter().find(|(_, b)| b["type"] == "call.not_delivered").unwrap();
    assert_eq!(busy.1["outcome"], "busy");
    let replaced = got.iter().find(|(_, b)| b["type"] == "otp.expired").unwrap();
    assert_eq!(replaced.1["ending"], "replaced");

    // EventBridge got the same events, with the same ids.
    let ids: BTreeSet<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    let details = eventbridge_details(&group).await;
    let bus_ids: BTreeSet<&str> = details.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(bus_ids, ids);
    assert_eq!(details.len(), got.len());

    // A redelivered batch (Lambda retries at least once): the same events, the same ids.
    on_stream(&svc_events, batch(&records)).await.unwrap();
    let again: Vec<String> = delivered(&receiver)
        .await
        .into_iter()
        .skip(got.len())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(again, got.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs a DynamoDB endpoint: scripts/test.sh starts one and runs it"]
async fn a_failing_or_slow_receiver_loses_nothing_and_mints_no_new_id() {
    let store = common::dynamo_store_with_stream().await;
    let table = store.table().to_owned();
    let (svc, clock) = common::service_with(store, common::config());
    drive(&svc, &clock).await;
    let records = stream_records(&table).await;

    // Reference: what a healthy receiver gets.
    let healthy = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&healthy)
        .await;
    let webhook_only = |server: &MockServer| EventsService {
        sinks: vec![Sink::Webhook(WebhookSink::new(&server.uri(), SECRET).unwrap())],
        failures_per_window: 10,
        phone: Default::default(),
    };
    on_stream(&webhook_only(&healthy), batch(&records)).await.unwrap();
    let all: Vec<String> = delivered(&healthy).await.into_iter().map(|(id, _)| id).collect();

    for fault in ["fails", "is slow"] {
        // The receiver takes two events, then fails (or answers after the 5 s bound).
        let flaky = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(204))
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&flaky)
            .await;
        let bad = match fault {
            "fails" => ResponseTemplate::new(503),
            _ => ResponseTemplate::new(204).set_delay(Duration::from_secs(6)),
        };
        Mock::given(method("POST"))
            .respond_with(bad)
            .with_priority(2)
            .mount(&flaky)
            .await;
        let resp = on_stream(&webhook_only(&flaky), batch(&records)).await.unwrap();
        assert_eq!(
            resp.batch_item_failures.len(),
            1,
            "the receiver {fault}: one checkpoint"
        );
        let from = resp.batch_item_failures[0].item_identifier.clone().unwrap();
        let at = records
            .iter()
            .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(from.as_str()))
            .expect("the reported record is in the batch");
        let answered: Vec<String> = flaky.received_requests().await.unwrap()[..2]
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
            .collect();
        assert_eq!(answered, all[..2], "the receiver {fault}: the first two went out");

        // Lambda retries from the reported record; now the receiver is well.
        flaky.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&flaky)
            .await;
        let resp = on_stream(&webhook_only(&flaky), batch(&records[at..])).await.unwrap();
        assert!(resp.batch_item_failures.is_empty());
        let retried: Vec<String> = delivered(&flaky).await.into_iter().map(|(id, _)| id).collect();
        let mut seen: Vec<String> = answered.clone();
        seen.extend(retried.iter().filter(|id| !answered.contains(id)).cloned());
        assert_eq!(seen, all, "the receiver {fault}: nothing lost, no new id, in order");
    }
}

/// The `events/otp-events-*.json` fixtures (DynamoDB stream events as Lambda delivers them)
/// through the handler, as `cargo lambda invoke --data-file` would run them.
async fn fixture(file: &str) -> (Vec<Value>, Vec<String>) {
    fixture_with(file, PhoneForm::Full).await
}

async fn fixture_with(file: &str, phone: PhoneForm) -> (Vec<Value>, Vec<String>) {
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/").to_owned() + file).unwrap();
    let event: StreamEvent = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let svc = EventsService {
        sinks: vec![Sink::Webhook(WebhookSink::new(&receiver.uri(), SECRET).unwrap())],
        failures_per_window: 10,
        phone,
    };
    let resp = on_stream(&svc, event).await.unwrap();
    let failures = resp
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect();
    let validator = schema();
    let bodies: Vec<Value> = delivered(&receiver).await.into_iter().map(|(_, b)| b).collect();
    for b in &bodies {
        assert!(validator.is_valid(b), "{b}");
    }
    (bodies, failures)
}

#[tokio::test]
async fn fixture_a_delivered_call_then_its_verification() {
    let (bodies, failures) = fixture("otp-events-delivered-verified.json").await;
    assert!(failures.is_empty());
    let kinds: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["call.delivered", "otp.verified"],
        "verified_at and the global counter mean nothing"
    );
    assert_eq!(bodies[0]["locale"], "hi-IN");
    assert_eq!(bodies[0]["phone"], "+919876543210");
    assert_eq!(bodies[0]["time"], "2026-11-25T10:00:00Z");
}

/// EVENTS_PHONE: the same events with the number masked, or as the keyed hash the app can
/// compute itself; both valid under the event schema.
#[tokio::test]
async fn events_carry_the_number_as_configured() {
    let (masked, _) = fixture_with("otp-events-delivered-verified.json", PhoneForm::Masked).await;
    assert!(masked.iter().all(|b| b["phone"] == "+91******3210"), "{masked:?}");
    let key = b"the-app-keeps-a-copy-of-this-key".to_vec();
    let (hashed, _) = fixture_with("otp-events-delivered-verified.json", PhoneForm::Hashed(key.clone())).await;
    let app_side = {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
        m.update(b"+919876543210");
        m.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert!(hashed.iter().all(|b| b["phone"] == app_side.as_str()), "{hashed:?}");
}

/// A removal that is not the TTL's is an erasure: one `number.erased`, never `otp.expired`.
#[tokio::test]
async fn fixture_an_erased_number_is_one_event() {
    let (bodies, failures) = fixture("otp-events-erased.json").await;
    assert!(failures.is_empty());
    let kinds: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["number.erased"]);
}

#[tokio::test]
async fn fixture_an_unverified_attempt_removed_by_the_ttl() {
    let (bodies, failures) = fixture("otp-events-expired.json").await;
    assert!(failures.is_empty());
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        (bodies[0]["type"].as_str(), bodies[0]["ending"].as_str()),
        (Some("otp.expired"), Some("expired"))
    );
    assert_eq!(bodies[0]["locale"], "ta-IN");
}
