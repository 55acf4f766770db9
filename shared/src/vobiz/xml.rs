//! Reading VobizXML back (docs/vobiz.md §3): what a document makes the callee hear, and where
//! its `<Gather>` posts. The local server's console, the simulator and the tests listen with it.

use crate::domain::locale::Phrase;

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

#[cfg(test)]
mod tests {
    use super::*;

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
