//! A fake Vobiz call API on loopback: `POST /api/v1/Account/{id}/Call/` answers 201 like Vobiz
//! ("Call fired"), every request counted; the body of the last call is kept (the cost model's
//! whole verification reads the webhook token send-otp put in its answer URL).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub struct FakeVobiz {
    pub addr: SocketAddr,
    pub calls: Arc<AtomicU64>,
    pub other: Arc<AtomicU64>,
    pub last_call: Arc<Mutex<Option<String>>>,
}

impl FakeVobiz {
    /// Every request it received, calls and anything else.
    pub fn total(&self) -> u64 {
        self.calls.load(Ordering::SeqCst) + self.other.load(Ordering::SeqCst)
    }
}

pub async fn start() -> std::io::Result<FakeVobiz> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let calls = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let last_call = Arc::new(Mutex::new(None));
    let (c, o, l) = (calls.clone(), other.clone(), last_call.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (c, o, l) = (c.clone(), o.clone(), l.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(c.clone(), o.clone(), l.clone(), req));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Ok(FakeVobiz {
        addr,
        calls,
        other,
        last_call,
    })
}

async fn handle(
    calls: Arc<AtomicU64>,
    other: Arc<AtomicU64>,
    last_call: Arc<Mutex<Option<String>>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_call = req.method() == hyper::Method::POST
        && req.uri().path().starts_with("/api/v1/Account/")
        && req.uri().path().ends_with("/Call/");
    let body = crate::runtime_api::body_of(req).await;
    if !is_call {
        other.fetch_add(1, Ordering::SeqCst);
        return Ok(Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new()))
            .unwrap());
    }
    *last_call.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    let body = format!(r#"{{"api_id":"bench-api-{n}","message":"Call fired","request_uuid":"bench-call-{n:08}"}}"#);
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}
