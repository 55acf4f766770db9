//! Mints a webhook token for the `events/*.json` fixtures, which carry one minted for
//! +919876543210 under the fixtures' secret (`FIXTURE_SECRET` in `shared/tests/events.rs`):
//!
//! ```text
//! cargo run -p shared --example fixture-token -- <secret> [+919876543210]
//! ```

use shared::domain::{Keys, Phone};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(secret) = args.next() else {
        eprintln!("usage: fixture-token <secret> [phone]");
        std::process::exit(2);
    };
    let phone = args.next().unwrap_or_else(|| "+919876543210".to_owned());
    let (Some(keys), Ok(phone)) = (Keys::derive(secret.as_bytes()), Phone::parse(&phone)) else {
        eprintln!("fixture-token: the secret is too short, or the phone is not a valid E.164 number");
        std::process::exit(2);
    };
    println!("{}", keys.mint_token(&mut rand::rng(), &phone));
}
