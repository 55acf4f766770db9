//! The README's configuration and route tables are generated from the code
//! (`shared::config::VARIABLES`, `shared::routes::ROUTES`) and checked here, so they cannot drift.
//! To regenerate after a change: `cargo test -p shared --test readme -- --ignored --nocapture`.

use shared::config::VARIABLES;
use shared::routes::ROUTES;

fn config_table() -> String {
    let mut t = String::from("| variable | default | bounds | what it does |\n|---|---|---|---|\n");
    for v in VARIABLES {
        t.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            v.name, v.default, v.bounds, v.purpose
        ));
    }
    t
}

fn route_table() -> String {
    let mut t = String::from("| method | path | function | auth |\n|---|---|---|---|\n");
    for r in ROUTES {
        let auth = if r.app {
            "API key (`x-api-key`)"
        } else {
            "path token + Vobiz signature"
        };
        t.push_str(&format!(
            "| {} | `{}` | `{}` | {} |\n",
            r.method, r.path, r.function, auth
        ));
    }
    t
}

fn section<'a>(readme: &'a str, name: &str) -> &'a str {
    let start = format!("<!-- {name}:start -->\n");
    let end = format!("<!-- {name}:end -->");
    let from = readme.find(&start).unwrap_or_else(|| panic!("README has no {start:?}")) + start.len();
    let to = readme[from..]
        .find(&end)
        .unwrap_or_else(|| panic!("README has no {end:?}"))
        + from;
    &readme[from..to]
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
}

#[test]
fn configuration_table_matches_the_code() {
    assert_eq!(
        section(&readme(), "config-table"),
        config_table(),
        "regenerate: see the top of this file"
    );
}

#[test]
fn route_table_matches_the_code() {
    assert_eq!(
        section(&readme(), "route-table"),
        route_table(),
        "regenerate: see the top of this file"
    );
}

#[test]
#[ignore]
fn print_tables() {
    println!("{}\n{}", config_table(), route_table());
}
