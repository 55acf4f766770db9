//! A counting HTTP/1.1 proxy in front of the DynamoDB endpoint. It reads each request's head
//! (to count it by its `X-Amz-Target`, e.g. `DynamoDB_20120810.UpdateItem`), forwards head and
//! body unchanged, and copies the responses back byte for byte. Every client (the functions,
//! the floor measurements) reaches DynamoDB through it, so the counts are observed, not assumed,
//! and both sides pay the same extra loopback hop.
//!
//! It also counts the items each request names by the capacity they consume
//! ([`crate::cost::classify`]), for the cost model; that needs the body, which is read whole
//! (a few hundred bytes) before it is forwarded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Default)]
pub struct Counts(Arc<Mutex<BTreeMap<String, u64>>>);

impl Counts {
    pub fn add(&self, key: &str) {
        self.add_n(key, 1);
    }
    pub fn add_n(&self, key: &str, n: u64) {
        *self.0.lock().unwrap().entry(key.to_owned()).or_default() += n;
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

pub struct Proxy {
    pub addr: SocketAddr,
    /// Requests by `X-Amz-Target`.
    pub counts: Counts,
    /// Items named, by capacity class.
    pub items: Counts,
}

pub async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (counts, items) = (Counts::default(), Counts::default());
    let (c, t) = (counts.clone(), items.clone());
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
    Ok(Proxy { addr, counts, items })
}

async fn relay(client: TcpStream, server: TcpStream, counts: Counts, items: Counts) -> std::io::Result<()> {
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
            let mut body = vec![0; length];
            cr.read_exact(&mut body).await?;
            if let Some((class, n)) = crate::cost::classify(target, &body) {
                items.add_n(class, n);
            }
            sw.write_all(&head).await?;
            sw.write_all(&body).await?;
        }
    }
    .await;
    let _ = sw.shutdown().await;
    let _ = back.await;
    result
}
