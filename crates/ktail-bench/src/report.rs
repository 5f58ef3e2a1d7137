//! Samples, their summaries (median, min, max), the ratio to ktail, the targets of the
//! issue, and the three outputs: the table on stdout, the CSVs under `results/` and
//! `RESULTS.md`.

use std::fmt::Write as _;
use std::path::Path;

/// One number from one run of one tool.
#[derive(Debug, Clone)]
pub struct Sample {
    pub workload: &'static str,
    pub tool: String,
    pub run: usize,
    pub metric: &'static str,
    pub value: f64,
}

/// Median, min and max of a metric over the runs.
#[derive(Debug, Clone)]
pub struct Summary {
    pub workload: &'static str,
    pub tool: String,
    pub metric: &'static str,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

/// A target of the issue, checked against a summary.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub workload: &'static str,
    pub what: String,
    pub measured: String,
    pub target: String,
    pub met: bool,
}

#[derive(Default)]
pub struct Results {
    pub samples: Vec<Sample>,
    /// Free-text remarks per workload (correctness checks, caps that were hit).
    pub notes: Vec<(&'static str, String)>,
    /// Workload titles in the order they ran.
    pub titles: Vec<(&'static str, String)>,
}

impl Results {
    pub fn add(
        &mut self,
        workload: &'static str,
        tool: &str,
        run: usize,
        metric: &'static str,
        value: f64,
    ) {
        self.samples.push(Sample {
            workload,
            tool: tool.to_string(),
            run,
            metric,
            value,
        });
    }

    pub fn note(&mut self, workload: &'static str, text: impl Into<String>) {
        let text = text.into();
        println!("  [{workload}] {text}");
        self.notes.push((workload, text));
    }

    pub fn title(&mut self, workload: &'static str, title: impl Into<String>) {
        let title = title.into();
        println!("== {workload}: {title}");
        self.titles.push((workload, title));
    }

    /// Summaries in the order the samples were first added.
    pub fn summaries(&self) -> Vec<Summary> {
        let mut order: Vec<(&'static str, String, &'static str)> = Vec::new();
        for s in &self.samples {
            let key = (s.workload, s.tool.clone(), s.metric);
            if !order.contains(&key) {
                order.push(key);
            }
        }
        order
            .into_iter()
            .map(|(workload, tool, metric)| {
                let mut v: Vec<f64> = self
                    .samples
                    .iter()
                    .filter(|s| s.workload == workload && s.tool == tool && s.metric == metric)
                    .map(|s| s.value)
                    .collect();
                v.sort_by(f64::total_cmp);
                Summary {
                    workload,
                    tool,
                    metric,
                    median: median(&v),
                    min: v.first().copied().unwrap_or(f64::NAN),
                    max: v.last().copied().unwrap_or(f64::NAN),
                    runs: v.len(),
                }
            })
            .collect()
    }

    pub fn find(&self, workload: &str, tool: &str, metric: &str) -> Option<Summary> {
        self.summaries()
            .into_iter()
            .find(|s| s.workload == workload && s.tool == tool && s.metric == metric)
    }
}

/// The median of sorted values (mean of the middle two for an even count).
pub fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The `q` quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Metrics where a bigger number is better (the ratio column is read the other way).
fn unit(metric: &str) -> &'static str {
    if metric.ends_with("_s") {
        "s"
    } else if metric.ends_with("_ms") {
        "ms"
    } else if metric.ends_with("_us_per_line") {
        "µs/line"
    } else if metric.ends_with("_mib") {
        "MiB"
    } else if metric.ends_with("_pct") {
        "% of a core"
    } else if metric.ends_with("_per_s") {
        "/s"
    } else {
        ""
    }
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if (v == v.trunc() && v.abs() < 1e12) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// `value ÷ ktail's median` of the same workload and metric.
fn ratio(all: &[Summary], s: &Summary) -> String {
    if s.tool == "ktail" {
        return "1".into();
    }
    match all
        .iter()
        .find(|k| k.workload == s.workload && k.tool == "ktail" && k.metric == s.metric)
    {
        Some(k) if k.median != 0.0 && !k.median.is_nan() && !s.median.is_nan() => {
            format!("{}×", fmt_num(s.median / k.median))
        }
        _ => String::new(),
    }
}

/// The full table, one row per workload, tool and metric.
pub fn table_markdown(results: &Results) -> String {
    let all = results.summaries();
    let mut out = String::new();
    for (w, title) in &results.titles {
        let rows: Vec<&Summary> = all.iter().filter(|s| s.workload == *w).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {w}: {title}\n");
        let _ = writeln!(
            out,
            "| tool | metric | median | min | max | runs | ÷ ktail |\n|---|---|---:|---:|---:|---:|---:|"
        );
        for s in rows {
            let _ = writeln!(
                out,
                "| {} | {} ({}) | {} | {} | {} | {} | {} |",
                s.tool,
                s.metric,
                unit(s.metric),
                fmt_num(s.median),
                fmt_num(s.min),
                fmt_num(s.max),
                s.runs,
                ratio(&all, s)
            );
        }
        for (_, n) in results.notes.iter().filter(|(nw, _)| nw == w) {
            let _ = writeln!(out, "\n- {n}");
        }
    }
    out
}

/// The same table for a terminal.
pub fn table_text(results: &Results) -> String {
    let all = results.summaries();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<4} {:<22} {:<26} {:>10} {:>10} {:>10} {:>4} {:>9}",
        "", "tool", "metric", "median", "min", "max", "runs", "÷ ktail"
    );
    for s in &all {
        let _ = writeln!(
            out,
            "{:<4} {:<22} {:<26} {:>10} {:>10} {:>10} {:>4} {:>9}",
            s.workload,
            s.tool,
            s.metric,
            fmt_num(s.median),
            fmt_num(s.min),
            fmt_num(s.max),
            s.runs,
            ratio(&all, s)
        );
    }
    out
}

