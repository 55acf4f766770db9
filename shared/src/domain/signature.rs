//! Vobiz webhook signatures (`vobiz-api` §4): `X-Vobiz-Signature-V3` is
//! `base64(HMAC-SHA256(auth_token, url + "." + nonce))`, `-V2` is the same over `url + nonce`,
//! where `url` is the callback URL without its query. The body is not signed, which is why the
//! per-call secret lives in the (signed) path and nonces are single-use.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureMode {
    /// Every webhook must carry a valid signature.
    Required,
    /// Checked when present; a wrong one is refused.
    Optional,
    /// Not checked.
    Off,
}

impl SignatureMode {
    pub fn parse(s: &str) -> Option<SignatureMode> {
        match s {
            "required" => Some(SignatureMode::Required),
            "optional" => Some(SignatureMode::Optional),
            "off" => Some(SignatureMode::Off),
            _ => None,
        }
    }
}

/// The signature headers of one request, as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signatures<'a> {
    pub v3: Option<&'a str>,
    pub v3_nonce: Option<&'a str>,
    pub v2: Option<&'a str>,
    pub v2_nonce: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every signature present is valid; the nonce must not be used again.
    Valid {
        nonce: String,
    },
    Absent,
    Invalid,
}

const MAX_NONCE_LEN: usize = 64;

fn one(key: &[u8], message: &[&str], header: &str) -> bool {
    // A V3 header may carry several signatures separated by commas; one valid one suffices.
    header.split(',').any(|candidate| {
        let Ok(sig) = STANDARD.decode(candidate.trim()) else {
            return false;
        };
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
            return false;
        };
        for part in message {
            mac.update(part.as_bytes());
        }
        mac.verify_slice(&sig).is_ok() // constant time
    })
}

fn nonce_ok(n: &str) -> bool {
    !n.is_empty() && n.len() <= MAX_NONCE_LEN && n.bytes().all(|b| b.is_ascii_graphic())
}

/// Checks the signatures of a request to `url` with the account's auth token.
pub fn verify(auth_token: Option<&str>, url: &str, s: &Signatures<'_>) -> Verdict {
    if s.v3.is_none() && s.v2.is_none() {
        return Verdict::Absent;
    }
    let Some(key) = auth_token.map(str::as_bytes) else {
        return Verdict::Invalid;
    };
    let mut nonce = None;
    if let Some(sig) = s.v3 {
        match s.v3_nonce.filter(|n| nonce_ok(n)) {
            Some(n) if one(key, &[url, ".", n], sig) => nonce = Some(n),
            _ => return Verdict::Invalid,
        }
    }
    if let Some(sig) = s.v2 {
        match s.v2_nonce.filter(|n| nonce_ok(n)) {
            Some(n) if one(key, &[url, n], sig) => nonce = nonce.or(Some(n)),
            _ => return Verdict::Invalid,
        }
    }
    nonce.map_or(Verdict::Invalid, |n| Verdict::Valid { nonce: n.to_owned() })
}

/// Signs like Vobiz does (V3), for tests and the call simulator.
#[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
pub fn sign_v3(auth_token: &str, url: &str, nonce: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{url}.{nonce}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Signs like Vobiz does (V2).
#[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
pub fn sign_v2(auth_token: &str, url: &str, nonce: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{url}{nonce}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://x.execute-api.ap-south-1.amazonaws.com/prod/answer/tok";

    #[test]
    fn valid_v3_and_v2_signatures_pass() {
        let v3 = sign_v3("secret", URL, "n1");
        assert_eq!(
            verify(
                Some("secret"),
                URL,
                &Signatures {
                    v3: Some(&v3),
                    v3_nonce: Some("n1"),
                    ..Default::default()
                }
            ),
            Verdict::Valid { nonce: "n1".into() }
        );
        let v2 = sign_v2("secret", URL, "n2");
        assert_eq!(
            verify(
                Some("secret"),
                URL,
                &Signatures {
                    v2: Some(&v2),
                    v2_nonce: Some("n2"),
                    ..Default::default()
                }
            ),
            Verdict::Valid { nonce: "n2".into() }
        );
        let both = Signatures {
            v3: Some(&v3),
            v3_nonce: Some("n1"),
            v2: Some(&v2),
            v2_nonce: Some("n2"),
        };
        assert_eq!(
            verify(Some("secret"), URL, &both),
            Verdict::Valid { nonce: "n1".into() }
        );
        let listed = format!("bm90LWl0, {v3}");
        assert!(matches!(
            verify(
                Some("secret"),
                URL,
                &Signatures {
                    v3: Some(&listed),
                    v3_nonce: Some("n1"),
                    ..Default::default()
                }
            ),
            Verdict::Valid { .. }
        ));
    }

    #[test]
    fn forged_or_misplaced_signatures_fail() {
        let v3 = sign_v3("secret", URL, "n1");
        let check = |token: Option<&str>, url: &str, sig: &str, nonce: Option<&str>| {
            verify(
                token,
                url,
                &Signatures {
                    v3: Some(sig),
                    v3_nonce: nonce,
                    ..Default::default()
                },
            )
        };
        assert_eq!(
            check(Some("other"), URL, &v3, Some("n1")),
            Verdict::Invalid,
            "wrong key"
        );
        assert_eq!(
            check(Some("secret"), &format!("{URL}x"), &v3, Some("n1")),
            Verdict::Invalid,
            "another URL"
        );
        assert_eq!(
            check(Some("secret"), URL, &v3, Some("n2")),
            Verdict::Invalid,
            "another nonce"
        );
        assert_eq!(check(Some("secret"), URL, &v3, None), Verdict::Invalid, "no nonce");
        assert_eq!(
            check(Some("secret"), URL, "%%%", Some("n1")),
            Verdict::Invalid,
            "not base64"
        );
        assert_eq!(
            check(None, URL, &v3, Some("n1")),
            Verdict::Invalid,
            "nothing to check with"
        );
        let v2 = sign_v2("secret", URL, "n1");
        assert_eq!(
            verify(
                Some("secret"),
                URL,
                &Signatures {
                    v3: Some(&v2),
                    v3_nonce: Some("n1"),
                    ..Default::default()
                }
            ),
            Verdict::Invalid,
            "a V2 value in the V3 header"
        );
        // One good and one bad signature: refused.
        assert_eq!(
            verify(
                Some("secret"),
                URL,
                &Signatures {
                    v3: Some(&v3),
                    v3_nonce: Some("n1"),
                    v2: Some("AAAA"),
                    v2_nonce: Some("n1")
                }
            ),
            Verdict::Invalid
        );
        assert_eq!(verify(Some("secret"), URL, &Signatures::default()), Verdict::Absent);
    }
}
