//! Phone numbers: full validation with `phonenumber` for the numbers we are asked to call,
//! syntactic E.164 normalisation for everything else, the destination policy, and masking.
//!
//! Validation uses `phonenumber`'s own rules and data, in a lighter form than the crate's
//! default database, which the functions never reference (so its 526 KB blob is not linked;
//! only the tests use it). That
//! database decodes all ~250 regions and checks every regex the first time any number is
//! parsed: ~110 ms of CPU in send-otp's cold path, and a 128 MB Lambda gets about a fourteenth
//! of a vCPU. Instead build.rs writes the metadata once per country calling code (109 KB in
//! all), without what validation never reads and with patterns that compile 2–3× faster
//! (whitespace dropped, `[0-9]` for Unicode `\d`), and `metadata::for_digits` decodes and
//! compiles a code's regions the first time a number with that code is parsed: +91 is India
//! alone (≈ 5 ms), +1 the 25 NANP regions (so +1 876 is still Jamaica). The rules are the
//! crate's: a unit test runs every example number of every region, and near misses of each,
//! through both and requires the same validity, region and type. verify and status never
//! validate: they look numbers up by their E.164 key ([`Phone::normalize`]), and webhooks get
//! theirs from the token we minted from a validated number.

/// Why a phone number was refused; [`crate::error::Error`] maps it to a 400 or a 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not a number in international format; says what is wrong with it.
    #[error("not a valid phone number in international format (+<country code><number>): {0}")]
    Invalid(&'static str),
    /// A valid number this deployment does not call (region, or not a mobile or fixed line).
    #[error("calls to this destination are not allowed")]
    NotAllowed,
}

type Result<T, E = PhoneError> = std::result::Result<T, E>;
use phonenumber::Type as NumberType;
use std::fmt;

/// `phonenumber` databases, one per country calling code, built on first use from the
/// metadata build.rs writes.
mod metadata {
    use phonenumber::metadata::{Database, loader};
    use std::sync::OnceLock;

    include!(concat!(env!("OUT_DIR"), "/phone_metadata.rs"));

    static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/phone_metadata.bin"));

    static LOADED: [OnceLock<Option<Database>>; GROUPS.len()] = [const { OnceLock::new() }; GROUPS.len()];

    /// The database of the calling code `digits` (E.164 digits, no `+`) start with, found as
    /// `phonenumber` finds it: the shortest prefix, of one to three digits, that is a code.
    pub fn for_digits(digits: &str) -> Option<&'static Database> {
        let i = (1..=3).find_map(|n| {
            let code = digits.get(..n)?.parse::<u16>().ok()?;
            GROUPS.binary_search_by_key(&code, |g| g.0).ok()
        })?;
        load(i)
    }

    fn load(i: usize) -> Option<&'static Database> {
        LOADED[i]
            .get_or_init(|| {
                let (_, start, end, _) = GROUPS[i];
                let regions: Vec<loader::Metadata> = postcard::from_bytes(BLOB.get(start..end)?).ok()?;
                Database::from(regions).ok()
            })
            .as_ref()
    }

    #[cfg(test)]
    pub fn groups() -> impl Iterator<Item = (u16, &'static [&'static str], Option<&'static Database>)> {
        GROUPS.iter().enumerate().map(|(i, g)| (g.0, g.3, load(i)))
    }
}

/// Longest input we hand to the parser; E.164 has at most 15 digits, formatting adds a few.
const MAX_INPUT_CHARS: usize = 32;

