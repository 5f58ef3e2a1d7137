//! Rollout progress of a followed workload (`deploy/…`, `sts/…`, `ds/…`): what changed
//! when its template changes, how far the new pods have come, and how it ended. A pure
//! state machine over snapshots of the object; the object follower feeds it and sends
//! what it says as notices.

use kube::api::DynamicObject;

use crate::kube::query::Kind;

/// What a rollout looks like in one version of the object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Snapshot {
    /// The template's revision: the Deployment's `deployment.kubernetes.io/revision`, a
    /// StatefulSet's `updateRevision`, a DaemonSet's generation.
    pub(crate) revision: Option<String>,
    /// `container=image` of the template.
    pub(crate) images: Vec<String>,
    /// Pods wanted, pods of the new template, and of those available (ready).
    pub(crate) desired: i64,
    pub(crate) updated: i64,
    pub(crate) available: i64,
    /// The controller has seen the latest spec and every pod runs the new template.
    pub(crate) complete: bool,
    /// Why the rollout stopped progressing (`ProgressDeadlineExceeded`), if it did.
    pub(crate) stalled: Option<String>,
}

/// The snapshot of a workload object.
pub(crate) fn snapshot(kind: Kind, obj: &DynamicObject) -> Snapshot {
    let int = |path: &str| obj.data.pointer(path).and_then(|v| v.as_i64());
    let text = |path: &str| {
        obj.data
            .pointer(path)
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    let images = obj
        .data
        .pointer("/spec/template/spec/containers")
        .and_then(|c| c.as_array())
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let field = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or_default();
                    format!("{}={}", field("name"), field("image"))
                })
                .collect()
        })
        .unwrap_or_default();
    let generation = obj.metadata.generation.unwrap_or(0);
    let observed = int("/status/observedGeneration").unwrap_or(0) >= generation;
    match kind {
        Kind::StatefulSet => {
            let desired = int("/spec/replicas").unwrap_or(1);
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let available = int("/status/readyReplicas").unwrap_or(0);
            let revision = text("/status/updateRevision");
            Snapshot {
                complete: observed
                    && revision.is_some()
                    && text("/status/currentRevision") == revision
                    && updated == desired
                    && available == desired,
                revision,
                images,
                desired,
                updated,
                available,
                stalled: None,
            }
        }
        Kind::DaemonSet => {
            let desired = int("/status/desiredNumberScheduled").unwrap_or(0);
            let updated = int("/status/updatedNumberScheduled").unwrap_or(0);
            let available = int("/status/numberAvailable").unwrap_or(0);
            Snapshot {
                revision: Some(generation.to_string()),
                images,
                desired,
                updated,
                available,
                complete: observed && updated == desired && available == desired,
                stalled: None,
            }
        }
        _ => {
            let desired = int("/spec/replicas").unwrap_or(1);
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let available = int("/status/availableReplicas").unwrap_or(0);
            let progressing = obj
                .data
                .pointer("/status/conditions")
                .and_then(|c| c.as_array())
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c.get("type").and_then(|t| t.as_str()) == Some("Progressing"))
                });
            let field = |k: &str| {
                progressing
                    .and_then(|c| c.get(k))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
            };
            let stalled =
                (field("reason") == "ProgressDeadlineExceeded").then(|| match field("message") {
                    "" => "progress deadline exceeded".to_string(),
                    m => format!("progress deadline exceeded: {m}"),
                });
            Snapshot {
                revision: obj
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("deployment.kubernetes.io/revision").cloned()),
                images,
                desired,
                updated,
                available,
                complete: observed
                    && updated == desired
                    && available == desired
                    && int("/status/replicas").unwrap_or(desired) == desired,
                stalled,
            }
        }
    }
}

/// Follows one workload's rollouts.
#[derive(Debug, Default)]
pub(crate) struct Rollouts {
    last: Option<Snapshot>,
    /// A rollout is under way: progress and its end are told.
    rolling: bool,
    /// The revision the rollout went back to (`rollout undo`).
    back_to: Option<String>,
    /// The stall was told for this revision.
    stall_told: bool,
}

impl Rollouts {
    /// The revision last seen.
    pub(crate) fn revision(&self) -> Option<&str> {
        self.last.as_ref().and_then(|s| s.revision.as_deref())
    }

