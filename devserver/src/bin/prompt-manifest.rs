//! `cargo run -p devserver --bin prompt-manifest`: what `scripts/prompt-packs.sh` records, one
//! line per file, tab-separated: locale, espeak-ng voice, file name (without `.wav`), words.
//! The names come from the very code that plays them ([`Phrase::file_stem`]), the intro with
//! `APP_NAME` in it too when it is set.

use std::io::Write;
use std::process::ExitCode;

use shared::domain::locale::{Phrase, catalogue};

fn main() -> ExitCode {
    let app_name = match shared::Config::from_env() {
        Ok(cfg) => cfg.policy.app_name,
        Err(e) => {
            eprintln!("prompt-manifest: {e}");
            return ExitCode::from(2);
        }
    };
    let locales = match catalogue() {
        Ok(all) => all,
        Err(e) => {
            eprintln!("prompt-manifest: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    for locale in locales.iter().filter(|l| l.is_prompt_pack()) {
        let voice = locale.espeak_voice.as_deref().unwrap_or_default();
        let mut phrases: Vec<(Phrase, Option<&str>)> = Phrase::ALL.iter().map(|p| (*p, None)).collect();
        if let Some(app) = app_name.as_deref() {
            phrases.push((Phrase::Intro, Some(app)));
        }
        for (phrase, app) in phrases {
            let line = format!(
                "{}\t{voice}\t{}\t{}",
                locale.tag,
                phrase.file_stem(app),
                locale.text(phrase, app)
            );
            // A reader that went away (`| head`) is not an error worth a panic.
            if writeln!(out, "{line}").is_err() {
                return ExitCode::SUCCESS;
            }
        }
    }
    ExitCode::SUCCESS
}
