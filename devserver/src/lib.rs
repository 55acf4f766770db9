//! The local development server: every route on one port, dispatched through
//! [`shared::router::dispatch`] to the very handlers the Lambda functions run.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use rand::TryRngCore;
use shared::domain::Keys;
use shared::domain::locale::{self, Phrase};
use shared::error::error_response;
use shared::events::{Sink, StreamChange, WebhookSink};
use shared::handlers::Service;
use shared::ports::{CallPlacer, Clock, Store};
use shared::store::{DynamoStore, MemoryStore, dynamo};
use shared::vobiz::{Calls, SimulatedCalls, VobizClient};
use shared::{Config, Error};
use tokio::net::TcpListener;

/// Bodies above this are refused before any handler sees them (handlers have smaller limits).
const TRANSPORT_BODY_LIMIT: usize = 1024 * 1024;

/// Starts the local server on `listener` from a configuration: DynamoDB when `OTP_TABLE` is set
/// (created first with `OTP_CREATE_TABLE=1`), memory otherwise; Vobiz when its credentials are
/// set, the call simulator otherwise; a random secret when `OTP_SECRET` is unset. Serves until
/// the task is dropped.
pub async fn run(mut cfg: Config, listener: TcpListener) -> Result<(), Error> {
    let keys = match cfg.keys.clone() {
        Some(k) => k,
        None => {
            eprintln!(
                "OTP_SECRET is not set: using a random secret for this process (codes and call tokens die with it)."
            );
            Keys::random(&mut rand::rngs::OsRng.unwrap_err())
                .ok_or_else(|| Error::Config("could not derive keys".into()))?
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(cfg.http_port);
    if cfg.public_url.is_none() {
        cfg.public_url = Some(format!("http://127.0.0.1:{port}"));
    }
    // The prompt packs are served here, at /prompts, unless they are hosted elsewhere.
    if cfg.languages.prompts_url.is_none() {
        cfg.languages.prompts_url = cfg.public_url.as_ref().map(|u| format!("{u}/prompts"));
    }
    let prompts = PathBuf::from(&cfg.prompts_dir);
    let missing: Vec<&str> = locale::catalogue()
        .unwrap_or_default()
        .iter()
        .filter(|l| l.is_prompt_pack() && !prompts.join(&l.tag).is_dir())
        .map(|l| l.tag.as_str())
        .collect();
    if missing.is_empty() {
        eprintln!(
            "Prompt packs: {} (at {}).",
            prompts.display(),
            cfg.languages.prompts_url.as_deref().unwrap_or("")
        );
    } else {
        eprintln!(
            "Prompt packs missing for {} in {}: calls in those languages would play silence. Run scripts/prompt-packs.sh.",
            missing.join(", "),
            prompts.display()
        );
    }
    let calls = match cfg.vobiz.clone() {
        Some(_) if cfg.app_api_key.is_none() => {
            return Err(Error::Config(
                "APP_API_KEY must be set before the local server places real Vobiz calls: without it anyone who \
                 can reach this port could make your account call any allowed number"
                    .into(),
            ));
        }
        Some(v) => {
            eprintln!(
                "Calls go to Vobiz at {} from {}; webhooks at {}.",
                v.api_url,
                v.from.masked(),
                cfg.public_url.as_deref().unwrap_or("")
            );
            Calls::Vobiz(VobizClient::new(v)?)
        }
        None => {
            eprintln!("No Vobiz credentials: calls are simulated, and what the callee would hear is printed here.");
            Calls::Simulated(SimulatedCalls::new(
                cfg.policy.app_name.clone(),
                cfg.caller_id.as_ref(),
            )?)
        }
    };
    match cfg.table.clone() {
        Some(table) => {
            let client = shared::lambda::dynamo_client()?;
            if cfg.create_table {
                dynamo::create_table_if_missing(&client, &table).await?;
            }
            eprintln!("Store: DynamoDB table {table}.");
            start(
                listener,
                Service::new(&cfg, keys, DynamoStore::new(client, table)),
                calls,
                prompts,
            )
            .await
        }
        None => {
            eprintln!("Store: in memory (set OTP_TABLE for DynamoDB).");
            let store = MemoryStore::new();
            publish_events(&cfg, store.changes())?;
            start(listener, Service::new(&cfg, keys, store), calls, prompts).await
        }
    }
    Ok(())
}

/// Delivery events, locally: each change of the memory store through the same domain code as
/// the `otp-events` function, printed here and, with `EVENTS_WEBHOOK_URL`, posted signed. A
/// delivery the webhook refuses is retried a few times, a second apart, then dropped with a
/// warning (on AWS, Lambda retries and parks it on the on-failure queue).
fn publish_events(
    cfg: &Config,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<shared::store::memory::Changed>,
) -> Result<(), Error> {
    let mut webhook = Vec::new();
    if let Some((url, secret)) = &cfg.events.webhook {
        eprintln!("Events: printed here and posted to {url} (signed, Standard Webhooks).");
        webhook.push(Sink::Webhook(WebhookSink::new(url, secret)?));
    } else {
        eprintln!("Events: printed here (set EVENTS_WEBHOOK_URL and EVENTS_WEBHOOK_SECRET to receive them).");
    }
    let failures_per_window = cfg.limits.failures_per_window;
    let phone = cfg.events.phone.clone();
    tokio::spawn(async move {
        let mut seq: u64 = 0;
        while let Some((old, new)) = changes.recv().await {
            seq += 1;
            let change = StreamChange {
                id: seq.to_string(),
                at: time_now(),
                old,
                erased: new.is_none(),
                new,
            };
            let change = std::slice::from_ref(&change);
            shared::events::deliver(change, &[Sink::Console], failures_per_window, &phone).await;
            if webhook.is_empty() {
                continue;
            }
            for attempt in 1..=5 {
                match shared::events::deliver(change, &webhook, failures_per_window, &phone).await {
                    None => break,
                    Some(_) if attempt < 5 => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                    Some(_) => eprintln!("events of change {seq} dropped after 5 attempts (see the log)"),
                }
            }
        }
    });
    Ok(())
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

async fn start<S: Store + 'static, C: CallPlacer + 'static>(
    listener: TcpListener,
    svc: Service<S>,
    calls: C,
    prompts: PathBuf,
) {
    if let Ok(addr) = listener.local_addr() {
        eprintln!("otp-call listening on http://{addr}");
    }
    serve(
        listener,
        Arc::new(App {
            svc,
            calls,
            prompts: Some(prompts),
        }),
    )
    .await;
}

/// Everything one request needs.
pub struct App<S, K, C> {
    pub svc: Service<S, K>,
    pub calls: C,
    /// `PROMPTS_DIR`, served at `/prompts` (where Lambda's deployment uses its bucket).
    pub prompts: Option<PathBuf>,
}

/// Serves `app` on `listener` until the task is dropped.
pub async fn serve<S, K, C>(listener: TcpListener, app: Arc<App<S, K, C>>)
where
    S: Store + 'static,
    K: Clock + 'static,
    C: CallPlacer + 'static,
{
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(app.clone(), req));
            // A client that goes away mid-request is not our error.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle<S: Store, K: Clock, C: CallPlacer>(
    app: Arc<App<S, K, C>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, TRANSPORT_BODY_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(to_hyper(error_response(&Error::PayloadTooLarge {
                limit: TRANSPORT_BODY_LIMIT,
            })));
        }
    };
    if let (Some(dir), Some(file)) = (&app.prompts, parts.uri.path().strip_prefix("/prompts/")) {
        return Ok(prompt_file(dir, file, &parts.method).await);
    }
    let req = lambda_http::http::Request::from_parts(parts, Body::from(bytes.to_vec()));
    let resp = shared::router::dispatch(&app.svc, &app.calls, req).await;
    Ok(to_hyper(resp))
}

