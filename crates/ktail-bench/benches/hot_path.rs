//! Criterion micro-benchmarks of ktail's per-line work, through its library API: line
//! splitting, timestamp parsing, prefix and JSON formatting, and the line filters.
//!
//! The input is 1000 lines as the simulator (and a kubelet asked for timestamps) sends
//! them: a 30-byte RFC 3339 timestamp, a space and a 100-byte message. Throughput is in
//! lines, so criterion prints lines per second; the cost model's floors are a memchr
//! split at ~7 ns/line, prefix + copy at ~12 ns/line, a literal regex at ~14 ns/line.
//!
//! Formatters and filters are built the way ktail builds them, from command-line flags
//! through `Settings::resolve`, so a change in their construction shows up here too.
//!
//! ```text
//! cargo bench -p ktail-bench --bench hot_path [-- CRITERION FLAGS]
//! ```

use std::collections::BTreeMap;
use std::hint::black_box;

use clap::Parser;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ktail::bench::{LineRenderer, LineSplitter, Origin, parse_line};
use ktail::cli::{Args, Env};

const LINES: usize = 1000;
const POD: &str = "web-7d9c8b6f5-x2x7q";

/// The wire bytes of `LINES` lines.
fn sample_log() -> Vec<u8> {
    let mut out = Vec::new();
    for seq in 0..LINES as u64 {
        out.extend_from_slice(
            format!(
                "2026-11-27T13:10:{:02}.{:09}Z ",
                seq / 100 % 60,
                seq * 7919 % 1_000_000_000
            )
            .as_bytes(),
        );
        out.extend_from_slice(&kube_sim::logs::generated_line(POD, "app", seq));
        out.push(b'\n');
    }
    out
}

fn config(argv: &[&str]) -> Option<LineRenderer> {
    let args = Args::try_parse_from(std::iter::once("ktail").chain(argv.iter().copied())).ok()?;
    let env = Env {
        now: 1_800_000_000,
        ..Env::default()
    };
    LineRenderer::new(&args, &env).ok()
}

/// The labels of the benchmarks' pod.
fn labels() -> BTreeMap<String, String> {
    [
        ("app".to_string(), "web".to_string()),
        ("pod-template-hash".to_string(), "7d9c8b6f5".to_string()),
    ]
    .into()
}

fn origin<'a>(
    labels: &'a BTreeMap<String, String>,
    none: &'a BTreeMap<String, String>,
) -> Origin<'a> {
    Origin {
        context: "",
        namespace: "prod",
        pod: POD,
        container: "app",
        node: "node-1",
        labels,
        annotations: none,
        previous: false,
    }
}

fn split(c: &mut Criterion) {
    let log = sample_log();
    let mut g = c.benchmark_group("split");
    g.throughput(Throughput::Elements(LINES as u64));
    g.bench_function("LineSplitter, 16 KiB chunks", |b| {
        b.iter(|| {
            let mut s = LineSplitter::default();
            let mut n = 0usize;
            for chunk in log.chunks(16 * 1024) {
                s.feed(black_box(chunk), |l, _| n += l.len());
            }
            s.finish(|l, _| n += l.len());
            black_box(n)
        })
    });
    // Kubelet-style: every line arrives as its own chunk.
    let chunks: Vec<&[u8]> = log.split_inclusive(|b| *b == b'\n').collect();
    g.bench_function("LineSplitter, one chunk per line", |b| {
        b.iter(|| {
            let mut s = LineSplitter::default();
            let mut n = 0usize;
            for chunk in &chunks {
                s.feed(black_box(chunk), |l, _| n += l.len());
            }
            black_box(n)
        })
    });
    let lines: Vec<&[u8]> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    g.bench_function("parse_line (timestamp split and parse)", |b| {
        b.iter(|| {
            let mut n = 0i64;
            for l in &lines {
                n = n.wrapping_add(parse_line(black_box(l)).second.unwrap_or(0));
            }
            black_box(n)
        })
    });
    g.finish();
}

fn format(c: &mut Criterion) {
    let log = sample_log();
    let lines: Vec<&[u8]> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut g = c.benchmark_group("format");
    g.throughput(Throughput::Elements(LINES as u64));
    let template = "{{ pod }} {{ container }} {{ message }}";
    let cases: [(&str, &[&str]); 7] = [
        ("default (pod container message)", &["x"]),
        ("default, colour", &["x", "--color", "always"]),
        ("default, -t timestamps", &["x", "-t"]),
        ("raw", &["x", "-o", "raw"]),
        ("json", &["x", "-o", "json"]),
        (
            "highlight -H 'seq=\\d+', colour",
            &["x", "-H", r"seq=\d+", "--color", "always"],
        ),
        (
            "template (pod container message)",
            &["x", "--template", template],
        ),
    ];
    for (name, argv) in cases {
        // A flag this ktail does not have (yet) skips its case.
        let Some(cfg) = config(argv) else { continue };
        let (labels, none) = (labels(), BTreeMap::new());
        let mut tf = cfg.target(&origin(&labels, &none));
        let parsed: Vec<_> = lines.iter().map(|l| parse_line(l)).collect();
        let mut out = Vec::with_capacity(256 * LINES);
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                for l in &parsed {
                    tf.write_line(&mut out, l.timestamp, l.second, l.message);
                }
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn filters(c: &mut Criterion) {
    let log = sample_log();
    let messages: Vec<&[u8]> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| parse_line(l).message)
        .collect();
    let mut g = c.benchmark_group("filter");
    g.throughput(Throughput::Elements(LINES as u64));
    let cases: [(&str, &[&str]); 5] = [
        ("none", &["x"]),
        ("-i literal, no match", &["x", "-i", "ERROR"]),
        (
            "-i 'seq=\\d*[05] ' (keeps 1/5)",
            &["x", "-i", r"seq=\d*[05] "],
        ),
        (
            "-e 'seq=\\d*[05] ' (drops 1/5)",
            &["x", "-e", r"seq=\d*[05] "],
        ),
        (
            "-i ×3 and -e ×2",
            &[
                "x",
                "-i",
                "ERROR",
                "-i",
                "(?i)warn",
                "-i",
                r"seq=\d+0 ",
                "-e",
                "healthz",
                "-e",
                "lorem ipsum dolor sit amet, x",
            ],
        ),
    ];
    for (name, argv) in cases {
        let Some(cfg) = config(argv) else { continue };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut kept = 0usize;
                for m in &messages {
                    kept += usize::from(cfg.keeps(black_box(m)));
                }
                black_box(kept)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, split, format, filters);
criterion_main!(benches);
