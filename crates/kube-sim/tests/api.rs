//! Wire-level checks of the simulated API server with a minimal HTTP/1.1 client: what a
//! real client sees byte for byte (headers before events, in-band 410s, bookmark shapes,
//! selector transitions, paging, log streams ending, Status bodies).

use std::time::Duration;

use kube_sim::{ContainerSpec, JobSpec, PodSpec, Sim, SimOptions, WorkloadSpec};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

/// Bounds every await of a test.
async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("timed out waiting for the server")
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    r: BufReader<TcpStream>,
    chunked: bool,
    length: Option<usize>,
    done: bool,
    /// The body ended with the terminating zero-length chunk (not a dropped connection).
    clean_end: bool,
    pending: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The next piece of body; None at the end of the body.
    async fn chunk(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        if !self.chunked {
            self.done = true;
            let mut buf = vec![0; self.length.unwrap_or(0)];
            self.r.read_exact(&mut buf).await.ok()?;
            return Some(buf);
        }
        let mut line = String::new();
        if self.r.read_line(&mut line).await.unwrap_or(0) == 0 {
            self.done = true;
            return None;
        }
        let size = usize::from_str_radix(line.trim(), 16).ok()?;
        let mut buf = vec![0; size + 2];
        self.r.read_exact(&mut buf).await.ok()?;
        buf.truncate(size);
        if size == 0 {
            self.done = true;
            self.clean_end = true;
            return None;
        }
        Some(buf)
    }

    /// The next `\n`-terminated line of the body.
    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
                let rest = self.pending.split_off(i + 1);
                let line = std::mem::replace(&mut self.pending, rest);
                return Some(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            let c = self.chunk().await?;
            self.pending.extend_from_slice(&c);
        }
    }

    async fn json_line(&mut self) -> Option<Value> {
        let l = within(self.line()).await?;
        Some(serde_json::from_str(&l).expect("one JSON object per line"))
    }

    async fn body(mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.pending);
        while let Some(c) = within(self.chunk()).await {
            out.extend_from_slice(&c);
        }
        out
    }

    async fn json(self) -> Value {
        let ct = self.header("content-type").unwrap_or("").to_string();
        assert_eq!(ct, "application/json");
        serde_json::from_slice(&self.body().await).expect("JSON body")
    }
}

async fn request(sim: &Sim, path: &str, token: Option<&str>, extra: &[(&str, &str)]) -> Resp {
    send(sim, "GET", path, token, extra, b"").await
}

async fn send(
    sim: &Sim,
    method: &str,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = within(TcpStream::connect(sim.addr())).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut r = BufReader::new(s);
    let mut status_line = String::new();
    within(r.read_line(&mut status_line)).await.unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        within(r.read_line(&mut l)).await.unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok());
    Resp {
        status,
        headers,
        r,
        chunked,
        length,
        done: false,
        clean_end: false,
        pending: Vec::new(),
    }
}

async fn get(sim: &Sim, path: &str) -> Resp {
    request(sim, path, Some("sim-token"), &[]).await
}

async fn start() -> Sim {
    Sim::start(SimOptions::default()).await.unwrap()
}

async fn list_rv(sim: &Sim, path: &str) -> String {
    let v = get(sim, path).await.json().await;
    v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string()
}

fn app(name: &str) -> ContainerSpec {
    ContainerSpec::new(name).image("nginx:1.27")
}

