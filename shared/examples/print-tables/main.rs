//! Prints the documentation's generated tables: the configuration table for
//! `docs/configuration.md`, then the route table for `README.md`. Paste each between its
//! markers; `cargo test -p shared --test readme` checks both.
//!
//! `cargo run -p shared --example print-tables`

mod tables;

fn main() {
    println!("<!-- config-table:start --> (docs/configuration.md)");
    print!("{}", tables::config_table());
    println!("<!-- config-table:end -->\n");
    println!("<!-- route-table:start --> (README.md)");
    print!("{}", tables::route_table());
    println!("<!-- route-table:end -->");
}
