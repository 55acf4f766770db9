//! The documentation's generated tables cannot drift from the code: the configuration table in
//! `docs/configuration.md` (`shared::config::VARIABLES`) and the route table in `README.md`
//! (`shared::routes::ROUTES`) must equal what `shared/examples/print-tables/tables.rs` builds.
//! To regenerate after a change: `cargo run -p shared --example print-tables`, and paste each
//! table between its markers.

#[path = "../examples/print-tables/tables.rs"]
mod tables;

use tables::{config_table, route_table};

/// The text between `<!-- {name}:start -->` and `<!-- {name}:end -->` in the file `doc`.
fn section(doc: &str, name: &str) -> String {
    let text = std::fs::read_to_string(format!("{}/../{doc}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("cannot read {doc}: {e}"));
    let start = format!("<!-- {name}:start -->\n");
    let end = format!("<!-- {name}:end -->");
    let from = text.find(&start).unwrap_or_else(|| panic!("{doc} has no {start:?}")) + start.len();
    let to = text[from..]
        .find(&end)
        .unwrap_or_else(|| panic!("{doc} has no {end:?}"))
        + from;
    text[from..to].to_string()
}

#[test]
fn configuration_table_matches_the_code() {
    assert_eq!(
        section("docs/configuration.md", "config-table"),
        config_table(),
        "regenerate: see the top of this file"
    );
}

#[test]
fn route_table_matches_the_code() {
    assert_eq!(
        section("README.md", "route-table"),
        route_table(),
        "regenerate: see the top of this file"
    );
}
