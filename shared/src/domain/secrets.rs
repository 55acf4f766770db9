//! Everything keyed by the server secret (`OTP_SECRET`).
//!
//! Four independent keys are derived with HKDF-SHA256:
//! - the **code MAC** key: the table stores `HMAC(code)`, never a verifiable plaintext code;
//! - the **code sealing** key: the copy of the code the call must read is AES-256-GCM encrypted
//!   and erased when the call ends or the code is consumed;
//! - the **signal** key: the fraud guard counts an end user's IP, device and user id under
//!   `HMAC(signal)`, never in clear;
//! - the **token** key: a webhook token is `AES-256-GCM(random 128 bits ‖ phone)`, so a webhook
//!   finds its record in one strongly consistent request, and a guessed or forged token is
//!   refused before any I/O. The table stores only `SHA-256(token)`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use rand::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::phone::Phone;

const NONCE_LEN: usize = 12;
const TOKEN_RANDOM_LEN: usize = 16;
/// Longest token we even try to decode (a real one is about 80 characters).
const MAX_TOKEN_CHARS: usize = 160;
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone)]
pub struct Keys {
    mac: [u8; 32],
    signal: [u8; 32],
    seal: Aes256Gcm,
    token: Aes256Gcm,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// Derives the keys from a secret of at least [`MIN_SECRET_BYTES`] bytes.
    pub fn derive(secret: &[u8]) -> Option<Keys> {
        if secret.len() < MIN_SECRET_BYTES {
            return None;
        }
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"otp-call/v1"), secret);
        let expand = |info: &[u8]| {
            let mut k = [0u8; 32];
            hk.expand(info, &mut k).ok().map(|_| k)
        };
        Some(Keys {
            mac: expand(b"code-mac")?,
            signal: expand(b"fraud-signal")?,
            seal: Aes256Gcm::new(&expand(b"code-seal")?.into()),
            token: Aes256Gcm::new(&expand(b"webhook-token")?.into()),
        })
    }

    /// Keys from a fresh random secret: for a local server that was given none, and for the
    /// functions that use no key.
    pub fn random(rng: &mut impl CryptoRng) -> Option<Keys> {
        let mut s = [0u8; 32];
        rng.fill_bytes(&mut s);
        Keys::derive(&s)
    }

    /// `HMAC-SHA256(kind ‖ 0 ‖ value)` of an end user's signal, its first 128 bits in base64:
    /// what the fraud guard counts an IP, a device or a user by (never the value itself).
    #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    pub fn signal_hash(&self, kind: &str, value: &str) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.signal).expect("HMAC takes any key length");
        m.update(kind.as_bytes());
        m.update(&[0]);
        m.update(value.as_bytes());
        B64.encode(&m.finalize().into_bytes()[..16])
    }

    /// The keyed hash of a send's request body, kept with its `Idempotency-Key`'s reply: a
    /// retry must repeat the body, and the body (which holds the number) cannot be recovered
    /// from the hash without the key.
    #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    pub fn body_hash(&self, body: &[u8]) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.signal).expect("HMAC takes any key length");
        m.update(b"replay-body");
        m.update(&[0]);
        m.update(body);
        B64.encode(m.finalize().into_bytes())
    }

    /// `HMAC-SHA256(phone ‖ 0 ‖ code)`, base64. What verify compares against.
    #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    pub fn code_mac(&self, phone: &Phone, code: &str) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac).expect("HMAC takes any key length");
        m.update(phone.e164().as_bytes());
        m.update(&[0]);
        m.update(code.as_bytes());
        B64.encode(m.finalize().into_bytes())
    }

    /// Encrypts the code for the call to read, bound to the phone and the attempt.
    pub fn seal_code(&self, rng: &mut impl CryptoRng, phone: &Phone, attempt_id: &str, code: &str) -> String {
        let aad = code_aad(phone, attempt_id);
        seal(&self.seal, rng, code.as_bytes(), &aad)
    }

    /// Decrypts a sealed code; `None` if it was not sealed for this phone and attempt.
    pub fn open_code(&self, phone: &Phone, attempt_id: &str, sealed: &str) -> Option<String> {
        let plain = open(&self.seal, sealed, &code_aad(phone, attempt_id))?;
        let code = String::from_utf8(plain).ok()?;
        code.bytes().all(|b| b.is_ascii_digit()).then_some(code)
    }

    /// Mints the per-call webhook token for a phone number.
    pub fn mint_token(&self, rng: &mut impl CryptoRng, phone: &Phone) -> String {
        let mut plain = vec![0u8; TOKEN_RANDOM_LEN];
        rng.fill_bytes(&mut plain);
        plain.extend_from_slice(phone.e164().as_bytes());
        seal(&self.token, rng, &plain, b"token")
    }

    /// The phone number a token was minted for, if it was minted with these keys.
    pub fn open_token(&self, token: &str) -> Option<Phone> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let plain = open(&self.token, token, b"token")?;
        let phone = std::str::from_utf8(plain.get(TOKEN_RANDOM_LEN..)?).ok()?;
        // Minted from a validated number: only its form is checked again.
        Phone::normalize(phone).ok()
    }
}

