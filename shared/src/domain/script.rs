//! The call script: what the callee hears, as VobizXML.
//!
//! The code is read the seed's proven way: one `<Speak>` per digit, each followed by a
//! one-second `<Wait>`, then a `<Gather>` that offers "Press 1 to hear it again". Every text and
//! attribute goes through `quick_xml::escape`, and every document ends in `<Hangup/>`.

use std::fmt::Write;

/// How the call sounds; from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voice {
    pub voice: String,
    pub language: String,
    /// Seconds the `<Gather>` waits for a key after its prompt (Vobiz allows 5–60).
    pub gather_timeout: u32,
}

pub const INTRO: &str = "Your verification code is";
pub const PROMPT: &str = "Press 1 to hear it again.";
pub const GOODBYE: &str = "Thank you. Goodbye.";
pub const APOLOGY: &str = "Sorry, this verification call is no longer valid. Goodbye.";
pub const GATE: &str = "This is your verification call. Press any key to hear your code.";
pub const NO_KEY: &str = "No key was pressed. Goodbye.";

/// One step of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Speak(String),
    Wait(u32),
    /// Collect one key; `action` receives the result.
    Gather {
        action: String,
        prompt: String,
    },
    Hangup,
}

/// "Your verification code is", with the app's name when there is one ("Your Acme
/// verification code is").
pub fn intro(app_name: Option<&str>) -> String {
    match app_name {
        Some(name) => format!("Your {name} verification code is"),
        None => INTRO.to_owned(),
    }
}

/// Reads `code`, introduced with the app's name; offers a repeat through `choice_url` when one
/// is left.
pub fn read_code(code: &str, app_name: Option<&str>, choice_url: Option<&str>) -> Vec<Step> {
    let mut steps = vec![Step::Speak(intro(app_name)), Step::Wait(1)];
    for digit in code.chars() {
        steps.push(Step::Speak(digit.to_string()));
        steps.push(Step::Wait(1));
    }
    if let Some(action) = choice_url {
        steps.push(Step::Gather {
            action: action.into(),
            prompt: PROMPT.into(),
        });
    }
    steps.push(Step::Speak(GOODBYE.into()));
    steps.push(Step::Hangup);
    steps
}

/// The key-press gate: the code only after a key (posted to `choice_url`), so an answering
/// machine never records it. Without a key the call ends: the `<Gather>` times out into the
/// goodbye below (or posts empty `Digits`, which says goodbye too).
pub fn gate(choice_url: &str) -> Vec<Step> {
    vec![
        Step::Gather {
            action: choice_url.into(),
            prompt: GATE.into(),
        },
        Step::Speak(NO_KEY.into()),
        Step::Hangup,
    ]
}

/// Ends the call politely.
pub fn goodbye() -> Vec<Step> {
    vec![Step::Speak(GOODBYE.into()), Step::Hangup]
}

/// Ends a call that has no right to a code, without a hint of why.
pub fn apology() -> Vec<Step> {
    vec![Step::Speak(APOLOGY.into()), Step::Hangup]
}

/// A character XML 1.0 can carry at all.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Escapes text or an attribute value, dropping what XML 1.0 forbids (control characters,
/// U+FFFE/U+FFFF): escaping cannot make them legal, and Vobiz would reject the whole document.
fn escape(s: &str) -> String {
    if s.chars().all(xml_char) {
        quick_xml::escape::escape(s).into_owned()
    } else {
        let kept: String = s.chars().filter(|&c| xml_char(c)).collect();
        quick_xml::escape::escape(kept.as_str()).into_owned()
    }
}

/// Renders steps as a VobizXML document.
pub fn render(steps: &[Step], voice: &Voice) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n");
    let speak = |xml: &mut String, text: &str| {
        let _ = writeln!(
            xml,
            "  <Speak voice=\"{}\" language=\"{}\">{}</Speak>",
            escape(&voice.voice),
            escape(&voice.language),
            escape(text)
        );
    };
    for step in steps {
        match step {
            Step::Speak(text) => speak(&mut xml, text),
            Step::Wait(secs) => {
                let _ = writeln!(xml, "  <Wait length=\"{secs}\"/>");
            }
            Step::Gather { action, prompt } => {
                let _ = writeln!(
                    xml,
                    "  <Gather action=\"{}\" method=\"POST\" inputType=\"dtmf\" numDigits=\"1\" executionTimeout=\"{}\" finishOnKey=\"\" log=\"false\">",
                    escape(action),
                    voice.gather_timeout
                );
                xml.push_str("  ");
                speak(&mut xml, prompt);
                xml.push_str("  </Gather>\n");
            }
            Step::Hangup => xml.push_str("  <Hangup/>\n"),
        }
    }
    xml.push_str("</Response>\n");
    xml
}