    /// What to tell of `now` (`what`: `deployment/web`). `back_to`: the earlier
    /// revision whose template this revision is, when it is a rollback.
    pub(crate) fn observe(
        &mut self,
        what: &str,
        now: Snapshot,
        back_to: Option<String>,
    ) -> Vec<String> {
        let mut said = Vec::new();
        let images = now.images.join(", ");
        let revision = now.revision.clone().unwrap_or_default();
        match &self.last {
            // At start a rollout may already be under way.
            None if !now.complete => {
                self.rolling = true;
                said.push(format!(
                    "{what}: rollout of revision {revision} under way ({images}): {}",
                    progress(&now)
                ));
            }
            None => {}
            Some(last) if last.revision != now.revision && now.revision.is_some() => {
                self.rolling = true;
                self.stall_told = false;
                self.back_to = back_to;
                said.push(match &self.back_to {
                    Some(old) => {
                        format!("{what}: rolling back to revision {old}, as revision {revision} ({images})")
                    }
                    None => format!("{what}: rolling out revision {revision} ({images})"),
                });
            }
            Some(last)
                if self.rolling
                    && !now.complete
                    && (last.updated, last.available) != (now.updated, now.available) =>
            {
                said.push(format!("{what}: {}", progress(&now)));
            }
            Some(_) => {}
        }
        if self.rolling && now.complete {
            self.rolling = false;
            let ready = format!("{}/{} available", now.available, now.desired);
            said.push(match self.back_to.take() {
                Some(old) => {
                    format!("{what} rolled back to revision {old} (revision {revision}): {ready}")
                }
                None => format!("{what} rolled out revision {revision}: {ready}"),
            });
        }
        if let Some(why) = &now.stalled
            && self.rolling
            && !self.stall_told
        {
            self.stall_told = true;
            said.push(format!("{what}: {why}"));
        }
        self.last = Some(now);
        said
    }
}

fn progress(s: &Snapshot) -> String {
    format!(
        "{}/{} pods updated, {} available",
        s.updated, s.desired, s.available
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(revision: &str, image: &str, updated: i64, available: i64, complete: bool) -> Snapshot {
        Snapshot {
            revision: Some(revision.into()),
            images: vec![format!("app={image}")],
            desired: 3,
            updated,
            available,
            complete,
            stalled: None,
        }
    }

    #[test]
    fn a_rollout_is_told_from_its_start_through_its_progress_to_its_end() {
        let mut r = Rollouts::default();
        assert_eq!(
            r.observe("deployment/web", snap("1", "web:v1", 3, 3, true), None),
            Vec::<String>::new()
        );
        assert_eq!(
            r.observe("deployment/web", snap("2", "web:v2", 1, 3, false), None),
            ["deployment/web: rolling out revision 2 (app=web:v2)"]
        );
        assert_eq!(
            r.observe("deployment/web", snap("2", "web:v2", 2, 3, false), None),
            ["deployment/web: 2/3 pods updated, 3 available"]
        );
        assert_eq!(
            r.observe("deployment/web", snap("2", "web:v2", 2, 3, false), None),
            Vec::<String>::new(),
            "no change, nothing to say"
        );
        assert_eq!(
            r.observe("deployment/web", snap("2", "web:v2", 3, 3, true), None),
            ["deployment/web rolled out revision 2: 3/3 available"]
        );
    }

    #[test]
    fn a_rollback_and_a_stall_are_named() {
        let mut r = Rollouts::default();
        r.observe("deployment/web", snap("2", "web:v2", 3, 3, true), None);
        assert_eq!(
            r.observe(
                "deployment/web",
                snap("3", "web:v1", 1, 3, false),
                Some("1".into())
            ),
            ["deployment/web: rolling back to revision 1, as revision 3 (app=web:v1)"]
        );
        assert_eq!(
            r.observe("deployment/web", snap("3", "web:v1", 3, 3, true), None),
            ["deployment/web rolled back to revision 1 (revision 3): 3/3 available"]
        );
        let mut stuck = snap("4", "web:broken", 1, 3, false);
        r.observe("deployment/web", stuck.clone(), None);
        stuck.stalled = Some(
            "progress deadline exceeded: ReplicaSet \"web-9f\" has timed out progressing.".into(),
        );
        assert_eq!(
            r.observe("deployment/web", stuck.clone(), None),
            [
                "deployment/web: progress deadline exceeded: ReplicaSet \"web-9f\" has timed out progressing."
            ]
        );
        assert_eq!(
            r.observe("deployment/web", stuck, None),
            Vec::<String>::new(),
            "said once"
        );
    }

    #[test]
    fn a_rollout_under_way_at_start_is_told() {
        let mut r = Rollouts::default();
        assert_eq!(
            r.observe("deployment/web", snap("5", "web:v5", 1, 2, false), None),
            [
                "deployment/web: rollout of revision 5 under way (app=web:v5): 1/3 pods updated, 2 available"
            ]
        );
    }

    #[test]
    fn snapshots_read_the_deployment_status() {
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 4,
                         "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "app", "image": "web:v2"}, {"name": "proxy", "image": "envoy:1"}]}}},
            "status": {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3,
                       "availableReplicas": 3, "readyReplicas": 3,
                       "conditions": [{"type": "Progressing", "status": "True",
                                       "reason": "NewReplicaSetAvailable"}]}
        }))
        .unwrap();
        let s = snapshot(Kind::Deployment, &obj);
        assert_eq!(s.revision.as_deref(), Some("3"));
        assert_eq!(s.images, ["app=web:v2", "proxy=envoy:1"]);
        assert!(s.complete);
    }
}
