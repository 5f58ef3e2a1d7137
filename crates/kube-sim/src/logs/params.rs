//! The log query parameters (`PodLogOptions`) with the apiserver's conversion and
//! validation rules and its exact error texts: 400 for a value that does not convert, one
//! 422 listing every violation. It must not look at pods or journals.

use jiff::Timestamp;

/// Parsed `PodLogOptions` that this module serves (container and previous are the server's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    pub follow: bool,
    pub timestamps: bool,
    pub since: Option<Timestamp>,
    pub tail_lines: Option<u64>,
    pub limit_bytes: Option<u64>,
}

/// A rejected log query: the fields of the `Status` the apiserver answers with.
///
/// For 422 the server adds `details: {name: <pod>, kind: "PodLogOptions", causes}`; for 400
/// there are no details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `(reason, message, field)` of each `details.causes[]` entry.
    pub causes: Vec<(String, String, String)>,
}

/// Parses the log query parameters with the apiserver's conversion and validation rules.
///
/// `params` are decoded `(key, value)` pairs in request order; the first occurrence of a
/// key wins (Go's query conversion reads `values[0]`). `container`, `previous` and unknown
/// keys are ignored here. Errors come in the apiserver's order: a value that does not
/// convert is a 400 BadRequest, then `ValidatePodLogOptions` gives one 422 Invalid listing
/// every violation. The real apiserver validates before it looks the pod up, so a 422 wins
/// over a 404.
pub fn parse_log_query(
    params: &[(String, String)],
    pod: &str,
    now: Timestamp,
) -> Result<LogQuery, ParamError> {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let since_seconds = get("sinceSeconds").map(parse_int).transpose()?;
    let since_time = match get("sinceTime") {
        // metav1.Time treats an empty value (and a JSON-era "null") as unset.
        None | Some("") | Some("null") => None,
        Some(v) => Some(parse_time(v)?),
    };
    let tail_lines = get("tailLines").map(parse_int).transpose()?;
    let limit_bytes = get("limitBytes").map(parse_int).transpose()?;
    let follow = get("follow").is_some_and(parse_bool);
    let timestamps = get("timestamps").is_some_and(parse_bool);

    // ValidatePodLogOptions, in its order.
    let mut errs: Vec<(String, String, String)> = Vec::new();
    if let Some(n) = tail_lines.filter(|&n| n < 0) {
        errs.push(invalid(
            "tailLines",
            n,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(n) = limit_bytes.filter(|&n| n < 1) {
        errs.push(invalid("limitBytes", n, "must be greater than 0"));
    }
    match (since_seconds, since_time) {
        (Some(_), Some(_)) => errs.push((
            "FieldValueForbidden".to_string(),
            "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified".to_string(),
            String::new(),
        )),
        (Some(n), None) if n < 1 => errs.push(invalid("sinceSeconds", n, "must be greater than 0")),
        _ => {}
    }
    if !errs.is_empty() {
        let rendered: Vec<String> = errs
            .iter()
            .map(|(_, msg, field)| format!("{field}: {msg}"))
            .collect();
        let detail = if rendered.len() == 1 {
            rendered[0].clone()
        } else {
            format!("[{}]", rendered.join(", "))
        };
        return Err(ParamError {
            code: 422,
            reason: "Invalid",
            message: format!("PodLogOptions {pod:?} is invalid: {detail}"),
            causes: errs,
        });
    }

    let since = match (since_seconds, since_time) {
        (Some(n), _) => {
            // The kubelet computes now - sinceSeconds; clamp instead of overflowing.
            let back = jiff::SignedDuration::from_secs(n);
            Some(now.checked_sub(back).unwrap_or(Timestamp::MIN))
        }
        (None, Some(t)) => Some(t),
        (None, None) => None,
    };
    Ok(LogQuery {
        follow,
        timestamps,
        since,
        // Validation above guarantees these are non-negative / positive.
        tail_lines: tail_lines.map(|n| n.unsigned_abs()),
        limit_bytes: limit_bytes.map(|n| n.unsigned_abs()),
    })
}

fn invalid(field: &str, value: i64, msg: &str) -> (String, String, String) {
    (
        "FieldValueInvalid".to_string(),
        format!("Invalid value: {value}: {msg}"),
        field.to_string(),
    )
}

/// apimachinery `Convert_Slice_string_To_bool`: only `0` and `false` (any case) are false.
fn parse_bool(v: &str) -> bool {
    !(v == "0" || v.eq_ignore_ascii_case("false"))
}

/// Go `strconv.ParseInt(v, 10, 64)`, with its error text.
fn parse_int(v: &str) -> Result<i64, ParamError> {
    v.parse::<i64>().map_err(|_| {
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        let why = if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        bad_request(format!("strconv.ParseInt: parsing {v:?}: {why}"))
    })
}

/// RFC 3339 with optional fractions, then truncated to whole seconds: the apiserver passes
/// `sinceTime` to the kubelet formatted with `time.RFC3339`, which drops the fraction.
fn parse_time(v: &str) -> Result<Timestamp, ParamError> {
    let t: Timestamp = v.parse().map_err(|_| {
        bad_request(format!(
            "parsing time {v:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {v:?} as \"2006\""
        ))
    })?;
    let second = t.as_nanosecond().div_euclid(1_000_000_000);
    let second = i64::try_from(second).unwrap_or(0);
    Ok(Timestamp::from_second(second).unwrap_or(t))
}

fn bad_request(message: String) -> ParamError {
    ParamError {
        code: 400,
        reason: "BadRequest",
        message,
        causes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn booleans_follow_the_apiserver_rule() {
        let now = Timestamp::now();
        for (v, want) in [
            ("true", true),
            ("", true),
            ("1", true),
            ("yes", true),
            ("0", false),
            ("false", false),
            ("FALSE", false),
        ] {
            let got =
                parse_log_query(&params(&[("follow", v), ("timestamps", v)]), "p", now).unwrap();
            assert_eq!((got.follow, got.timestamps), (want, want), "{v:?}");
        }
        let got = parse_log_query(
            &params(&[("container", "app"), ("previous", "true"), ("x", "y")]),
            "p",
            now,
        )
        .unwrap();
        assert_eq!(got, LogQuery::default());
        let first_wins =
            parse_log_query(&params(&[("tailLines", "2"), ("tailLines", "x")]), "p", now).unwrap();
        assert_eq!(first_wins.tail_lines, Some(2));
    }

    #[test]
    fn unparseable_values_are_bad_requests() {
        let now = Timestamp::now();
        let cases = [
            (
                "tailLines",
                "abc",
                "strconv.ParseInt: parsing \"abc\": invalid syntax",
            ),
            (
                "limitBytes",
                "",
                "strconv.ParseInt: parsing \"\": invalid syntax",
            ),
            (
                "sinceSeconds",
                "99999999999999999999",
                "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
            ),
            (
                "sinceTime",
                "yesterday",
                "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\"",
            ),
        ];
        for (k, v, msg) in cases {
            let err = parse_log_query(&params(&[(k, v)]), "p", now).unwrap_err();
            assert_eq!(
                (err.code, err.reason, err.message.as_str()),
                (400, "BadRequest", msg)
            );
            assert!(err.causes.is_empty());
        }
    }

    #[test]
    fn invalid_values_are_422_with_causes() {
        let now = Timestamp::now();
        let err = parse_log_query(&params(&[("tailLines", "-1")]), "web-1", now).unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert_eq!(
            err.message,
            "PodLogOptions \"web-1\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            err.causes,
            vec![(
                "FieldValueInvalid".to_string(),
                "Invalid value: -1: must be greater than or equal to 0".to_string(),
                "tailLines".to_string()
            )]
        );
        let err = parse_log_query(&params(&[("limitBytes", "0")]), "p", now).unwrap_err();
        assert_eq!(
            err.message,
            "PodLogOptions \"p\" is invalid: limitBytes: Invalid value: 0: must be greater than 0"
        );
        let err = parse_log_query(&params(&[("sinceSeconds", "0")]), "p", now).unwrap_err();
        assert_eq!(
            err.message,
            "PodLogOptions \"p\" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0"
        );
        let both = params(&[
            ("sinceSeconds", "10"),
            ("sinceTime", "2024-01-02T03:04:05Z"),
        ]);
        let err = parse_log_query(&both, "p", now).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "PodLogOptions \"p\" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        );
        assert_eq!(err.causes[0].0, "FieldValueForbidden");
        assert_eq!(err.causes[0].2, "");
        let many = params(&[("tailLines", "-2"), ("limitBytes", "-3")]);
        let err = parse_log_query(&many, "p", now).unwrap_err();
        assert_eq!(
            err.message,
            "PodLogOptions \"p\" is invalid: [tailLines: Invalid value: -2: must be greater than or equal to 0, limitBytes: Invalid value: -3: must be greater than 0]"
        );
        assert_eq!(err.causes.len(), 2);
    }

    #[test]
    fn huge_since_seconds_does_not_overflow() {
        let q = parse_log_query(
            &params(&[("sinceSeconds", &i64::MAX.to_string())]),
            "p",
            Timestamp::now(),
        )
        .unwrap();
        assert_eq!(q.since, Some(Timestamp::MIN));
    }
}
