//! The generated tables: configuration (`docs/configuration.md`) and routes (`README.md`), built
//! from the code (`shared::config::VARIABLES`, `shared::routes::ROUTES`). The `print-tables`
//! example prints them; `shared/tests/readme.rs` checks the documents against them.

use shared::config::VARIABLES;
use shared::routes::ROUTES;

/// The table between `<!-- config-table:start -->` and `<!-- config-table:end -->` in
/// `docs/configuration.md`.
pub fn config_table() -> String {
    let mut t = String::from("| variable | default | bounds | what it does |\n|---|---|---|---|\n");
    for v in VARIABLES {
        t.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            v.name, v.default, v.bounds, v.purpose
        ));
    }
    t
}

/// The table between `<!-- route-table:start -->` and `<!-- route-table:end -->` in `README.md`.
pub fn route_table() -> String {
    let mut t = String::from("| method | path | function | auth |\n|---|---|---|---|\n");
    for r in ROUTES {
        let auth = if r.route.is_app() {
            "API key (`x-api-key`)"
        } else {
            "path token + Vobiz signature"
        };
        t.push_str(&format!(
            "| {} | `{}` | `{}` | {} |\n",
            r.method,
            r.path,
            r.route.name(),
            auth
        ));
    }
    t
}
