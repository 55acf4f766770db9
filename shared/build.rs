//! Writes the phone-number metadata send-otp validates with, in a lighter form than the one
//! `phonenumber` embeds (src/domain/phone.rs says why).
//!
//! The source is `phonenumber`'s own database, loaded here at build time from the very crate
//! version the library links (a build dependency, resolved by the same lock file), so the data
//! cannot drift from the validator. Each country calling code gets its own postcard blob of
//! `loader::Metadata` (all the regions that share the code, in the database's order: the main
//! region first), stripped of what validation never reads and with patterns that compile faster
//! (see `light` and `pattern`). At run time a code's blob is decoded and compiled the first
//! time a number with that code is parsed, so a send to +91 never pays for the other 244 regions.
//!
//! Output in `OUT_DIR`: `phone_metadata.bin` (the blobs, one after another) and
//! `phone_metadata.rs` (`GROUPS`: each code, its blob's byte range and its regions).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata, loader};

/// A pattern as the regex engine compiles it fastest, with the same meaning. `phonenumber`
/// compiles every pattern with `ignore_whitespace`, so the line breaks and indentation of the
/// XML are dropped; `\d` becomes `[0-9]`, because Unicode `\d` (some 60 ranges of digits) makes
/// each pattern's automaton several times larger and costs 2–3× the compile time, while the
/// numbers matched are ASCII digits only (`phonenumber` normalises digits before matching, and
/// `Phone::parse` takes ASCII input only). The data uses no other escape and no character
/// that whitespace mode treats specially: the build fails if that ever changes.
fn pattern(p: &str) -> String {
    let p: String = p.chars().filter(|c| !c.is_whitespace()).collect();
    let p = p.replace("\\d", "[0-9]");
    assert!(
        p.chars().all(|c| c.is_ascii_digit() || "()[]{}|?:,-$".contains(c)),
        "phone metadata pattern with an unexpected character: {p}"
    );
    p
}

fn descriptor(d: &Descriptor) -> loader::Descriptor {
    loader::Descriptor {
        national_number: Some(pattern(d.national_number().as_str())),
        possible_length: d.possible_length().to_vec(),
        possible_local_length: d.possible_local_length().to_vec(),
        // Only formatting and documentation read examples.
        example: None,
    }
}

/// What validation reads of a region: parsing a number written with `+` and its code
/// (`parse_with(db, None, ..)`), `is_valid_with`, `number_type` and `metadata`. Left out:
/// formats and international formats (for writing numbers out; the service writes E.164 only,
/// from the parsed digits), example numbers, the international dialling prefix (read only when
/// a default region is given for numbers written without `+`), and the descriptors
/// `number_type` never consults (emergency, short code, standard rate, carrier,
/// no-international dialling: those come from the short-number data, and `phonenumber` never
/// gives those types for a full number).
fn light(m: &Metadata) -> loader::Metadata {
    let d = m.descriptors();
    let opt = |d: Option<&Descriptor>| d.map(descriptor);
    loader::Metadata {
        general: Some(descriptor(d.general())),
        fixed_line: opt(d.fixed_line()),
        mobile: opt(d.mobile()),
        toll_free: opt(d.toll_free()),
        premium_rate: opt(d.premium_rate()),
        shared_cost: opt(d.shared_cost()),
        personal_number: opt(d.personal_number()),
        voip: opt(d.voip()),
        pager: opt(d.pager()),
        uan: opt(d.uan()),
        emergency: None,
        voicemail: opt(d.voicemail()),
        short_code: None,
        standard_rate: None,
        carrier: None,
        no_international: None,
        id: Some(m.id().to_owned()),
        country_code: Some(m.country_code()),
        international_prefix: None,
        preferred_international_prefix: m.preferred_international_prefix().map(str::to_owned),
        national_prefix: m.national_prefix().map(str::to_owned),
        preferred_extension_prefix: m.preferred_extension_prefix().map(str::to_owned),
        national_prefix_for_parsing: m.national_prefix_for_parsing().map(|r| pattern(r.as_str())),
        national_prefix_transform_rule: m.national_prefix_transform_rule().map(str::to_owned),
        formats: Vec::new(),
        international_formats: Vec::new(),
        main_country_for_code: m.is_main_country_for_code(),
        leading_digits: m.leading_digits().map(|r| pattern(r.as_str())),
        mobile_number_portable: m.is_mobile_number_portable(),
        defaults: Default::default(),
    }
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let mut codes: Vec<u16> = DATABASE.iter().map(Metadata::country_code).collect();
    codes.sort_unstable();
    codes.dedup();

    let mut blob = Vec::new();
    let mut index = String::new();
    writeln!(
        index,
        "/// Each country calling code: its blob's byte range in `phone_metadata.bin` and its \
         regions (main region first; `001` for non-geographic numbers).\n\
         const GROUPS: [(u16, usize, usize, &[&str]); {}] = [",
        codes.len()
    )
    .unwrap();
    for code in codes {
        // `by_code` keeps the database's order (main region first, then the metadata's), which
        // decides the region of a number more than one region's patterns match.
        let group = DATABASE.by_code(&code).expect("a code the database lists");
        let light: Vec<loader::Metadata> = group.iter().map(|m| light(m)).collect();
        let bytes = postcard::to_stdvec(&light).expect("postcard encoding");
        let start = blob.len();
        blob.extend_from_slice(&bytes);
        let regions: Vec<String> = group.iter().map(|m| format!("{:?}", m.id())).collect();
        writeln!(
            index,
            "    ({code}, {start}, {}, &[{}]),",
            blob.len(),
            regions.join(", ")
        )
        .unwrap();
    }
    index.push_str("];\n");

    let out = env::var("OUT_DIR").expect("OUT_DIR");
    fs::write(Path::new(&out).join("phone_metadata.bin"), &blob).expect("write phone_metadata.bin");
    fs::write(Path::new(&out).join("phone_metadata.rs"), index).expect("write phone_metadata.rs");
}
