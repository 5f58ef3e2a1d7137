//! What a scenario does to a running container: restart it (a new instance with a new
//! containerID, the old log kept for `previous`), crash-loop it, terminate it, and write,
//! rotate or cut off its log streams. Each call changes one pod and marks it for the next
//! commit; it must not create or delete objects.

use std::sync::Arc;

use jiff::Timestamp;
use tokio::time::Instant;

use super::Cluster;
use super::kubelet::gen_count;
use crate::logs::{LogJournal, StreamEnd};
use crate::pod::{Container, ContainerKind, Pod};

impl Cluster {
    fn with_container(&mut self, ns: &str, pod: &str, f: impl FnOnce(&mut Pod) -> bool) -> bool {
        let key = (ns.to_string(), pod.to_string());
        let Some(p) = self.pods.get_mut(&key) else {
            return false;
        };
        let done = f(p);
        if done {
            p.wake.notify_one();
            self.dirty_pods.insert(key);
            self.workloads_dirty = true;
        }
        done
    }

    pub(crate) fn restart_container(&mut self, ns: &str, pod: &str, container: &str, code: i32) {
        self.crash(ns, pod, container, code, None);
    }

    /// The current instance dies with `code` and `reason` (`OOMKilled`...) and the kubelet
    /// starts the next one at once, as after a first crash; true if the container was
    /// there.
    pub(crate) fn crash(
        &mut self,
        ns: &str,
        pod: &str,
        container: &str,
        code: i32,
        reason: Option<&str>,
    ) -> bool {
        let key = (ns.to_string(), pod.to_string());
        let seq = gen_count(&self.generated, ns, pod, container);
        let mut effects = Vec::new();
        let started = self.with_container(ns, pod, |p| {
            if !p.restart_prepare(container, code, reason, Timestamp::now()) {
                return false;
            }
            let Some(idx) = p.index_of(container) else {
                return false;
            };
            let id = p.rng.container_id();
            p.start_instance(idx, id, Instant::now(), Timestamp::now(), &mut effects, seq);
            true
        });
        if started && let Some(uid) = self.pods.get(&key).map(|p| p.meta.uid.clone()) {
            self.apply_effects(&key, &uid, effects);
        }
        started
    }

    /// The container's readiness probe starts failing (`failing`) or passing again: the
    /// container runs on, but the pod is not ready and its workload counts it unavailable.
    pub(crate) fn set_readiness(
        &mut self,
        ns: &str,
        pod: &str,
        container: &str,
        failing: bool,
    ) -> bool {
        self.with_container(ns, pod, |p| match p.container_mut(container) {
            Some(c) => {
                if failing && !c.unready {
                    // The next probe (at once) reports the failure.
                    c.report_at = None;
                }
                c.unready = failing;
                true
            }
            None => false,
        })
    }

    /// The container's liveness probe starts failing: the kubelet reports each failure
    /// (`Unhealthy`, one per probe period), and after the failure threshold kills the
    /// container (`Killing`, exit 137) and starts it again. The new instance passes its
    /// probe. False if the container is not a running regular container (init and
    /// ephemeral containers have no liveness probe).
    pub(crate) fn fail_liveness(&mut self, ns: &str, pod: &str, container: &str) -> bool {
        self.with_container(ns, pod, |p| match p.container_mut(container) {
            Some(c) if !c.is_running() || c.kind != ContainerKind::Regular => false,
            Some(c) => {
                if c.liveness_failures.is_none() {
                    c.liveness_failures = Some(0);
                    c.report_at = None;
                }
                true
            }
            None => false,
        })
    }

    /// The simulated registry refuses (`fail`) or serves again an image: containers that
    /// need it wait in `ErrImagePull`, then `ImagePullBackOff`.
    pub(crate) fn set_image_pullable(&mut self, image: &str, fail: bool) {
        let image = crate::meta::normalize_image(image);
        if fail {
            self.unpullable.insert(image);
        } else if self.unpullable.remove(&image) {
            for p in self.pods.values() {
                p.wake.notify_one();
            }
        }
    }

    pub(crate) fn crash_loop(&mut self, ns: &str, pod: &str, container: &str) {
        self.with_container(ns, pod, |p| p.crash_loop(container, Timestamp::now()));
    }

    pub(crate) fn terminate_container(&mut self, ns: &str, pod: &str, container: &str, code: i32) {
        self.with_container(ns, pod, |p| match p.container_mut(container) {
            Some(c) if c.is_running() => {
                c.end_instance(code, Timestamp::now());
                true
            }
            _ => false,
        });
    }

    pub(crate) fn container(&self, ns: &str, pod: &str, container: &str) -> Option<&Container> {
        self.pods
            .get(&(ns.to_string(), pod.to_string()))
            .and_then(|p| p.container(container))
    }

    pub(crate) fn log(&self, ns: &str, pod: &str, container: &str, line: &str) {
        if let Some(c) = self.container(ns, pod, container) {
            c.journal.append(line.as_bytes());
        }
    }

    pub(crate) fn log_at(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        at: jiff::Timestamp,
        line: &str,
    ) {
        if let Some(c) = self.container(ns, pod, container) {
            c.journal.append_at(at, line.as_bytes());
        }
    }

    pub(crate) fn rotate_log(&self, ns: &str, pod: &str, container: &str) {
        if let Some(c) = self.container(ns, pod, container) {
            c.journal.rotate();
        }
    }

    pub(crate) fn end_log_streams(&self, how: StreamEnd) {
        for p in self.pods.values() {
            for c in p.all_containers() {
                c.journal.end_streams(how);
                if let Some(j) = &c.prev_journal {
                    j.end_streams(how);
                }
            }
        }
    }

    pub(crate) fn journals(&self, ns: &str, pod: &str, container: &str) -> Vec<Arc<LogJournal>> {
        self.container(ns, pod, container)
            .map(|c| c.prev_journal.iter().chain([&c.journal]).cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{app, cluster, pod_json};
    use crate::spec::PodSpec;

    #[test]
    fn crash_loop_then_restart() {
        let mut c = cluster(100);
        c.create_pod("ns", PodSpec::new("p").container(app("app")));
        c.commit();
        let first_id =
            pod_json(&c, "ns", "p")["status"]["containerStatuses"][0]["containerID"].clone();
        c.crash_loop("ns", "p", "app");
        c.commit();
        let st = pod_json(&c, "ns", "p")["status"].clone();
        assert_eq!(
            st["phase"], "Running",
            "a crash-looping container counts as stopped"
        );
        let cs = &st["containerStatuses"][0];
        assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(cs["lastState"]["terminated"]["containerID"], first_id);
        assert_eq!(cs["restartCount"], 1);
        c.restart_container("ns", "p", "app", 0);
        c.commit();
        let cs = pod_json(&c, "ns", "p")["status"]["containerStatuses"][0].clone();
        assert!(cs["state"]["running"].is_object());
        assert_eq!(cs["restartCount"], 1, "the crash was already counted");
        assert_ne!(cs["containerID"], first_id);
        c.terminate_container("ns", "p", "app", 2);
        c.commit();
        let cs = pod_json(&c, "ns", "p")["status"]["containerStatuses"][0].clone();
        assert_eq!(cs["state"]["terminated"]["reason"], "Error");
        assert_eq!(cs["state"]["terminated"]["exitCode"], 2);
    }
}
