//! The call script: what the callee hears, as VobizXML.
//!
//! Steps name phrases ([`Phrase`]), never text: the [`Speaker`] renders them in the attempt's
//! locale, as `<Speak>` for a language Vobiz's text-to-speech speaks or as `<Play>` of a
//! prompt-pack file for one it does not. The code is read the Vobiz example's proven way, one digit at a
//! time, each followed by a `<Wait>`, and read again before the `<Gather>` that offers "Press 1
//! to hear it again". Every text and attribute goes through `quick_xml::escape`, and every
//! document ends in `<Hangup/>`.

use std::fmt::Write;

use super::locale::{Locale, Phrase, Voicing};

/// How the call sounds; from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voice {
    /// Vobiz's `<Speak voice>`: `WOMAN` or `MAN`.
    pub voice: String,
    /// Seconds the `<Gather>` waits for a key after its prompt (Vobiz allows 5–60).
    pub gather_timeout: u32,
}

/// How the code is read: how many times in a row (`CODE_READS`) and the pause after each digit
/// (`DIGIT_PAUSE_SECONDS`), long enough to write it down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeShape {
    pub reads: u32,
    pub digit_pause: u32,
}

/// Seconds of silence between two readings of the code, beyond the last digit's own pause.
pub const BETWEEN_READINGS: u32 = 1;

/// One step of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Say(Phrase),
    Wait(u32),
    /// Collect one key; `action` receives the result.
    Gather {
        action: String,
        prompt: Phrase,
    },
    Hangup,
}

/// Reads `code` `shape.reads` times, each reading introduced ("Your Acme verification code
/// is"), each digit followed by its pause; offers a repeat through `choice_url` when one is left.
pub fn read_code(code: &str, shape: CodeShape, choice_url: Option<&str>) -> Vec<Step> {
    let mut steps = Vec::new();
    for reading in 0..shape.reads.max(1) {
        if reading > 0 {
            steps.push(Step::Wait(BETWEEN_READINGS));
        }
        steps.push(Step::Say(Phrase::Intro));
        steps.push(Step::Wait(1));
        // A code is digits by construction; anything else is skipped, never spoken.
        for digit in code.chars().filter_map(|c| c.to_digit(10)) {
            steps.push(Step::Say(Phrase::Digit(digit as u8)));
            steps.push(Step::Wait(shape.digit_pause));
        }
    }
    if let Some(action) = choice_url {
        steps.push(Step::Gather {
            action: action.into(),
            prompt: Phrase::Prompt,
        });
    }
    steps.push(Step::Say(Phrase::Goodbye));
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
            prompt: Phrase::Gate,
        },
        Step::Say(Phrase::NoKey),
        Step::Hangup,
    ]
}

/// Ends the call politely.
pub fn goodbye() -> Vec<Step> {
    vec![Step::Say(Phrase::Goodbye), Step::Hangup]
}

/// Ends a call that has no right to a code, without a hint of why.
pub fn apology() -> Vec<Step> {
    vec![Step::Say(Phrase::Apology), Step::Hangup]
}

/// Who speaks one call: its locale, how that locale is voiced, the voice and the app's name.
#[derive(Clone, Copy, Debug)]
pub struct Speaker<'a> {
    pub locale: &'a Locale,
    pub voicing: Voicing<'a>,
    pub voice: &'a Voice,
    pub app_name: Option<&'a str>,
}

impl Speaker<'_> {
    /// What the callee hears for `phrase`, as text in the callee's language.
    pub fn text(&self, phrase: Phrase) -> String {
        self.locale.text(phrase, self.app_name)
    }

    /// The prompt-pack file `phrase` plays from, when this call is voiced from prompts.
    pub fn audio_url(&self, phrase: Phrase) -> Option<String> {
        match self.voicing {
            Voicing::Prompts { base_url } => Some(self.file_url(base_url, phrase)),
            Voicing::Tts { .. } => None,
        }
    }

    fn file_url(&self, base_url: &str, phrase: Phrase) -> String {
        format!("{base_url}/{}/{}.wav", self.locale.tag, phrase.file_stem(self.app_name))
    }

    fn say(&self, xml: &mut String, phrase: Phrase) {
        let _ = match self.voicing {
            Voicing::Prompts { base_url } => {
                writeln!(xml, "  <Play>{}</Play>", escape(&self.file_url(base_url, phrase)))
            }
            Voicing::Tts { language } => writeln!(
                xml,
                "  <Speak voice=\"{}\" language=\"{}\">{}</Speak>",
                escape(&self.voice.voice),
                escape(language),
                escape(&self.text(phrase))
            ),
        };
    }
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

