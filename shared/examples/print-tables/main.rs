//! Prints the documentation's generated tables, each between its markers: the configuration
//! table for `docs/configuration.md`, then the route table for `README.md` (which file each goes
//! to is said on stderr). `cargo test -p shared --test readme` checks both files against them.
//!
//! `cargo run -p shared --example print-tables`

mod tables;

fn main() {
    eprintln!("for docs/configuration.md:");
    println!("<!-- config-table:start -->");
    print!("{}", tables::config_table());
    println!("<!-- config-table:end -->");
    eprintln!("for README.md:");
    println!("<!-- route-table:start -->");
    print!("{}", tables::route_table());
    println!("<!-- route-table:end -->");
}
