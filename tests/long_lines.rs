//! Long lines: a line of any length is printed whole, byte for byte, with memory bounded
//! by the piece size (`PIECE_BYTES`, 1 MiB), not by the line; formats that need whole
//! records split it into records that say the line goes on; a stream that breaks within
//! a long line resumes without repeating or losing any of it.

use std::time::Duration;

use kube_sim::StreamEnd;
use tokio::io::AsyncReadExt;
use tokio::process::ChildStdout;

use crate::util::{Cluster, pod_with_lines};

const MIB: usize = 1 << 20;

/// A line of `len` printable bytes that says where it is every 4 KiB, so that a piece
/// out of place shows.
fn long_line(len: usize) -> String {
    let filler = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(114);
    let mut s = String::with_capacity(len + 4096);
    let mut i = 0u64;
    while s.len() < len {
        s.push_str(&format!("<{i:010}>"));
        s.push_str(&filler);
        i += 1;
    }
    s.truncate(len);
    s
}

/// Checks a stream against the concatenation of `parts` as it arrives, without
/// collecting it.
struct Expect<'a> {
    parts: Vec<&'a [u8]>,
    part: usize,
    at: usize,
    offset: usize,
}

impl<'a> Expect<'a> {
    fn new(parts: Vec<&'a [u8]>) -> Expect<'a> {
        Expect {
            parts,
            part: 0,
            at: 0,
            offset: 0,
        }
    }

    fn done(&self) -> bool {
        self.part == self.parts.len()
    }

    fn feed(&mut self, mut got: &[u8]) {
        while !got.is_empty() {
            assert!(
                !self.done(),
                "more output than expected at byte {}: {:?}",
                self.offset,
                String::from_utf8_lossy(&got[..got.len().min(200)])
            );
            let want = &self.parts[self.part][self.at..];
            let n = want.len().min(got.len());
            if want[..n] != got[..n] {
                let i = want.iter().zip(got).position(|(a, b)| a != b).unwrap();
                panic!(
                    "output differs at byte {}: want {:?}, got {:?}",
                    self.offset + i,
                    String::from_utf8_lossy(&want[i..n.min(i + 80)]),
                    String::from_utf8_lossy(&got[i..n.min(i + 80)])
                );
            }
            (got, self.at, self.offset) = (&got[n..], self.at + n, self.offset + n);
            if self.at == self.parts[self.part].len() {
                (self.part, self.at) = (self.part + 1, 0);
            }
        }
    }

    /// Reads `out` until everything expected has come (within `limit`).
    async fn read(&mut self, out: &mut ChildStdout, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut buf = vec![0u8; 256 * 1024];
        while !self.done() {
            // No further than expected: what follows is the caller's.
            let left: usize = self.parts[self.part..]
                .iter()
                .map(|p| p.len())
                .sum::<usize>()
                - self.at;
            let room = left.min(buf.len());
            let n = tokio::time::timeout_at(deadline, out.read(&mut buf[..room]))
                .await
                .unwrap_or_else(|_| panic!("timed out at byte {}", self.offset))
                .unwrap();
            assert!(n > 0, "ktail's output ended at byte {}", self.offset);
            self.feed(&buf[..n]);
        }
    }
}

/// The peak resident set of a running process, in KiB (VmHWM: it only grows, so read
/// while the process runs it is the peak so far).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// stderr collected in the background.
fn collect_stderr(child: &mut tokio::process::Child) -> tokio::task::JoinHandle<String> {
    let mut err = child.stderr.take().unwrap();
    tokio::spawn(async move {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s).await;
        s
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_mib_line_is_printed_whole_in_bounded_memory() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &["before"]).await;
    let mut child = c.ktail(&["web-1"]).spawn().unwrap();
    let pid = child.id().unwrap();
    let mut out = child.stdout.take().unwrap();
    let stderr = collect_stderr(&mut child);
    Expect::new(vec![b"web-1 app before\n"])
        .read(&mut out, Duration::from_secs(30))
        .await;

    // Followed: the container writes it now, and another line after it.
    let long = long_line(100 * MIB);
    c.sim.log("default", "web-1", "app", &long);
    c.sim.log("default", "web-1", "app", "after");
    Expect::new(vec![b"web-1 app ", long.as_bytes(), b"\nweb-1 app after\n"])
        .read(&mut out, Duration::from_secs(120))
        .await;

    let peak = peak_rss_kib(pid);
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let stderr = stderr.await.unwrap();
    eprintln!(
        "peak RSS of ktail following a 100 MiB line: {} MiB",
        peak / 1024
    );
    assert!(
        peak <= 64 * 1024,
        "peak RSS {peak} KiB, more than 64 MiB; stderr: {stderr}"
    );
    assert!(
        !stderr.contains("warning"),
        "a streamed line is not split: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_splits_long_lines_into_records_that_say_they_continue() {
    let c = Cluster::start().await;
    let first = long_line(2 * MIB + MIB / 2);
    let second = long_line(MIB + 1);
    let exact = long_line(MIB);
    pod_with_lines(&c.sim, &["before", &first, &exact, &second, "after"]).await;
    let out = c.run(&["web-1", "--no-follow", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let records: Vec<serde_json::Value> = out
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("every record is JSON"))
        .collect();
    let shape: Vec<(usize, bool)> = records
        .iter()
        .map(|r| {
            assert_eq!(r["podName"], "web-1");
            let message = r["message"].as_str().unwrap().len();
            (message, r.get("continues") == Some(&true.into()))
        })
        .collect();
    assert_eq!(
        shape,
        [
            (6, false),
            (MIB, true),
            (MIB, true),
            (MIB / 2, false),
            (MIB, false),
            (MIB, true),
            (1, false),
            (5, false)
        ],
        "pieces of 1 MiB; a line of exactly 1 MiB is whole"
    );
    // The messages of a line's records, joined, are the line; they share its timestamp.
    let joined: String = records[1..4]
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert!(joined == first, "the first long line, rejoined");
    assert!(
        records[1..4]
            .iter()
            .all(|r| r["timestamp"] == records[1]["timestamp"])
    );
    let notices: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("several records"))
        .collect();
    assert_eq!(notices.len(), 1, "said once per run: {}", out.stderr);
    assert!(notices[0].contains("web-1 › app"), "{}", notices[0]);
    assert!(notices[0].contains("1 MiB"), "{}", notices[0]);

    // Text with a filter: each piece is a record of its own, marked.
    let out = c.run(&["web-1", "--no-follow", "-e", "^after$"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(
        lines.len(),
        7,
        "before, 3 + 1 + 2 pieces; after is excluded"
    );
    assert!(lines[1].ends_with(" [continues]") && lines[1].starts_with("web-1 app <"));
    assert!(lines[3].starts_with("web-1 app ") && !lines[3].ends_with(" [continues]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_broken_within_a_long_line_resumes_without_repeating_it() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &["before"]).await;
    let mut child = c.ktail(&["web-1"]).spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let stderr = collect_stderr(&mut child);
    Expect::new(vec![b"web-1 app before\n"])
        .read(&mut out, Duration::from_secs(30))
        .await;
    // Far longer than every buffer between the simulator and this test, so that when
    // the first MiB of it has been read here, the stream is still within the line.
    let long = long_line(64 * MIB);
    c.sim.log("default", "web-1", "app", &long);
    let printed = MIB;
    Expect::new(vec![b"web-1 app ", &long.as_bytes()[..printed]])
        .read(&mut out, Duration::from_secs(60))
        .await;
    c.sim.end_log_streams(StreamEnd::Reset);
    c.sim.log("default", "web-1", "app", "after");

    // What follows: the rest of the record, up to where the tail had read, ended with
    // the marker; the rest of the line in a record of its own; then the next line.
    let mut rest = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut buf = vec![0u8; 256 * 1024];
    while !rest.ends_with(b"web-1 app after\n") {
        let n = tokio::time::timeout_at(deadline, out.read(&mut buf))
            .await
            .expect("the rest comes")
            .unwrap();
        assert!(n > 0, "ktail's output ended");
        rest.extend_from_slice(&buf[..n]);
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let stderr = stderr.await.unwrap();
    let marker = b" [continues]\nweb-1 app ";
    let at = rest
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap_or_else(|| panic!("the record was broken where the stream was: {stderr}"));
    let mut line = long.as_bytes()[..printed].to_vec();
    line.extend_from_slice(&rest[..at]);
    line.extend_from_slice(&rest[at + marker.len()..]);
    assert_eq!(
        (printed + at) % MIB,
        0,
        "the record breaks at a piece boundary"
    );
    let want = [long.as_bytes(), b"\nweb-1 app after\n"].concat();
    assert!(
        line.len() == want.len() && line == want,
        "every byte once, in order ({} bytes printed, {} expected)",
        line.len(),
        want.len()
    );
    assert!(stderr.contains("several records"), "{stderr}");
}
