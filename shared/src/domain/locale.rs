//! The callee's language: what each locale says, and how it is spoken.
//!
//! A locale is data, one file per locale in `shared/locales/<tag>.json`, compiled into every
//! function. A locale whose `tts_language` Vobiz's text-to-speech documents is spoken with
//! `<Speak>`; any other is a *prompt pack*, recorded audio played with `<Play>` from
//! `PROMPTS_BASE_URL/<tag>/<file>.wav` (the digits by their digit, `…/hi-IN/7.wav`), so a
//! Hindi callee never hears English text in a foreign voice. [`check`] holds the rules every
//! file obeys; it runs when the catalogue loads and in the tests.

use std::sync::OnceLock;

use serde::Deserialize;

/// The languages Vobiz's `<Speak>` documents (docs/vobiz.md §3, xml/speak). None is Indian.
pub const VOBIZ_TTS_LANGUAGES: &[&str] = &[
    "en-US", "en-GB", "en-AU", "de-DE", "fr-FR", "fr-CA", "es-ES", "es-US", "it-IT", "nl-NL", "pl-PL", "pt-PT",
    "pt-BR", "ru-RU", "sv-SE", "da-DK",
];

/// The locale files, compiled in. A test checks this list against the folder.
const SOURCES: &[(&str, &str)] = &[
    ("bn-IN", include_str!("../../locales/bn-IN.json")),
    ("de-DE", include_str!("../../locales/de-DE.json")),
    ("en-AU", include_str!("../../locales/en-AU.json")),
    ("en-GB", include_str!("../../locales/en-GB.json")),
    ("en-IN", include_str!("../../locales/en-IN.json")),
    ("en-US", include_str!("../../locales/en-US.json")),
    ("es-ES", include_str!("../../locales/es-ES.json")),
    ("fr-FR", include_str!("../../locales/fr-FR.json")),
    ("hi-IN", include_str!("../../locales/hi-IN.json")),
    ("mr-IN", include_str!("../../locales/mr-IN.json")),
    ("ta-IN", include_str!("../../locales/ta-IN.json")),
    ("te-IN", include_str!("../../locales/te-IN.json")),
];

/// The tags of the compiled-in locale files, in file-name order.
pub fn source_tags() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().map(|(tag, _)| *tag)
}

/// One thing a call says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phrase {
    /// "Your (Acme) verification code is".
    Intro,
    /// "This is your verification call. Press any key to hear your code."
    Gate,
    /// "Press 1 to hear it again."
    Prompt,
    Goodbye,
    /// A call with no right to a code: "no longer valid".
    Apology,
    /// The gate timed out.
    NoKey,
    /// One digit of the code, 0 to 9.
    Digit(u8),
}

impl Phrase {
    /// Every phrase a prompt pack records (the app's intro apart).
    pub const ALL: [Phrase; 16] = [
        Phrase::Intro,
        Phrase::Gate,
        Phrase::Prompt,
        Phrase::Goodbye,
        Phrase::Apology,
        Phrase::NoKey,
        Phrase::Digit(0),
        Phrase::Digit(1),
        Phrase::Digit(2),
        Phrase::Digit(3),
        Phrase::Digit(4),
        Phrase::Digit(5),
        Phrase::Digit(6),
        Phrase::Digit(7),
        Phrase::Digit(8),
        Phrase::Digit(9),
    ];

    /// The prompt-pack file (without `.wav`) this phrase plays from: a digit by its digit (`7`),
    /// the intro with the app's name spoken in it as `intro-<slug>` (`intro-acme`).
    pub fn file_stem(self, app_name: Option<&str>) -> String {
        match (self, app_name) {
            (Phrase::Intro, Some(app)) => format!("intro-{}", slug(app)),
            (Phrase::Intro, None) => "intro".into(),
            (Phrase::Gate, _) => "gate".into(),
            (Phrase::Prompt, _) => "prompt".into(),
            (Phrase::Goodbye, _) => "goodbye".into(),
            (Phrase::Apology, _) => "apology".into(),
            (Phrase::NoKey, _) => "no-key".into(),
            (Phrase::Digit(d), _) => d.to_string(),
        }
    }

    /// The phrase a prompt-pack file plays (the inverse of [`Phrase::file_stem`]).
    pub fn from_file_stem(stem: &str) -> Option<Phrase> {
        if stem.starts_with("intro-") {
            return Some(Phrase::Intro);
        }
        Phrase::ALL.into_iter().find(|p| p.file_stem(None) == stem)
    }
}

/// The app's name as it appears in a prompt file's name: ASCII letters and digits, lowercased,
/// anything else a single `-` ("Acme & Co" is `acme-co`).
pub fn slug(app_name: &str) -> String {
    let mut out = String::new();
    for c in app_name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() { "app".into() } else { out.into() }
}

