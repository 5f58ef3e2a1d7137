//! Log levels: the level a line was logged at, for `--level` and for colouring the level
//! word in the default output.
//!
//! Only the message is read: JSON objects with a top-level `level`, `lvl` or `severity`
//! key (a word, or a bunyan/pino number 10..60), logfmt pairs `level=…` / `lvl=…`, and
//! klog headers (`I1127 10:00:00.000000 …`, the format of Kubernetes' own components). A
//! memmem prefilter rejects lines without a candidate key before any JSON is parsed, and
//! nothing here allocates: this runs once per line on the hot path. A line whose level
//! cannot be found has none, and `--level` keeps it (stern users asked for exactly
//! this filter in stern#227 and stern#45).

use std::ops::Range;
use std::sync::LazyLock;

use memchr::memmem::Finder;

/// Severity, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

/// Every word read as a level, lowercase (matched without regard to case). Synonyms come
/// from zap (dpanic), syslog and GCP severities (notice, alert, emergency) and the short
/// forms of zerolog and logrus.
const WORDS: [(&str, Level); 24] = [
    ("trace", Level::Trace),
    ("trc", Level::Trace),
    ("debug", Level::Debug),
    ("dbg", Level::Debug),
    ("info", Level::Info),
    ("inf", Level::Info),
    ("information", Level::Info),
    ("notice", Level::Info),
    ("warn", Level::Warn),
    ("wrn", Level::Warn),
    ("warning", Level::Warn),
    ("error", Level::Error),
    ("err", Level::Error),
    ("eror", Level::Error),
    ("fatal", Level::Fatal),
    ("ftl", Level::Fatal),
    ("crit", Level::Fatal),
    ("critical", Level::Fatal),
    ("panic", Level::Fatal),
    ("dpanic", Level::Fatal),
    ("alert", Level::Fatal),
    ("emerg", Level::Fatal),
    ("emergency", Level::Fatal),
    ("severe", Level::Error),
];

impl Level {
    /// A level word such as `WARN` or `warning`.
    pub(crate) fn from_word(word: &[u8]) -> Option<Level> {
        if word.len() > 11 {
            return None;
        }
        WORDS
            .iter()
            .find(|(w, _)| w.as_bytes().eq_ignore_ascii_case(word))
            .map(|(_, l)| *l)
    }

    /// A bunyan/pino numeric level: 10 trace, 20 debug, 30 info, 40 warn, 50 error,
    /// 60 fatal; values in between belong to the level below them.
    pub(crate) fn from_bunyan(n: f64) -> Option<Level> {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        Some(match n {
            n if n < 20.0 => Level::Trace,
            n if n < 30.0 => Level::Debug,
            n if n < 40.0 => Level::Info,
            n if n < 50.0 => Level::Warn,
            n if n < 60.0 => Level::Error,
            _ => Level::Fatal,
        })
    }

    /// stern's `levelColor`/`bunyanLevelColor` colours (SGR): debug and trace magenta,
    /// info blue (a blue that dark terminals show too), warn yellow, error red, fatal cyan.
    pub(crate) fn sgr(self) -> &'static str {
        match self {
            Level::Trace | Level::Debug => "35",
            Level::Info => crate::render::color::READABLE_BLUE,
            Level::Warn => "33",
            Level::Error => "31",
            Level::Fatal => "36",
        }
    }
}

/// A level found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    pub level: Level,
    /// Where the level's text sits in the message, when it is a word that can be coloured
    /// in place (not a number, not an escaped JSON string).
    pub span: Option<Range<usize>>,
}

