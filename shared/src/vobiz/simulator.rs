//! The local server's pretend Vobiz: it posts the answer, key and hangup webhooks as Vobiz
//! would (docs/vobiz.md §2) and prints what the callee would hear to the console only.

use std::time::Duration;

use super::xml::{Heard, gather_action, heard};
use crate::domain::Phone;
use crate::domain::secrets::random_id;
use crate::error::{Error, Result};
use crate::ports::{CallPlacer, CallRequest, PlacedCall};

/// A pretend Vobiz for the local server: it "answers" the call by posting to the answer
/// webhook like Vobiz would, prints what the callee would hear (code included) to the console
/// only, and then posts the hangup webhook. Nothing it prints goes through `tracing`.
#[derive(Clone, Debug)]
pub struct SimulatedCalls {
    http: reqwest::Client,
    /// `APP_NAME`, to read an intro prompt back into words.
    app_name: Option<String>,
    /// The caller id the webhooks' `From` carries, as Vobiz sends it (E.164 digits, no `+`):
    /// `FROM_NUMBER` when set, unchanged (a 160-series number too).
    from: String,
}

impl SimulatedCalls {
    pub fn new(app_name: Option<String>, from: Option<&Phone>) -> Result<SimulatedCalls> {
        let http = crate::tls::reqwest_builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|_| Error::Config("could not build the HTTP client for the call simulator".into()))?;
        let from = from
            .map_or("918000000000", |p| p.e164().trim_start_matches('+'))
            .to_owned();
        Ok(SimulatedCalls { http, app_name, from })
    }
}

impl CallPlacer for SimulatedCalls {
    async fn place_call(&self, req: &CallRequest) -> Result<PlacedCall> {
        let request_uuid = format!("sim-{}", random_id(&mut rand::rng()));
        let call_uuid = format!("sim-call-{}", random_id(&mut rand::rng()));
        let (sim, req2, ruuid) = (self.clone(), req.clone(), request_uuid.clone());
        tokio::spawn(async move {
            if let Err(why) = simulate(&sim, &req2, &ruuid, &call_uuid).await {
                println!("simulated call to {}: {why}", req2.to.masked());
            }
        });
        Ok(PlacedCall { request_uuid })
    }
}

async fn simulate(
    sim: &SimulatedCalls,
    req: &CallRequest,
    request_uuid: &str,
    call_uuid: &str,
) -> std::result::Result<(), String> {
    let http = &sim.http;
    let app_name = sim.app_name.as_deref();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let to = req.to.e164().trim_start_matches('+').to_owned();
    let answer: Vec<(&str, &str)> = vec![
        ("Event", "StartApp"),
        ("CallUUID", call_uuid),
        ("RequestUUID", request_uuid),
        ("From", &sim.from),
        ("To", &to),
        ("Direction", "outbound"),
        ("CallStatus", "in-progress"),
    ];
    let xml = http
        .post(&req.answer_url)
        .form(&answer)
        .send()
        .await
        .map_err(|_| "the answer webhook did not respond (is PUBLIC_URL this server?)".to_string())?
        .text()
        .await
        .map_err(|_| "unreadable answer".to_string())?;
    let mut words = heard(&xml, app_name);
    // The key-press gate: the callee presses a key, and hears the code from the Gather's action.
    if let Some(action) = gather_action(&xml).filter(|_| words.iter().all(|w| w.digit.is_none())) {
        let mut key = answer.clone();
        key.retain(|(k, _)| *k != "Event");
        key.push(("Digits", "5"));
        let xml = http
            .post(&action)
            .form(&key)
            .send()
            .await
            .map_err(|_| "the key-press webhook did not respond".to_string())?
            .text()
            .await
            .map_err(|_| "unreadable key-press reply".to_string())?;
        // The key comes during the gate's one prompt: what follows the Gather is never heard.
        words.truncate(1);
        words.push(Heard {
            text: "(presses 5)".into(),
            digit: None,
            url: None,
        });
        words.extend(heard(&xml, app_name));
    }
    // Vobiz fetches every <Play>ed prompt: so does the simulated call, and says which are missing.
    let mut missing = Vec::new();
    for url in words.iter().filter_map(|w| w.url.as_deref()) {
        let served = http
            .get(url)
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .is_some();
        if !served && !missing.contains(&url) {
            missing.push(url);
        }
    }
    let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    println!(
        "\n📞 simulated call to {} (request {request_uuid})\n   callee hears: {}\n   (printed on this console only: codes never go to logs)\n",
        req.to.masked(),
        text.join(" … ")
    );
    if !missing.is_empty() {
        println!(
            "   ⚠ prompts not served (run scripts/prompt-packs.sh; Vobiz would play silence): {}\n",
            missing.join(", ")
        );
    }
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let hangup: Vec<(&str, &str)> = vec![
        ("Event", "Hangup"),
        ("CallUUID", call_uuid),
        ("RequestUUID", request_uuid),
        ("From", &sim.from),
        ("To", &to),
        ("CallStatus", "completed"),
        ("HangupCause", "NORMAL_CLEARING"),
        ("HangupCauseCode", "4000"),
        ("StartTime", &stamp),
        ("AnswerTime", &stamp),
        ("EndTime", &stamp),
        ("Duration", "24"),
        ("BillDuration", "24"),
    ];
    http.post(&req.hangup_url)
        .form(&hangup)
        .send()
        .await
        .map_err(|_| "the hangup webhook did not respond".to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    /// The simulated call's webhooks carry `FROM_NUMBER` as Vobiz would (digits, no `+`),
    /// unchanged: a 160-series caller id too.
    #[tokio::test]
    async fn the_simulated_call_comes_from_the_configured_caller_id() {
        let app = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<Response><Hangup/></Response>"))
            .mount(&app)
            .await;
        let from = Phone::normalize("+911600123456").unwrap();
        let sim = SimulatedCalls::new(None, Some(&from)).unwrap();
        let req = CallRequest {
            to: Phone::parse("+919876543210").unwrap(),
            answer_url: format!("{}/answer/t", app.uri()),
            hangup_url: format!("{}/hangup/t", app.uri()),
            time_limit: 120,
            ring_timeout: 40,
            machine_detection: false,
        };
        sim.place_call(&req).await.unwrap();
        let mut froms = Vec::new();
        for _ in 0..100 {
            let got = app.received_requests().await.unwrap();
            if got.len() >= 2 {
                froms = got
                    .iter()
                    .map(|r| {
                        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&r.body).unwrap();
                        form.into_iter().find(|(k, _)| k == "From").unwrap().1
                    })
                    .collect();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(froms, ["911600123456", "911600123456"], "answer and hangup");
    }
}
