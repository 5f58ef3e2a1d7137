//! The cost of each output mode per line: the formatter and line filter alone, as a tail
//! runs them, without the network or the writer.
//!
//! `cargo run --release --example format_cost` prints nanoseconds and heap allocations
//! per line for each mode, on generated lines like the simulator's (about 100 bytes, a
//! third of them JSON with a level). An argument keeps only the modes that contain it:
//! `cargo run --release --example format_cost -- json`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::Parser;
use ktail::bench::{LineRenderer, Origin, parse_rfc3339_second};
use ktail::cli::{Args, Env};

/// Counts allocations, to show which modes allocate per line.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const LINES: usize = 200_000;
const ROUNDS: usize = 5;

fn main() {
    let lines: Vec<Vec<u8>> = (0..1000)
        .map(|i| match i % 3 {
            0 => format!(
                r#"{{"level":"{}","msg":"request served","path":"/api/v1/orders/{i}","ms":{}}}"#,
                ["info", "warn", "debug"][i / 3 % 3],
                i % 97
            ),
            1 => format!("ts=2026-11-27T10:00:00Z level=info msg=\"cache refresh\" n={i} took=3ms"),
            _ => {
                format!("pod=web-1 container=app seq={i} GET /healthz 200 0.{i:03}s filler filler")
            }
        })
        .map(String::into_bytes)
        .collect();
    let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
    let none = BTreeMap::new();
    let origin = Origin {
        context: "",
        namespace: "prod",
        pod: "web-7d9c8b6f5-x2x7q",
        container: "app",
        node: "node-1",
        labels: &labels,
        annotations: &none,
        previous: false,
    };
    let ts = b"2026-11-27T10:00:00.123456789Z";
    let second = parse_rfc3339_second(ts);

    let only = std::env::args().nth(1).unwrap_or_default();
    println!("{:<44} {:>9} {:>12}", "mode", "ns/line", "allocs/line");
    for argv in [
        &["-o", "default"][..],
        &["-o", "default", "--color", "always"],
        &["-o", "default", "-t"],
        &["-o", "raw"],
        &["-o", "json"],
        &["-o", "extjson"],
        &["-o", "ppextjson"],
        &["-o", "default", "--level", "warn"],
        &["--template", "{{ pod }} {{ container }} {{ message }}"],
        &[
            "--template",
            "{{ pod }} {{ message | try_extract_json_parts('level', 'msg') }}",
        ],
    ] {
        if !argv.join(" ").contains(&only) {
            continue;
        }
        let args = Args::try_parse_from(["ktail", "x"].iter().chain(argv)).unwrap();
        let env = Env {
            stdout_is_terminal: false,
            ..Env::default()
        };
        let cfg = LineRenderer::new(&args, &env).unwrap();
        let mut fmt = cfg.target(&origin);
        let mut batch = Vec::with_capacity(1 << 20);
        // Warm up (buffers grow to their working size), then measure.
        for line in &lines {
            if cfg.keeps(line) {
                fmt.write_line(&mut batch, ts, second, line);
            }
        }
        batch.clear();
        // The best of five rounds: the machine may be busy with other work.
        let allocs = ALLOCATIONS.load(Ordering::Relaxed);
        let mut best = f64::MAX;
        for _ in 0..ROUNDS {
            let start = Instant::now();
            for i in 0..LINES {
                let line = &lines[i % lines.len()];
                if cfg.keeps(line) {
                    fmt.write_line(&mut batch, ts, second, line);
                }
                if batch.len() > 64 * 1024 {
                    batch.clear();
                }
            }
            best = best.min(start.elapsed().as_nanos() as f64 / LINES as f64);
        }
        let ns = best;
        let allocs =
            (ALLOCATIONS.load(Ordering::Relaxed) - allocs) as f64 / (ROUNDS * LINES) as f64;
        println!("{:<44} {ns:>9.0} {allocs:>12.2}", argv.join(" "));
        std::hint::black_box(&batch);
    }
}