/// The fixed phrases of a locale, in its own language and script.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Phrases {
    pub intro: String,
    /// The intro with the app's name: holds `{app}` exactly once.
    pub intro_app: String,
    pub gate: String,
    pub prompt: String,
    pub goodbye: String,
    pub apology: String,
    pub no_key: String,
}

/// One locale, as its file gives it.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Locale {
    /// BCP 47, as in the file's name: `hi-IN`.
    pub tag: String,
    /// The language's own name (for people reading the list).
    pub name: String,
    /// Spoken by Vobiz's text-to-speech in this `<Speak language>`; absent: a prompt pack.
    #[serde(default)]
    pub tts_language: Option<String>,
    /// The `espeak-ng` voice `scripts/prompt-packs.sh` renders a prompt pack's starter audio with.
    #[serde(default)]
    pub espeak_voice: Option<String>,
    /// A remark for the maintainer (why a voice was chosen).
    #[serde(default)]
    pub note: Option<String>,
    pub phrases: Phrases,
    /// The digits 0 to 9 as words (a prompt pack's transcript and recordings); a text-to-speech
    /// locale may leave them out and speak the numerals.
    #[serde(default)]
    pub digits: Option<Vec<String>>,
}

impl Locale {
    /// What the callee hears for `phrase`, as text.
    pub fn text(&self, phrase: Phrase, app_name: Option<&str>) -> String {
        let p = &self.phrases;
        match (phrase, app_name) {
            (Phrase::Intro, Some(app)) => p.intro_app.replace("{app}", app),
            (Phrase::Intro, None) => p.intro.clone(),
            (Phrase::Gate, _) => p.gate.clone(),
            (Phrase::Prompt, _) => p.prompt.clone(),
            (Phrase::Goodbye, _) => p.goodbye.clone(),
            (Phrase::Apology, _) => p.apology.clone(),
            (Phrase::NoKey, _) => p.no_key.clone(),
            (Phrase::Digit(d), _) => self
                .digits
                .as_ref()
                .and_then(|words| words.get(usize::from(d)).cloned())
                .unwrap_or_else(|| d.to_string()),
        }
    }

    /// Played from recorded prompts rather than spoken by Vobiz.
    pub fn is_prompt_pack(&self) -> bool {
        self.tts_language.is_none()
    }
}

/// The rules every locale file obeys: its tag is its file's name and well-formed, every phrase
/// is present, short and XML-safe (XML 1.0 characters, no markup), `{app}` appears once in
/// `intro_app` and nowhere else, a text-to-speech locale names a language Vobiz documents, and
/// a prompt pack has an `espeak-ng` voice and ten digit words.
pub fn check(locale: &Locale, file_tag: &str) -> Result<(), String> {
    let tag = &locale.tag;
    if tag != file_tag {
        return Err(format!("{file_tag}.json says its tag is {tag:?}"));
    }
    let b = tag.as_bytes();
    if !(b.len() == 5
        && b[..2].iter().all(u8::is_ascii_lowercase)
        && b[2] == b'-'
        && b[3..].iter().all(u8::is_ascii_uppercase))
    {
        return Err(format!("{tag}: a tag is language-REGION, like hi-IN"));
    }
    let p = &locale.phrases;
    let mut texts: Vec<(&str, &str)> = vec![
        ("intro", &p.intro),
        ("intro_app", &p.intro_app),
        ("gate", &p.gate),
        ("prompt", &p.prompt),
        ("goodbye", &p.goodbye),
        ("apology", &p.apology),
        ("no_key", &p.no_key),
    ];
    let digits = locale.digits.as_deref().unwrap_or(&[]);
    texts.extend(digits.iter().map(|d| ("digits", d.as_str())));
    for (name, text) in &texts {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 200 {
            return Err(format!("{tag}: {name} must be 1 to 200 characters"));
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_control() || "<>&\u{FFFE}\u{FFFF}".contains(*c))
        {
            return Err(format!("{tag}: {name} holds {c:?}, which is not plain XML text"));
        }
        let braces = text.matches(['{', '}']).count();
        let wanted = if *name == "intro_app" { 2 } else { 0 };
        if braces != wanted || (wanted == 2 && text.matches("{app}").count() != 1) {
            return Err(format!(
                "{tag}: {name} must hold {{app}} exactly once (intro_app) or no braces at all"
            ));
        }
    }
    match (&locale.tts_language, &locale.espeak_voice) {
        (Some(lang), None) if VOBIZ_TTS_LANGUAGES.contains(&lang.as_str()) => Ok(()),
        (Some(lang), None) => Err(format!("{tag}: Vobiz documents no text-to-speech language {lang:?}")),
        (None, Some(voice)) if !voice.is_empty() && voice.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') => {
            if digits.len() == 10 {
                Ok(())
            } else {
                Err(format!("{tag}: a prompt pack needs ten digit words"))
            }
        }
        _ => Err(format!(
            "{tag}: give either tts_language (Vobiz speaks it) or espeak_voice (a prompt pack)"
        )),
    }
}

