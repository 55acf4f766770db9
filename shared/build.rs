//! Writes the phone-number metadata send-otp validates with, in a lighter form than the one
//! `phonenumber` embeds (src/domain/phone.rs says why).
//!
//! The source is `phonenumber`'s own database, loaded here at build time from the very crate
//! version the library links (a build dependency, resolved by the same lock file), so the data
//! cannot drift from the validator. Each country calling code gets its own postcard blob of
//! `loader::Metadata` (all the regions that share the code, in the database's order: the main
//! region first), stripped of what validation never reads: number formats, international
//! formats and example numbers. At run time a code's blob is decoded and compiled the first time
//! a number with that code is parsed, so a send to +91 never pays for the other 244 regions.
//!
//! Output in `OUT_DIR`: `phone_metadata.bin` (the blobs, one after another) and
//! `phone_metadata.rs` (`GROUPS`: each code, its blob's byte range and its regions).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata, loader};

fn descriptor(d: &Descriptor) -> loader::Descriptor {
    loader::Descriptor {
        national_number: Some(d.national_number().as_str().to_owned()),
        possible_length: d.possible_length().to_vec(),
        possible_local_length: d.possible_local_length().to_vec(),
        // Only formatting and documentation read examples.
        example: None,
    }
}

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
        emergency: opt(d.emergency()),
        voicemail: opt(d.voicemail()),
        short_code: opt(d.short_code()),
        standard_rate: opt(d.standard_rate()),
        carrier: opt(d.carrier()),
        no_international: opt(d.no_international()),
        id: Some(m.id().to_owned()),
        country_code: Some(m.country_code()),
        international_prefix: m.international_prefix().map(|r| r.as_str().to_owned()),
        preferred_international_prefix: m.preferred_international_prefix().map(str::to_owned),
        national_prefix: m.national_prefix().map(str::to_owned),
        preferred_extension_prefix: m.preferred_extension_prefix().map(str::to_owned),
        national_prefix_for_parsing: m.national_prefix_for_parsing().map(|r| r.as_str().to_owned()),
        national_prefix_transform_rule: m.national_prefix_transform_rule().map(str::to_owned),
        // Formats are for writing numbers out (national and international modes); the service
        // writes E.164 only, and builds that from the parsed digits.
        formats: Vec::new(),
        international_formats: Vec::new(),
        main_country_for_code: m.is_main_country_for_code(),
        leading_digits: m.leading_digits().map(|r| r.as_str().to_owned()),
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
