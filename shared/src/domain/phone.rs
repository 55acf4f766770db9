//! Phone numbers: parsing to E.164 with `phonenumber`, the destination policy, and masking for logs.

use crate::error::{Error, Result};
use phonenumber::{Mode, Type as NumberType};
use std::fmt;

/// Longest input we hand to the parser; E.164 has at most 15 digits, formatting adds a few.
const MAX_INPUT_CHARS: usize = 32;

/// A valid phone number in E.164 form (`+919876543210`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    e164: String,
    country_code: u16,
}

impl Phone {
    /// Parses a number written in international form. Spaces, dashes, dots and brackets are
    /// accepted (`+91 98765-43210`); a leading `+` is required, because without it the country
    /// is a guess.
    pub fn parse(input: &str) -> Result<Phone> {
        let input = input.trim();
        if input.is_empty() {
            return Err(Error::InvalidPhone("empty"));
        }
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(Error::InvalidPhone("too long"));
        }
        if !input.starts_with('+') {
            return Err(Error::InvalidPhone("must start with + and the country code"));
        }
        if !input[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
        {
            return Err(Error::InvalidPhone("only digits and separators are allowed"));
        }
        let parsed = phonenumber::parse(None, input).map_err(|_| Error::InvalidPhone("unparseable"))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(Error::InvalidPhone("no such number"));
        }
        Ok(Phone {
            e164: parsed.format().mode(Mode::E164).to_string(),
            country_code: parsed.code().value(),
        })
    }

    /// Like [`Phone::parse`], for numbers that arrive in URLs and telephony webhooks: a `+` that
    /// was decoded to a space, or dropped entirely (`919876543210`), is restored.
    pub fn parse_lenient(input: &str) -> Result<Phone> {
        let t = input.trim();
        if !t.is_empty() && t.len() <= MAX_INPUT_CHARS && t.bytes().all(|b| b.is_ascii_digit()) {
            return Phone::parse(&format!("+{t}"));
        }
        Phone::parse(t)
    }

    /// Checks a number against the destination policy: the country calling code must be
    /// allowed, and the number must be one that can hear a code without costing the caller
    /// extra (no premium rate, shared cost, toll free, pager or voicemail-only numbers).
    pub fn check_destination(&self, allowed_country_codes: &[u16]) -> Result<()> {
        if !allowed_country_codes.contains(&self.country_code) {
            return Err(Error::DestinationNotAllowed);
        }
        let parsed = phonenumber::parse(None, &self.e164).map_err(|_| Error::DestinationNotAllowed)?;
        match parsed.number_type(&phonenumber::metadata::DATABASE) {
            NumberType::PremiumRate
            | NumberType::SharedCost
            | NumberType::TollFree
            | NumberType::Pager
            | NumberType::Voicemail
            | NumberType::Uan
            | NumberType::Emergency
            | NumberType::ShortCode
            | NumberType::Carrier
            | NumberType::NoInternational
            | NumberType::Unknown => Err(Error::DestinationNotAllowed),
            _ => Ok(()),
        }
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The form for logs: country code and last four digits, the rest starred
    /// (`+91******3210`).
    pub fn masked(&self) -> Masked<'_> {
        Masked(self)
    }
}

impl fmt::Debug for Phone {
    // Debug output masks too, so a stray `{:?}` cannot leak a number into a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

pub struct Masked<'a>(&'a Phone);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = &self.0.e164[1..];
        let cc_len = self.0.country_code.to_string().len();
        let shown_tail = 4.min(digits.len().saturating_sub(cc_len));
        let hidden = digits.len() - cc_len - shown_tail;
        write!(f, "+{}{}{}", &digits[..cc_len], "*".repeat(hidden), &digits[digits.len() - shown_tail..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_formatted_numbers_to_e164() {
        for input in ["+919876543210", " +91 98765 43210 ", "+91-98765-43210", "+91 (98765) 43210"] {
            assert_eq!(Phone::parse(input).unwrap().e164(), "+919876543210", "{input}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_international_number() {
        for input in ["", "9876543210", "+", "+91", "+91abc", "+9198765432101234567", "++919876543210",
            "+91 98765 43210 ext 5", "+0000000", "+91\u{0660}9876543210", "+١٢٣"] {
            assert!(Phone::parse(input).is_err(), "{input:?} should be rejected");
        }
    }

    #[test]
    fn lenient_form_restores_a_lost_plus() {
        assert_eq!(Phone::parse_lenient("919876543210").unwrap().e164(), "+919876543210");
        assert_eq!(Phone::parse_lenient(" 919876543210").unwrap().e164(), "+919876543210");
        assert_eq!(Phone::parse_lenient("+919876543210").unwrap().e164(), "+919876543210");
        assert!(Phone::parse_lenient("91x").is_err());
    }

    #[test]
    fn masks_all_but_country_code_and_last_four() {
        let p = Phone::parse("+919876543210").unwrap();
        assert_eq!(p.masked().to_string(), "+91******3210");
        assert_eq!(format!("{p:?}"), "Phone(+91******3210)");
        let us = Phone::parse("+14155552671").unwrap();
        assert_eq!(us.masked().to_string(), "+1******2671");
    }

    #[test]
    fn destination_policy_allows_listed_mobiles_only() {
        let mobile = Phone::parse("+919876543210").unwrap();
        assert!(mobile.check_destination(&[91]).is_ok());
        assert!(matches!(mobile.check_destination(&[44]), Err(Error::DestinationNotAllowed)));
        let toll_free = Phone::parse("+18005550123").unwrap();
        assert!(matches!(toll_free.check_destination(&[1]), Err(Error::DestinationNotAllowed)));
        let premium = Phone::parse("+19005550123").unwrap();
        assert!(matches!(premium.check_destination(&[1]), Err(Error::DestinationNotAllowed)));
    }
}