/// Renders steps as a VobizXML document, spoken by `speaker`.
pub fn render(steps: &[Step], speaker: &Speaker<'_>) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n");
    for step in steps {
        match step {
            Step::Say(phrase) => speaker.say(&mut xml, *phrase),
            Step::Wait(secs) => {
                let _ = writeln!(xml, "  <Wait length=\"{secs}\"/>");
            }
            Step::Gather { action, prompt } => {
                let _ = writeln!(
                    xml,
                    "  <Gather action=\"{}\" method=\"POST\" inputType=\"dtmf\" numDigits=\"1\" executionTimeout=\"{}\" finishOnKey=\"\" log=\"false\">",
                    escape(action),
                    speaker.voice.gather_timeout
                );
                xml.push_str("  ");
                speaker.say(&mut xml, *prompt);
                xml.push_str("  </Gather>\n");
            }
            Step::Hangup => xml.push_str("  <Hangup/>\n"),
        }
    }
    xml.push_str("</Response>\n");
    xml
}

/// The words a callee would hear, in order and in their language (for tests and the simulator).
pub fn transcript(steps: &[Step], speaker: &Speaker<'_>) -> Vec<String> {
    steps
        .iter()
        .filter_map(|step| match step {
            Step::Say(p) | Step::Gather { prompt: p, .. } => Some(speaker.text(*p)),
            Step::Wait(_) | Step::Hangup => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::locale::{Languages, find};
    use super::*;

    const SHAPE: CodeShape = CodeShape {
        reads: 1,
        digit_pause: 1,
    };

    fn voice() -> Voice {
        Voice {
            voice: "WOMAN".into(),
            gather_timeout: 8,
        }
    }

    fn speaker<'a>(tag: &str, voice: &'a Voice, app_name: Option<&'a str>) -> Speaker<'a> {
        let locale = find(tag).unwrap();
        let voicing = match &locale.tts_language {
            Some(language) => Voicing::Tts { language },
            None => Voicing::Prompts {
                base_url: "https://prompts.example/p",
            },
        };
        Speaker {
            locale,
            voicing,
            voice,
            app_name,
        }
    }

    #[test]
    fn reads_each_digit_with_a_pause_then_offers_a_repeat() {
        let v = voice();
        let xml = render(
            &read_code("610389", SHAPE, Some("https://x.example/otp-choice/tok")),
            &speaker("en-US", &v, None),
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
    fn the_code_is_read_as_often_as_asked_with_the_pause_asked() {
        let v = voice();
        let sp = speaker("en-US", &v, None);
        let shape = CodeShape {
            reads: 2,
            digit_pause: 3,
        };
        let steps = read_code("4071", shape, Some("https://x/c"));
        let heard = transcript(&steps, &sp);
        let reading = ["Your verification code is", "4", "0", "7", "1"];
        assert_eq!(heard[..5], reading);
        assert_eq!(heard[5..10], reading, "the second reading repeats the first");
        assert_eq!(heard[10..], ["Press 1 to hear it again.", "Thank you. Goodbye."]);
        let xml = render(&steps, &sp);
        assert_eq!(xml.matches("<Wait length=\"3\"/>").count(), 8, "{xml}");
        let three = render(
            &read_code(
                "4071",
                CodeShape {
                    reads: 3,
                    digit_pause: 1,
                },
                None,
            ),
            &sp,
        );
        assert_eq!(three.matches(">7</Speak>").count(), 3);
    }

    #[test]
    fn the_app_is_named_before_the_code() {
        let v = voice();
        let xml = render(
            &read_code("1234", SHAPE, None),
            &speaker("en-US", &v, Some("Acme & Co")),
        );
        assert!(
            xml.contains(">Your Acme &amp; Co verification code is</Speak>"),
            "{xml}"
        );
    }

    #[test]
    fn a_prompt_pack_locale_plays_its_files_and_never_speaks_english() {
        let v = voice();
        let sp = speaker("hi-IN", &v, Some("Acme"));
        let xml = render(&read_code("70", SHAPE, Some("https://x/c")), &sp);
        assert!(!xml.contains("<Speak"), "{xml}");
        for file in ["intro-acme", "7", "0", "prompt", "goodbye"] {
            assert!(
                xml.contains(&format!("<Play>https://prompts.example/p/hi-IN/{file}.wav</Play>")),
                "{file}: {xml}"
            );
        }
        assert!(xml.contains("<Play>https://prompts.example/p/hi-IN/prompt.wav</Play>\n  </Gather>"));
        let heard = transcript(&read_code("70", SHAPE, None), &sp);
        assert_eq!(heard[..3], ["आपका Acme सत्यापन कोड है", "सात", "शून्य"]);
        // Every locale: the gate, goodbye and apology in its own words.
        let langs = Languages {
            fallback: find("en-US").unwrap(),
            by_region: vec![],
            prompts_url: Some("https://prompts.example/p".into()),
        };
        for locale in super::super::locale::catalogue().unwrap() {
            let sp = Speaker {
                locale,
                voicing: langs.voicing(locale),
                voice: &v,
                app_name: None,
            };
            let xml = render(&gate("https://x/c"), &sp);
            assert!(
                xml.contains(&format!(
                    "language=\"{}\"",
                    locale.tts_language.as_deref().unwrap_or("-")
                )) || xml.contains(&format!("/{}/gate.wav", locale.tag)),
                "{xml}"
            );
            if locale.tag.starts_with("en") {
                continue;
            }
            assert!(
                !transcript(&apology(), &sp).concat().contains("Sorry"),
                "{}",
                locale.tag
            );
        }
    }

    #[test]
    fn without_repeats_left_there_is_no_gather() {
        let v = voice();
        let xml = render(&read_code("1234", SHAPE, None), &speaker("en-US", &v, None));
        assert!(!xml.contains("Gather"));
        assert!(xml.contains("<Hangup/>"));
    }

    #[test]
    fn apology_and_goodbye_carry_no_digit_and_hang_up() {
        let v = voice();
        for steps in [apology(), goodbye()] {
            let xml = render(&steps, &speaker("en-US", &v, None));
            let body = &xml[xml.find("<Response>").unwrap()..];
            assert!(!body.chars().any(|c| c.is_ascii_digit()), "{xml}");
            assert!(xml.contains("<Hangup/>"));
        }
    }

    #[test]
    fn everything_is_escaped() {
        let v = Voice {
            voice: "W\"O<MAN".into(),
            gather_timeout: 5,
        };
        let sp = speaker("en-US", &v, Some("<b>&'\""));
        let xml = render(
            &[
                Step::Say(Phrase::Intro),
                Step::Gather {
                    action: "https://h/a?x=1&y=\"2\"".into(),
                    prompt: Phrase::Prompt,
                },
            ],
            &sp,
        );
        assert!(!xml.contains("<b>"));
        assert!(xml.contains("&lt;b&gt;&amp;&apos;&quot;"));
        assert!(xml.contains("voice=\"W&quot;O&lt;MAN\" language=\"en-US\""));
        assert!(xml.contains("action=\"https://h/a?x=1&amp;y=&quot;2&quot;\""));
        let hi = speaker("hi-IN", &v, None);
        let sp = Speaker {
            voicing: Voicing::Prompts {
                base_url: "https://p/a&b\"",
            },
            ..hi
        };
        assert!(render(&goodbye(), &sp).contains("<Play>https://p/a&amp;b&quot;/hi-IN/goodbye.wav</Play>"));
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let v = Voice {
            voice: "WOMAN\u{1}".into(),
            gather_timeout: 5,
        };
        let xml = render(
            &[
                Step::Say(Phrase::Intro),
                Step::Gather {
                    action: "https://h/c\u{7}".into(),
                    prompt: Phrase::Prompt,
                },
            ],
            &speaker("en-US", &v, Some("code \0\u{8}\u{b}\u{1b}\u{fffe} end")),
        );
        assert!(xml.chars().all(xml_char), "{xml:?}");
        assert!(
            xml.contains(">Your code  end verification code is</Speak>")
                && xml.contains("voice=\"WOMAN\"")
                && xml.contains("action=\"https://h/c\""),
            "{xml}"
        );
    }
}