#[tokio::test]
async fn watch_headers_arrive_before_any_event() {
    let sim = start().await;
    let rv = list_rv(&sim, "/api/v1/namespaces/default/pods").await;
    let mut w = get(
        &sim,
        &format!("/api/v1/namespaces/default/pods?&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(w.status, 200);
    assert_eq!(w.header("content-type"), Some("application/json"));
    assert!(w.chunked);
    sim.create_pod("default", PodSpec::new("p1").container(app("app")));
    let ev = w.json_line().await.unwrap();
    assert_eq!(ev["type"], "ADDED");
    assert_eq!(ev["object"]["kind"], "Pod");
    assert_eq!(ev["object"]["apiVersion"], "v1");
    assert_eq!(ev["object"]["metadata"]["name"], "p1");
    assert!(
        ev["object"]["metadata"]["resourceVersion"]
            .as_str()
            .is_some()
    );
}

#[tokio::test]
async fn too_old_resource_version_is_an_in_band_410() {
    let sim = Sim::start(SimOptions {
        watch_history: 3,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    for i in 0..5 {
        sim.create_pod(
            "default",
            PodSpec::new(&format!("p{i}")).container(app("app")),
        );
    }
    let mut w = get(
        &sim,
        "/api/v1/namespaces/default/pods?&watch=true&resourceVersion=2",
    )
    .await;
    assert_eq!(w.status, 200);
    let ev = w.json_line().await.unwrap();
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(ev["object"]["kind"], "Status");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
    let msg = ev["object"]["message"].as_str().unwrap();
    assert!(msg.starts_with("too old resource version: 2 ("), "{msg}");
    assert!(
        within(w.line()).await.is_none(),
        "the watch closes after the error"
    );

    // Exact list of a compacted revision is a plain 410.
    let r = get(
        &sim,
        "/api/v1/namespaces/default/pods?limit=1&resourceVersion=2",
    )
    .await;
    assert_eq!(r.status, 410);
    assert_eq!(r.json().await["reason"], "Expired");
}

#[tokio::test]
async fn expire_watches_ends_open_watches_with_410() {
    let sim = start().await;
    let rv = list_rv(&sim, "/api/v1/pods").await;
    let mut w = get(&sim, &format!("/api/v1/pods?watch=1&resourceVersion={rv}")).await;
    assert_eq!(w.status, 200);
    sim.expire_watches();
    let ev = w.json_line().await.unwrap();
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(ev["object"]["code"], 410);
    assert!(within(w.line()).await.is_none());
    // Resuming from the old revision is too old now.
    let mut w = get(&sim, &format!("/api/v1/pods?watch=1&resourceVersion={rv}")).await;
    sim.create_pod("default", PodSpec::new("late").container(app("app")));
    let ev = w.json_line().await.unwrap();
    assert_eq!(ev["type"], "ERROR");
}

#[tokio::test]
async fn streaming_list_ends_with_the_initial_events_bookmark() {
    let sim = start().await;
    sim.create_pod("default", PodSpec::new("a").container(app("app")));
    sim.create_pod("default", PodSpec::new("b").container(app("app")));
    let mut w = get(
        &sim,
        "/api/v1/namespaces/default/pods?&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0",
    )
    .await;
    let mut names = Vec::new();
    for _ in 0..2 {
        let ev = w.json_line().await.unwrap();
        assert_eq!(ev["type"], "ADDED");
        names.push(
            ev["object"]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    names.sort();
    assert_eq!(names, ["a", "b"]);
    let bm = w.json_line().await.unwrap();
    assert_eq!(bm["type"], "BOOKMARK");
    assert_eq!(bm["object"]["kind"], "Pod");
    assert_eq!(bm["object"]["apiVersion"], "v1");
    assert_eq!(
        bm["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(
        bm["object"]["metadata"]["resourceVersion"]
            .as_str()
            .is_some()
    );

    // sendInitialEvents without NotOlderThan is rejected before streaming.
    let r = get(
        &sim,
        "/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true",
    )
    .await;
    assert_eq!(r.status, 422);
    let st = r.json().await;
    assert_eq!(st["reason"], "Invalid");
    assert_eq!(st["details"]["kind"], "ListOptions");
}

#[tokio::test]
async fn watch_timeout_ends_cleanly_after_a_bookmark() {
    let sim = start().await;
    let rv = list_rv(&sim, "/api/v1/pods").await;
    let mut w = get(
        &sim,
        &format!(
            "/api/v1/pods?watch=true&timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion={rv}"
        ),
    )
    .await;
    let bm = w.json_line().await.unwrap();
    assert_eq!(bm["type"], "BOOKMARK");
    assert_eq!(bm["object"]["metadata"]["resourceVersion"], rv.as_str());
    assert!(within(w.line()).await.is_none());
}

#[tokio::test]
async fn selector_transitions_become_added_and_deleted() {
    let sim = start().await;
    let rv = list_rv(&sim, "/api/v1/namespaces/default/pods").await;
    let mut w = get(
        &sim,
        &format!("/api/v1/namespaces/default/pods?watch=true&fieldSelector=status.phase%3DRunning&resourceVersion={rv}"),
    )
    .await;
    sim.create_pod(
        "default",
        PodSpec::new("slow")
            .restart_policy("Never")
            .container(app("app").start_delay(Duration::from_millis(200))),
    );
    let ev = w.json_line().await.unwrap();
    assert_eq!(
        ev["type"], "ADDED",
        "Pending -> Running enters the selector"
    );
    assert_eq!(ev["object"]["status"]["phase"], "Running");
    sim.terminate_container("default", "slow", "app", 0);
    let ev = w.json_line().await.unwrap();
    assert_eq!(ev["type"], "DELETED", "Running -> Succeeded leaves it");
    assert_eq!(ev["object"]["status"]["phase"], "Succeeded");
}

#[tokio::test]
async fn paging_keeps_the_first_page_snapshot() {
    let sim = start().await;
    for i in 0..5 {
        sim.create_pod(
            "default",
            PodSpec::new(&format!("p{i}")).container(app("app")),
        );
    }
    let first = get(&sim, "/api/v1/namespaces/default/pods?&limit=2")
        .await
        .json()
        .await;
    let rv = first["metadata"]["resourceVersion"].clone();
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert!(
        first["items"][0].get("kind").is_none(),
        "list items carry no kind"
    );
    sim.create_pod("default", PodSpec::new("p9").container(app("app")));
    sim.delete_pod("default", "p3", Duration::ZERO);
    let mut names: Vec<String> = Vec::new();
    let mut page = first;
    for _ in 0..10 {
        assert_eq!(page["metadata"]["resourceVersion"], rv);
        for it in page["items"].as_array().unwrap() {
            names.push(it["metadata"]["name"].as_str().unwrap().to_string());
        }
        let Some(cont) = page["metadata"]["continue"]
            .as_str()
            .filter(|c| !c.is_empty())
        else {
            break;
        };
        page = get(
            &sim,
            &format!("/api/v1/namespaces/default/pods?&limit=2&continue={cont}"),
        )
        .await
        .json()
        .await;
    }
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4"]);
}

#[tokio::test]
async fn tables_for_kubectl() {
    let sim = start().await;
    sim.create_deployment("default", WorkloadSpec::new("web", 2).container(app("app")));
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let t = request(
        &sim,
        "/api/v1/namespaces/default/pods?limit=500",
        Some("sim-token"),
        &[("Accept", accept)],
    )
    .await
    .json()
    .await;
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols[..5], ["Name", "Ready", "Status", "Restarts", "Age"]);
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["cells"][1], "1/1");
    assert_eq!(rows[0]["cells"][2], "Running");
    assert_eq!(rows[0]["object"]["kind"], "PartialObjectMetadata");
    let d = request(
        &sim,
        "/apis/apps/v1/namespaces/default/deployments",
        Some("sim-token"),
        &[("Accept", accept)],
    )
    .await
    .json()
    .await;
    assert_eq!(d["rows"][0]["cells"][1], "2/2");
}

#[tokio::test]
async fn follow_ends_when_the_container_terminates() {
    let sim = start().await;
    sim.create_pod(
        "default",
        PodSpec::new("p").container(app("app").lines(["one", "two"])),
    );
    let mut r = get(
        &sim,
        "/api/v1/namespaces/default/pods/p/log?&container=app&follow=true",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(within(r.line()).await.as_deref(), Some("one"));
    assert_eq!(within(r.line()).await.as_deref(), Some("two"));
    sim.log("default", "p", "app", "three");
    assert_eq!(within(r.line()).await.as_deref(), Some("three"));
    sim.terminate_container("default", "p", "app", 0);
    assert_eq!(within(r.line()).await, None, "clean end after termination");
}

#[tokio::test]
async fn previous_logs_after_a_restart() {
    let sim = start().await;
    sim.create_pod(
        "default",
        PodSpec::new("p").container(app("app").lines(["first run"])),
    );
    let r = get(&sim, "/api/v1/namespaces/default/pods/p/log?previous=true").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json().await["message"],
        "previous terminated container \"app\" in pod \"p\" not found"
    );
    sim.restart_container("default", "p", "app", 137);
    sim.log("default", "p", "app", "second run");
    let prev = get(&sim, "/api/v1/namespaces/default/pods/p/log?previous=true")
        .await
        .body()
        .await;
    assert_eq!(prev, b"first run\n");
    let cur = get(&sim, "/api/v1/namespaces/default/pods/p/log")
        .await
        .body()
        .await;
    assert_eq!(cur, b"second run\n");
    let pod = sim.pod("default", "p").unwrap();
    let st = &pod["status"]["containerStatuses"][0];
    assert_eq!(st["restartCount"], 1);
    assert_eq!(st["lastState"]["terminated"]["exitCode"], 137);
    assert_ne!(
        st["containerID"],
        st["lastState"]["terminated"]["containerID"]
    );
}

#[tokio::test]
async fn log_errors_and_no_content() {
    let sim = start().await;
    sim.create_pod(
        "default",
        PodSpec::new("multi")
            .init_container(app("init-db"))
            .container(app("app"))
            .container(app("sidecar")),
    );
    sim.create_pod(
        "default",
        PodSpec::new("pending").node(None).container(app("app")),
    );
    sim.create_pod(
        "default",
        PodSpec::new("pull").container(app("app").waiting("ImagePullBackOff")),
    );

    let r = get(&sim, "/api/v1/namespaces/default/pods/multi/log").await;
    assert_eq!(r.status, 400);
    let st = r.json().await;
    assert_eq!(st["reason"], "BadRequest");
    assert_eq!(
        st["message"],
        "a container name must be specified for pod multi, choose one of: [init-db app sidecar]"
    );
    let r = get(
        &sim,
        "/api/v1/namespaces/default/pods/multi/log?container=nope",
    )
    .await;
    assert_eq!(
        r.json().await["message"],
        "container nope is not valid for pod multi"
    );
    let r = get(&sim, "/api/v1/namespaces/default/pods/pull/log").await;
    assert_eq!(
        r.json().await["message"],
        "container \"app\" in pod \"pull\" is waiting to start: trying and failing to pull image"
    );
    let r = get(&sim, "/api/v1/namespaces/default/pods/nope/log").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json().await["message"], "pods \"nope\" not found");
    let r = get(
        &sim,
        "/api/v1/namespaces/default/pods/pending/log?follow=true",
    )
    .await;
    assert_eq!(r.status, 204);
    let r = get(
        &sim,
        "/api/v1/namespaces/default/pods/multi/log?container=app&tailLines=-1",
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json().await["details"]["kind"], "PodLogOptions");
}

#[tokio::test]
async fn unauthorized_and_forbidden() {
    let sim = start().await;
    let r = request(&sim, "/api/v1/pods", None, &[]).await;
    assert_eq!(r.status, 401);
    let st = r.json().await;
    assert_eq!(st["message"], "Unauthorized");
    assert_eq!(st["reason"], "Unauthorized");
    let r = request(&sim, "/api/v1/pods", Some("wrong"), &[]).await;
    assert_eq!(r.status, 401);
    let r = request(&sim, "/version", None, &[]).await;
    assert_eq!(r.status, 200);

    sim.create_namespace("secret");
    sim.create_pod("secret", PodSpec::new("p").container(app("app")));
    sim.forbid_namespace("secret");
    let r = get(&sim, "/api/v1/namespaces/secret/pods").await;
    assert_eq!(r.status, 403);
    let st = r.json().await;
    assert_eq!(st["reason"], "Forbidden");
    assert_eq!(
        st["message"],
        "pods is forbidden: User \"sim-user\" cannot list resource \"pods\" in API group \"\" in the namespace \"secret\""
    );
    let r = get(&sim, "/api/v1/namespaces/secret/pods/p/log?container=app").await;
    assert_eq!(
        r.json().await["message"],
        "pods \"p\" is forbidden: User \"sim-user\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"secret\""
    );
    let r = get(&sim, "/api/v1/namespaces/secret/pods?watch=true").await;
    assert!(
        r.json().await["message"]
            .as_str()
            .unwrap()
            .contains("cannot watch resource")
    );
}

#[tokio::test]
async fn rotated_tokens_are_refused_and_open_streams_go_on() {
    let sim = start().await;
    sim.create_pod("default", PodSpec::new("p").container(app("app")));
    let mut open = get(&sim, "/api/v1/namespaces/default/pods?watch=true").await;
    assert_eq!(open.status, 200);
    sim.rotate_token("second");
    assert_eq!(sim.tokens(), ["second"]);
    let r = get(&sim, "/api/v1/pods").await;
    assert_eq!(r.status, 401);
    let st = r.json().await;
    assert_eq!(
        (st["kind"].as_str(), st["code"].as_u64()),
        (Some("Status"), Some(401))
    );
    assert_eq!(st["reason"], "Unauthorized");
    assert_eq!(
        request(&sim, "/api/v1/pods", Some("second"), &[])
            .await
            .status,
        200
    );
    // Both accepted while a rotation overlaps, as with several service-account tokens.
    sim.set_tokens(&["second", "third"]);
    for t in ["second", "third"] {
        assert_eq!(
            request(&sim, "/api/v1/pods", Some(t), &[]).await.status,
            200
        );
    }
    // The watch opened with the revoked token still delivers.
    sim.create_pod("default", PodSpec::new("q").container(app("app")));
    let ev = within(async {
        loop {
            let ev = open.json_line().await.expect("an event");
            if ev["object"]["metadata"]["name"] == "q" {
                return ev;
            }
        }
    })
    .await;
    assert_eq!(ev["type"], "ADDED");
}

#[tokio::test]
async fn injected_failures_and_unknown_paths() {
    let sim = start().await;
    sim.fail_next(1, 429, Some(2));
    let r = get(&sim, "/api/v1/pods").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.json().await["details"]["retryAfterSeconds"], 2);
    assert_eq!(get(&sim, "/api/v1/pods").await.status, 200);
    let r = get(&sim, "/api/v1/widgets").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json().await["message"],
        "the server could not find the requested resource"
    );
    let r = get(&sim, "/apis/apps/v1/namespaces/default/deployments/nope").await;
    assert_eq!(
        r.json().await["message"],
        "deployments.apps \"nope\" not found"
    );
    assert_eq!(sim.request_count(), 4);
}

#[tokio::test]
async fn rolling_update_replaces_pods_one_by_one() {
    let sim = start().await;
    sim.set_controller_grace(Duration::from_millis(50));
    sim.create_deployment(
        "default",
        WorkloadSpec::new("web", 2).container(app("app").start_delay(Duration::from_millis(50))),
    );
    let old: Vec<String> = sim.pod_names("default");
    assert_eq!(old.len(), 2);
    let pod = sim.pod("default", &old[0]).unwrap();
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    assert!(pod["metadata"]["labels"]["pod-template-hash"].is_string());
    sim.set_image("default", "web", "app", "nginx:1.28");
    let done = sim
        .wait_for(WAIT, |s| {
            let names = s.pod_names("default");
            names.len() == 2
                && names.iter().all(|n| !old.contains(n))
                && names.iter().all(|n| {
                    s.pod("default", n)
                        .is_some_and(|p| p["status"]["phase"] == "Running")
                })
        })
        .await;
    assert!(done, "rollout finished: {:?}", sim.pod_names("default"));
    let rs = get(&sim, "/apis/apps/v1/namespaces/default/replicasets")
        .await
        .json()
        .await;
    assert_eq!(rs["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn log_stream_faults_end_streams_but_not_containers() {
    let sim = start().await;
    sim.create_pod(
        "default",
        PodSpec::new("p").container(app("app").lines(["a"])),
    );
    let path = "/api/v1/namespaces/default/pods/p/log?container=app&follow=true";
    let mut clean = get(&sim, path).await;
    assert_eq!(within(clean.line()).await.as_deref(), Some("a"));
    sim.end_log_streams(kube_sim::StreamEnd::Clean);
    assert_eq!(within(clean.line()).await, None);
    assert!(clean.clean_end, "a clean end is the terminating chunk");

    let mut reset = get(&sim, path).await;
    assert_eq!(within(reset.line()).await.as_deref(), Some("a"));
    sim.end_log_streams(kube_sim::StreamEnd::Reset);
    assert_eq!(within(reset.line()).await, None);
    assert!(
        !reset.clean_end,
        "a reset never sends the terminating chunk"
    );

    // The container still runs: a new stream gets new lines.
    let mut again = get(&sim, path).await;
    sim.log("default", "p", "app", "b");
    assert_eq!(within(again.line()).await.as_deref(), Some("a"));
    assert_eq!(within(again.line()).await.as_deref(), Some("b"));
}

#[tokio::test]
async fn stall_holds_requests_until_it_passes() {
    let sim = start().await;
    sim.stall(Duration::from_millis(300));
    let t = std::time::Instant::now();
    let r = get(&sim, "/version").await;
    assert_eq!(r.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_stops_listening() {
    let sim = start().await;
    sim.create_pod(
        "default",
        PodSpec::new("p").container(app("app").lines(["a"])),
    );
    let mut log = get(&sim, "/api/v1/namespaces/default/pods/p/log?follow=true").await;
    assert_eq!(within(log.line()).await.as_deref(), Some("a"));
    let mut watch = get(&sim, "/api/v1/pods?watch=true").await;
    assert_eq!(watch.json_line().await.unwrap()["type"], "ADDED");
    sim.shutdown().await;
    assert_eq!(within(log.line()).await, None);
    assert!(within(watch.line()).await.is_none());
    assert!(TcpStream::connect(sim.addr()).await.is_err());
}

/// The seed a simulator ran with, and what it generated for a fixed scenario: every pod's
/// name, uid, node and container IDs (one pod starts late, from its lifecycle task; one is
/// restarted).
async fn seeded_run(seed: Option<u64>) -> (u64, Vec<String>) {
    let sim = Sim::start(SimOptions {
        seed,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    sim.create_deployment("ns", WorkloadSpec::new("web", 3).container(app("app")));
    let solo = sim.create_pod("ns", PodSpec::new("").container(app("app")));
    sim.restart_container("ns", &solo, "app", 1);
    sim.create_pod(
        "ns",
        PodSpec::new("late").container(app("app").start_delay(Duration::from_millis(50))),
    );
    let running = |s: &Sim| {
        s.pod("ns", "late")
            .is_some_and(|p| p["status"]["containerStatuses"][0]["state"]["running"].is_object())
    };
    assert!(sim.wait_for(WAIT, running).await);
    let mut names = sim.pod_names("ns");
    names.sort();
    let facts = names
        .iter()
        .map(|n| {
            let p = sim.pod("ns", n).unwrap();
            let st = &p["status"]["containerStatuses"][0];
            format!(
                "{n} {} {} {} {}",
                p["metadata"]["uid"],
                p["spec"]["nodeName"],
                st["containerID"],
                st["lastState"]["terminated"]["containerID"]
            )
        })
        .collect();
    let seed = sim.seed();
    sim.shutdown().await;
    (seed, facts)
}

#[tokio::test]
async fn a_seed_replays_generated_names_and_ids() {
    let (seed, first) = seeded_run(Some(42)).await;
    assert_eq!(seed, 42);
    assert_eq!(first.len(), 5, "{first:?}");
    assert_eq!(seeded_run(Some(42)).await.1, first);
    let (_, other) = seeded_run(Some(43)).await;
    assert_ne!(other, first);
    // A run without a seed reports the one it picked, and that seed replays it.
    let (picked, unseeded) = seeded_run(None).await;
    assert_eq!(seeded_run(Some(picked)).await.1, unseeded);
}

/// A write with a body of `content_type`.
async fn write(sim: &Sim, method: &str, path: &str, content_type: &str, body: &str) -> Resp {
    send(
        sim,
        method,
        path,
        Some("sim-token"),
        &[("Content-Type", content_type)],
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn writes_answer_with_the_apiservers_statuses() {
    let sim = start().await;
    sim.create_deployment("shop", WorkloadSpec::new("web", 1).container(app("app")));
    let deploy = "/apis/apps/v1/namespaces/shop/deployments/web";
    // A patch type the apiserver does not know.
    let r = write(&sim, "PATCH", deploy, "text/plain", "{}").await;
    assert_eq!(r.status, 415);
    let v = r.json().await;
    assert_eq!(v["reason"], "UnsupportedMediaType");
    assert_eq!(
        v["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
    );
    // A verb the resource does not serve.
    let r = write(
        &sim,
        "PUT",
        "/api/v1/namespaces/default/services/kubernetes",
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json().await["reason"], "MethodNotAllowed");
    // A stale resourceVersion.
    let body = r#"{"metadata":{"name":"web","resourceVersion":"1"}}"#;
    let r = write(&sim, "PATCH", deploy, "application/merge-patch+json", body).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json().await["message"],
        "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // An immutable field.
    let body = r#"{"spec":{"selector":{"matchLabels":{"app":"other"}}}}"#;
    let r = write(&sim, "PATCH", deploy, "application/merge-patch+json", body).await;
    assert_eq!(r.status, 422);
    let v = r.json().await;
    assert_eq!(v["reason"], "Invalid");
    assert_eq!(v["details"]["causes"][1]["field"], "spec.selector", "{v}");
    // A JSON patch that does not apply.
    let body = r#"[{"op":"remove","path":"/spec/nope"}]"#;
    let r = write(&sim, "PATCH", deploy, "application/json-patch+json", body).await;
    assert_eq!(r.status, 422);
    // A create in a namespace that does not exist.
    let body = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#;
    let r = write(
        &sim,
        "POST",
        "/api/v1/namespaces/nowhere/pods",
        "application/json",
        body,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json().await["message"],
        "namespaces \"nowhere\" not found"
    );
    // A merge patch that does: 200 and the object as stored.
    let r = write(
        &sim,
        "PATCH",
        deploy,
        "application/merge-patch+json",
        r#"{"spec":{"replicas":2}}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json().await;
    assert_eq!(v["spec"]["replicas"], 2);
    assert_eq!(v["metadata"]["generation"], 2);
    // A graceful delete answers with the pod, a Deployment's with a Status.
    let r = write(
        &sim,
        "DELETE",
        deploy,
        "application/json",
        r#"{"propagationPolicy":"Background"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json().await;
    assert_eq!(
        (v["kind"].clone(), v["status"].clone()),
        ("Status".into(), "Success".into())
    );
    assert_eq!(v["details"]["group"], "apps");
}

/// The Events the list at `path` serves.
async fn events_at(sim: &Sim, path: &str) -> Vec<Value> {
    let v = get(sim, path).await.json().await;
    assert_eq!(v["kind"], "EventList");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn reasons(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["reason"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn events_tell_what_the_scheduler_kubelet_and_deployment_controller_did() {
    let sim = start().await;
    sim.create_deployment("default", WorkloadSpec::new("web", 1).container(app("app")));
    assert!(
        sim.wait_for(WAIT, |s| s
            .events("default")
            .iter()
            .any(|e| e["reason"] == "Started"))
            .await
    );
    let pod = sim.pod_names("default").pop().unwrap();
    let uid = sim.pod("default", &pod).unwrap()["metadata"]["uid"].clone();
    let sel = format!(
        "involvedObject.name={pod},involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid={}",
        uid.as_str().unwrap()
    );
    let mut evs = events_at(
        &sim,
        &format!(
            "/api/v1/namespaces/default/events?limit=500&fieldSelector={}",
            sel.replace('=', "%3D").replace(',', "%2C")
        ),
    )
    .await;
    evs.sort_by_key(|e| {
        e["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    });
    assert_eq!(
        reasons(&evs),
        ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    );
    // The scheduler writes through events.k8s.io: eventTime, no source, no count.
    let scheduled = &evs[0];
    assert!(scheduled.get("kind").is_none(), "list items carry no kind");
    assert_eq!(
        scheduled["message"],
        format!(
            "Successfully assigned default/{pod} to {}",
            sim.pod("default", &pod).unwrap()["spec"]["nodeName"]
                .as_str()
                .unwrap()
        )
    );
    assert_eq!(scheduled["reportingComponent"], "default-scheduler");
    assert!(scheduled["source"].as_object().unwrap().is_empty());
    assert!(scheduled["lastTimestamp"].is_null());
    assert!(scheduled["eventTime"].as_str().unwrap().contains('.'));
    let started = &evs[4];
    assert_eq!(started["message"], "Started container app");
    assert_eq!(started["type"], "Normal");
    assert_eq!(started["count"], 1);
    assert_eq!(started["source"]["component"], "kubelet");
    assert_eq!(
        started["involvedObject"]["fieldPath"],
        "spec.containers{app}"
    );
    assert_eq!(started["involvedObject"]["uid"], uid);
    assert_eq!(started["involvedObject"]["apiVersion"], "v1");
    assert!(started["eventTime"].is_null());
    assert_eq!(evs[3]["message"], "Created container: app");
    assert!(
        evs[2]["message"]
            .as_str()
            .unwrap()
            .starts_with("Successfully pulled image \"nginx:1.27\" in ")
    );
    // The Deployment controller's steps, on the Deployment.
    let scaling: Vec<Value> = sim
        .events("default")
        .into_iter()
        .filter(|e| e["reason"] == "ScalingReplicaSet")
        .collect();
    assert_eq!(scaling.len(), 1);
    assert_eq!(scaling[0]["involvedObject"]["kind"], "Deployment");
    assert_eq!(scaling[0]["source"]["component"], "deployment-controller");
    let rs = pod.rsplit_once('-').unwrap().0;
    assert_eq!(
        scaling[0]["message"],
        format!("Scaled up replica set {rs} from 0 to 1")
    );
    let created = sim
        .events("default")
        .into_iter()
        .find(|e| e["reason"] == "SuccessfulCreate")
        .unwrap();
    assert_eq!(created["involvedObject"]["kind"], "ReplicaSet");
    assert_eq!(created["involvedObject"]["name"], rs);
    assert_eq!(created["source"]["component"], "replicaset-controller");
    assert_eq!(created["message"], format!("Created pod: {pod}"));
    // Across namespaces, and what the apiserver does not support.
    let warnings = events_at(&sim, "/api/v1/events?fieldSelector=type%3DWarning").await;
    assert!(warnings.is_empty());
    let all = events_at(
        &sim,
        "/api/v1/events?fieldSelector=source%3Dkubelet%2Creason%3DStarted",
    )
    .await;
    assert_eq!(all.len(), 1);
    let bad = get(
        &sim,
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.foo%3Dx",
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json().await["message"],
        "field label not supported: involvedObject.foo"
    );
    // Deleting the pod stops its container.
    sim.delete_pod("default", &pod, Duration::from_secs(1));
    assert!(
        sim.wait_for(WAIT, |s| s.events("default").iter().any(|e| e["reason"]
            == "Killing"
            && e["message"] == "Stopping container app"))
            .await
    );
}

#[tokio::test]
async fn a_failing_liveness_probe_is_reported_then_the_container_restarts() {
    let sim = start().await;
    sim.create_pod("default", PodSpec::new("p").container(app("app")));
    let rv = list_rv(&sim, "/api/v1/namespaces/default/events").await;
    let mut w = get(
        &sim,
        &format!("/api/v1/namespaces/default/events?watch=true&resourceVersion={rv}&fieldSelector=involvedObject.name%3Dp%2Ctype%3DWarning"),
    )
    .await;
    assert!(sim.fail_liveness("default", "p", "app"));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let ev = w.json_line().await.unwrap();
        let o = &ev["object"];
        assert_eq!(o["reason"], "Unhealthy");
        assert_eq!(
            o["message"],
            "Liveness probe failed: HTTP probe failed with statuscode: 500"
        );
        seen.push((
            ev["type"].as_str().unwrap().to_string(),
            o["count"].as_u64().unwrap(),
        ));
    }
    assert_eq!(
        seen,
        [
            ("ADDED".into(), 1),
            ("MODIFIED".into(), 2),
            ("MODIFIED".into(), 3)
        ]
    );
    assert!(
        sim.wait_for(
            WAIT,
            |s| s.pod("default", "p").unwrap()["status"]["containerStatuses"][0]["restartCount"]
                == 1
        )
        .await
    );
    let cs = sim.pod("default", "p").unwrap()["status"]["containerStatuses"][0].clone();
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 137);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Error");
    assert!(cs["state"]["running"].is_object());
    let evs = sim.events("default");
    let killing: Vec<&Value> = evs.iter().filter(|e| e["reason"] == "Killing").collect();
    assert_eq!(killing.len(), 1);
    assert_eq!(
        killing[0]["message"],
        "Container app failed liveness probe, will be restarted"
    );
    assert_eq!(killing[0]["type"], "Normal");
    // The restart: the image is there, the container is created and started again.
    let started = evs.iter().find(|e| e["reason"] == "Started").unwrap();
    assert_eq!(started["count"], 2);
    assert!(evs.iter().any(|e| e["message"] == "Container image \"nginx:1.27\" already present on machine and can be accessed by the pod"));
    // The new instance is healthy: nothing more is reported.
    let table = request(
        &sim,
        "/api/v1/namespaces/default/events",
        Some("sim-token"),
        &[(
            "Accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )],
    )
    .await
    .json()
    .await;
    let cols: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["priority"] == 0)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Last Seen", "Type", "Reason", "Object", "Message"]);
    let row = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cells"][2] == "Unhealthy")
        .unwrap();
    // Cells of every column, the wide ones included, as the apiserver serves them.
    assert_eq!(row["cells"][3], "pod/p");
    assert_eq!(row["cells"][4], "spec.containers{app}");
    assert!(
        row["cells"][5]
            .as_str()
            .unwrap()
            .starts_with("kubelet, node-")
    );
    assert_eq!(
        row["cells"][6],
        "Liveness probe failed: HTTP probe failed with statuscode: 500"
    );
    assert_eq!(row["cells"][8], 3);
}

#[tokio::test]
async fn the_job_controller_says_how_a_job_ended() {
    let sim = start().await;
    sim.create_job(
        "ci",
        JobSpec::new("ok")
            .container(app("run").lines(["done"]))
            .run_for(Duration::from_millis(50)),
    );
    sim.create_job(
        "ci",
        JobSpec::new("bad")
            .container(app("run"))
            .run_for(Duration::from_millis(50))
            .fail_first(9, 1, "Error")
            .backoff_limit(0),
    );
    let ended = |s: &Sim, job: &str, reason: &str| {
        s.events("ci").into_iter().find(|e| {
            e["involvedObject"]["kind"] == "Job"
                && e["involvedObject"]["name"] == job
                && e["reason"] == reason
        })
    };
    assert!(
        sim.wait_for(WAIT, |s| ended(s, "ok", "Completed").is_some()
            && ended(s, "bad", "BackoffLimitExceeded").is_some())
            .await,
        "{:#?}",
        sim.events("ci")
    );
    let ok = ended(&sim, "ok", "Completed").unwrap();
    assert_eq!(ok["message"], "Job completed");
    assert_eq!(ok["source"]["component"], "job-controller");
    let bad = ended(&sim, "bad", "BackoffLimitExceeded").unwrap();
    assert_eq!(bad["type"], "Warning");
    assert_eq!(
        bad["message"],
        "Job has reached the specified backoff limit"
    );
    let created = ended(&sim, "ok", "SuccessfulCreate").unwrap();
    assert!(
        created["message"]
            .as_str()
            .unwrap()
            .starts_with("Created pod: ok-"),
        "{created}"
    );
}

#[tokio::test]
async fn back_offs_and_refused_images_are_reported() {
    let sim = start().await;
    sim.fail_image_pulls("nginx:9.9", true);
    sim.create_pod(
        "default",
        PodSpec::new("pull").container(ContainerSpec::new("app").image("nginx:9.9")),
    );
    sim.create_pod("default", PodSpec::new("loop").container(app("app")));
    sim.crash_loop("default", "loop", "app");
    assert!(
        sim.wait_for(WAIT, |s| {
            let evs = s.events("default");
            let has = |r: &str, m: &str| {
                evs.iter()
                    .any(|e| e["reason"] == r && e["message"].as_str().unwrap_or("").starts_with(m))
            };
            has("Failed", "Error: ImagePullBackOff")
                && has("BackOff", "Back-off pulling image \"nginx:9.9\"")
                && has("Failed", "Failed to pull image \"nginx:9.9\": ")
                && has("Failed", "Error: ErrImagePull")
                && has(
                    "BackOff",
                    "Back-off restarting failed container app in pod loop_default(",
                )
        })
        .await,
        "{:#?}",
        sim.events("default")
    );
    // The kubelet says it again on its next sync while the back-off lasts: one event,
    // its count bumped.
    let backoff = |s: &Sim| {
        s.events("default")
            .into_iter()
            .filter(|e| e["reason"] == "BackOff" && e["involvedObject"]["name"] == "loop")
            .collect::<Vec<Value>>()
    };
    assert!(
        sim.wait_for(WAIT, |s| backoff(s)
            .first()
            .is_some_and(|e| e["count"] == 2))
            .await
    );
    assert_eq!(backoff(&sim).len(), 1);
    assert_eq!(backoff(&sim)[0]["type"], "Warning");
}
