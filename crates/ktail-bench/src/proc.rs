//! Child processes of a benchmark: spawning each tool in its own process group, waiting
//! for it with `wait4` to get its CPU time and peak RSS, sampling `/proc` while it runs,
//! and making sure nothing outlives the benchmark.
//!
//! Every child gets `PR_SET_PDEATHSIG` (it dies with the benchmark) and its own process
//! group, so a tool that starts helpers (kubetail starts one kubectl per container) is
//! stopped as a whole. Children must be spawned from the main thread: the death signal
//! follows the thread that forked.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdout, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// What `wait4` reports about a finished child.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub user: Duration,
    pub sys: Duration,
    /// Peak resident set of the program (VmHWM, sampled every 10 ms).
    pub max_rss_kib: u64,
    /// The exit code, or 128 + signal.
    pub code: i32,
}

impl Usage {
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// A running child in its own process group; killed (group and all) when dropped.
pub struct Child {
    pid: i32,
    started: Instant,
    waited: mpsc::Receiver<Usage>,
    usage: Option<Usage>,
    stdout: Option<ChildStdout>,
}

impl Child {
    /// Spawns `cmd` in a new process group with the death signal set.
    pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let mut child = cmd.spawn()?;
        let pid = child.id() as i32;
        let stdout = child.stdout.take();
        // std's handle is dropped without waiting; wait4 below reaps the child instead.
        drop(child);
        // The peak RSS of the program itself. wait4's ru_maxrss cannot tell it: Linux
        // carries the high-water mark of the mm a child had before exec — a copy of this
        // process, which holds the simulator's logs (hundreds of MiB) — into ru_maxrss.
        // VmHWM starts afresh at exec, and only grows, so its last reading before the
        // exit is the peak (to within one sampling period).
        let hwm = Arc::new(AtomicU64::new(0));
        let sampled = hwm.clone();
        std::thread::Builder::new()
            .name(format!("hwm-{pid}"))
            .spawn(move || {
                while let Some(kib) = vm_hwm_kib(pid) {
                    sampled.fetch_max(kib, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })?;
        let (tx, waited) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("wait4-{pid}"))
            .spawn(move || {
                let mut u = wait4(pid);
                u.max_rss_kib = hwm.load(Ordering::Relaxed);
                let _ = tx.send(u);
            })?;
        Ok(Child {
            pid,
            started,
            waited,
            usage: None,
            stdout,
        })
    }

    /// The read end of the child's stdout, when it was `Stdio::piped()`.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// The usage once the child has exited, waiting at most `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Usage> {
        if self.usage.is_none() {
            self.usage = self.waited.recv_timeout(timeout).ok();
        }
        self.usage
    }

    pub fn has_exited(&mut self) -> bool {
        self.wait_timeout(Duration::ZERO).is_some()
    }

    /// SIGTERM to the group, SIGKILL after `grace`; returns the usage of the leader.
    pub fn stop(&mut self, grace: Duration) -> Usage {
        if let Some(u) = self.wait_timeout(Duration::ZERO) {
            kill_group(self.pid, libc::SIGKILL);
            return u;
        }
        kill_group(self.pid, libc::SIGTERM);
        if let Some(u) = self.wait_timeout(grace) {
            kill_group(self.pid, libc::SIGKILL);
            return u;
        }
        kill_group(self.pid, libc::SIGKILL);
        self.wait_timeout(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("process {} survived SIGKILL for 10 s", self.pid))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Helpers of a tool may still run after the leader exited.
        kill_group(self.pid, libc::SIGKILL);
    }
}

/// `VmHWM` of a live process; `None` once it has exited (a zombie has no memory lines).
fn vm_hwm_kib(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn kill_group(pgid: i32, sig: i32) {
    // SAFETY: plain syscall; a group that no longer exists gives ESRCH, which is fine.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

fn wait4(pid: i32) -> Usage {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: status and ru are valid for writes for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        // ECHILD or similar: nothing more to learn.
        return Usage {
            user: Duration::ZERO,
            sys: Duration::ZERO,
            max_rss_kib: 0,
            code: -1,
        };
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    };
    Usage {
        user: tv(ru.ru_utime),
        sys: tv(ru.ru_stime),
        max_rss_kib: ru.ru_maxrss as u64,
        code,
    }
}

/// CPU time (user + system) and resident set of a live process, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    pub cpu: Duration,
    /// CPU of children the process has waited for (kubetail's per-line helpers).
    pub children_cpu: Duration,
    pub rss_kib: u64,
    pub pgrp: i32,
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

fn page_kib() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 / 1024 } else { 4 }
}

pub fn sample(pid: i32) -> Option<ProcSample> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text, clock_ticks(), page_kib())
}

fn parse_stat(text: &str, ticks: u64, page_kib: u64) -> Option<ProcSample> {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Field n of proc(5) is f[n - 3].
    let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let tick = |v: u64| Duration::from_nanos(v.saturating_mul(1_000_000_000) / ticks);
    Some(ProcSample {
        cpu: tick(num(14)? + num(15)?),
        children_cpu: tick(num(16)? + num(17)?),
        rss_kib: num(24)? * page_kib,
        pgrp: f.get(2)?.parse().ok()?,
    })
}

/// The sum over every live process of a process group.
pub fn sample_group(pgid: i32) -> ProcSample {
    let mut total = ProcSample {
        pgrp: pgid,
        ..ProcSample::default()
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return total;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(s) = sample(pid).filter(|s| s.pgrp == pgid) {
            total.cpu += s.cpu;
            total.children_cpu += s.children_cpu;
            total.rss_kib += s.rss_kib;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        let text = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 4 0 12345 1000000 300 18446744073709551615";
        let s = parse_stat(text, 100, 4).unwrap();
        assert_eq!(s.cpu, Duration::from_secs(3));
        assert_eq!(s.children_cpu, Duration::from_millis(100));
        assert_eq!(s.rss_kib, 1200);
        assert_eq!(s.pgrp, 4242);
        assert!(parse_stat("garbage", 100, 4).is_none());
    }

    #[test]
    fn wait4_reports_exit_code_and_cpu_of_the_child() {
        let mut c = Child::spawn(Command::new("sh").args([
            "-c",
            "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3",
        ]))
        .unwrap();
        let u = c.wait_timeout(Duration::from_secs(30)).expect("sh exits");
        assert_eq!(u.code, 3);
        assert!(u.cpu() > Duration::ZERO, "{u:?}");
        assert!(u.max_rss_kib > 0);
    }

    #[test]
    fn stop_ends_the_whole_group() {
        let mut c = Child::spawn(Command::new("sh").args(["-c", "sleep 30 & sleep 30"])).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let pgid = c.pid();
        let u = c.stop(Duration::from_secs(2));
        assert_eq!(u.code, 128 + libc::SIGTERM);
        // The background sleep got the signal too.
        let deadline = Instant::now() + Duration::from_secs(5);
        while sample_group(pgid).rss_kib > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(sample_group(pgid).rss_kib, 0);
    }
}
