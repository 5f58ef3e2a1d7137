//! The scenario vocabulary: plain data describing the containers, pods and workloads a test
//! asks for. Nothing here touches the cluster state; `Sim` turns these into objects.

use std::time::Duration;

use serde_json::{Map, Value};

/// One container of a pod template: its image, what it logs and how its lifecycle goes.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// Generated lines per second while the container runs (0 = none).
    pub rate: f64,
    /// Generated lines written the moment the first instance starts (timestamps in the past).
    pub backlog: u64,
    /// Explicit lines written the moment the first instance starts.
    pub lines: Vec<String>,
    /// Time spent in `ContainerCreating` (or `PodInitializing`) before running.
    pub start_delay: Duration,
    /// A waiting reason such as `ImagePullBackOff`: the container never starts.
    pub waiting_reason: Option<String>,
    /// Each instance exits on its own after this long with this exit code.
    pub exit_after: Option<(Duration, i32)>,
    /// `state.terminated.reason` of a timed exit with a non-zero code (`Error` when unset;
    /// `OOMKilled`, `DeadlineExceeded`...).
    pub exit_reason: Option<String>,
    /// `command` and `args` as the pod spec shows them (the process is still simulated).
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// Fields a client sent that the simulator keeps and serves but does not act on
    /// (`ports`, `env`, `resources`...).
    pub(crate) extra: Map<String, Value>,
}

impl ContainerSpec {
    pub fn new(name: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.to_string(),
            image: "docker.io/library/busybox:1.36".to_string(),
            rate: 0.0,
            backlog: 0,
            lines: Vec::new(),
            start_delay: Duration::ZERO,
            waiting_reason: None,
            exit_after: None,
            exit_reason: None,
            command: Vec::new(),
            args: Vec::new(),
            extra: Map::new(),
        }
    }
    pub fn image(mut self, image: &str) -> Self {
        self.image = image.to_string();
        self
    }
    pub fn rate(mut self, lines_per_sec: f64) -> Self {
        self.rate = lines_per_sec;
        self
    }
    pub fn backlog(mut self, lines: u64) -> Self {
        self.backlog = lines;
        self
    }
    pub fn lines<S: AsRef<str>>(mut self, lines: impl IntoIterator<Item = S>) -> Self {
        self.lines = lines.into_iter().map(|s| s.as_ref().to_string()).collect();
        self
    }
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.start_delay = delay;
        self
    }
    /// Keeps the container waiting with `reason` (e.g. `ImagePullBackOff`) forever.
    pub fn waiting(mut self, reason: &str) -> Self {
        self.waiting_reason = Some(reason.to_string());
        self
    }
    pub fn exit_after(mut self, after: Duration, exit_code: i32) -> Self {
        self.exit_after = Some((after, exit_code));
        self
    }
    /// The reason a timed exit reports (`OOMKilled`, ...).
    pub fn exit_reason(mut self, reason: &str) -> Self {
        self.exit_reason = Some(reason.to_string());
        self
    }
    pub fn command<S: AsRef<str>>(mut self, command: impl IntoIterator<Item = S>) -> Self {
        self.command = command
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        self
    }
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args = args.into_iter().map(|s| s.as_ref().to_string()).collect();
        self
    }
}

/// A bare pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSpec {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    /// The node the pod is bound to; `None` leaves it unscheduled (Pending, logs answer 204).
    pub node: Option<String>,
    /// `Always` (default), `OnFailure` or `Never`.
    pub restart_policy: String,
    pub init_containers: Vec<ContainerSpec>,
    pub containers: Vec<ContainerSpec>,
    pub ephemeral_containers: Vec<ContainerSpec>,
}

impl Default for PodSpec {
    fn default() -> Self {
        PodSpec {
            name: String::new(),
            labels: Vec::new(),
            annotations: Vec::new(),
            node: Some("node-1".to_string()),
            restart_policy: "Always".to_string(),
            init_containers: Vec::new(),
            containers: Vec::new(),
            ephemeral_containers: Vec::new(),
        }
    }
}

impl PodSpec {
    pub fn new(name: &str) -> PodSpec {
        PodSpec {
            name: name.to_string(),
            ..PodSpec::default()
        }
    }
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.push((key.to_string(), value.to_string()));
        self
    }
    pub fn node(mut self, node: Option<&str>) -> Self {
        self.node = node.map(str::to_string);
        self
    }
    pub fn restart_policy(mut self, policy: &str) -> Self {
        self.restart_policy = policy.to_string();
        self
    }
    pub fn container(mut self, c: ContainerSpec) -> Self {
        self.containers.push(c);
        self
    }
    pub fn init_container(mut self, c: ContainerSpec) -> Self {
        self.init_containers.push(c);
        self
    }
    pub fn ephemeral_container(mut self, c: ContainerSpec) -> Self {
        self.ephemeral_containers.push(c);
        self
    }
}

/// A Deployment, StatefulSet or DaemonSet (for a DaemonSet `replicas` is ignored: one pod
/// per node).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkloadSpec {
    pub name: String,
    pub replicas: u32,
    /// Pod template labels and the workload's selector; `app=<name>` when empty.
    pub labels: Vec<(String, String)>,
    pub init_containers: Vec<ContainerSpec>,
    pub containers: Vec<ContainerSpec>,
    /// A Deployment's rolling update: `maxSurge` and `maxUnavailable` (default 1 and 0).
    pub max_surge: u32,
    pub max_unavailable: u32,
}

