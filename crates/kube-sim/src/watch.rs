//! Watches: option validation, the starting point (synthetic ADDEDs, or history replay
//! from a resourceVersion), and a task per watch streaming one JSON event per line.
//!
//! The initial snapshot and the cursor are taken under the same lock, so no write can fall
//! between them. Expiry (history too short, or `expire_watches`) is reported in-band as an
//! ERROR 410 event in a 200 response, because clients only relist on that.
//!
//! Routing, authorization and selector parsing happen before a watch starts (in `api` and
//! `query`); this module must not call back into the request path.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::http::{ApiError, ChannelBody, Resp};
use crate::query::{Filter, Params, event_line, invalid_list_options, parse_rv};
use crate::state::Shared;
use crate::store::{EventType, Resource};
use crate::table::{self, IncludeObject};

/// How often a watch with bookmarks allowed reports its progress.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

fn invalid(msg: &str) -> ApiError {
    invalid_list_options(msg, "resourceVersionMatch", "FieldValueForbidden")
}

fn expired_status(requested: u64, horizon: u64) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("too old resource version: {requested} ({horizon})"),
        "reason": "Expired",
        "code": 410,
    })
}

/// How one watch renders its events.
struct Encoder {
    resource: Resource,
    table: Option<IncludeObject>,
    headers_sent: bool,
}

