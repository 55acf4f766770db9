//! Placing calls: the Vobiz REST client, and the simulator the local server uses when no Vobiz
//! credentials are set.

#[cfg(feature = "http-client")]
use std::time::Duration;

#[cfg(feature = "http-client")]
use rand::Rng;
use serde_json::Value;
#[cfg(feature = "http-client")]
use serde_json::json;

#[cfg(feature = "http-client")]
use crate::config::VobizConfig;
use crate::domain::locale::Phrase;
#[cfg(feature = "http-client")]
use crate::domain::secrets::random_id;
#[cfg(feature = "http-client")]
use crate::error::{Error, Result};
#[cfg(feature = "http-client")]
use crate::ports::{CallPlacer, CallRequest, PlacedCall};

/// Longest we wait before retrying a 429, whatever Vobiz asks for: the app is waiting.
#[cfg(feature = "http-client")]
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);
#[cfg(feature = "http-client")]
const BASE_RETRY_DELAY: Duration = Duration::from_millis(250);

/// The Vobiz call API (`POST /api/v1/Account/{auth_id}/Call/`, `X-Auth-ID`/`X-Auth-Token`).
#[cfg(feature = "http-client")]
#[derive(Clone, Debug)]
pub struct VobizClient {
    http: reqwest::Client,
    cfg: VobizConfig,
}

#[cfg(feature = "http-client")]
impl VobizClient {
    pub fn new(cfg: VobizConfig) -> Result<VobizClient> {
        let http = crate::tls::reqwest_builder()
            // The credentials (and the call's webhook tokens) go to the API host and nowhere
            // else: a redirect is an error, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .connect_timeout(Duration::from_millis(cfg.timeout_ms.min(3000)))
            .build()
            .map_err(|_| Error::Config("could not build the HTTP client for VOBIZ_API_URL".into()))?;
        Ok(VobizClient { http, cfg })
    }

    fn calls_url(&self) -> String {
        format!("{}/api/v1/Account/{}/Call/", self.cfg.api_url, self.cfg.auth_id)
    }
}

#[cfg(feature = "http-client")]
impl CallPlacer for VobizClient {
    async fn place_call(&self, req: &CallRequest) -> Result<PlacedCall> {
        let mut body = json!({
            "from": self.cfg.from.e164(),
            "to": req.to.e164(),
            "answer_url": req.answer_url,
            "answer_method": "POST",
            "hangup_url": req.hangup_url,
            "hangup_method": "POST",
            "time_limit": req.time_limit,
            "ring_timeout": req.ring_timeout,
        });
        if req.machine_detection {
            // A machine that answers is hung up on (hangup cause 9100) before anything is said.
            body["machine_detection"] = json!("hangup");
        }
        let mut retries = 0;
        loop {
            let sent = self
                .http
                .post(self.calls_url())
                .header("X-Auth-ID", &self.cfg.auth_id)
                .header("X-Auth-Token", &self.cfg.auth_token)
                .json(&body)
                .send()
                .await;
            // Never format a reqwest error: its text carries the URL, and the URL the account id.
            let resp = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Err(Error::CallFailed(
                        "Vobiz did not answer in time; a call may have been placed".into(),
                    ));
                }
                Err(_) => return Err(Error::CallFailed("could not reach Vobiz".into())),
            };
            let status = resp.status();
            if status.is_success() {
                let json: Value = resp
                    .json()
                    .await
                    .map_err(|_| Error::CallFailed(format!("Vobiz answered {status} with a body that is not JSON")))?;
                return request_uuid(&json)
                    .map(|request_uuid| PlacedCall { request_uuid })
                    .ok_or_else(|| Error::CallFailed(format!("Vobiz answered {status} without a request_uuid")));
            }
            if status.as_u16() == 429 && retries < self.cfg.max_retries {
                let header = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok());
                let from_body = resp
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|j| j.pointer("/error/details/retryAfter").and_then(Value::as_f64));
                let asked = header
                    .or(from_body)
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64);
                let backoff = BASE_RETRY_DELAY * 2u32.pow(retries);
                let jitter = Duration::from_millis(rand::rng().random_range(0..=BASE_RETRY_DELAY.as_millis() as u64));
                let delay = asked.unwrap_or(backoff + jitter).min(MAX_RETRY_DELAY);
                tracing::warn!(
                    retry = retries + 1,
                    delay_ms = delay.as_millis() as u64,
                    "Vobiz rate-limited the call; retrying"
                );
                tokio::time::sleep(delay).await;
                retries += 1;
                continue;
            }
            // The body may name the account: it is never read into the error.
            return Err(Error::CallFailed(format!(
                "Vobiz refused the call with HTTP {}",
                status.as_u16()
            )));
        }
    }
}

