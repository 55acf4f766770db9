//! A fake Lambda Runtime API on loopback (`/2018-06-01/runtime/...`), one per function process,
//! and the process it serves: spawned the way Lambda starts a `provided.al2023` bootstrap.
//!
//! Times are taken where Lambda would take them: init is process spawn to the first
//! `GET /invocation/next`; an invoke lasts from the moment `/next` hands the event over to the
//! moment `/response` (or `/error`) has been read.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What the function answered.
#[derive(Debug)]
pub struct Outcome {
    /// `/next` handed the event over → `/response` or `/error` read.
    pub latency: Duration,
    /// The body the function posted.
    pub body: String,
    /// Posted to `/error` instead of `/response`.
    pub error: bool,
}

struct Pending {
    dispatched: Instant,
    done: oneshot::Sender<Outcome>,
}

type Queued = (String, oneshot::Sender<Outcome>);

struct State {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    pending: Mutex<HashMap<String, Pending>>,
    first_next: Mutex<Option<oneshot::Sender<Instant>>>,
    init_error: Mutex<Option<String>>,
    ids: AtomicU64,
}

/// One fake Runtime API server.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    queue: mpsc::UnboundedSender<Queued>,
    state: Arc<State>,
    first_next: Option<oneshot::Receiver<Instant>>,
    server: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (queue, rx) = mpsc::unbounded_channel();
        let (first_tx, first_rx) = oneshot::channel();
        let state = Arc::new(State {
            events: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            first_next: Mutex::new(Some(first_tx)),
            init_error: Mutex::new(None),
            ids: AtomicU64::new(1),
        });
        let st = state.clone();
        let server = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| handle(st.clone(), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(RuntimeApi {
            addr,
            queue,
            state,
            first_next: Some(first_rx),
            server,
        })
    }

    /// Waits for the process's first `/next` (its init is over), its death, or `timeout`.
    pub async fn first_next(&mut self, child: &mut Child, timeout: Duration) -> Result<Instant, String> {
        let mut rx = self.first_next.take().ok_or("first_next already awaited")?;
        let deadline = Instant::now() + timeout;
        loop {
            match tokio::time::timeout(Duration::from_millis(20), &mut rx).await {
                Ok(Ok(at)) => return Ok(at),
                Ok(Err(_)) => return Err("runtime API closed".into()),
                Err(_) => {}
            }
            if let Some(e) = self.state.init_error.lock().unwrap().clone() {
                return Err(format!("init error: {e}"));
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("the process exited during init ({status})"));
            }
            if Instant::now() > deadline {
                return Err("no /next within the timeout".into());
            }
        }
    }

    /// Queues one event and waits for the function's answer.
    pub async fn invoke(&self, event: String, timeout: Duration) -> Result<Outcome, String> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send((event, tx))
            .map_err(|_| "runtime API gone".to_string())?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(_)) => Err("invocation dropped".into()),
            Err(_) => Err(format!("no response within {timeout:?}")),
        }
    }
}

/// A request's whole body (empty if the connection broke off mid-body), for the fake servers.
pub async fn body_of(req: Request<Incoming>) -> Bytes {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn handle(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#));
    };
    if rest == "invocation/next" {
        let arrived = Instant::now();
        if let Some(tx) = st.first_next.lock().unwrap().take() {
            let _ = tx.send(arrived);
        }
        // Blocks until an event is queued, like the real API.
        let next = st.events.lock().await.recv().await;
        let Some((event, done)) = next else {
            return Ok(reply(StatusCode::GONE, r#"{"errorType":"ShuttingDown"}"#));
        };
        let n = st.ids.fetch_add(1, Ordering::Relaxed);
        let id = format!("00000000-bench-4000-8000-{n:012}");
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
        let resp = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:ap-south-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                format!("Root=1-69257e20-{n:024x};Parent=0000000000000000;Sampled=0"),
            )
            .body(Full::new(Bytes::from(event)))
            .unwrap();
        st.pending.lock().unwrap().insert(
            id,
            Pending {
                dispatched: Instant::now(),
                done,
            },
        );
        return Ok(resp);
    }
    if rest == "init/error" {
        let body = body_of(req).await;
        *st.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    if let Some(inv) = rest.strip_prefix("invocation/") {
        let (id, kind) = match inv.rsplit_once('/') {
            Some((id, k @ ("response" | "error"))) => (id.to_owned(), k),
            _ => return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#)),
        };
        let body = body_of(req).await;
        let now = Instant::now();
        let Some(p) = st.pending.lock().unwrap().remove(&id) else {
            return Ok(reply(StatusCode::BAD_REQUEST, r#"{"errorType":"InvalidRequestID"}"#));
        };
        let _ = p.done.send(Outcome {
            latency: now - p.dispatched,
            body: String::from_utf8_lossy(&body).into_owned(),
            error: kind == "error",
        });
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    Ok(reply(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#))
}

/// Starts `binary` as Lambda starts a custom runtime's bootstrap; with a `runner` (an emulator
/// and its arguments), as `runner... binary`. Returns the child and the instant just before the
/// spawn.
pub fn spawn(
    runner: &[String],
    binary: &Path,
    function_name: &str,
    api: SocketAddr,
    env: &[(String, String)],
    log: &Path,
) -> std::io::Result<(Child, Instant)> {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut cmd = match runner.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("LAMBDA_TASK_ROOT", binary.parent().unwrap_or(Path::new("/")))
        .env("_HANDLER", "bootstrap")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let child = cmd.spawn()?;
    Ok((child, started))
}

/// `VmHWM` (peak resident set) of a live process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time so far of all the live threads of a process: the sum of the first field of
/// `/proc/<pid>/task/*/schedstat` (nanoseconds on a CPU, user and system). The kernel brings a
/// thread's figure up to date when it stops running, so read it while the process waits (on its
/// next `/next`). A thread that has already exited is not counted: the functions start none that
/// end (tokio's blocking threads idle for 10 s first).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(ns))
}

pub fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