static JSON_KEYS: LazyLock<[Finder<'static>; 3]> = LazyLock::new(|| {
    [
        Finder::new(b"\"level\""),
        Finder::new(b"\"lvl\""),
        Finder::new(b"\"severity\""),
    ]
});
static LOGFMT_KEYS: LazyLock<[Finder<'static>; 2]> =
    LazyLock::new(|| [Finder::new(b"level="), Finder::new(b"lvl=")]);

/// The level of `message`, if it says one.
pub(crate) fn detect(message: &[u8]) -> Option<Detected> {
    let start = message.iter().position(|b| !b.is_ascii_whitespace())?;
    if message[start] == b'{' {
        // A JSON object states its level in a key or not at all: a "level=" inside one
        // of its strings is text, not a logfmt pair.
        if JSON_KEYS.iter().any(|f| f.find(message).is_some()) {
            return json_level(message);
        }
        return None;
    }
    logfmt_level(message).or_else(|| klog_level(message))
}

/// Parses the object for its top-level level keys only; other values are skipped
/// without being built.
fn json_level(message: &[u8]) -> Option<Detected> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        level: Found,
        #[serde(default)]
        lvl: Found,
        #[serde(default)]
        severity: Found,
    }
    let probe: Probe = serde_json::from_slice(message).ok()?;
    let found = [probe.level, probe.lvl, probe.severity]
        .into_iter()
        .find(|f| f.level.is_some())?;
    let base = message.as_ptr() as usize;
    Some(Detected {
        level: found.level?,
        span: found
            .word
            .map(|(at, len)| at - base..at - base + len)
            .filter(|r| r.end <= message.len()),
    })
}

/// A level value as it was parsed: the level, and the address and length of its word
/// when the parser could borrow it from the message (no escapes in it).
#[derive(Default)]
struct Found {
    level: Option<Level>,
    word: Option<(usize, usize)>,
}

