//! The process's environment as a value: the one place ktail reads environment
//! variables, asks whether its streams are terminals, and reads the clock and the
//! system's time zone. Everything else receives an `Env`, so tests need no process.

use std::collections::HashMap;

use jiff::tz::TimeZone;

/// The parts of the process environment that change ktail's behaviour.
#[derive(Debug, Clone)]
pub struct Env {
    pub vars: HashMap<String, String>,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
    /// The wall clock at start, in epoch seconds.
    pub now: i64,
    /// The system's time zone, the default of `--timezone`.
    pub timezone: TimeZone,
}

impl Default for Env {
    /// No variables, no terminals, the epoch, UTC.
    fn default() -> Env {
        Env {
            vars: HashMap::new(),
            stdout_is_terminal: false,
            stderr_is_terminal: false,
            now: 0,
            timezone: TimeZone::UTC,
        }
    }
}

impl Env {
    /// The real environment of this process.
    pub fn from_process() -> Env {
        use std::io::IsTerminal;
        Env {
            vars: std::env::vars().collect(),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            now: jiff::Timestamp::now().as_second(),
            timezone: TimeZone::try_system().unwrap_or(TimeZone::UTC),
        }
    }

    /// A variable's value, if it is set.
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}