/// The targets against the medians.
pub fn verdicts(r: &Results) -> Vec<Verdict> {
    let mut v = Vec::new();
    let med = |w: &str, t: &str, m: &str| r.find(w, t, m).map(|s| s.median);
    let mut check = |w: &'static str,
                     what: &str,
                     measured: Option<f64>,
                     unit: &str,
                     target: &str,
                     ok: &dyn Fn(f64) -> bool| {
        if let Some(x) = measured.filter(|x| !x.is_nan()) {
            v.push(Verdict {
                workload: w,
                what: what.to_string(),
                measured: format!("{} {unit}", fmt_num(x)),
                target: target.to_string(),
                met: ok(x),
            });
        }
    };
    let ktail_w1 = med("W1", "ktail", "wall_s");
    let kubectl_w1 = med("W1", "kubectl", "wall_s");
    let curl_w1 = med("W1", "curl >/dev/null", "wall_s");
    check(
        "W1",
        "kubectl wall ÷ ktail wall",
        ktail_w1.zip(kubectl_w1).map(|(k, c)| c / k),
        "×",
        "≥ 10×",
        &|x| x >= 10.0,
    );
    check(
        "W1",
        "ktail wall ÷ curl wall",
        ktail_w1.zip(curl_w1).map(|(k, c)| k / c),
        "×",
        "≤ 1.5×",
        &|x| x <= 1.5,
    );
    check(
        "W1",
        "ktail peak RSS, 100 streams drained",
        med("W1", "ktail", "max_rss_mib"),
        "MiB",
        "≤ 32 MiB",
        &|x| x <= 32.0,
    );
    check(
        "W10",
        "ktail peak RSS reading a 100 MiB line",
        med("W10", "ktail", "max_rss_mib"),
        "MiB",
        "≤ 64 MiB",
        &|x| x <= 64.0,
    );
    check(
        "W2",
        "plain HTTP drain: ktail wall ÷ curl wall",
        med("W2", "ktail (plain HTTP)", "wall_s")
            .zip(med("W2", "curl | wc -l (plain HTTP)", "wall_s"))
            .map(|(k, c)| k / c),
        "×",
        "≤ 1.5×",
        &|x| x <= 1.5,
    );
    check(
        "W2",
        "ktail CPU per line",
        med("W2", "ktail", "cpu_us_per_line"),
        "µs",
        "≤ 1 µs",
        &|x| x <= 1.0,
    );
    check(
        "W3",
        "ktail latency p99",
        med("W3", "ktail", "latency_p99_ms"),
        "ms",
        "≤ 5 ms",
        &|x| x <= 5.0,
    );
    check(
        "W3",
        "ktail CPU at 10,000 lines/s",
        med("W3", "ktail", "cpu_pct"),
        "%",
        "≤ 10 % (stretch 5 %)",
        &|x| x <= 10.0,
    );
    check(
        "W4",
        "ktail: 1000 streams delivering",
        med("W4", "ktail", "all_streams_s"),
        "s",
        "≤ 3 s",
        &|x| x <= 3.0,
    );
    check(
        "W4",
        "ktail: server connections for 1000 streams",
        med("W4", "ktail", "connections"),
        "",
        "≤ 12 (HTTP/2)",
        &|x| x <= 12.0,
    );
    for wire in ["HTTP/2", "HTTP/1.1"] {
        let tool = format!("ktail {wire}");
        check(
            "W9",
            &format!("ktail: 5000 streams delivering, {wire}"),
            med("W9", &tool, "all_streams_s"),
            "s",
            "≤ 10 s",
            &|x| x <= 10.0,
        );
        check(
            "W9",
            &format!("ktail RSS, 5000 idle streams, {wire}"),
            med("W9", &tool, "idle_rss_mib"),
            "MiB",
            "≤ 128 MiB",
            &|x| x <= 128.0,
        );
    }
    check(
        "W5",
        "ktail RSS, 1000 idle streams",
        med("W5", "ktail", "idle_rss_mib"),
        "MiB",
        "≤ 64 MiB",
        &|x| x <= 64.0,
    );
    check(
        "W5",
        "ktail peak RSS, stdout blocked 10 s",
        med("W5", "ktail blocked", "blocked_peak_rss_mib"),
        "MiB",
        "bounded (≤ 128 MiB)",
        &|x| x <= 128.0,
    );
    check(
        "W5",
        "ktail lines lost or repeated after the block",
        med("W5", "ktail blocked", "lost_or_dup"),
        "",
        "0",
        &|x| x == 0.0,
    );
    check(
        "W6",
        "ktail pickup p99",
        med("W6", "ktail", "pickup_p99_ms"),
        "ms",
        "≤ 500 ms",
        &|x| x <= 500.0,
    );
    v
}

