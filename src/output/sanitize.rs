//! Terminal safety: log lines are untrusted, and a terminal obeys what they contain.
//!
//! When stdout is a terminal, every control character and escape sequence in log
//! output is made visible in caret notation (`ESC` → `^[`, `BEL` → `^G`, as `cat -v`
//! does) so a line cannot move the cursor, clear or rewrite the screen, set the window
//! title, plant a hyperlink (OSC 8) or ring the bell. Colour (SGR: `ESC [ … m`) passes,
//! as `less -R` allows, so coloured logs and ktail's own colours still show. Tab and
//! newline pass. C1 controls (U+0080–U+009F, which some terminals read as 8-bit
//! escapes) are shown as `<U+009B>`. Output to a pipe or file is never touched.

/// Appends `input` to `out`, neutralising everything but SGR, tab and newline.
pub(crate) fn neutralise(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        // Copy the run of harmless bytes in one go.
        let start = i;
        while i < input.len() && !needs_care(input[i], input.get(i + 1).copied()) {
            i += 1;
        }
        out.extend_from_slice(&input[start..i]);
        if i >= input.len() {
            break;
        }
        let b = input[i];
        if b == 0x1b
            && let Some(len) = sgr_len(&input[i..])
        {
            out.extend_from_slice(&input[i..i + len]);
            i += len;
            continue;
        }
        if b == 0xc2 && matches!(input.get(i + 1), Some(0x80..=0x9f)) {
            out.extend_from_slice(format!("<U+{:04X}>", input[i + 1]).as_bytes());
            i += 2;
            continue;
        }
        // Caret notation: ^@ … ^_ for C0, ^? for DEL.
        out.push(b'^');
        out.push(if b == 0x7f { b'?' } else { b + 0x40 });
        i += 1;
    }
}

/// Whether output of `input` needs any change at all (the common case is no).
pub(crate) fn is_clean(input: &[u8]) -> bool {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if needs_care(b, input.get(i + 1).copied()) {
            match sgr_len(&input[i..]) {
                Some(len) if b == 0x1b => i += len,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

fn needs_care(b: u8, next: Option<u8>) -> bool {
    match b {
        b'\t' | b'\n' => false,
        0x00..=0x1f | 0x7f => true,
        0xc2 => matches!(next, Some(0x80..=0x9f)),
        _ => false,
    }
}

/// The length of an SGR sequence `ESC [ (digits | ; | :)* m` at the start of `s`.
fn sgr_len(s: &[u8]) -> Option<usize> {
    if s.len() < 3 || s[0] != 0x1b || s[1] != b'[' {
        return None;
    }
    for (i, &b) in s.iter().enumerate().skip(2) {
        match b {
            b'0'..=b'9' | b';' | b':' => {}
            b'm' => return Some(i + 1),
            _ => return None,
        }
        // Real SGR sequences are short; a long run is not one.
        if i > 64 {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &[u8]) -> String {
        let mut out = Vec::new();
        neutralise(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn colour_and_plain_text_pass() {
        let s = "plain \x1b[1;31mred\x1b[0m tab\there €".as_bytes();
        assert_eq!(n(s), String::from_utf8_lossy(s));
        assert!(is_clean(s));
        assert!(is_clean(b"\x1b[38;2;255;0;0mtruecolour\x1b[m"));
    }

    #[test]
    fn cursor_screen_title_and_bell_are_made_visible() {
        assert_eq!(n(b"\x1b[2J\x1b[Hwiped"), "^[[2J^[[Hwiped");
        assert_eq!(n(b"\x1b]0;owned\x07"), "^[]0;owned^G");
        assert_eq!(
            n(b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
            "^[]8;;http://x^[\\link^[]8;;^[\\"
        );
        assert_eq!(n(b"back\rspace\x08\x7f"), "back^Mspace^H^?");
        assert_eq!(n(b"\x1b[1A\x1b[K"), "^[[1A^[[K");
        assert_eq!(n("8-bit csi \u{9b}2J".as_bytes()), "8-bit csi <U+009B>2J");
        for bad in [
            &b"\x1b[2J"[..],
            b"\x07",
            b"\x1b]0;t\x07",
            "\u{9b}".as_bytes(),
        ] {
            assert!(!is_clean(bad), "{bad:?}");
        }
    }

    #[test]
    fn truncated_sequences_are_not_sgr() {
        assert_eq!(n(b"\x1b[31"), "^[[31");
        assert_eq!(n(b"\x1b["), "^[[");
        assert_eq!(n(b"\x1b"), "^[");
    }
}
