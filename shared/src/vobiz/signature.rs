//! Vobiz webhook signatures (docs/vobiz.md §4): `X-Vobiz-Signature-V3` is
//! `base64(HMAC-SHA256(auth_token, url + "." + nonce))` by the docs, or Plivo's V3 (the form
//! fields too) by Vobiz's own SDKs; `-V2` is the same over `url + nonce`, where `url` is the
//! callback URL without its query. The body may be unsigned, which is why the per-call secret
//! lives in the (signed) path and nonces are single-use.

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
    /// A signature verified. Every well-formed nonce the request presented (V3's and V2's) is
    /// here, so that none of them can be used again, with or without the other.
    Valid {
        nonces: Vec<String>,
    },
    Absent,
    Invalid,
}

const MAX_NONCE_LEN: usize = 64;

fn one(key: &[u8], message: &[&str], header: &str) -> bool {
    // A header may carry several signatures separated by commas; one valid one suffices.
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

/// What Plivo's V3 (and the Vobiz SDKs that copy it) sign before `"." + nonce`: the URL without
/// query, then, when the form has fields, `"?"` and every field as name and value concatenated
/// in the order of their names. With an empty form it is the URL alone, as in the docs' form.
pub fn v3_sdk_base(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(b.1)));
    let mut base = url.to_owned();
    if !sorted.is_empty() {
        base.push('?');
        for (k, v) in sorted {
            base.push_str(k);
            base.push_str(v);
        }
    }
    base
}

/// Checks the signatures of a request to `url` (its form fields in `params`) with the
/// account's auth token. V3 verifies in the documented form (`url + "." + nonce`) or in the
/// SDKs' form ([`v3_sdk_base`] `+ "." + nonce`); V2 over `url + nonce`. The request is valid
/// when either verifies.
pub fn verify(auth_token: Option<&str>, url: &str, params: &[(&str, &str)], s: &Signatures<'_>) -> Verdict {
    if s.v3.is_none() && s.v2.is_none() {
        return Verdict::Absent;
    }
    let Some(key) = auth_token.map(str::as_bytes) else {
        return Verdict::Invalid;
    };
    let v3_nonce = s.v3_nonce.filter(|n| nonce_ok(n));
    let v2_nonce = s.v2_nonce.filter(|n| nonce_ok(n));
    let v3_ok = match (s.v3, v3_nonce) {
        (Some(sig), Some(n)) => one(key, &[url, ".", n], sig) || one(key, &[&v3_sdk_base(url, params), ".", n], sig),
        _ => false,
    };
    let v2_ok = match (s.v2, v2_nonce) {
        (Some(sig), Some(n)) => one(key, &[url, n], sig),
        _ => false,
    };
    if !(v3_ok || v2_ok) {
        return Verdict::Invalid;
    }
    let mut nonces: Vec<String> = [v3_nonce, v2_nonce].into_iter().flatten().map(str::to_owned).collect();
    nonces.dedup();
    Verdict::Valid { nonces }
}

/// Signs like the Vobiz docs say (V3), for tests and the call simulator.
#[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
pub fn sign_v3(auth_token: &str, url: &str, nonce: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{url}.{nonce}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Signs like the Vobiz SDKs (Plivo's V3): [`v3_sdk_base`] `+ "." + nonce`.
pub fn sign_v3_sdk(auth_token: &str, url: &str, params: &[(&str, &str)], nonce: &str) -> String {
    sign_v3(auth_token, &v3_sdk_base(url, params), nonce)
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
                &[],
                &Signatures {
                    v3: Some(&v3),
                    v3_nonce: Some("n1"),
                    ..Default::default()
                }
            ),
            Verdict::Valid {
                nonces: vec!["n1".into()]
            }
        );
        let v2 = sign_v2("secret", URL, "n2");
        assert_eq!(
            verify(
                Some("secret"),
                URL,
                &[],
                &Signatures {
                    v2: Some(&v2),
                    v2_nonce: Some("n2"),
                    ..Default::default()
                }
            ),
            Verdict::Valid {
                nonces: vec!["n2".into()]
            }
        );
        let both = Signatures {
            v3: Some(&v3),
            v3_nonce: Some("n1"),
            v2: Some(&v2),
            v2_nonce: Some("n2"),
        };
        assert_eq!(
            verify(Some("secret"), URL, &[], &both),
            Verdict::Valid {
                nonces: vec!["n1".into(), "n2".into()]
            },
            "every nonce presented is recorded"
        );
        let listed = format!("bm90LWl0, {v3}");
        assert!(matches!(
            verify(
                Some("secret"),
                URL,
                &[],
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
                &[],
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
                &[],
                &Signatures {
                    v3: Some(&v2),
                    v3_nonce: Some("n1"),
                    ..Default::default()
                }
            ),
            Verdict::Invalid,
            "a V2 value in the V3 header"
        );
        // One good and one bad signature: accepted (either may verify), both nonces recorded.
        assert_eq!(
            verify(
                Some("secret"),
                URL,
                &[],
                &Signatures {
                    v3: Some(&v3),
                    v3_nonce: Some("n1"),
                    v2: Some("AAAA"),
                    v2_nonce: Some("n9")
                }
            ),
            Verdict::Valid {
                nonces: vec!["n1".into(), "n9".into()]
            }
        );
        assert_eq!(
            verify(Some("secret"), URL, &[], &Signatures::default()),
            Verdict::Absent
        );
    }

    #[test]
    fn the_sdks_v3_signs_the_sorted_form_fields() {
        let form = [("To", "919876543210"), ("CallUUID", "c-1"), ("Event", "StartApp")];
        assert_eq!(
            v3_sdk_base(URL, &form),
            format!("{URL}?CallUUIDc-1EventStartAppTo919876543210")
        );
        assert_eq!(v3_sdk_base(URL, &[]), URL, "no fields: the documented form");
        let sdk = sign_v3_sdk("secret", URL, &form, "n1");
        fn sigs(v3: &str) -> Signatures<'_> {
            Signatures {
                v3: Some(v3),
                v3_nonce: Some("n1"),
                ..Default::default()
            }
        }
        assert_eq!(
            verify(Some("secret"), URL, &form, &sigs(&sdk)),
            Verdict::Valid {
                nonces: vec!["n1".into()]
            }
        );
        let altered = [("To", "919876543211"), ("CallUUID", "c-1"), ("Event", "StartApp")];
        assert_eq!(
            verify(Some("secret"), URL, &altered, &sigs(&sdk)),
            Verdict::Invalid,
            "a field changed"
        );
        // Several signatures in one header: one valid one is enough.
        let both = format!("{},{sdk}", sign_v3("other", URL, "n1"));
        assert!(matches!(
            verify(Some("secret"), URL, &form, &sigs(&both)),
            Verdict::Valid { .. }
        ));
    }
}
