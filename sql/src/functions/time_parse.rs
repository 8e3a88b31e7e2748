//! Parsing of date, time and timestamp text as ksqlDB reads literals and casts:
//! timestamps in ISO-8601 (`2020-01-31T12:30:00.123`, a date alone, an optional offset
//! or `Z`), dates as `yyyy-MM-dd`, times as `HH:mm[:ss[.SSS]]`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Milliseconds since the epoch of an ISO-8601 timestamp (UTC unless it has an offset).
pub fn parse_timestamp_literal(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_millis());
    }
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, pattern) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(text, pattern) {
            return Some(dt.timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    if text.len() == 4
        && text.chars().all(|c| c.is_ascii_digit())
        && let Ok(d) = NaiveDate::parse_from_str(&format!("{text}-01-01"), "%Y-%m-%d")
    {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    None
}

/// Days since the epoch of a `yyyy-MM-dd` date.
pub fn parse_date_literal(text: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

/// Milliseconds since midnight of an `HH:mm[:ss[.SSS]]` time.
pub fn parse_time_literal(text: &str) -> Option<i32> {
    let text = text.trim();
    let t = ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|p| NaiveTime::parse_from_str(text, p).ok())?;
    Some((t.num_seconds_from_midnight() * 1000 + t.nanosecond() / 1_000_000) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        assert_eq!(
            parse_timestamp_literal("1970-01-01T00:00:01.500"),
            Some(1500)
        );
        assert_eq!(parse_timestamp_literal("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_timestamp_literal("1970-01-01T01:00:00+01:00"),
            Some(0)
        );
        assert_eq!(parse_timestamp_literal("nope"), None);
        assert_eq!(parse_date_literal("1970-01-11"), Some(10));
        assert_eq!(parse_time_literal("00:00:01.002"), Some(1002));
    }
}