/// Every compiled-in locale, parsed and checked once.
pub fn catalogue() -> Result<&'static [Locale], String> {
    static CATALOGUE: OnceLock<Result<Vec<Locale>, String>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| {
            SOURCES
                .iter()
                .map(|(file_tag, json)| {
                    let locale: Locale =
                        serde_json::from_str(json).map_err(|e| format!("shared/locales/{file_tag}.json: {e}"))?;
                    check(&locale, file_tag)?;
                    Ok(locale)
                })
                .collect()
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// The compiled-in locale with this tag (case-insensitive, as BCP 47 tags are).
pub fn find(tag: &str) -> Option<&'static Locale> {
    catalogue().ok()?.iter().find(|l| l.tag.eq_ignore_ascii_case(tag))
}

/// How a call picks its language: the app's `locale` when it sends one, else the default of
/// the number's region (`REGION_LOCALES`), else `CALL_LANGUAGE`. Prompt packs are spoken only
/// where they are hosted (`PROMPTS_BASE_URL`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Languages {
    /// `CALL_LANGUAGE`.
    pub fallback: &'static Locale,
    /// `REGION_LOCALES`: ISO 3166 region to locale.
    pub by_region: Vec<(String, &'static Locale)>,
    /// `PROMPTS_BASE_URL`: where the prompt packs are served (`…/<tag>/<file>.wav`).
    pub prompts_url: Option<String>,
}

