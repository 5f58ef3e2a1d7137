//! SIGINT and SIGTERM, as the run (`app`) and `ktail demo` both wait for them.

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::error::exit;

/// A signal that asks ktail to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Terminate,
}

impl Stop {
    /// The exit code shells expect after it: 130 or 143.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => exit::SIGINT,
            Stop::Terminate => exit::SIGTERM,
        }
    }

    /// The signal number, to pass it on to a child.
    pub fn number(self) -> i32 {
        match self {
            Stop::Interrupt => libc::SIGINT,
            Stop::Terminate => libc::SIGTERM,
        }
    }
}

/// Listens for SIGINT and SIGTERM from creation on. A signal that cannot be listened for
/// keeps its default action.
pub struct Signals {
    int: Option<Signal>,
    term: Option<Signal>,
}

impl Signals {
    pub fn new() -> Signals {
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// The next SIGINT or SIGTERM.
    pub async fn recv(&mut self) -> Stop {
        async fn next(s: Option<&mut Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(self.int.as_mut()) => Stop::Interrupt,
            () = next(self.term.as_mut()) => Stop::Terminate,
        }
    }
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}
