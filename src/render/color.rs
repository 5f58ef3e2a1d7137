//! Colours: stern's palette, the pair a pod's name picks, and painting text in an SGR code.
//!
//! Whether colour is on is decided once, by `config`; this module only paints when told
//! to. The hash must stay stern's: a pod keeps its colour across runs, machines, and
//! between stern and ktail. The palette is stern's but for one colour that dark
//! terminals cannot show (see [`PALETTE`]).

use std::io::Write;

/// A blue that reads on dark and light backgrounds alike: 256-colour 33 (#0087ff) has a
/// contrast of 5.9:1 on black and 3.6:1 on white, where SGR 34 (xterm's #0000ee) has
/// 2.2:1 on black.
pub(crate) const READABLE_BLUE: &str = "38;5;33";

/// stern's palette: a name's FNV-1 hash picks a pair; the pod is written in the bright
/// colour, its containers in the normal one (SGR codes). stern's dark blue container
/// colour (34) is [`READABLE_BLUE`] here.
const PALETTE: [(&str, &str); 6] = [
    ("96", "36"),
    ("92", "32"),
    ("95", "35"),
    ("93", "33"),
    ("94", READABLE_BLUE),
    ("91", "31"),
];

/// The colour pair of a pod in stern's palette, stable across runs and machines.
pub fn color_pair(pod: &str) -> (&'static str, &'static str) {
    PALETTE[(fnv1_32(pod.as_bytes()) % PALETTE.len() as u32) as usize]
}

/// FNV-1 (multiply, then xor), 32 bits: Go's `hash/fnv.New32`, which stern uses, so a pod
/// has the same colour in stern and in ktail.
fn fnv1_32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h = h.wrapping_mul(0x0100_0193);
        h ^= u32::from(*b);
    }
    h
}

/// Which colours pods and containers get: stern's pairs, or the user's lists
/// (`--pod-colors`, `--container-colors`), and whether a container is coloured by its own
/// name (`--diff-container`). Built by `config`, which validates the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Palette {
    /// (pod SGR, container SGR) pairs; never empty.
    pairs: Vec<(String, String)>,
    diff_container: bool,
}

impl Default for Palette {
    fn default() -> Palette {
        Palette::new(Vec::new(), false)
    }
}

impl Palette {
    /// `pairs` empty means stern's palette.
    pub(crate) fn new(pairs: Vec<(String, String)>, diff_container: bool) -> Palette {
        let pairs = if pairs.is_empty() {
            PALETTE
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect()
        } else {
            pairs
        };
        Palette {
            pairs,
            diff_container,
        }
    }

    /// The SGR codes of a pod's name and of one of its containers' names.
    pub(crate) fn colors(&self, pod: &str, container: &str) -> (&str, &str) {
        let pick = |name: &str| &self.pairs[(fnv1_32(name.as_bytes()) as usize) % self.pairs.len()];
        let (pod_sgr, container_sgr) = pick(pod);
        if self.diff_container {
            (pod_sgr, &pick(container).1)
        } else {
            (pod_sgr, container_sgr)
        }
    }
}

/// Appends `text`, in the SGR colour `sgr` when `color` is on.
pub(crate) fn paint(out: &mut Vec<u8>, sgr: &str, text: &str, color: bool) {
    if color && !sgr.is_empty() {
        let _ = write!(out, "\x1b[{sgr}m{text}\x1b[0m");
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// `text` in the SGR colour `sgr` when `color` is on, as a `String` (for templates).
pub(crate) fn painted(sgr: &str, text: &str, color: bool) -> String {
    let mut out = Vec::with_capacity(text.len() + 12);
    paint(&mut out, sgr, text, color);
    String::from_utf8(out).unwrap_or_default()
}

/// Copies `message`, wrapping each match in stern's highlight (red bold).
pub(crate) fn highlight(out: &mut Vec<u8>, re: &regex::bytes::Regex, message: &[u8]) {
    let mut last = 0;
    for m in re.find_iter(message) {
        if m.is_empty() {
            continue;
        }
        out.extend_from_slice(&message[last..m.start()]);
        out.extend_from_slice(b"\x1b[1;31m");
        out.extend_from_slice(m.as_bytes());
        out.extend_from_slice(b"\x1b[0m");
        last = m.end();
    }
    out.extend_from_slice(&message[last..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_is_stable_and_sterns() {
        // Go's hash/fnv New32 (FNV-1): a change here changes every user's colours.
        assert_eq!(fnv1_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
        assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
        assert_eq!(color_pair("web-1"), color_pair("web-1"));
        let p = Palette::default();
        assert_eq!(p.colors("web-1", "app"), color_pair("web-1"));
    }

    #[test]
    fn no_default_colour_is_dark_blue_or_grey() {
        // SGR 30 (black), 34 (dark blue) and 90 (grey) vanish on dark backgrounds.
        for (pod, container) in PALETTE {
            for sgr in [pod, container] {
                assert!(!["30", "34", "90"].contains(&sgr), "{sgr}");
            }
        }
        // The pair of a pod is the one stern picks: only the blue container differs.
        assert_eq!(color_pair("foobar"), PALETTE[(0x31f0_b262u32 % 6) as usize]);
    }

    #[test]
    fn custom_palettes_and_diff_container() {
        let p = Palette::new(vec![("1;31".into(), "2;31".into())], false);
        assert_eq!(p.colors("any", "thing"), ("1;31", "2;31"));
        // -d: the container's own hash picks the container colour from the pairs.
        let p = Palette::new(Vec::new(), true);
        for (pod, c) in [("web-1", "app"), ("db-0", "sidecar"), ("x", "istio-proxy")] {
            assert_eq!(p.colors(pod, c), (color_pair(pod).0, color_pair(c).1));
        }
    }

    #[test]
    fn painting_is_plain_without_colour() {
        assert_eq!(painted("31", "x", true), "\x1b[31mx\x1b[0m");
        assert_eq!(painted("31", "x", false), "x");
        assert_eq!(painted("", "x", true), "x");
    }
}
