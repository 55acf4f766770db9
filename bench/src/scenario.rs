//! What each measured function is fed, how the table is prepared before each invoke so the
//! invoke takes its real path, and how its answer is checked.

use std::path::Path;

use serde_json::Value;
use shared::domain::{CallOutcome, Phone};

use crate::seed::{FIXTURE_CODE, MAX_REPEATS, Numbers, Seeder};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Hello,
    Send,
    VerifyRight,
    VerifyWrong,
    Status,
    Cancel,
    Answer,
    Choice,
    Hangup,
}

/// The bare round trip(s) an invoke of this kind is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// The hello function's warm invoke (the runtime's own cost).
    Hello,
    GetItem,
    UpdateItem,
    /// Two UpdateItems in a row (a right guess: charged and judged, then recorded).
    TwoUpdates,
    /// What the issue allows a send: BatchGetItem (the number, three shards) + TransactWriteItems
    /// + one Vobiz POST.
    Send,
}

impl Floor {
    pub fn label(self) -> &'static str {
        match self {
            Floor::Hello => "hello invoke",
            Floor::GetItem => "GetItem",
            Floor::UpdateItem => "UpdateItem",
            Floor::TwoUpdates => "2 × UpdateItem",
            Floor::Send => "BatchGetItem + TransactWriteItems + Vobiz POST",
        }
    }
}

pub struct Case {
    pub label: &'static str,
    pub binary: &'static str,
    pub event: &'static str,
    pub kind: Kind,
    pub floor: Floor,
    /// The limit on DynamoDB requests per invocation (`None`: no target).
    pub ddb_limit: Option<f64>,
    /// The path this invoke takes, for the report.
    pub path: &'static str,
}

pub const CASES: &[Case] = &[
    Case {
        label: "send-otp",
        binary: "send-otp",
        event: "send-otp.json",
        kind: Kind::Send,
        floor: Floor::Send,
        ddb_limit: Some(2.0),
        path: "fresh number each invoke: 200 calling (read, transaction, call)",
    },
    Case {
        label: "verify-otp (right code)",
        binary: "verify-otp",
        event: "verify-otp.json",
        kind: Kind::VerifyRight,
        floor: Floor::TwoUpdates,
        ddb_limit: None,
        path: "freshly seeded code each invoke: 200 valid (the guess charged and judged, then recorded)",
    },
    Case {
        label: "verify-otp (wrong code)",
        binary: "verify-otp",
        event: "verify-otp-wrong.json",
        kind: Kind::VerifyWrong,
        floor: Floor::UpdateItem,
        ddb_limit: Some(1.0),
        path: "freshly seeded code each invoke: 400 invalid, attempts_remaining 2 (the guess charged and judged)",
    },
    Case {
        label: "otp-status",
        binary: "otp-status",
        event: "otp-status.json",
        kind: Kind::Status,
        floor: Floor::GetItem,
        ddb_limit: Some(1.0),
        path: "live attempt: 200 calling",
    },
    Case {
        label: "cancel-otp",
        binary: "cancel-otp",
        event: "cancel-otp.json",
        kind: Kind::Cancel,
        floor: Floor::UpdateItem,
        ddb_limit: Some(1.0),
        path: "live attempt reseeded before each invoke: 200 canceled",
    },
    Case {
        label: "answer",
        binary: "answer",
        event: "answer-started.json",
        kind: Kind::Answer,
        floor: Floor::UpdateItem,
        ddb_limit: Some(1.0),
        path: "live attempt, same CallUUID (a Vobiz retry): 200, the key-press gate's prompt",
    },
    Case {
        label: "otp-choice",
        binary: "otp-choice",
        event: "otp-choice-repeat.json",
        kind: Kind::Choice,
        floor: Floor::UpdateItem,
        ddb_limit: Some(1.0),
        path: "answered attempt, Digits=1, reseeded every 10 repeats (OTP_MAX_REPEATS=10): 200, code read again",
    },
    Case {
        label: "hangup",
        binary: "hangup",
        event: "hangup-answered.json",
        kind: Kind::Hangup,
        floor: Floor::UpdateItem,
        ddb_limit: Some(1.0),
        path: "answered attempt reseeded before each invoke: 200, recorded delivered",
    },
];