/// The words a callee would hear, in order (for the simulated call and for tests).
pub fn transcript(steps: &[Step]) -> Vec<String> {
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Speak(t) => out.push(t.clone()),
            Step::Gather { prompt, .. } => out.push(prompt.clone()),
            Step::Wait(_) | Step::Hangup => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice() -> Voice {
        Voice {
            voice: "WOMAN".into(),
            language: "en-US".into(),
            gather_timeout: 8,
        }
    }

    #[test]
    fn reads_each_digit_with_a_pause_then_offers_a_repeat() {
        let xml = render(
            &read_code("610389", None, Some("https://x.example/otp-choice/tok")),
            &voice(),
        );
        let expected_digits: Vec<String> = "610389"
            .chars()
            .map(|d| format!("<Speak voice=\"WOMAN\" language=\"en-US\">{d}</Speak>\n  <Wait length=\"1\"/>"))
            .collect();
        for d in &expected_digits {
            assert!(xml.contains(d), "{xml}");
        }
        assert!(xml.contains("<Gather action=\"https://x.example/otp-choice/tok\" method=\"POST\" inputType=\"dtmf\" numDigits=\"1\" executionTimeout=\"8\""));
        assert!(xml.contains(">Press 1 to hear it again.</Speak>\n  </Gather>"));
        assert!(xml.trim_end().ends_with("<Hangup/>\n</Response>"));
        assert!(xml.find("Your verification code is").unwrap() < xml.find(">6<").unwrap());
    }

    #[test]
    fn the_app_is_named_before_the_code() {
        let xml = render(&read_code("1234", Some("Acme & Co"), None), &voice());
        assert!(
            xml.contains(">Your Acme &amp; Co verification code is</Speak>"),
            "{xml}"
        );
        assert_eq!(intro(None), INTRO);
    }

    #[test]
    fn without_repeats_left_there_is_no_gather() {
        let xml = render(&read_code("1234", None, None), &voice());
        assert!(!xml.contains("Gather"));
        assert!(xml.contains("<Hangup/>"));
    }

    #[test]
    fn apology_and_goodbye_carry_no_digit_and_hang_up() {
        for steps in [apology(), goodbye()] {
            let xml = render(&steps, &voice());
            let body = &xml[xml.find("<Response>").unwrap()..];
            assert!(!body.chars().any(|c| c.is_ascii_digit()), "{xml}");
            assert!(xml.contains("<Hangup/>"));
        }
    }

    #[test]
    fn everything_is_escaped() {
        let v = Voice {
            voice: "W\"O<MAN".into(),
            language: "en&US".into(),
            gather_timeout: 5,
        };
        let xml = render(
            &[
                Step::Speak("<b>&'\"".into()),
                Step::Gather {
                    action: "https://h/a?x=1&y=\"2\"".into(),
                    prompt: "p<".into(),
                },
            ],
            &v,
        );
        assert!(!xml.contains("<b>"));
        assert!(xml.contains("&lt;b&gt;&amp;&apos;&quot;"));
        assert!(xml.contains("voice=\"W&quot;O&lt;MAN\" language=\"en&amp;US\""));
        assert!(xml.contains("action=\"https://h/a?x=1&amp;y=&quot;2&quot;\""));
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let v = Voice {
            voice: "WOMAN\u{1}".into(),
            language: "en-US".into(),
            gather_timeout: 5,
        };
        let xml = render(
            &[
                Step::Speak("code \0\u{8}\u{b}\u{1b}\u{fffe} end".into()),
                Step::Gather {
                    action: "https://h/c\u{7}".into(),
                    prompt: "p".into(),
                },
            ],
            &v,
        );
        assert!(xml.chars().all(xml_char), "{xml:?}");
        assert!(
            xml.contains(">code  end</Speak>")
                && xml.contains("voice=\"WOMAN\"")
                && xml.contains("action=\"https://h/c\""),
            "{xml}"
        );
    }
}