/// How one call is voiced: by Vobiz's text-to-speech, or from a hosted prompt pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voicing<'a> {
    Tts { language: &'a str },
    Prompts { base_url: &'a str },
}

impl Languages {
    /// This deployment can speak `locale`.
    pub fn speaks(&self, locale: &Locale) -> bool {
        !locale.is_prompt_pack() || self.prompts_url.is_some()
    }

    /// The tags of the locales this deployment speaks.
    pub fn supported(&self) -> Vec<&'static str> {
        catalogue()
            .unwrap_or_default()
            .iter()
            .filter(|l| self.speaks(l))
            .map(|l| l.tag.as_str())
            .collect()
    }

    /// The locale of a new call: `asked` (the app's `locale`) when given, else the default of the
    /// number's `region`, else the fallback. `Err` lists the supported tags.
    pub fn choose(&self, asked: Option<&str>, region: Option<&str>) -> Result<&'static Locale, Vec<&'static str>> {
        match asked {
            Some(tag) => find(tag).filter(|l| self.speaks(l)).ok_or_else(|| self.supported()),
            None => Ok(region
                .and_then(|r| self.by_region.iter().find(|(reg, _)| reg == r))
                .map_or(self.fallback, |(_, l)| *l)),
        }
    }

    /// The locale a stored attempt was sent in, or the fallback for one from before locales (or
    /// one this deployment no longer speaks).
    pub fn of_attempt(&self, tag: Option<&str>) -> &'static Locale {
        tag.and_then(find).filter(|l| self.speaks(l)).unwrap_or(self.fallback)
    }

    /// How `locale` is voiced here.
    pub fn voicing<'a>(&'a self, locale: &'a Locale) -> Voicing<'a> {
        match (&locale.tts_language, &self.prompts_url) {
            (Some(language), _) => Voicing::Tts { language },
            (None, Some(base_url)) => Voicing::Prompts { base_url },
            // Not reachable through `choose`/`of_attempt`; the fallback is always speakable.
            (None, None) => Voicing::Tts {
                language: self.fallback.tts_language.as_deref().unwrap_or("en-US"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locale_file_is_compiled_in_and_obeys_the_rules() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/locales");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_owned))
            .collect();
        on_disk.sort();
        assert_eq!(
            on_disk,
            source_tags().collect::<Vec<_>>(),
            "SOURCES must list every file in locales/"
        );
        let all = catalogue().unwrap();
        assert_eq!(all.len(), on_disk.len());
        // Hindi and at least four more Indian languages ship as prompt packs.
        let packs: Vec<&str> = all
            .iter()
            .filter(|l| l.is_prompt_pack())
            .map(|l| l.tag.as_str())
            .collect();
        assert!(
            packs.contains(&"hi-IN") && packs.iter().filter(|t| t.ends_with("-IN")).count() >= 5,
            "{packs:?}"
        );
    }

    #[test]
    fn each_phrase_renders_in_its_own_language_with_the_app_name() {
        let hi = find("hi-in").unwrap();
        assert_eq!(hi.tag, "hi-IN");
        assert_eq!(hi.text(Phrase::Intro, Some("Acme")), "आपका Acme सत्यापन कोड है");
        assert_eq!(hi.text(Phrase::Digit(7), None), "सात");
        let de = find("de-DE").unwrap();
        assert_eq!(
            de.text(Phrase::Digit(7), None),
            "7",
            "text-to-speech speaks the numeral"
        );
        assert!(de.text(Phrase::Intro, Some("Acme")).contains("für Acme"));
        for l in catalogue().unwrap() {
            for p in Phrase::ALL {
                assert!(!l.text(p, Some("Acme")).contains('{'), "{} {p:?}", l.tag);
            }
        }
    }

    #[test]
    fn the_rules_refuse_what_would_break_a_call() {
        let good = || serde_json::from_str::<Locale>(SOURCES[8].1).unwrap();
        assert!(check(&good(), "hi-IN").is_ok());
        type Breaks = Box<dyn Fn(&mut Locale)>;
        let broken: Vec<(&str, Breaks)> = vec![
            ("tag", Box::new(|l| l.tag = "hi_IN".into())),
            ("empty", Box::new(|l| l.phrases.goodbye = " ".into())),
            ("markup", Box::new(|l| l.phrases.gate = "<break/>".into())),
            ("control", Box::new(|l| l.phrases.prompt = "a\u{7}b".into())),
            ("no placeholder", Box::new(|l| l.phrases.intro_app = "आपका कोड".into())),
            (
                "two placeholders",
                Box::new(|l| l.phrases.intro_app = "{app} {app}".into()),
            ),
            ("stray placeholder", Box::new(|l| l.phrases.intro = "{app}".into())),
            ("nine digits", Box::new(|l| l.digits.as_mut().unwrap().truncate(9))),
            ("no voice", Box::new(|l| l.espeak_voice = None)),
            (
                "undocumented tts",
                Box::new(|l| (l.espeak_voice, l.tts_language) = (None, Some("hi-IN".into()))),
            ),
        ];
        for (what, breaks) in broken {
            let mut l = good();
            breaks(&mut l);
            assert!(check(&l, "hi-IN").is_err(), "{what}");
        }
        assert!(serde_json::from_str::<Locale>(r#"{"tag":"x","name":"x","phrases":{},"extra":1}"#).is_err());
    }

    #[test]
    fn file_stems_name_digits_by_their_digit_and_round_trip() {
        assert_eq!(Phrase::Digit(7).file_stem(None), "7");
        assert_eq!(Phrase::Intro.file_stem(Some("Acme & Co.")), "intro-acme-co");
        assert_eq!(Phrase::Intro.file_stem(Some("Ünï")), "intro-n");
        assert_eq!(Phrase::Intro.file_stem(Some("ÄÖ")), "intro-app");
        for p in Phrase::ALL {
            assert_eq!(Phrase::from_file_stem(&p.file_stem(None)), Some(p));
        }
        assert_eq!(Phrase::from_file_stem("intro-acme"), Some(Phrase::Intro));
        assert_eq!(Phrase::from_file_stem("../x"), None);
    }

    #[test]
    fn the_locale_is_the_apps_else_the_regions_else_the_fallback() {
        let mut langs = Languages {
            fallback: find("en-US").unwrap(),
            by_region: vec![("IN".into(), find("en-IN").unwrap())],
            prompts_url: None,
        };
        assert_eq!(langs.choose(None, Some("IN")).unwrap().tag, "en-IN");
        assert_eq!(langs.choose(None, Some("GB")).unwrap().tag, "en-US");
        assert_eq!(langs.choose(Some("DE-de"), Some("IN")).unwrap().tag, "de-DE");
        // Prompt packs are spoken only where they are hosted.
        let refused = langs.choose(Some("hi-IN"), Some("IN")).unwrap_err();
        assert!(!refused.contains(&"hi-IN") && refused.contains(&"en-IN"));
        assert_eq!(langs.of_attempt(Some("hi-IN")).tag, "en-US");
        langs.prompts_url = Some("https://p.example/prompts".into());
        assert_eq!(langs.choose(Some("hi-IN"), None).unwrap().tag, "hi-IN");
        assert!(langs.supported().contains(&"ta-IN"));
        assert!(langs.choose(Some("xx-YY"), None).is_err() && langs.choose(Some(""), None).is_err());
        assert_eq!(langs.of_attempt(None).tag, "en-US");
        assert_eq!(
            langs.voicing(find("hi-IN").unwrap()),
            Voicing::Prompts {
                base_url: "https://p.example/prompts"
            }
        );
        assert_eq!(
            langs.voicing(find("en-IN").unwrap()),
            Voicing::Tts { language: "en-GB" }
        );
    }
}
