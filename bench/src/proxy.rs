//! A counting HTTP/1.1 proxy in front of the DynamoDB endpoint. It reads each request's head
//! (to count it by its `X-Amz-Target`, e.g. `DynamoDB_20120810.UpdateItem`), forwards head and
//! body unchanged, and copies the responses back byte for byte. Every client (the functions,
//! the floor measurements) reaches DynamoDB through it, so the counts are observed, not assumed,
//! and both sides pay the same extra loopback hop.
//!
//! While a [`Tap`] is open (the cost model's whole verification, `journey.rs`), each request is
//! also handed over, whole, before it is forwarded, and held until the tap releases it: the
//! harness reads the items it names first, so every request's before-image is exact.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

#[derive(Clone, Default)]
pub struct Counts(Arc<Mutex<BTreeMap<String, u64>>>);

impl Counts {
    pub fn add(&self, key: &str) {
        *self.0.lock().unwrap().entry(key.to_owned()).or_default() += 1;
    }
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap().clone()
    }
}

/// `after - before`, per key, zeros left out.
pub fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// One request seen through an open [`Tap`]: forwarded once `release` is sent (or dropped).
pub struct Tapped {
    pub target: String,
    pub body: Vec<u8>,
    pub release: oneshot::Sender<()>,
}

/// Where tapped requests go while a tap is open; closed (the default), requests stream through.
#[derive(Clone, Default)]
pub struct Tap(Arc<Mutex<Option<mpsc::UnboundedSender<Tapped>>>>);

impl Tap {
    /// Opens the tap: every request from now on is handed to the receiver before it is forwarded.
    pub fn open(&self) -> mpsc::UnboundedReceiver<Tapped> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.0.lock().unwrap() = Some(tx);
        rx
    }
    /// Closes the tap; the receiver ends once the requests already handed over are read.
    pub fn close(&self) {
        *self.0.lock().unwrap() = None;
    }
    fn sender(&self) -> Option<mpsc::UnboundedSender<Tapped>> {
        self.0.lock().unwrap().clone()
    }
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub counts: Counts,
    pub tap: Tap,
}

pub async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let counts = Counts::default();
    let tap = Tap::default();
    let c = counts.clone();
    let t = tap.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            let (c, t) = (c.clone(), t.clone());
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(upstream).await {
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let _ = relay(client, server, c, t).await;
                }
            });
        }
    });
    Ok(Proxy { addr, counts, tap })
}

async fn relay(client: TcpStream, server: TcpStream, counts: Counts, tap: Tap) -> std::io::Result<()> {
    let (cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
        let _ = cw.shutdown().await;
    });
    let mut cr = BufReader::new(cr);
    let result = async {
        loop {
            // One request head.
            let mut head = Vec::with_capacity(2048);
            let mut target = None;
            let mut length: usize = 0;
            let mut chunked = false;
            loop {
                let start = head.len();
                if cr.read_until(b'\n', &mut head).await? == 0 {
                    return Ok(()); // client closed
                }
                let line = String::from_utf8_lossy(&head[start..]).trim_end().to_owned();
                if line.is_empty() {
                    if start == 0 {
                        continue; // stray CRLF between requests
                    }
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    let value = value.trim();
                    match name.trim().to_ascii_lowercase().as_str() {
                        "x-amz-target" => target = Some(value.to_owned()),
                        "content-length" => length = value.parse().unwrap_or(0),
                        "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                        _ => {}
                    }
                }
            }
            if chunked {
                return Err(std::io::Error::other(
                    "chunked request bodies are not supported by the counting proxy",
                ));
            }
            let target = target.as_deref().unwrap_or("(no X-Amz-Target)");
            counts.add(target);
            if let Some(tx) = tap.sender() {
                let mut body = vec![0; length];
                cr.read_exact(&mut body).await?;
                let (release, released) = oneshot::channel();
                let tapped = Tapped {
                    target: target.to_owned(),
                    body: body.clone(),
                    release,
                };
                if tx.send(tapped).is_ok() {
                    let _ = released.await;
                }
                sw.write_all(&head).await?;
                sw.write_all(&body).await?;
                continue;
            }
            sw.write_all(&head).await?;
            let mut body = (&mut cr).take(length as u64);
            let copied = tokio::io::copy(&mut body, &mut sw).await?;
            if copied != length as u64 {
                return Ok(());
            }
        }
    }
    .await;
    let _ = sw.shutdown().await;
    let _ = back.await;
    result
}
