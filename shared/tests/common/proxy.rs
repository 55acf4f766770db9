//! A TCP proxy in front of the DynamoDB endpoint that a test can stop and resume ("the
//! database went away mid-test"), or have sit on one reply ("the write was done, its answer
//! came late").

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    watch: Arc<Mutex<Watch>>,
}

/// The requests a test watches for: those whose bytes contain `needle`.
#[derive(Default)]
struct Watch {
    needle: Option<&'static [u8]>,
    /// How long to hold the reply to the next such request.
    delay: Option<Duration>,
    /// How many such requests went through.
    seen: usize,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            tasks: Arc::default(),
            watch: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks, watch) = (self.upstream, self.tasks.clone(), self.watch.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let watch = watch.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(upstream).await {
                        relay(inbound, outbound, watch).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Forwards the next request whose bytes contain `needle` at once (the endpoint acts on it),
    /// and holds its reply for `by` before passing it on; counts such requests from now on.
    pub fn delay_next_reply(&self, needle: &'static str, by: Duration) {
        *self.watch.lock().unwrap() = Watch {
            needle: Some(needle.as_bytes()),
            delay: Some(by),
            seen: 0,
        };
    }

    /// How many requests containing the needle of [`Proxy::delay_next_reply`] went through.
    pub fn seen(&self) -> usize {
        self.watch.lock().unwrap().seen
    }

    /// Closes the listener and every open connection.
    pub async fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        tokio::task::yield_now().await;
    }

    /// Listens again on the same address.
    pub async fn resume(&self) {
        for _ in 0..50 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("could not listen on {} again", self.addr);
    }
}

/// Copies both ways until either side is done; a watched request's reply waits its delay.
async fn relay(inbound: TcpStream, outbound: TcpStream, watch: Arc<Mutex<Watch>>) {
    let (mut client_read, mut client_write) = inbound.into_split();
    let (mut server_read, mut server_write) = outbound.into_split();
    // The delay of this connection's next reply (requests on one connection are answered in turn).
    let pending: Arc<Mutex<Option<Duration>>> = Arc::default();
    let pending_up = pending.clone();
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = client_read.read(&mut buf).await {
            {
                let mut w = watch.lock().unwrap();
                if w.needle
                    .is_some_and(|needle| buf[..n].windows(needle.len()).any(|b| b == needle))
                {
                    w.seen += 1;
                    if let Some(delay) = w.delay.take() {
                        *pending_up.lock().unwrap() = Some(delay);
                    }
                }
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = server_read.read(&mut buf).await {
            let delay = pending.lock().unwrap().take();
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}