impl WorkloadSpec {
    pub fn new(name: &str, replicas: u32) -> WorkloadSpec {
        WorkloadSpec {
            name: name.to_string(),
            replicas,
            max_surge: 1,
            ..WorkloadSpec::default()
        }
    }
    /// A Deployment's `maxSurge` and `maxUnavailable` (pods; not both 0).
    pub fn rolling(mut self, max_surge: u32, max_unavailable: u32) -> Self {
        self.max_surge = max_surge;
        self.max_unavailable = max_unavailable;
        self
    }
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }
    pub fn container(mut self, c: ContainerSpec) -> Self {
        self.containers.push(c);
        self
    }
    pub fn init_container(mut self, c: ContainerSpec) -> Self {
        self.init_containers.push(c);
        self
    }
}

/// A Job: pods from one template, run to completion by the Job controller's rules.
///
/// Each pod's containers run for `run_for` and exit with `exit_code`; with
/// [`JobSpec::fail_first`] the first pods fail instead (an exit code and a reason) and the
/// later ones succeed. A failed pod is replaced (restartPolicy `Never`) after a back-off
/// until `backoff_limit` failures are exceeded; `active_deadline` fails the Job once it has
/// run that long.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub name: String,
    pub containers: Vec<ContainerSpec>,
    pub exit_code: i32,
    pub run_for: Duration,
    /// `spec.backoffLimit` (default 6).
    pub backoff_limit: u32,
    /// `spec.completions` and `spec.parallelism` (default 1 and 1).
    pub completions: u32,
    pub parallelism: u32,
    /// `spec.activeDeadlineSeconds`.
    pub active_deadline: Option<Duration>,
    /// The first `n` pods fail: `(n, exit code, reason)`.
    pub fail_first: Option<(u32, i32, String)>,
    pub labels: Vec<(String, String)>,
}

impl Default for JobSpec {
    fn default() -> Self {
        JobSpec {
            name: String::new(),
            containers: Vec::new(),
            exit_code: 0,
            run_for: Duration::ZERO,
            backoff_limit: 6,
            completions: 1,
            parallelism: 1,
            active_deadline: None,
            fail_first: None,
            labels: Vec::new(),
        }
    }
}

impl JobSpec {
    pub fn new(name: &str) -> JobSpec {
        JobSpec {
            name: name.to_string(),
            ..JobSpec::default()
        }
    }
    pub fn container(mut self, c: ContainerSpec) -> Self {
        self.containers.push(c);
        self
    }
    pub fn exit_code(mut self, code: i32) -> Self {
        self.exit_code = code;
        self
    }
    pub fn run_for(mut self, d: Duration) -> Self {
        self.run_for = d;
        self
    }
    pub fn backoff_limit(mut self, n: u32) -> Self {
        self.backoff_limit = n;
        self
    }
    pub fn completions(mut self, n: u32) -> Self {
        self.completions = n;
        self
    }
    pub fn parallelism(mut self, n: u32) -> Self {
        self.parallelism = n;
        self
    }
    pub fn active_deadline(mut self, d: Duration) -> Self {
        self.active_deadline = Some(d);
        self
    }
    /// The first `n` pods' containers exit with `exit_code` and `reason` (`Error`,
    /// `OOMKilled`...) after `run_for`; the pods after them succeed.
    pub fn fail_first(mut self, n: u32, exit_code: i32, reason: &str) -> Self {
        self.fail_first = Some((n, exit_code, reason.to_string()));
        self
    }
    /// A label of the Job's pod template (and so of its pods).
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }
}

/// A CronJob: a schedule in cron syntax (`*/5 * * * *`, `@hourly`...) and the Job each
/// run creates. The Job's name in `job` is not used: the controller names each Job
/// `NAME-<scheduled minute>`.
#[derive(Debug, Clone, PartialEq)]
pub struct CronJobSpec {
    pub name: String,
    pub schedule: String,
    pub job: JobSpec,
    pub suspend: bool,
    /// `Allow` (default), `Forbid` or `Replace`.
    pub concurrency_policy: String,
    /// `successfulJobsHistoryLimit` and `failedJobsHistoryLimit` (default 3 and 1).
    pub successful_history: u32,
    pub failed_history: u32,
}

impl CronJobSpec {
    pub fn new(name: &str, schedule: &str, job: JobSpec) -> CronJobSpec {
        CronJobSpec {
            name: name.to_string(),
            schedule: schedule.to_string(),
            job,
            suspend: false,
            concurrency_policy: "Allow".to_string(),
            successful_history: 3,
            failed_history: 1,
        }
    }
    pub fn suspend(mut self, suspend: bool) -> Self {
        self.suspend = suspend;
        self
    }
    pub fn concurrency_policy(mut self, policy: &str) -> Self {
        self.concurrency_policy = policy.to_string();
        self
    }
    pub fn history(mut self, successful: u32, failed: u32) -> Self {
        self.successful_history = successful;
        self.failed_history = failed;
        self
    }
}
