//! The `demo` scenario: namespace `demo` with a Deployment `web` (3 replicas, containers
//! `app` and `sidecar` logging realistic lines) that rolls to a new image every 20 seconds
//! until a client changes it, and a StatefulSet `db` whose pod `db-0` logs slowly. It drives the cluster only through
//! the public [`Sim`] handle, like any test.

use std::time::Duration;

use crate::sim::Sim;
use crate::spec::{ContainerSpec, WorkloadSpec};

const WEB_IMAGES: [&str; 2] = ["nginx:1.27", "nginx:1.28"];

/// Creates the demo objects (no rollouts; see [`run_demo`]).
pub fn demo(sim: &Sim) {
    sim.create_namespace("demo");
    sim.create_deployment(
        "demo",
        WorkloadSpec::new("web", 3)
            .label("app", "web")
            .container(
                ContainerSpec::new("app")
                    .image(WEB_IMAGES[0])
                    .start_delay(Duration::from_millis(1500)),
            )
            .container(
                ContainerSpec::new("sidecar")
                    .image("fluent/fluent-bit:3.2")
                    .start_delay(Duration::from_millis(1500)),
            ),
    );
    sim.create_service("demo", "web", &[("app", "web")]);
    sim.create_statefulset(
        "demo",
        WorkloadSpec::new("db", 1)
            .label("app", "db")
            .container(ContainerSpec::new("postgres").image("postgres:17")),
    );
}

/// The generation of Deployment `demo/web`, which every change to its spec bumps.
fn web_generation(sim: &Sim) -> Option<u64> {
    sim.objects("deployments", "demo")
        .iter()
        .find(|d| d["metadata"]["name"] == "web")
        .and_then(|d| d["metadata"]["generation"].as_u64())
}

/// Creates the demo and keeps it moving until the simulator shuts down: realistic log
/// lines from every running container, and a rolling update every 20 seconds until
/// someone changes `web` through the API (`kubectl set image`, `scale`...): from then
/// on the Deployment is theirs.
pub async fn run_demo(sim: Sim) {
    demo(&sim);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut n: u64 = 0;
    let mut version = 0;
    let mut ours = web_generation(&sim);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = sim.stopped() => return,
        }
        n += 1;
        if n.is_multiple_of(80) && ours.is_some() {
            if web_generation(&sim) == ours {
                version = (version + 1) % WEB_IMAGES.len();
                sim.set_image("demo", "web", "app", WEB_IMAGES[version]);
                ours = web_generation(&sim);
            } else {
                ours = None;
            }
        }
        for pod in sim.pod_names("demo") {
            if pod.starts_with("web-") {
                sim.log("demo", &pod, "app", &access_line(n, &pod));
                if n.is_multiple_of(3) {
                    sim.log("demo", &pod, "sidecar", &sidecar_line(n, &pod));
                }
            } else if pod == "db-0" && n.is_multiple_of(8) {
                sim.log("demo", &pod, "postgres", &db_line(n));
            }
        }
    }
}

fn pick<'a>(n: u64, salt: u64, items: &[&'a str]) -> &'a str {
    let h = crate::meta::fnv64(&n.wrapping_mul(31).wrapping_add(salt).to_le_bytes());
    items[(h % items.len() as u64) as usize]
}

fn access_line(n: u64, pod: &str) -> String {
    let path = pick(
        n,
        pod.len() as u64,
        &[
            "/",
            "/api/orders",
            "/api/users/42",
            "/healthz",
            "/static/app.js",
            "/login",
        ],
    );
    let method = pick(n, 7, &["GET", "GET", "GET", "POST", "PUT"]);
    let status = pick(n, 3, &["200", "200", "200", "201", "304", "404", "500"]);
    let ip = 10 + (crate::meta::fnv64(&n.to_le_bytes()) % 200);
    let ms = crate::meta::fnv64(&n.wrapping_add(1).to_le_bytes()) % 900 + 3;
    let now = jiff::Timestamp::now().strftime("%d/%b/%Y:%H:%M:%S +0000");
    format!(
        "10.244.0.{ip} - - [{now}] \"{method} {path} HTTP/1.1\" {status} {} \"-\" \"Mozilla/5.0\" rt={}.{:03}",
        200 + ms * 7,
        ms / 1000,
        ms % 1000
    )
}

fn sidecar_line(seq: u64, pod: &str) -> String {
    let n = seq ^ crate::meta::fnv64(pod.as_bytes());
    let level = pick(n, 11, &["info", "info", "info", "debug", "warn", "error"]);
    let msg = match level {
        "warn" => "retrying flush to output: upstream connection timed out",
        "error" => "failed to flush chunk: HTTP 503 from collector",
        _ => pick(
            n,
            5,
            &[
                "flushed chunk to collector",
                "tail: file rotated, reopening",
                "metrics scraped",
                "buffer usage 12%",
            ],
        ),
    };
    format!(
        "{{\"ts\":\"{}\",\"level\":\"{level}\",\"component\":\"forwarder\",\"msg\":\"{msg}\",\"seq\":{}}}",
        jiff::Timestamp::now(),
        seq
    )
}

fn db_line(n: u64) -> String {
    let msg = pick(
        n,
        13,
        &[
            "LOG:  checkpoint starting: time",
            "LOG:  checkpoint complete: wrote 42 buffers (0.3%); 0 WAL file(s) added",
            "LOG:  automatic vacuum of table \"app.public.orders\": index scans: 1",
            "WARNING:  there is no transaction in progress",
            "LOG:  connection received: host=10.244.1.7 port=51234",
        ],
    );
    format!(
        "{} UTC [{}] {msg}",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S%.3f"),
        60 + n % 40
    )
}
