//! `cargo run -p devserver`: the whole service on http://127.0.0.1:8000 with an in-memory store
//! and simulated calls, or DynamoDB (`OTP_TABLE`) and Vobiz (`VOBIZ_*`) when configured.

use std::process::ExitCode;

use shared::{Config, Error};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let started = async {
        let cfg = Config::from_env()?;
        let listener = TcpListener::bind(("127.0.0.1", cfg.http_port))
            .await
            .map_err(|e| Error::Config(format!("HTTP_PORT {}: cannot listen: {e}", cfg.http_port)))?;
        devserver::run(cfg, listener).await
    };
    match started.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devserver: {e}");
            ExitCode::from(2)
        }
    }
}
