//! `cargo run -p devserver`: the whole service on http://127.0.0.1:8000 with an in-memory store
//! and simulated calls, or DynamoDB (`OTP_TABLE`) and Vobiz (`VOBIZ_*`) when configured.

use std::process::ExitCode;
use std::sync::Arc;

use devserver::{App, serve};
use rand::TryRngCore;
use shared::domain::Keys;
use shared::handlers::Service;
use shared::ports::{CallPlacer, Store};
use shared::store::{DynamoStore, MemoryStore, dynamo};
use shared::vobiz::{Calls, SimulatedCalls, VobizClient};
use shared::{Config, Error};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devserver: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), Error> {
    let mut cfg = Config::from_env()?;
    let keys = match cfg.keys.clone() {
        Some(k) => k,
        None => {
            eprintln!("OTP_SECRET is not set: using a random secret for this process (codes and call tokens die with it).");
            let secret = Keys::random_secret(&mut rand::rngs::OsRng.unwrap_err());
            Keys::derive(&secret).ok_or_else(|| Error::Config("could not derive keys".into()))?
        }
    };
    if cfg.public_url.is_none() {
        cfg.public_url = Some(format!("http://127.0.0.1:{}", cfg.http_port));
    }
    let calls = match cfg.vobiz.clone() {
        Some(v) => {
            eprintln!("Calls go to Vobiz at {} from {}; webhooks at {}.", v.api_url, v.from.masked(), cfg.public_url.as_deref().unwrap_or(""));
            Calls::Vobiz(VobizClient::new(v)?)
        }
        None => {
            eprintln!("No Vobiz credentials: calls are simulated, and what the callee would hear is printed here.");
            Calls::Simulated(SimulatedCalls::new()?)
        }
    };
    let listener = TcpListener::bind(("127.0.0.1", cfg.http_port))
        .await
        .map_err(|e| Error::Config(format!("HTTP_PORT {}: cannot listen: {e}", cfg.http_port)))?;
    match cfg.table.clone() {
        Some(table) => {
            let client = shared::lambda::dynamo_client().await;
            if cfg.create_table {
                dynamo::create_table_if_missing(&client, &table).await?;
            }
            eprintln!("Store: DynamoDB table {table}.");
            start(listener, Service::new(&cfg, keys, DynamoStore::new(client, table)), calls).await
        }
        None => {
            eprintln!("Store: in memory (set OTP_TABLE for DynamoDB).");
            start(listener, Service::new(&cfg, keys, MemoryStore::new()), calls).await
        }
    }
    Ok(())
}

async fn start<S: Store + 'static, C: CallPlacer + 'static>(listener: TcpListener, svc: Service<S>, calls: C) {
    if let Ok(addr) = listener.local_addr() {
        eprintln!("otp-call listening on http://{addr}");
    }
    serve(listener, Arc::new(App { svc, calls })).await;
}
