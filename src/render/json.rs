//! JSON text for `-o json`, `extjson` and `ppextjson`: escaping a message as serde_json
//! would, recognising a message that is JSON, and re-indenting it.
//!
//! These run once per line, so they stream over bytes and build no value; serde_json is
//! only asked whether a text is valid.

/// Whether `message` is one JSON value (stern's `json.Valid`), checked without building it.
pub(crate) fn is_json(message: &[u8]) -> bool {
    matches!(
        message.trim_ascii().first(),
        Some(b'{' | b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9')
    ) && serde_json::from_slice::<serde::de::IgnoredAny>(message).is_ok()
}

/// Re-indents valid JSON two spaces per level, starting at `depth`, keeping its key order
/// and number text: a streaming pass over the bytes, nothing is built.
pub(crate) fn write_indented_json(out: &mut Vec<u8>, json: &[u8], depth: usize) {
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * 2));
    };
    let mut depth = depth;
    let mut in_string = false;
    let mut escaped = false;
    let bytes = json.trim_ascii();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                // An empty container stays on one line.
                let close = if b == b'{' { b'}' } else { b']' };
                let next = bytes[i..].iter().position(|c| !c.is_ascii_whitespace());
                if next.is_some_and(|n| bytes[i + n] == close) {
                    out.push(close);
                    i += next.unwrap_or(0) + 1;
                } else {
                    depth += 1;
                    newline(out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b);
                newline(out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
}

/// Appends `bytes` as a JSON string, escaped as serde_json does; invalid UTF-8 becomes
/// U+FFFD. Runs that need no escape are copied whole: this is most of `-o json`'s cost.
pub(crate) fn write_json_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    match std::str::from_utf8(bytes) {
        Ok(_) => escape_json(out, bytes),
        // Rare: only a line that is not UTF-8 pays for the copy.
        Err(_) => escape_json(out, String::from_utf8_lossy(bytes).as_bytes()),
    }
    out.push(b'"');
}

fn escape_json(out: &mut Vec<u8>, text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        // Eight clean bytes at a time: most of a line needs no escape.
        if let Some(word) = text.get(i..i + 8)
            && !word_needs_escape(u64::from_le_bytes(word.try_into().unwrap_or_default()))
        {
            i += 8;
            continue;
        }
        let b = text[i];
        i += 1;
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => b"",
        };
        out.extend_from_slice(&text[start..i - 1]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.extend_from_slice(short);
        }
        start = i;
    }
    out.extend_from_slice(&text[start..]);
}

/// Whether any byte of `w` is a control character, `"` or `\\` (SWAR: a byte test
/// across the word; a false alarm only sends the word to the byte loop).
fn word_needs_escape(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI != 0;
    has_zero(w ^ (LO * u64::from(b'"')))
        || has_zero(w ^ (LO * u64::from(b'\\')))
        || w.wrapping_sub(LO * 0x20) & !w & HI != 0
}

/// The inside of a JSON string, without its quotes (per target, not per line).
pub(crate) fn write_json_inner(out: &mut Vec<u8>, bytes: &[u8]) {
    let at = out.len();
    write_json_str(out, bytes);
    out.remove(at);
    out.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping_agrees_with_serde_json() {
        for text in [
            "plain",
            "q\"uote\\ back",
            "tab\tnl\ncr\r\u{8}\u{c}",
            "\u{1b}[31mred\u{7f}",
            "ünï \u{1f600}",
            "",
        ] {
            let mut out = Vec::new();
            write_json_str(&mut out, text.as_bytes());
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
        // Escapes at every offset of the eight-byte steps.
        for at in 0..20 {
            for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é"] {
                let text = format!("{}{special}{}", "a".repeat(at), "b".repeat(at % 9));
                let mut out = Vec::new();
                write_json_str(&mut out, text.as_bytes());
                assert_eq!(out, serde_json::to_vec(&text).unwrap(), "{text:?}");
            }
        }
        let mut out = Vec::new();
        write_json_str(&mut out, b"a\xffb");
        assert_eq!(out, "\"a\u{fffd}b\"".as_bytes());
    }
}