/// `request_uuid` identifies the call (`api_id` only identifies the API request).
#[cfg_attr(
    not(feature = "http-client"),
    allow(
        dead_code,
        reason = "only the Vobiz client reads it; the fuzz target builds without it"
    )
)]
fn request_uuid(json: &Value) -> Option<String> {
    let v = json.get("request_uuid")?;
    let s = v.as_str().or_else(|| v.as_array()?.first()?.as_str())?;
    (!s.is_empty() && s.len() <= 128).then(|| s.to_owned())
}

/// A pretend Vobiz for the local server: it "answers" the call by posting to the answer
/// webhook like Vobiz would, prints what the callee would hear (code included) to the console
/// only, and then posts the hangup webhook. Nothing it prints goes through `tracing`.
#[cfg(feature = "http-client")]
#[derive(Clone, Debug)]
pub struct SimulatedCalls {
    http: reqwest::Client,
    /// `APP_NAME`, to read an intro prompt back into words.
    app_name: Option<String>,
}

#[cfg(feature = "http-client")]
impl SimulatedCalls {
    pub fn new(app_name: Option<String>) -> Result<SimulatedCalls> {
        let http = crate::tls::reqwest_builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|_| Error::Config("could not build the HTTP client for the call simulator".into()))?;
        Ok(SimulatedCalls { http, app_name })
    }
}

#[cfg(feature = "http-client")]
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

#[cfg(feature = "http-client")]
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
        ("From", "918000000000"),
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
        ("From", "918000000000"),
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

/// The `action` of the first `<Gather>` in a VobizXML document.
pub fn gather_action(xml: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.name().as_ref() == b"Gather" => {
                let attr = e.try_get_attribute("action").ok()??;
                return attr.unescape_value().ok().map(|v| v.into_owned());
            }
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
    }
}

/// One thing a VobizXML document makes the callee hear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heard {
    /// A `<Speak>`'s words, or the words of the prompt a `<Play>` plays, in its locale (its URL
    /// when it is no prompt otp-call knows).
    pub text: String,
    /// The digit it says, if it is one.
    pub digit: Option<u8>,
    /// The audio a `<Play>` fetches.
    pub url: Option<String>,
}

/// What the prompt at `url` (`…/<locale>/<file>.wav`) says, if it is one of ours.
fn prompt_of(url: &str, app_name: Option<&str>) -> Option<(String, Option<u8>)> {
    let (rest, file) = url.rsplit_once('/')?;
    let tag = rest.rsplit('/').next()?;
    let phrase = Phrase::from_file_stem(file.strip_suffix(".wav")?)?;
    let text = crate::domain::locale::find(tag)?.text(phrase, app_name);
    let digit = match phrase {
        Phrase::Digit(d) => Some(d),
        _ => None,
    };
    Some((text, digit))
}