/// What the table stores instead of the token.
pub fn token_hash(token: &str) -> String {
    digest(token.as_bytes())
}

/// `SHA-256(bytes)`, base64url: how a secret or a body is kept without keeping it.
pub fn digest(bytes: &[u8]) -> String {
    B64.encode(Sha256::digest(bytes))
}

/// Constant-time equality of two strings (of any length).
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A random identifier of 128 bits, URL-safe.
pub fn random_id(rng: &mut impl CryptoRng) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    B64.encode(b)
}

fn code_aad(phone: &Phone, attempt_id: &str) -> Vec<u8> {
    [phone.e164().as_bytes(), &[0], attempt_id.as_bytes()].concat()
}

#[allow(
    clippy::expect_used,
    reason = "AES-GCM fails only on messages of gigabytes; these are bytes long"
)]
fn seal(cipher: &Aes256Gcm, rng: &mut impl CryptoRng, plain: &[u8], aad: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .expect("AES-GCM encryption of a short message cannot fail");
    B64.encode([&nonce[..], &ct].concat())
}

fn open(cipher: &Aes256Gcm, sealed: &str, aad: &[u8]) -> Option<Vec<u8>> {
    let raw = B64.decode(sealed).ok()?;
    if raw.len() < NONCE_LEN + 16 {
        return None;
    }
    let (nonce, ct) = raw.split_at(NONCE_LEN);
    cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn keys() -> Keys {
        Keys::derive(&[7u8; 32]).unwrap()
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(Keys::derive(&[1u8; 31]).is_none());
        assert!(Keys::derive(&[1u8; 32]).is_some());
    }

    #[test]
    fn token_round_trips_to_its_phone_and_is_url_safe() {
        let mut rng = StdRng::seed_from_u64(1);
        let phone = Phone::parse("+919876543210").unwrap();
        let t = keys().mint_token(&mut rng, &phone);
        assert!(
            t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{t}"
        );
        assert!(t.len() >= 22, "at least 128 bits");
        assert_eq!(keys().open_token(&t), Some(phone.clone()));
        // Two tokens for the same phone differ.
        assert_ne!(t, keys().mint_token(&mut rng, &phone));
    }

    #[test]
    fn forged_tampered_or_foreign_tokens_are_refused() {
        let mut rng = StdRng::seed_from_u64(2);
        let phone = Phone::parse("+919876543210").unwrap();
        let t = keys().mint_token(&mut rng, &phone);
        let other = Keys::derive(&[8u8; 32]).unwrap();
        assert_eq!(other.open_token(&t), None);
        let mut tampered = t.clone().into_bytes();
        tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
        assert_eq!(keys().open_token(std::str::from_utf8(&tampered).unwrap()), None);
        for junk in ["", "abc", "%%%", &"A".repeat(500)] {
            assert_eq!(keys().open_token(junk), None);
        }
    }

    #[test]
    fn sealed_code_opens_only_for_its_phone_and_attempt() {
        let mut rng = StdRng::seed_from_u64(3);
        let phone = Phone::parse("+919876543210").unwrap();
        let sealed = keys().seal_code(&mut rng, &phone, "a1", "042137");
        assert!(!sealed.contains("042137"));
        assert_eq!(keys().open_code(&phone, "a1", &sealed).as_deref(), Some("042137"));
        assert_eq!(keys().open_code(&phone, "a2", &sealed), None);
        let other = Phone::parse("+919876543211").unwrap();
        assert_eq!(keys().open_code(&other, "a1", &sealed), None);
    }

    #[test]
    fn code_mac_depends_on_phone_code_and_key() {
        let p = Phone::parse("+919876543210").unwrap();
        let q = Phone::parse("+919876543211").unwrap();
        let k = keys();
        assert_eq!(k.code_mac(&p, "123456"), k.code_mac(&p, "123456"));
        assert_ne!(k.code_mac(&p, "123456"), k.code_mac(&p, "123457"));
        assert_ne!(k.code_mac(&p, "123456"), k.code_mac(&q, "123456"));
        assert_ne!(
            k.code_mac(&p, "123456"),
            Keys::derive(&[9u8; 32]).unwrap().code_mac(&p, "123456")
        );
        assert!(ct_eq("abc", "abc") && !ct_eq("abc", "abd") && !ct_eq("abc", "ab"));
    }
}
