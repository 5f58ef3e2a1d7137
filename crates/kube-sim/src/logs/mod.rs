//! Container logs as the kubelet serves them.
//!
//! One [`LogJournal`] per container *instance* (a restart gets a new journal) stores the
//! lines (`journal`); `params` parses and validates the log query parameters like the
//! apiserver, with its error texts; `body` turns a parsed [`LogQuery`] into a streaming HTTP
//! body with the kubelet's semantics; `format` holds the kubelet's timestamp layout and the
//! generated test lines. This module must not know about pods, containers or routing:
//! choosing the instance (container name, `previous`) and writing the `Status` JSON belong
//! to the API layer.

mod body;
mod format;
mod journal;
mod params;

pub use body::LogBody;
pub use format::{format_timestamp, generated_line};
pub use journal::LogJournal;
pub use params::{LogQuery, ParamError, parse_log_query};

/// How a log body is cut into HTTP chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Chunking {
    /// One chunk per line, like the kubelet flushing after every write during follow.
    #[default]
    PerLine,
    /// Chunks of up to 64 KiB, like an apiserver copying a busy stream.
    Coalesced,
}

/// How [`LogJournal::end_streams`] ends the bodies that are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The body ends normally; the client sees a clean end of stream.
    Clean,
    /// The body fails, so the connection is aborted; the client sees an unexpected EOF.
    Reset,
}

#[cfg(test)]
mod testing {
    //! Helpers the journal and body tests share.

    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::BodyExt;
    use jiff::Timestamp;

    use super::{LogBody, LogJournal, LogQuery};

    pub(super) fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub(super) fn q() -> LogQuery {
        LogQuery::default()
    }

    /// Reads a body to its end; returns the frames and whether it ended with an error.
    pub(super) async fn frames(mut body: LogBody) -> (Vec<Bytes>, bool) {
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), body.frame()).await {
                Ok(Some(Ok(f))) => out.push(f.into_data().unwrap()),
                Ok(Some(Err(_))) => return (out, true),
                Ok(None) => return (out, false),
                Err(_) => panic!("body did not end within 5 s"),
            }
        }
    }

    pub(super) async fn text(body: LogBody) -> String {
        let (f, err) = frames(body).await;
        assert!(!err);
        String::from_utf8(f.concat()).unwrap()
    }

    /// Ten lines, one per second from 2024-01-02T03:04:00.5Z.
    pub(super) fn ten_seconds() -> Arc<LogJournal> {
        let j = LogJournal::new();
        for i in 0..10 {
            let t = ts("2024-01-02T03:04:00.5Z") + jiff::SignedDuration::from_secs(i);
            j.append_at(t, format!("line {i}").as_bytes());
        }
        j
    }
}
