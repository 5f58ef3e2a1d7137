//! Which pods and containers are selected: each selection flag both ways.

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, assert_exactly_once, tally};

const BACKLOG: u64 = 200;

/// Namespace "shop": web-1..3 (app=web; containers app and sidecar) next to db-1
/// (app=db) and cache-1 (app=cache); namespace "other": web-9 (app=web).
async fn shop() -> Cluster {
    let c = Cluster::start().await;
    for ns in ["shop", "other"] {
        c.sim.create_namespace(ns);
    }
    let two = |name: &str, app: &str| {
        PodSpec::new(name)
            .label("app", app)
            .container(ContainerSpec::new("app").backlog(BACKLOG))
            .container(ContainerSpec::new("sidecar").backlog(BACKLOG))
    };
    for i in 1..=3 {
        c.sim.create_pod("shop", two(&format!("web-{i}"), "web"));
    }
    c.sim.create_pod("shop", two("db-1", "db"));
    c.sim.create_pod("shop", two("cache-1", "cache"));
    c.sim.create_pod("other", two("web-9", "web"));
    crate::util::sim_wait(&c.sim, "all pods running", |s| {
        ["web-1", "web-2", "web-3", "db-1", "cache-1"]
            .iter()
            .all(|p| s.generated("shop", p, "app") >= BACKLOG)
            && s.generated("other", "web-9", "app") >= BACKLOG
    })
    .await;
    c
}

/// Runs ktail --no-follow and returns the (pod, container) pairs it printed, checking
/// every line of each exactly once with the right prefix.
async fn selected(c: &Cluster, args: &[&str], with_namespace: bool) -> Vec<(String, String)> {
    let mut argv = vec!["--no-follow", "--max-log-requests", "20"];
    argv.extend_from_slice(args);
    let out = c.run(&argv).await;
    assert_eq!(out.code, Some(0), "args {args:?}; stderr: {}", out.stderr);
    let ns_of = |pod: &str| {
        if pod == "web-9" {
            "other".to_string()
        } else {
            "shop".to_string()
        }
    };
    let ns_of: &dyn Fn(&str) -> String = &ns_of;
    let got = tally(
        &out.lines(),
        if with_namespace { Some(ns_of) } else { None },
    );
    for ((pod, container), seqs) in &got {
        let n = assert_exactly_once(&format!("{pod}/{container}"), seqs);
        assert_eq!(n, BACKLOG, "{pod}/{container}: every backlog line");
    }
    // Nothing but generated lines on stdout.
    assert_eq!(
        out.lines().len() as u64,
        got.len() as u64 * BACKLOG,
        "args {args:?}"
    );
    got.into_keys().collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    v.sort();
    v
}

const WEB: [(&str, &str); 6] = [
    ("web-1", "app"),
    ("web-1", "sidecar"),
    ("web-2", "app"),
    ("web-2", "sidecar"),
    ("web-3", "app"),
    ("web-3", "sidecar"),
];

#[tokio::test(flavor = "multi_thread")]
async fn query_regex_selects_matching_pods_only() {
    let c = shop().await;
    assert_eq!(
        selected(&c, &["web", "-n", "shop"], false).await,
        pairs(&WEB)
    );
    // Unanchored: "b-" matches web-* and db-1, not cache-1.
    let got = selected(&c, &["b-", "-n", "shop"], false).await;
    assert!(got.contains(&("db-1".into(), "app".into())));
    assert!(!got.iter().any(|(p, _)| p == "cache-1"));
    assert!(
        selected(&c, &["^nothing$", "-n", "shop"], false)
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn label_selector_is_applied() {
    let c = shop().await;
    assert_eq!(
        selected(&c, &["-l", "app=web", "-n", "shop"], false).await,
        pairs(&WEB)
    );
    assert_eq!(
        selected(&c, &["-l", "app=db", "-n", "shop"], false).await,
        pairs(&[("db-1", "app"), ("db-1", "sidecar")])
    );
    assert_eq!(
        selected(
            &c,
            &["-l", "app in (db,cache)", "-n", "shop", "-c", "^app$"],
            false
        )
        .await,
        pairs(&[("cache-1", "app"), ("db-1", "app")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn namespaces_and_all_namespaces() {
    let c = shop().await;
    // The context's namespace is "default": nothing there.
    assert!(selected(&c, &["web"], false).await.is_empty());
    assert_eq!(
        selected(&c, &["web", "-n", "other", "-c", "app"], false).await,
        pairs(&[("web-9", "app")])
    );
    // Several namespaces: the namespace leads each line.
    let mut want = WEB.to_vec();
    want.extend([("web-9", "app"), ("web-9", "sidecar")]);
    assert_eq!(
        selected(&c, &["web", "-n", "shop,other"], true).await,
        pairs(&want)
    );
    assert_eq!(selected(&c, &["web", "-A"], true).await, pairs(&want));
}

#[tokio::test(flavor = "multi_thread")]
async fn container_regex_and_exclusions() {
    let c = shop().await;
    let apps: Vec<(&str, &str)> = WEB.iter().copied().filter(|(_, c)| *c == "app").collect();
    let sidecars: Vec<(&str, &str)> = WEB
        .iter()
        .copied()
        .filter(|(_, c)| *c == "sidecar")
        .collect();
    assert_eq!(
        selected(&c, &["web", "-n", "shop", "-c", "^app$"], false).await,
        pairs(&apps)
    );
    assert_eq!(
        selected(&c, &["web", "-n", "shop", "-c", "side"], false).await,
        pairs(&sidecars)
    );
    assert_eq!(
        selected(&c, &["web", "-n", "shop", "-E", "side"], false).await,
        pairs(&apps)
    );
    assert_eq!(
        selected(&c, &["web", "-n", "shop", "-E", "nomatch"], false).await,
        pairs(&WEB)
    );
    assert!(
        selected(&c, &["web", "-n", "shop", "-E", "side", "-E", "app"], false)
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_named_like_a_subcommand_is_reached_after_a_double_dash() {
    let c = Cluster::start().await;
    crate::util::start_pod(
        &c.sim,
        "default",
        PodSpec::new("demo").container(ContainerSpec::new("app").lines(["from the demo pod"])),
    )
    .await;
    let out = c
        .run(&["--no-follow", "--color", "never", "--", "demo"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "demo app from the demo pod\n");
    // Any flag first has the same effect.
    let out = c.run(&["--no-follow", "--color", "never", "demo"]).await;
    assert_eq!(out.stdout, "demo app from the demo pod\n", "{}", out.stderr);
}