/// `GET /prompts/<locale>/<file>.wav`: one prompt-pack file, as Vobiz would fetch it from the
/// bucket. Only the files a call can name are served (a known locale, a known phrase), so no
/// path ever leaves the directory.
async fn prompt_file(dir: &Path, file: &str, method: &hyper::Method) -> hyper::Response<Full<Bytes>> {
    let not_found = || to_hyper(error_response(&Error::NoRoute));
    if method != hyper::Method::GET && method != hyper::Method::HEAD {
        // RFC 9110: a 405 names the methods the resource does allow.
        let mut resp = to_hyper(error_response(&Error::MethodNotAllowed));
        resp.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return resp;
    }
    let Some((tag, name)) = file.split_once('/') else {
        return not_found();
    };
    let Some(stem) = name.strip_suffix(".wav") else {
        return not_found();
    };
    let known = locale::find(tag)
        .filter(|l| l.tag == tag && l.is_prompt_pack())
        .is_some()
        && Phrase::from_file_stem(stem).is_some()
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !known {
        return not_found();
    }
    match tokio::fs::read(dir.join(tag).join(name)).await {
        Ok(audio) => {
            let body = if method == hyper::Method::HEAD {
                Bytes::new()
            } else {
                Bytes::from(audio)
            };
            let mut resp = hyper::Response::new(Full::new(body));
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("audio/wav"),
            );
            resp
        }
        Err(_) => not_found(),
    }
}

fn to_hyper(resp: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
