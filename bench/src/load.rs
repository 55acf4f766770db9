//! The local server under load: the devserver binary with its in-memory store and simulated
//! calls, driven by `wrk` (Debian's package) with the Lua scripts in `bench/wrk/`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct LoadSpec<'a> {
    pub devserver: &'a Path,
    pub scripts: &'a Path,
    pub log: &'a Path,
    pub seconds: u32,
    pub connections: &'a [u32],
}

#[derive(Debug, Clone)]
pub struct LoadResult {
    pub route: &'static str,
    pub connections: u32,
    pub seconds: u32,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub s2xx: u64,
    pub s4xx: u64,
    pub s429: u64,
    pub s5xx: u64,
    pub socket_errors: String,
    /// What a request on this route is expected to answer.
    pub expected: &'static str,
}

impl LoadResult {
    pub fn json(&self) -> Value {
        json!({
            "route": self.route, "connections": self.connections, "seconds": self.seconds,
            "requests": self.requests, "rps": crate::stats::r3(self.rps),
            "p50_ms": crate::stats::r3(self.p50_ms), "p99_ms": crate::stats::r3(self.p99_ms),
            "status_2xx": self.s2xx, "status_4xx": self.s4xx, "status_429": self.s429, "status_5xx": self.s5xx,
            "socket_errors": self.socket_errors, "expected": self.expected,
        })
    }
}

fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The phase: the devserver under wrk at 2 and 64 connections, unless `--no-load` or wrk is
/// missing (the note says which; a note starting "load test failed" fails the run).
pub fn phase(ctx: &crate::harness::Ctx) -> (Vec<LoadResult>, Option<String>) {
    if !ctx.o.load {
        return (Vec::new(), Some("skipped (--no-load)".into()));
    }
    if !wrk_available() {
        return (
            Vec::new(),
            Some("skipped: wrk is not installed (apt-get install wrk)".into()),
        );
    }
    eprintln!("bench: devserver under wrk ...");
    let scripts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("wrk");
    let spec = LoadSpec {
        devserver: &ctx.binary("devserver"),
        scripts: &scripts,
        log: &ctx.logs.join("devserver.log"),
        seconds: ctx.o.load_secs,
        connections: &[2, 64],
    };
    match run(&spec) {
        Ok(r) => (r, None),
        Err(e) => (Vec::new(), Some(format!("load test failed: {e}"))),
    }
}

/// Runs every (route, connections) pair against a fresh devserver (a fresh memory store, so the
/// global calls-per-minute counter starts at zero for each run).
pub fn run(spec: &LoadSpec<'_>) -> Result<Vec<LoadResult>, String> {
    let mut results = Vec::new();
    let mut series = 1;
    for (route, expected) in [
        ("/verify-otp", "400 not_found (no code for the number)"),
        ("/send-otp", "200 calling"),
    ] {
        for &c in spec.connections {
            let port = free_port().map_err(|e| e.to_string())?;
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(spec.log)
                .map_err(|e| e.to_string())?;
            let mut server = Command::new(spec.devserver)
                .env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("HTTP_PORT", port.to_string())
                // Simulated calls post their webhooks here: port 9 (discard) refuses at once.
                .env("PUBLIC_URL", "http://127.0.0.1:9")
                .env("CALLS_PER_MINUTE", "100000")
                .env("SENDS_PER_HOUR", "100")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("devserver: {e}"))?;
            let ready = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if ready.elapsed() > Duration::from_secs(10) || server.try_wait().ok().flatten().is_some() {
                    let _ = server.kill();
                    let _ = server.wait();
                    return Err(format!(
                        "devserver did not listen on {port}; see {}",
                        spec.log.display()
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let script = spec.scripts.join(format!("{}.lua", route.trim_start_matches('/')));
            let out = Command::new("wrk")
                .args([
                    "-t",
                    &c.min(2).to_string(),
                    "-c",
                    &c.to_string(),
                    "-d",
                    &format!("{}s", spec.seconds),
                    "--timeout",
                    "5s",
                    "--latency",
                    "-s",
                ])
                .arg(&script)
                .arg(format!("http://127.0.0.1:{port}{route}"))
                .env("BENCH_SERIES", series.to_string())
                .output();
            series += 1;
            let _ = server.kill();
            let _ = server.wait();
            let out = out.map_err(|e| format!("wrk: {e}"))?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if !out.status.success() {
                return Err(format!("wrk failed: {}{}", text, String::from_utf8_lossy(&out.stderr)));
            }
            let mut r = parse(&text).ok_or_else(|| format!("could not read wrk's output:\n{text}"))?;
            r.route = if route == "/send-otp" {
                "/send-otp"
            } else {
                "/verify-otp"
            };
            r.connections = c;
            r.seconds = spec.seconds;
            r.expected = expected;
            results.push(r);
        }
    }
    Ok(results)
}

/// `1.23ms`, `456.00us`, `2.00s` → milliseconds.
fn duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60_000.0)
    } else {
        return None;
    };
    num.trim().parse::<f64>().ok().map(|n| n * mult)
}

fn parse(text: &str) -> Option<LoadResult> {
    let mut r = LoadResult {
        route: "",
        connections: 0,
        seconds: 0,
        requests: 0,
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        s2xx: 0,
        s4xx: 0,
        s429: 0,
        s5xx: 0,
        socket_errors: String::new(),
        expected: "",
    };
    let mut in_dist = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Latency Distribution") {
            in_dist = true;
            continue;
        }
        if in_dist {
            if let Some(v) = t.strip_prefix("50%") {
                r.p50_ms = duration_ms(v)?;
            } else if let Some(v) = t.strip_prefix("99%") {
                r.p99_ms = duration_ms(v)?;
                in_dist = false;
            }
        }
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().ok()?;
        }
        if t.contains("requests in") {
            r.requests = t.split_whitespace().next()?.parse().ok()?;
        }
        if t.starts_with("Socket errors:") {
            r.socket_errors = t.trim_start_matches("Socket errors:").trim().to_owned();
        }
        if let Some(v) = t.strip_prefix("BENCH statuses") {
            for kv in v.split_whitespace() {
                let (k, n) = kv.split_once('=')?;
                let n: u64 = n.parse().ok()?;
                match k {
                    "2xx" => r.s2xx = n,
                    "4xx" => r.s4xx = n,
                    "429" => r.s429 = n,
                    "5xx" => r.s5xx = n,
                    _ => {}
                }
            }
        }
    }
    (r.rps.is_finite() && r.p99_ms.is_finite()).then_some(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_wrk_output() {
        let out = "Running 2s test @ http://127.0.0.1:1/send-otp\n  2 threads and 2 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   101.23us   20.00us   1.20ms   90.00%\n  Latency Distribution\n     50%   95.00us\n     75%  110.00us\n     90%  130.00us\n     99%    1.01ms\n  39000 requests in 2.00s, 7.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:  19500.12\nTransfer/sec:      3.50MB\nBENCH statuses 2xx=38997 4xx=3 429=0 5xx=0\n";
        let r = super::parse(out).unwrap();
        assert_eq!(r.requests, 39000);
        assert!((r.p50_ms - 0.095).abs() < 1e-9 && (r.p99_ms - 1.01).abs() < 1e-9);
        assert!((r.rps - 19500.12).abs() < 1e-6);
        assert_eq!((r.s2xx, r.s4xx, r.s5xx), (38997, 3, 0));
    }
}
