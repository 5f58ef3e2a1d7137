//! The bytes of a log line: the kubelet's fixed-width RFC 3339 timestamp with nine
//! fractional digits (and a per-second cache that makes stamping cheap), and the generated
//! test lines whose `seq=` numbers tests check for gaps and duplicates. Pure formatting: it
//! must not store or serve lines.

use jiff::Timestamp;

/// Width of `2024-01-02T03:04:05.123456789Z`.
pub(super) const TS_LEN: usize = 30;
/// The timestamp and the space after it, stored in front of every line.
pub(super) const PREFIX_LEN: usize = TS_LEN + 1;
/// Generated lines are padded with filler to this many bytes.
pub(super) const GENERATED_LEN: usize = 100;
const FILLER: &[u8] =
    b"lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
incididunt ut labore et dolore magna aliqua ut enim ad minim veniam";

/// Caches `YYYY-MM-DDTHH:MM:SS.` for the last second formatted, so consecutive lines only
/// format their nine fractional digits.
#[derive(Default)]
pub(super) struct SecondCache {
    second: Option<i64>,
    prefix: Vec<u8>,
}

impl SecondCache {
    pub(super) fn write(&mut self, nanos: i64, out: &mut Vec<u8>) {
        let second = nanos.div_euclid(1_000_000_000);
        let sub = nanos.rem_euclid(1_000_000_000) as u32;
        if self.second != Some(second) {
            self.prefix.clear();
            let ts = Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH);
            format_timestamp(ts, &mut self.prefix);
            self.prefix.truncate(self.prefix.len() - 10); // keep through the '.'
            self.second = Some(second);
        }
        out.extend_from_slice(&self.prefix);
        push_digits(out, sub, 9);
        out.push(b'Z');
    }
}

fn push_digits(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes `ts` the way the kubelet stamps log lines: RFC 3339 in UTC with exactly nine
/// fractional digits (trailing zeros kept) and `Z`, e.g. `2024-01-02T03:04:05.123456789Z`.
pub fn format_timestamp(ts: Timestamp, out: &mut Vec<u8>) {
    let dt = jiff::tz::Offset::UTC.to_datetime(ts);
    let year = dt.year();
    if year < 0 {
        out.push(b'-');
    }
    push_digits(out, u32::from(year.unsigned_abs()), 4);
    out.push(b'-');
    push_digits(out, dt.month() as u32, 2);
    out.push(b'-');
    push_digits(out, dt.day() as u32, 2);
    out.push(b'T');
    push_digits(out, dt.hour() as u32, 2);
    out.push(b':');
    push_digits(out, dt.minute() as u32, 2);
    out.push(b':');
    push_digits(out, dt.second() as u32, 2);
    out.push(b'.');
    push_digits(out, dt.subsec_nanosecond() as u32, 9);
    out.push(b'Z');
}

/// The text of generated line `seq`: `pod=<pod> container=<container> seq=<n> ` padded with
/// filler to 100 bytes, so tests can check for gaps and duplicates by parsing `seq=(\d+)`.
pub fn generated_line(pod: &str, container: &str, seq: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(GENERATED_LEN);
    write_generated_line(pod, container, seq, &mut out);
    out
}

pub(super) fn write_generated_line(pod: &str, container: &str, seq: u64, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(b"pod=");
    out.extend_from_slice(pod.as_bytes());
    out.extend_from_slice(b" container=");
    out.extend_from_slice(container.as_bytes());
    out.extend_from_slice(b" seq=");
    push_u64(out, seq);
    out.push(b' ');
    let used = out.len() - start;
    if used < GENERATED_LEN {
        out.extend_from_slice(&FILLER[..GENERATED_LEN - used]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::testing::ts;

    #[test]
    fn timestamps_have_nine_digits_and_z() {
        let mut out = Vec::new();
        format_timestamp(ts("2024-01-02T03:04:05.1Z"), &mut out);
        assert_eq!(out, b"2024-01-02T03:04:05.100000000Z");
        out.clear();
        format_timestamp(ts("2024-01-02T03:04:06Z"), &mut out);
        assert_eq!(out, b"2024-01-02T03:04:06.000000000Z");
        out.clear();
        format_timestamp(ts("2024-01-02T05:04:05.123456789+02:00"), &mut out);
        assert_eq!(out, b"2024-01-02T03:04:05.123456789Z");
        out.clear();
        SecondCache::default().write(-1, &mut out);
        assert_eq!(out, b"1969-12-31T23:59:59.999999999Z");
    }
}