pub const HELLO: Case = Case {
    label: "hello (floor)",
    binary: "hello",
    event: "otp-status.json",
    kind: Kind::Hello,
    floor: Floor::Hello,
    ddb_limit: None,
    path: "bare lambda_runtime, fixed reply",
};

pub fn load_event(events: &Path, file: &str) -> Result<Value, String> {
    let raw =
        std::fs::read_to_string(events.join(file)).map_err(|e| format!("{}: {e}", events.join(file).display()))?;
    serde_json::from_str(&raw).map_err(|e| format!("{file}: {e}"))
}

/// Per-case state across invokes.
pub struct Scenario {
    pub kind: Kind,
    template: Value,
    numbers: Numbers,
    repeats_left: u32,
    seeded: bool,
    last_phone: Option<Phone>,
    /// Check the stored record after the invoke (hangup: was it recorded delivered?).
    pub verify_store: bool,
}

impl Scenario {
    pub fn new(kind: Kind, template: Value, series: u32) -> Scenario {
        Scenario {
            kind,
            template,
            numbers: Numbers::new(series),
            repeats_left: 0,
            seeded: false,
            last_phone: None,
            verify_store: true,
        }
    }

    fn with_body(&self, body: String) -> String {
        let mut ev = self.template.clone();
        ev["body"] = Value::String(body);
        ev.to_string()
    }

    /// Prepares the table for the next invoke and returns the event to send.
    pub async fn prepare(&mut self, seeder: &Seeder) -> Result<String, String> {
        match self.kind {
            Kind::Hello => Ok(self.template.to_string()),
            Kind::Send => {
                let phone = self.numbers.fresh();
                let ev = self.with_body(serde_json::json!({"phone": phone.e164()}).to_string());
                self.last_phone = Some(phone);
                Ok(ev)
            }
            Kind::VerifyRight | Kind::VerifyWrong => {
                let phone = self.numbers.fresh();
                // A token nobody holds: verify does not look at it.
                seeder.seed(&phone, FIXTURE_CODE, "bench-no-webhook", false).await?;
                let otp = if self.kind == Kind::VerifyRight {
                    FIXTURE_CODE
                } else {
                    "654321"
                };
                let ev = self.with_body(serde_json::json!({"phone": phone.e164(), "otp": otp}).to_string());
                self.last_phone = Some(phone);
                Ok(ev)
            }
            Kind::Status | Kind::Answer => {
                if !self.seeded {
                    seeder.fixture(false).await?;
                    self.seeded = true;
                }
                Ok(self.template.to_string())
            }
            Kind::Choice => {
                if self.repeats_left == 0 {
                    seeder.fixture(true).await?;
                    self.repeats_left = MAX_REPEATS;
                }
                self.repeats_left -= 1;
                Ok(self.template.to_string())
            }
            // A cancel ends the attempt: a live one is seeded before every invoke.
            Kind::Hangup | Kind::Cancel => {
                seeder.fixture(self.kind == Kind::Hangup).await?;
                Ok(self.template.to_string())
            }
        }
    }

    /// Removes what the invoke left that no later invoke needs (see [`Seeder::delete`]).
    pub async fn cleanup(&mut self, seeder: &Seeder) -> Result<(), String> {
        match self.last_phone.take() {
            Some(p) => seeder.delete(&p).await,
            None => Ok(()),
        }
    }

