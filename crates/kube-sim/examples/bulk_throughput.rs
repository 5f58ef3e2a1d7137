//! Measures how fast kube-sim serves bulk log backlogs over plain HTTP on loopback.
//!
//! Starts a simulator with coalesced log chunks, creates `PODS` pods (default 100) whose
//! container has a `LINES`-line backlog (default 20,000), then fetches every pod's log with
//! `timestamps=true` concurrently through a minimal HTTP/1.1 client that decodes the chunked
//! body into a sink, and prints MB/s and lines/s of log payload. Benchmarks of ktail rely on
//! the simulator out-running the client, so this figure should stay well above 200 MB/s.
//!
//! ```text
//! cargo run --release -p kube-sim --example bulk_throughput [PODS] [LINES] [ROUNDS]
//! ```
//!
//! It only measures; it must not be used as a test (no assertions beyond completeness).

use std::io;
use std::time::{Duration, Instant};

use kube_sim::{Chunking, ContainerSpec, PodSpec, Sim, SimOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NS: &str = "bulk";

#[tokio::main]
async fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let pods = args.next().transpose().map_err(invalid)?.unwrap_or(100);
    let lines = args.next().transpose().map_err(invalid)?.unwrap_or(20_000);
    let rounds = args.next().transpose().map_err(invalid)?.unwrap_or(3);

    let sim = Sim::start(SimOptions {
        tls: false,
        chunking: Chunking::Coalesced,
        ..Default::default()
    })
    .await?;
    sim.create_namespace(NS);
    let names: Vec<String> = (0..pods).map(|i| format!("bulk-{i}")).collect();
    let setup = Instant::now();
    for name in &names {
        sim.create_pod(
            NS,
            PodSpec::new(name).container(ContainerSpec::new("app").backlog(lines)),
        );
    }
    let ready = sim
        .wait_for(Duration::from_secs(60), |s| {
            names.iter().all(|n| s.generated(NS, n, "app") >= lines)
        })
        .await;
    if !ready {
        return Err(io::Error::other("backlogs were not written within 60 s"));
    }
    println!(
        "{pods} pods x {lines} lines generated in {:.2?}",
        setup.elapsed()
    );

    for round in 1..=rounds {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for name in &names {
            let path = format!("/api/v1/namespaces/{NS}/pods/{name}/log?timestamps=true");
            tasks.push(tokio::spawn(fetch(sim.addr(), path, sim.token())));
        }
        let (mut bytes, mut newlines) = (0u64, 0u64);
        for t in tasks {
            let (b, n) = t.await.map_err(io::Error::other)??;
            bytes += b;
            newlines += n;
        }
        let secs = start.elapsed().as_secs_f64();
        if newlines != pods * lines {
            return Err(io::Error::other(format!(
                "expected {} lines, got {newlines}",
                pods * lines
            )));
        }
        println!(
            "round {round}: {:.1} MB in {:.3} s = {:.0} MB/s, {:.2} M lines/s",
            bytes as f64 / 1e6,
            secs,
            bytes as f64 / 1e6 / secs,
            newlines as f64 / 1e6 / secs,
        );
    }
    sim.shutdown().await;
    Ok(())
}

fn invalid(e: std::num::ParseIntError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

/// GETs `path` and returns (body bytes, newlines) of the de-chunked body.
async fn fetch(addr: std::net::SocketAddr, path: String, token: String) -> io::Result<(u64, u64)> {
    let mut sock = TcpStream::connect(addr).await?;
    sock.set_nodelay(true)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await?;

    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    // Read the response head (bounded: heads are small).
    let body_start = loop {
        let n = sock.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Err(io::Error::other("connection closed in the response head"));
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = memchr::memmem::find(&head, b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head_text = String::from_utf8_lossy(&head[..body_start]).to_ascii_lowercase();
    if !head_text.starts_with("http/1.1 200") {
        return Err(io::Error::other(format!(
            "unexpected response: {head_text}"
        )));
    }
    if !head_text.contains("transfer-encoding: chunked") {
        return Err(io::Error::other("expected a chunked body"));
    }
    let mut dec = Dechunker::default();
    dec.feed(&head[body_start..])?;
    while !dec.done {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "body ended before the last chunk",
            ));
        }
        dec.feed(&buf[..n])?;
    }
    Ok((dec.bytes, dec.newlines))
}

/// Incremental decoder for `Transfer-Encoding: chunked` that counts payload bytes.
#[derive(Default)]
struct Dechunker {
    state: ChunkState,
    size_line: Vec<u8>,
    bytes: u64,
    newlines: u64,
    done: bool,
}

#[derive(Default)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd(u8),
    Trailer,
}

impl Dechunker {
    fn feed(&mut self, mut input: &[u8]) -> io::Result<()> {
        // Every pass consumes at least one byte of `input` or returns.
        while !input.is_empty() && !self.done {
            match &mut self.state {
                ChunkState::Size => {
                    let Some(i) = memchr::memchr(b'\n', input) else {
                        self.size_line.extend_from_slice(input);
                        return Ok(());
                    };
                    self.size_line.extend_from_slice(&input[..i]);
                    input = &input[i + 1..];
                    let line = std::str::from_utf8(&self.size_line).map_err(io::Error::other)?;
                    let hex = line.trim_end_matches('\r').split(';').next().unwrap_or("");
                    let size = u64::from_str_radix(hex.trim(), 16)
                        .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
                    self.size_line.clear();
                    self.state = if size == 0 {
                        ChunkState::Trailer
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    let take = (*left).min(input.len() as u64) as usize;
                    self.bytes += take as u64;
                    self.newlines += memchr::memchr_iter(b'\n', &input[..take]).count() as u64;
                    *left -= take as u64;
                    input = &input[take..];
                    if *left == 0 {
                        self.state = ChunkState::DataEnd(2);
                    }
                }
                ChunkState::DataEnd(left) => {
                    input = &input[1..];
                    *left -= 1;
                    if *left == 0 {
                        self.state = ChunkState::Size;
                    }
                }
                // No trailers are sent; the final CRLF ends the body.
                ChunkState::Trailer => {
                    self.done = true;
                }
            }
        }
        if let ChunkState::Trailer = self.state {
            self.done = true;
        }
        Ok(())
    }
}