impl<'de> serde::Deserialize<'de> for Found {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Found, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Found;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a log level")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Found, E> {
                Ok(Found {
                    level: Level::from_word(v.as_bytes()),
                    word: Some((v.as_ptr() as usize, v.len())),
                })
            }
            fn visit_str<E>(self, v: &str) -> Result<Found, E> {
                Ok(Found {
                    level: Level::from_word(v.as_bytes()),
                    word: None,
                })
            }
            fn visit_u64<E>(self, v: u64) -> Result<Found, E> {
                Ok(Found {
                    level: Level::from_bunyan(v as f64),
                    word: None,
                })
            }
            fn visit_i64<E>(self, v: i64) -> Result<Found, E> {
                Ok(Found {
                    level: Level::from_bunyan(v as f64),
                    word: None,
                })
            }
            fn visit_f64<E>(self, v: f64) -> Result<Found, E> {
                Ok(Found {
                    level: Level::from_bunyan(v),
                    word: None,
                })
            }
            fn visit_bool<E>(self, _: bool) -> Result<Found, E> {
                Ok(Found::default())
            }
            fn visit_unit<E>(self) -> Result<Found, E> {
                Ok(Found::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Found, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Found::default())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Found, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Found::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// `level=warn`, `level="warn"` or `lvl=warn`, at the start of the line or after a space.
fn logfmt_level(message: &[u8]) -> Option<Detected> {
    for finder in LOGFMT_KEYS.iter() {
        for at in finder.find_iter(message) {
            if at > 0 && message[at - 1] != b' ' && message[at - 1] != b'\t' {
                continue;
            }
            let mut from = at + finder.needle().len();
            let quoted = message.get(from) == Some(&b'"');
            if quoted {
                from += 1;
            }
            let rest = &message[from..];
            let len = rest
                .iter()
                .position(|&b| {
                    if quoted {
                        b == b'"'
                    } else {
                        b == b' ' || b == b'\t'
                    }
                })
                .unwrap_or(rest.len());
            if let Some(level) = Level::from_word(&rest[..len]) {
                return Some(Detected {
                    level,
                    span: Some(from..from + len),
                });
            }
        }
    }
    None
}

/// klog's header: `Lmmdd hh:mm:ss.uuuuuu …` with L one of I, W, E, F.
fn klog_level(message: &[u8]) -> Option<Detected> {
    let head = message.get(..14)?;
    let level = match head[0] {
        b'I' => Level::Info,
        b'W' => Level::Warn,
        b'E' => Level::Error,
        b'F' => Level::Fatal,
        _ => return None,
    };
    let digits = |r: Range<usize>| head[r].iter().all(u8::is_ascii_digit);
    let shape = digits(1..5)
        && head[5] == b' '
        && digits(6..8)
        && head[8] == b':'
        && digits(9..11)
        && head[11] == b':'
        && digits(12..14);
    shape.then_some(Detected {
        level,
        span: Some(0..1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(line: &str) -> Option<Level> {
        detect(line.as_bytes()).map(|d| d.level)
    }

    fn word(line: &str) -> Option<&str> {
        let d = detect(line.as_bytes())?;
        d.span.map(|r| &line[r])
    }

    #[test]
    fn json_keys_words_and_numbers() {
        assert_eq!(level(r#"{"level":"warn","msg":"x"}"#), Some(Level::Warn));
        assert_eq!(level(r#"{"msg":"x", "lvl": "ERROR"}"#), Some(Level::Error));
        assert_eq!(level(r#"{"severity":"CRITICAL"}"#), Some(Level::Fatal));
        assert_eq!(level(r#"{"level":30,"msg":"bunyan"}"#), Some(Level::Info));
        assert_eq!(level(r#"{"level":50}"#), Some(Level::Error));
        assert_eq!(level(r#"{"level":10}"#), Some(Level::Trace));
        assert_eq!(level(r#"{"level":60.0}"#), Some(Level::Fatal));
        assert_eq!(word(r#"{"msg":"x","level":"warning"}"#), Some("warning"));
        assert_eq!(word(r#"{"level":40}"#), None, "numbers are not coloured");
    }

    #[test]
    fn json_without_a_level_or_with_a_nested_one_has_none() {
        assert_eq!(level(r#"{"msg":"level=error"}"#), None);
        assert_eq!(level(r#"{"ctx":{"level":"error"},"msg":"x"}"#), None);
        assert_eq!(level(r#"{"level":"chatty"}"#), None);
        assert_eq!(level(r#"{"level":{"name":"x"}}"#), None);
        assert_eq!(level(r#"{"level":"warn" broken"#), None);
        // An escaped string still has a level, but no span to colour.
        assert_eq!(
            detect(br#"{"level":"w\u0061rn"}"#).unwrap(),
            Detected {
                level: Level::Warn,
                span: None
            }
        );
    }

    #[test]
    fn logfmt_pairs() {
        assert_eq!(level("ts=1 level=debug msg=hi"), Some(Level::Debug));
        assert_eq!(word("level=\"error\" msg=x"), Some("error"));
        assert_eq!(level("lvl=info"), Some(Level::Info));
        assert_eq!(level("xlevel=error"), None);
        assert_eq!(level("level=verbose"), None);
        assert_eq!(word("t=1 level=WARN"), Some("WARN"));
    }

    #[test]
    fn klog_headers() {
        let line = "E1127 10:00:00.123456       1 reflector.go:123] failed";
        assert_eq!(level(line), Some(Level::Error));
        assert_eq!(word(line), Some("E"));
        assert_eq!(level("I1127 10:00:00.1 x"), Some(Level::Info));
        assert_eq!(level("Info about nothing"), None);
    }

    #[test]
    fn plain_lines_have_no_level() {
        assert_eq!(level("GET /healthz 200"), None);
        assert_eq!(level(""), None);
        assert_eq!(level("   "), None);
    }

    #[test]
    fn order_and_synonyms() {
        assert!(Level::Trace < Level::Debug && Level::Error < Level::Fatal);
        for (w, l) in [
            ("WARNING", Level::Warn),
            ("Err", Level::Error),
            ("panic", Level::Fatal),
            ("notice", Level::Info),
        ] {
            assert_eq!(Level::from_word(w.as_bytes()), Some(l), "{w}");
        }
    }
}