impl Encoder {
    fn event(&mut self, kind: &str, obj: &Value) -> Bytes {
        match self.table {
            None => event_line(kind, obj),
            Some(include) => {
                let meta = json!({ "resourceVersion": obj["metadata"]["resourceVersion"] });
                let t = table::table(
                    self.resource,
                    std::iter::once(obj),
                    meta,
                    include,
                    !self.headers_sent,
                );
                self.headers_sent = true;
                event_line(kind, &t)
            }
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let obj = match self.table {
            None => json!({
                "kind": self.resource.kind(),
                "apiVersion": self.resource.api_version(),
                "metadata": meta,
            }),
            Some(_) => json!({
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "columnDefinitions": [],
                "rows": [],
            }),
        };
        event_line("BOOKMARK", &obj)
    }
}

pub(crate) fn start(
    shared: &Arc<Shared>,
    r: Resource,
    ns: Option<&str>,
    params: &Params,
    filter: Filter,
    table: Option<IncludeObject>,
) -> Result<Resp, ApiError> {
    let rv = params.non_empty("resourceVersion");
    let rvm = params.non_empty("resourceVersionMatch");
    let send_initial = params
        .get("sendInitialEvents")
        .map(|_| params.flag("sendInitialEvents"));
    let bookmarks = params.flag("allowWatchBookmarks");
    match (send_initial, rvm) {
        (None, Some(_)) => {
            return Err(invalid(
                "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        (Some(_), m) if m != Some("NotOlderThan") => {
            return Err(invalid(
                "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        _ => {}
    }
    let timeout = match params.int("timeoutSeconds")? {
        // Clamped so absurd values cannot overflow the deadline.
        Some(t) if t > 0 => Duration::from_secs((t as u64).min(366 * 86_400)),
        // The apiserver picks a random duration in [min-request-timeout, 2x] (30-60 min).
        _ => Duration::from_secs(1800 + shared.random() % 1800),
    };
    let legacy = rv.is_none_or(|v| v == "0");
    let requested = match rv {
        Some(v) if v != "0" => Some(parse_rv(v)?),
        _ => None,
    };
    // With the WatchList feature (on by default) a legacy watch is defaulted to
    // sendInitialEvents=true, so its replay also ends with the annotated bookmark.
    let initial = send_initial.unwrap_or(legacy);
    let end_marker = bookmarks && (send_initial == Some(true) || (legacy && rvm.is_none()));

    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut enc = Encoder {
        resource: r,
        table,
        headers_sent: false,
    };
    let ns = ns.map(str::to_string);
    let mut first: Vec<Bytes> = Vec::new();
    let (cursor, epoch, expired) = {
        let c = shared.lock();
        let epoch = c.store.epoch();
        if initial {
            let mut batch = Vec::new();
            for (_, s) in c.store.list(r, ns.as_deref()) {
                if filter.matches(&s.obj) {
                    batch.extend_from_slice(&enc.event("ADDED", &s.obj));
                    if batch.len() > 64 * 1024 {
                        first.push(Bytes::from(std::mem::take(&mut batch)));
                    }
                }
            }
            if !batch.is_empty() {
                first.push(Bytes::from(batch));
            }
            if end_marker && initial {
                first.push(enc.bookmark(c.store.rv(), true));
            }
            (c.store.rv(), epoch, None)
        } else {
            let n = requested.unwrap_or(0);
            match c.store.events_after(n) {
                Ok(_) => (n, epoch, None),
                Err(e) => (n, epoch, Some(expired_status(n, e.horizon))),
            }
        }
    };
    let s = shared.clone();
    let w = Watcher {
        shared: s,
        resource: r,
        ns,
        filter,
        enc,
        cursor,
        epoch,
        bookmarks,
        deadline: Instant::now() + timeout,
        tx,
    };
    shared.spawn(async move {
        if let Some(status) = expired {
            let _ = w.tx.send(event_line("ERROR", &status)).await;
            return;
        }
        for b in first {
            if w.tx.send(b).await.is_err() {
                return;
            }
        }
        w.run().await;
    });
    let body = ChannelBody { rx }.boxed_unsync();
    Ok(crate::http::stream("application/json", body))
}

struct Watcher {
    shared: Arc<Shared>,
    resource: Resource,
    ns: Option<String>,
    filter: Filter,
    enc: Encoder,
    cursor: u64,
    epoch: u64,
    bookmarks: bool,
    deadline: Instant,
    tx: mpsc::Sender<Bytes>,
}

impl Watcher {
    async fn run(mut self) {
        let mut changed = self.shared.changed.subscribe();
        let mut stop = self.shared.shutdown.subscribe();
        let mut next_bookmark = Instant::now() + BOOKMARK_EVERY;
        loop {
            changed.borrow_and_update();
            let (out, end) = self.collect();
            for b in out {
                if self.tx.send(b).await.is_err() {
                    return;
                }
            }
            if end {
                return;
            }
            tokio::select! {
                r = changed.changed() => {
                    if r.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(next_bookmark), if self.bookmarks => {
                    next_bookmark = Instant::now() + BOOKMARK_EVERY;
                    let b = self.enc.bookmark(self.cursor, false);
                    if self.tx.send(b).await.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(self.deadline) => {
                    // A bookmark right before the timeout lets the client resume from the
                    // newest revision; then the response ends cleanly.
                    if self.bookmarks {
                        let _ = self.tx.send(self.enc.bookmark(self.cursor, false)).await;
                    }
                    return;
                }
                _ = self.tx.closed() => return,
                _ = crate::state::stopped(&mut stop) => return,
            }
        }
    }

    /// Events since the cursor for this watch, and whether the watch must end.
    fn collect(&mut self) -> (Vec<Bytes>, bool) {
        let c = self.shared.lock();
        if c.store.epoch() != self.epoch {
            let st = expired_status(self.cursor, c.store.horizon());
            return (vec![event_line("ERROR", &st)], true);
        }
        let events = match c.store.events_after(self.cursor) {
            Ok(e) => e,
            Err(e) => {
                let st = expired_status(self.cursor, e.horizon);
                return (vec![event_line("ERROR", &st)], true);
            }
        };
        let mut out = Vec::new();
        for ev in events {
            if ev.resource != self.resource || self.ns.as_ref().is_some_and(|ns| &ev.key.0 != ns) {
                continue;
            }
            let now_m = ev.kind != EventType::Deleted && self.filter.matches(&ev.obj);
            let was_m = ev.prev.as_ref().is_some_and(|p| self.filter.matches(p));
            let kind = match (ev.kind, was_m, now_m) {
                (EventType::Added, _, true) => "ADDED",
                (EventType::Modified, true, true) => "MODIFIED",
                (EventType::Modified, false, true) => "ADDED",
                (EventType::Modified, true, false) => "DELETED",
                (EventType::Deleted, true, _) => "DELETED",
                _ => continue,
            };
            out.push(self.enc.event(kind, &ev.obj));
        }
        self.cursor = c.store.rv();
        (out, false)
    }
}
