//! Time: reading the API's RFC3339 stamps and writing them as `--timestamps` asks.
//!
//! Both run once per line, so both are written by hand over fixed positions, with one
//! proleptic Gregorian calendar (H. Hinnant's algorithms) in each direction, and neither
//! allocates. jiff is used where it is cheap: the zone offset, once per distinct second.

use std::io::Write;

use jiff::tz::TimeZone;

/// `--timestamps[=FORMAT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampFormat {
    /// RFC3339 with nine fractional digits, in the zone.
    Default,
    /// `MM-DD hh:mm:ss`, in the zone.
    Short,
}

/// Whole epoch seconds of an RFC3339 time such as `2024-01-02T03:04:05.123456789Z` or
/// `…+02:00`. Written by hand because it runs once per line: it only reads fixed
/// positions and never allocates.
pub fn parse_rfc3339_second(s: &[u8]) -> Option<i64> {
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &b in &s[r] {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if s[i] == b'.' {
        i += 1;
        let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        i += digits;
    }
    let offset = match s.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let d = |b: u8| b.is_ascii_digit().then(|| i64::from(b - b'0'));
            let off = (d(*h1)? * 10 + d(*h2)?) * 3600 + (d(*m1)? * 10 + d(*m2)?) * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// The fraction of a second of an RFC3339 time such as `…:05.123Z`, in nanoseconds
/// (0 without one). Runs once per line, like `parse_rfc3339_second`.
pub(crate) fn parse_rfc3339_nanos(s: &[u8]) -> u32 {
    let Some(frac) = s.get(19..).filter(|f| f.first() == Some(&b'.')) else {
        return 0;
    };
    let mut nanos = 0u32;
    let mut digits = 0;
    for &b in frac[1..].iter().take_while(|b| b.is_ascii_digit()).take(9) {
        nanos = nanos * 10 + u32::from(b - b'0');
        digits += 1;
    }
    nanos * 10u32.pow(9 - digits)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Writes the timestamps of one container's lines: stern's layouts in a zone.
#[derive(Debug, Clone)]
pub(crate) struct TimestampWriter {
    format: TimestampFormat,
    zone: TimeZone,
    /// The zone offset of the last second written: one zone lookup per second of logs.
    offset_cache: (i64, i32),
}

impl TimestampWriter {
    pub(crate) fn new(format: TimestampFormat, zone: TimeZone) -> TimestampWriter {
        TimestampWriter {
            format,
            zone,
            offset_cache: (i64::MIN, 0),
        }
    }

    /// stern's layouts in `--timezone`: `default` is RFC3339 with nine fractional digits
    /// (`Z` for UTC, else `±hh:mm`), `short` is `MM-DD hh:mm:ss`. Rendered by hand from
    /// the parsed second: one zone lookup per distinct second, no allocation.
    /// `ts` is the API's text and `second` its whole second, parsed; a line whose
    /// timestamp did not parse gets its text as sent.
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, ts: &[u8], second: Option<i64>) {
        let format = self.format;
        let Some(second) = second else {
            out.extend_from_slice(ts);
            return;
        };
        let (cached, mut offset) = self.offset_cache;
        if cached != second {
            offset = jiff::Timestamp::from_second(second)
                .map(|t| self.zone.to_offset(t).seconds())
                .unwrap_or(0);
            self.offset_cache = (second, offset);
        }
        let local = second + i64::from(offset);
        let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let two = |out: &mut Vec<u8>, v: i64| {
            out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
        };
        match format {
            TimestampFormat::Short => {
                two(out, mo);
                out.push(b'-');
                two(out, d);
                out.push(b' ');
            }
            TimestampFormat::Default => {
                if (0..10_000).contains(&y) {
                    two(out, y / 100);
                    two(out, y % 100);
                    out.push(b'-');
                } else {
                    let _ = write!(out, "{y:04}-");
                }
                two(out, mo);
                out.push(b'-');
                two(out, d);
                out.push(b'T');
            }
        }
        two(out, h);
        out.push(b':');
        two(out, mi);
        out.push(b':');
        two(out, s);
        if format == TimestampFormat::Short {
            return;
        }
        // The fraction as sent, padded to nine digits.
        out.push(b'.');
        let frac = ts.get(19..).filter(|f| f.first() == Some(&b'.')).map(|f| {
            let n = f[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            &f[1..1 + n.min(9)]
        });
        let frac = frac.unwrap_or(&[]);
        out.extend_from_slice(frac);
        out.extend(std::iter::repeat_n(b'0', 9 - frac.len()));
        if offset == 0 {
            out.push(b'Z');
        } else {
            out.push(if offset < 0 { b'-' } else { b'+' });
            let o = i64::from(offset.abs());
            two(out, o / 3600);
            out.push(b':');
            two(out, o / 60 % 60);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_nanoseconds() {
        assert_eq!(
            parse_rfc3339_nanos(b"2024-01-02T03:04:05.123456789Z"),
            123_456_789
        );
        assert_eq!(parse_rfc3339_nanos(b"2024-01-02T03:04:05.5Z"), 500_000_000);
        assert_eq!(parse_rfc3339_nanos(b"2024-01-02T03:04:05Z"), 0);
        assert_eq!(parse_rfc3339_nanos(b"2024-01-02T03:04:05.0000000001Z"), 0);
        let t: jiff::Timestamp = "2026-11-27T10:00:00.000000042+01:00".parse().unwrap();
        assert_eq!(
            parse_rfc3339_nanos(b"2026-11-27T10:00:00.000000042+01:00"),
            t.subsec_nanosecond() as u32
        );
    }

    #[test]
    fn parses_api_timestamps() {
        assert_eq!(
            parse_rfc3339_second(b"2024-01-02T03:04:05.123456789Z"),
            Some(1_704_164_645)
        );
        // Offsets and whole seconds.
        assert_eq!(
            parse_rfc3339_second(b"2024-01-02T05:04:05+02:00"),
            Some(1_704_164_645)
        );
        assert_eq!(parse_rfc3339_second(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_second(b"2000-02-29T00:00:00Z"),
            Some(951_782_400)
        );
        assert_eq!(parse_rfc3339_second(b"2024-13-02T03:04:05Z"), None);
        assert_eq!(parse_rfc3339_second(b"2024-01-02T03:04:05."), None);
    }

    #[test]
    fn timestamps_agree_with_jiff() {
        for text in [
            "2026-11-27T13:10:18.5Z",
            "1999-12-31T23:59:59Z",
            "2038-01-19T03:14:08.000000001Z",
        ] {
            let want: jiff::Timestamp = text.parse().unwrap();
            assert_eq!(
                parse_rfc3339_second(text.as_bytes()),
                Some(want.as_second()),
                "{text}"
            );
        }
    }

    #[test]
    fn dates_agree_with_jiff() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:00:00Z",
            "2026-12-31T23:59:59Z",
            "1969-07-20T20:17:40Z",
        ] {
            let t: jiff::Timestamp = text.parse().unwrap();
            let dt = t.to_zoned(TimeZone::UTC).datetime();
            assert_eq!(
                civil_from_days(t.as_second().div_euclid(86_400)),
                (
                    i64::from(dt.year()),
                    i64::from(dt.month()),
                    i64::from(dt.day())
                ),
                "{text}"
            );
        }
    }
}