/// ITU-T E.164 country calling codes of two digits (the one-digit ones are 1 and 7; every
/// other code has three digits).
const TWO_DIGIT_CODES: [u16; 44] = [
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62,
    63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

/// The country calling code at the start of E.164 digits.
fn calling_code(digits: &str) -> u16 {
    let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
    match prefix(1) {
        1 | 7 => prefix(1),
        _ if TWO_DIGIT_CODES.contains(&prefix(2)) => prefix(2),
        _ => prefix(3),
    }
}

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
            return Err(PhoneError::Invalid("empty"));
        }
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(PhoneError::Invalid("too long"));
        }
        if !input.starts_with('+') {
            return Err(PhoneError::Invalid("must start with + and the country code"));
        }
        if !input[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
        {
            return Err(PhoneError::Invalid("only digits and separators are allowed"));
        }
        let digits: String = input[1..].chars().filter(char::is_ascii_digit).collect();
        let db = metadata::for_digits(&digits).ok_or(PhoneError::Invalid("unparseable"))?;
        let parsed = phonenumber::parse_with(db, None, input).map_err(|_| PhoneError::Invalid("unparseable"))?;
        if !parsed.is_valid_with(db) {
            return Err(PhoneError::Invalid("no such number"));
        }
        // E.164 as `phonenumber`'s formatter writes it (its formatter would need a database).
        let phone = Phone {
            e164: format!("+{}{}", parsed.code().value(), parsed.national()),
            country_code: parsed.code().value(),
        };
        // The digits as written must be the E.164 digits (no national prefix such as
        // "+91 0…"): then verify and status, which only normalise, find the same number.
        if Phone::normalize(input).ok().as_ref() != Some(&phone) {
            return Err(PhoneError::Invalid(
                "write the number in international form, without a national prefix",
            ));
        }
        Ok(phone)
    }

    /// The E.164 form of a number written in international form, without checking that the
    /// number exists: for looking up numbers we stored (verify, status), numbers in tokens we
    /// minted, and configuration. Separators are dropped; 7 to 15 digits after the `+`.
    pub fn normalize(input: &str) -> Result<Phone> {
        let input = input.trim();
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(PhoneError::Invalid("too long"));
        }
        let Some(rest) = input.strip_prefix('+') else {
            return Err(PhoneError::Invalid("must start with + and the country code"));
        };
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneError::Invalid("only digits and separators are allowed")),
            }
        }
        if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(PhoneError::Invalid("not an E.164 number"));
        }
        Ok(Phone {
            country_code: calling_code(&digits),
            e164: format!("+{digits}"),
        })
    }

    /// Like [`Phone::normalize`], for numbers that arrive in URLs and telephony webhooks: a `+`
    /// that was decoded to a space, or dropped entirely (`919876543210`), is restored.
    pub fn normalize_lenient(input: &str) -> Result<Phone> {
        let t = input.trim();
        if !t.is_empty() && t.len() <= MAX_INPUT_CHARS && t.bytes().all(|b| b.is_ascii_digit()) {
            return Phone::normalize(&format!("+{t}"));
        }
        Phone::normalize(t)
    }

    /// Checks a number against the destination policy: the number's region (ISO 3166, from its
    /// digits, not its calling code) must be allowed, and the number must be one that can hear a code without costing the caller
    /// extra (no premium rate, shared cost, toll free, pager or voicemail-only numbers). Gives
    /// the number's region.
    pub fn check_destination(&self, allowed_regions: &[String]) -> Result<String> {
        let db = metadata::for_digits(&self.e164[1..]).ok_or(PhoneError::NotAllowed)?;
        let parsed = phonenumber::parse_with(db, None, &self.e164).map_err(|_| PhoneError::NotAllowed)?;
        // The number's own region, from its digits: +1 876 is Jamaica, +44 1624 the Isle of Man.
        let region = parsed
            .metadata(db)
            .and_then(|m| m.id().parse::<phonenumber::country::Id>().ok())
            .ok_or(PhoneError::NotAllowed)?;
        if !allowed_regions.iter().any(|r| r == region.as_ref()) {
            return Err(PhoneError::NotAllowed);
        }
        match parsed.number_type(db) {
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
            | NumberType::Unknown => Err(PhoneError::NotAllowed),
            _ => Ok(region.as_ref().to_owned()),
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

/// Checks the per-calling-code metadata against `phonenumber`'s own database: every example
/// number of every region and type, and three near misses of each (a digit changed, one added,
/// one dropped), must get the same validity, region, type and E.164 from both. Gives how many
/// numbers were checked and how many were valid.
#[cfg(test)]
fn check_light_metadata() -> std::result::Result<(usize, usize), String> {
    use phonenumber::metadata::DATABASE;
    let mut numbers = Vec::new();
    for m in DATABASE.iter() {
        let d = m.descriptors();
        for desc in [
            Some(d.general()),
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.no_international(),
        ]
        .into_iter()
        .flatten()
        {
            let Some(example) = desc.example() else { continue };
            let n = format!("+{}{example}", m.country_code());
            let last = n.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(0);
            numbers.push(format!("{}{}", &n[..n.len() - 1], (last + 5) % 10));
            numbers.push(format!("{n}7"));
            numbers.push(n[..n.len() - 1].to_owned());
            numbers.push(n);
        }
    }
    let mut valid = 0;
    for n in &numbers {
        let expected = full(n);
        valid += expected.as_ref().is_some_and(|e| e.0) as usize;
        let got = light(n);
        if got != expected {
            return Err(format!(
                "{n}: phonenumber says {expected:?}, the light metadata {got:?}"
            ));
        }
    }
    Ok((numbers.len(), valid))
}

#[cfg(test)]
type Judged = Option<(bool, Option<String>, NumberType, String)>;

/// What `phonenumber`'s default database says of a number: parsed, valid, region and type.
#[cfg(test)]
fn full(number: &str) -> Judged {
    let p = phonenumber::parse(None, number).ok()?;
    let region = p.country().id().map(|id| id.as_ref().to_owned());
    Some((
        p.is_valid(),
        region,
        p.number_type(&phonenumber::metadata::DATABASE),
        format!("+{}{}", p.code().value(), p.national()),
    ))
}

/// The same, from the per-calling-code database validation uses.
#[cfg(test)]
fn light(number: &str) -> Judged {
    let db = metadata::for_digits(number.strip_prefix('+')?)?;
    let p = phonenumber::parse_with(db, None, number).ok()?;
    let region = p
        .metadata(db)
        .and_then(|m| m.id().parse::<phonenumber::country::Id>().ok());
    Some((
        p.is_valid_with(db),
        region.map(|id| id.as_ref().to_owned()),
        p.number_type(db),
        format!("+{}{}", p.code().value(), p.national()),
    ))
}

/// `code` is an ISO 3166 region the phone-number metadata knows.
pub fn is_region(code: &str) -> bool {
    code.parse::<phonenumber::country::Id>().is_ok()
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
        write!(
            f,
            "+{}{}{}",
            &digits[..cc_len],
            "*".repeat(hidden),
            &digits[digits.len() - shown_tail..]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_formatted_numbers_to_e164() {
        for input in [
            "+919876543210",
            " +91 98765 43210 ",
            "+91-98765-43210",
            "+91 (98765) 43210",
        ] {
            assert_eq!(Phone::parse(input).unwrap().e164(), "+919876543210", "{input}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_international_number() {
        for input in [
            "",
            "9876543210",
            "+",
            "+91",
            "+91abc",
            "+9198765432101234567",
            "++919876543210",
            "+91 098765 43210",
            "+91 98765 43210 ext 5",
            "+0000000",
            "+91\u{0660}9876543210",
            "+١٢٣",
        ] {
            assert!(Phone::parse(input).is_err(), "{input:?} should be rejected");
        }
    }

    #[test]
    fn lenient_form_restores_a_lost_plus() {
        assert_eq!(
            Phone::normalize_lenient("919876543210").unwrap().e164(),
            "+919876543210"
        );
        assert_eq!(
            Phone::normalize_lenient(" 919876543210").unwrap().e164(),
            "+919876543210"
        );
        assert_eq!(
            Phone::normalize_lenient("+919876543210").unwrap().e164(),
            "+919876543210"
        );
        assert!(Phone::normalize_lenient("91x").is_err());
    }

    #[test]
    fn normalisation_agrees_with_full_validation() {
        for input in [
            "+919876543210",
            " +91 98765 43210 ",
            "+91-98765-43210",
            "+14155552671",
            "+447911123456",
            "+33612345678",
            "+8613812345678",
            "+971501234567",
            "+2348031234567",
            "+79161234567",
            "+35312345678",
        ] {
            let full = Phone::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let quick = Phone::normalize(input).unwrap();
            assert_eq!(
                (quick.e164(), quick.country_code()),
                (full.e164(), full.country_code()),
                "{input}"
            );
        }
        for bad in [
            "",
            "+",
            "+91",
            "9876543210",
            "+0123456789",
            "+91abc5432100",
            "+1234567890123456",
            "+९१९८७६५४३२१०",
        ] {
            assert!(Phone::normalize(bad).is_err(), "{bad:?}");
        }
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
    fn every_calling_code_loads_with_its_regions() {
        let mut n = 0;
        for (code, regions, db) in metadata::groups() {
            let db = db.unwrap_or_else(|| panic!("+{code} does not load"));
            let ids: Vec<&str> = db.region(&code).unwrap_or_default();
            assert_eq!(ids, regions, "+{code}");
            n += regions.len();
        }
        assert!(n > 240, "{n} regions");
        let nanp: Vec<&str> = metadata::for_digits("1").unwrap().region(&1).unwrap();
        assert_eq!(nanp.len(), 25);
        assert_eq!(nanp[0], "US", "the main region of +1 comes first");
        assert!(metadata::for_digits("28").is_none() && metadata::for_digits("").is_none());
    }

    #[test]
    fn the_light_metadata_judges_numbers_as_the_full_database_does() {
        let (numbers, valid) = check_light_metadata().unwrap();
        assert!(numbers > 3000, "{numbers}");
        assert!(valid > 1500, "{valid} valid");
    }

    fn regions(list: &[&str]) -> Vec<String> {
        list.iter().map(|r| (*r).to_owned()).collect()
    }

    #[test]
    fn destination_policy_allows_listed_mobiles_only() {
        let mobile = Phone::parse("+919876543210").unwrap();
        assert!(mobile.check_destination(&regions(&["IN"])).is_ok());
        assert!(matches!(
            mobile.check_destination(&regions(&["GB"])),
            Err(PhoneError::NotAllowed)
        ));
        let toll_free = Phone::parse("+18005550123").unwrap();
        assert!(matches!(
            toll_free.check_destination(&regions(&["US"])),
            Err(PhoneError::NotAllowed)
        ));
        let premium = Phone::parse("+19005550123").unwrap();
        assert!(matches!(
            premium.check_destination(&regions(&["US"])),
            Err(PhoneError::NotAllowed)
        ));
    }

    #[test]
    fn regions_are_the_numbers_own_not_their_calling_codes() {
        let us = regions(&["US"]);
        let gb = regions(&["GB"]);
        assert!(
            Phone::parse("+12015550123").unwrap().check_destination(&us).is_ok(),
            "New Jersey"
        );
        // NANP numbers of the Caribbean share +1 but are their own regions.
        for (number, region) in [("+18762101234", "JM"), ("+12462501234", "BB"), ("+18092345678", "DO")] {
            let p = Phone::parse(number).unwrap();
            assert!(p.check_destination(&us).is_err(), "{number} is not US");
            assert!(p.check_destination(&regions(&[region])).is_ok(), "{number} is {region}");
        }
        // +44 numbers of the Crown dependencies are not GB.
        assert!(Phone::parse("+447400123456").unwrap().check_destination(&gb).is_ok());
        for (number, region) in [
            ("+447624123456", "IM"),
            ("+447781123456", "GG"),
            ("+447797712345", "JE"),
        ] {
            let p = Phone::parse(number).unwrap();
            assert!(p.check_destination(&gb).is_err(), "{number} is not GB");
            assert!(p.check_destination(&regions(&[region])).is_ok(), "{number} is {region}");
        }
        assert!(is_region("IN") && is_region("JM") && !is_region("XX") && !is_region("in"));
    }
}
