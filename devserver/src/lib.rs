//! The local development server: every route on one port, dispatched through
//! [`shared::routes::dispatch`] to the very handlers the Lambda functions run.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use shared::handlers::Service;
use shared::http::error_response;
use shared::ports::{CallPlacer, Clock, Store};
use tokio::net::TcpListener;

/// Bodies above this are refused before any handler sees them (handlers have smaller limits).
const TRANSPORT_BODY_LIMIT: usize = 1024 * 1024;

/// Everything one request needs.
pub struct App<S, K, C> {
    pub svc: Service<S, K>,
    pub calls: C,
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
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
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
        Err(_) => return Ok(to_hyper(error_response(&shared::Error::PayloadTooLarge { limit: TRANSPORT_BODY_LIMIT }))),
    };
    let req = lambda_http::http::Request::from_parts(parts, Body::from(bytes.to_vec()));
    let resp = shared::routes::dispatch(&app.svc, &app.calls, req).await;
    Ok(to_hyper(resp))
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