/// Everything a VobizXML document makes the callee hear, in order: `<Speak>` text and `<Play>`
/// prompts (read back into words with the locale files; `app_name` names the app in an intro).
pub fn heard(xml: &str, app_name: Option<&str>) -> Vec<Heard> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    // The element being read: `Some(true)` a <Play>, `Some(false)` a <Speak>.
    let mut inside: Option<bool> = None;
    let mut current = String::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if matches!(e.name().as_ref(), b"Speak" | b"Play") => {
                inside = Some(e.name().as_ref() == b"Play");
                current.clear();
            }
            Ok(Event::End(e))
                if inside.is_some_and(|play| e.name().as_ref() == if play { &b"Play"[..] } else { b"Speak" }) =>
            {
                let content = current.trim().to_owned();
                out.push(match inside {
                    Some(true) => {
                        let (text, digit) = prompt_of(&content, app_name).unwrap_or_else(|| (content.clone(), None));
                        Heard {
                            text,
                            digit,
                            url: Some(content),
                        }
                    }
                    _ => {
                        let digit = match content.as_bytes() {
                            [d] if d.is_ascii_digit() => Some(d - b'0'),
                            _ => None,
                        };
                        Heard {
                            text: content,
                            digit,
                            url: None,
                        }
                    }
                });
                inside = None;
            }
            Ok(Event::Text(t)) if inside.is_some() => {
                if let Ok(s) = t.decode() {
                    current.push_str(&s);
                }
            }
            Ok(Event::GeneralRef(r)) if inside.is_some() => {
                if let Ok(name) = r.decode() {
                    current.push_str(&quick_xml::escape::unescape(&format!("&{name};")).unwrap_or_default());
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// The words of every `<Speak>` and `<Play>` in a VobizXML document, in order.
pub fn spoken_words(xml: &str) -> Vec<String> {
    heard(xml, None).into_iter().map(|h| h.text).collect()
}

/// The call placer a deployment uses: Vobiz when configured, the simulator otherwise (local
/// server only; Lambda functions require Vobiz credentials).
#[cfg(feature = "http-client")]
#[derive(Clone, Debug)]
pub enum Calls {
    Vobiz(VobizClient),
    Simulated(SimulatedCalls),
}

#[cfg(feature = "http-client")]
impl CallPlacer for Calls {
    async fn place_call(&self, req: &CallRequest) -> Result<PlacedCall> {
        match self {
            Calls::Vobiz(v) => v.place_call(req).await,
            Calls::Simulated(s) => s.place_call(req).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_uuid_not_api_id() {
        assert_eq!(
            request_uuid(&json!({"api_id": "A", "request_uuid": "R", "message": "Call fired"})).as_deref(),
            Some("R")
        );
        assert_eq!(
            request_uuid(&json!({"api_id": "A", "request_uuid": ["R1"]})).as_deref(),
            Some("R1")
        );
        assert_eq!(request_uuid(&json!({"api_id": "A"})), None);
        assert_eq!(request_uuid(&json!({"request_uuid": ""})), None);
    }

    #[test]
    fn heard_reads_speak_and_play_back_into_words() {
        use crate::domain::locale::{Voicing, find};
        use crate::domain::script::{CodeShape, Speaker, Voice, read_code, render};
        let voice = Voice {
            voice: "WOMAN".into(),
            gather_timeout: 8,
        };
        let steps = read_code(
            "0427",
            CodeShape {
                reads: 1,
                digit_pause: 1,
            },
            Some("https://h/c"),
        );
        let en = find("en-US").unwrap();
        let speaker = Speaker {
            locale: en,
            voicing: Voicing::Tts { language: "en-US" },
            voice: &voice,
            app_name: None,
        };
        let words = spoken_words(&render(&steps, &speaker));
        assert_eq!(
            words,
            [
                "Your verification code is",
                "0",
                "4",
                "2",
                "7",
                "Press 1 to hear it again.",
                "Thank you. Goodbye."
            ]
        );
        assert_eq!(spoken_words("<Response><Speak>a &amp; b</Speak></Response>"), ["a & b"]);
        let ta = Speaker {
            locale: find("ta-IN").unwrap(),
            voicing: Voicing::Prompts {
                base_url: "https://p.example/prompts",
            },
            voice: &voice,
            app_name: Some("Acme"),
        };
        let items = heard(&render(&steps, &ta), Some("Acme"));
        let digits: Vec<u8> = items.iter().filter_map(|h| h.digit).collect();
        assert_eq!(digits, [0, 4, 2, 7]);
        assert_eq!(items[0].text, "உங்கள் Acme சரிபார்ப்புக் குறியீடு");
        assert_eq!(
            items[0].url.as_deref(),
            Some("https://p.example/prompts/ta-IN/intro-acme.wav")
        );
        assert_eq!(items[1].text, "பூஜ்ஜியம்");
        let odd = heard("<Response><Play>https://x/music.mp3</Play></Response>", None);
        assert_eq!(odd[0].text, "https://x/music.mp3");
    }
}