pub fn verdicts_markdown(v: &[Verdict]) -> String {
    let mut out = String::from(
        "| workload | what | measured (median) | target | met |\n|---|---|---:|---|---|\n",
    );
    for x in v {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            x.workload,
            x.what,
            x.measured,
            x.target,
            if x.met { "yes" } else { "**no**" }
        );
    }
    out
}

/// One CSV per workload: `workload,tool,run,metric,value`.
pub fn write_csvs(results: &Results, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut workloads: Vec<&str> = results.samples.iter().map(|s| s.workload).collect();
    workloads.dedup();
    workloads.sort_unstable();
    workloads.dedup();
    for w in workloads {
        let mut text = String::from("workload,tool,run,metric,value\n");
        for s in results.samples.iter().filter(|s| s.workload == w) {
            let _ = writeln!(
                text,
                "{},{},{},{},{}",
                s.workload,
                csv_field(&s.tool),
                s.run,
                s.metric,
                s.value
            );
        }
        std::fs::write(dir.join(format!("{w}.csv")), text)?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_quantiles_and_ratios() {
        assert_eq!(median(&[1.0, 2.0, 10.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), 2.5);
        assert!(median(&[]).is_nan());
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile(&[], 0.5), None);

        let mut r = Results::default();
        r.title("W1", "drain");
        for (run, (k, c)) in [(1.0, 20.0), (2.0, 18.0), (1.5, 19.0)]
            .into_iter()
            .enumerate()
        {
            r.add("W1", "ktail", run, "wall_s", k);
            r.add("W1", "kubectl", run, "wall_s", c);
        }
        let s = r.find("W1", "kubectl", "wall_s").unwrap();
        assert_eq!((s.median, s.min, s.max, s.runs), (19.0, 18.0, 20.0, 3));
        let md = table_markdown(&r);
        assert!(
            md.contains("| kubectl | wall_s (s) | 19 | 18 | 20 | 3 | 12.7× |"),
            "{md}"
        );
        let v = verdicts(&r);
        assert_eq!(v.len(), 1);
        assert!(v[0].met, "{v:?}");
    }
}