    /// Checks the function's reply (and, where the reply cannot tell, the stored record).
    pub async fn check(&self, seeder: &Seeder, status: u16, body: &str) -> Result<(), String> {
        let ok = match self.kind {
            Kind::Hello => status == 200,
            Kind::Send => status == 200 && body.contains("\"status\":\"calling\""),
            Kind::VerifyRight => status == 200 && body.contains("\"valid\":true"),
            Kind::VerifyWrong => {
                status == 400 && body.contains("\"reason\":\"invalid\"") && body.contains("\"attempts_remaining\":2")
            }
            Kind::Status => status == 200 && body.contains("\"status\":\"calling\""),
            Kind::Cancel => status == 200 && body.contains("\"status\":\"canceled\""),
            // The key-press gate is on (the default): the pickup asks for a key, the key reads.
            Kind::Answer => status == 200 && body.contains(&english(|p| &p.gate)),
            Kind::Choice => status == 200 && body.contains(&english(|p| &p.intro)),
            Kind::Hangup => status == 200 && body.contains("<Hangup"),
        };
        if !ok {
            return Err(format!(
                "unexpected reply {status}: {}",
                body.chars().take(300).collect::<String>()
            ));
        }
        if self.kind == Kind::Hangup && self.verify_store {
            let a = seeder
                .get(&seeder.fixture_phone)
                .await?
                .ok_or("hangup: the attempt is gone")?;
            if a.ended_at.is_none() || a.call_outcome() != Some(CallOutcome::Answered) {
                return Err(format!(
                    "hangup did not record a delivered call: ended_at {:?}, outcome {:?}",
                    a.ended_at,
                    a.call_outcome()
                ));
            }
        }
        Ok(())
    }
}

/// The seeding each fixture needs so it shows what it is named for.
pub async fn prepare_fixture(seeder: &Seeder, file: &str) -> Result<(), String> {
    let f = file.trim_end_matches(".json");
    // A send needs nothing; a stream batch carries its items in its images.
    if f.starts_with("send-otp") || f.starts_with(STREAM_FUNCTION) {
        return Ok(());
    }
    let answered = f.starts_with("otp-choice") || f == "hangup-answered";
    seeder.fixture(answered).await.map(|_| ())
}

/// The function an `events/` fixture belongs to.
pub fn function_of(file: &str) -> Option<&'static str> {
    [
        STREAM_FUNCTION,
        "send-otp",
        "verify-otp",
        "otp-status",
        "cancel-otp",
        "answer",
        "otp-choice",
        "hangup",
    ]
    .into_iter()
    .find(|f| file.starts_with(f))
}

/// The function that reads the table's stream: its fixtures are stream batches, its reply a
/// `batchItemFailures` list, and it has no API Gateway case of its own.
pub const STREAM_FUNCTION: &str = "otp-events";

/// An otp-events reply: 200 when it reports no failed record (the batch was delivered).
pub fn read_stream_reply(raw: &str) -> Result<(u16, String), String> {
    let v: Value = serde_json::from_str(raw)
        .map_err(|e| format!("reply is not JSON ({e}): {}", raw.chars().take(200).collect::<String>()))?;
    match v["batchItemFailures"].as_array() {
        Some(failures) if failures.is_empty() => Ok((200, raw.to_owned())),
        Some(_) => Err(format!("records reported failed: {raw}")),
        None => Err(format!("no batchItemFailures in the reply: {raw}")),
    }
}

/// `statusCode` and `body` of an API Gateway proxy response.
pub fn read_reply(raw: &str) -> Result<(u16, String), String> {
    let v: Value = serde_json::from_str(raw)
        .map_err(|e| format!("reply is not JSON ({e}): {}", raw.chars().take(200).collect::<String>()))?;
    let status = v["statusCode"].as_u64().ok_or("reply has no statusCode")? as u16;
    let body = v["body"].as_str().unwrap_or("").to_owned();
    Ok((status, body))
}

/// A phrase of the calls the bench places (Indian numbers: en-IN by default).
fn english(phrase: impl Fn(&shared::domain::locale::Phrases) -> &String) -> String {
    shared::domain::locale::find("en-IN")
        .map(|l| phrase(&l.phrases).clone())
        .unwrap_or_else(|| "(the en-IN locale is missing)".into())
}
