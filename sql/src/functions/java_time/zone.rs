//! Time zones as `java.time.ZoneId`: fixed offsets and tzdb regions, parsed as `ZoneId.of`
//! does, with their offsets at instants and for local date-times.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::OffsetComponents;

use crate::error::{Result, SqlError};

/// A time zone (`ZoneId`): an offset (`Z`, `+05:30`), or a region (`UTC`, `GMT`,
/// `America/Los_Angeles`, `UTC+01:00`).
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub(super) id: String,
    pub(super) rules: Rules,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Rules {
    Fixed(i32),
    Tz(chrono_tz::Tz),
}

pub(super) fn offset_id(seconds: i32) -> String {
    if seconds == 0 {
        return "Z".to_string();
    }
    let abs = seconds.unsigned_abs();
    let sign = if seconds < 0 { '-' } else { '+' };
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    }
}

/// `ZoneOffset.of`: `Z`, `+h`, `+hh`, `+hh:mm`, `+hhmm`, `+hh:mm:ss`, `+hhmmss`.
fn parse_offset_id(text: &str) -> Option<i32> {
    if text == "Z" {
        return Some(0);
    }
    if !text.is_ascii() {
        return None;
    }
    let (sign, rest) = match text.chars().next()? {
        '+' => (1, &text[1..]),
        '-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits = |s: &str| -> Option<i32> {
        (s.len() == 2 && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (h, m, s) = match rest.len() {
        1 => (
            rest.parse()
                .ok()
                .filter(|_| rest.chars().all(|c| c.is_ascii_digit()))?,
            0,
            0,
        ),
        2 => (digits(rest)?, 0, 0),
        4 => (digits(&rest[..2])?, digits(&rest[2..])?, 0),
        5 if &rest[2..3] == ":" => (digits(&rest[..2])?, digits(&rest[3..])?, 0),
        6 => (
            digits(&rest[..2])?,
            digits(&rest[2..4])?,
            digits(&rest[4..])?,
        ),
        8 if &rest[2..3] == ":" && &rest[5..6] == ":" => (
            digits(&rest[..2])?,
            digits(&rest[3..5])?,
            digits(&rest[6..])?,
        ),
        _ => return None,
    };
    if h > 18 || m > 59 || s > 59 || (h == 18 && (m > 0 || s > 0)) {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + s))
}

pub(super) fn tz_named(name: &str) -> Option<chrono_tz::Tz> {
    // The JDK's SystemV zones have no tzdb entry; these have the same rules.
    let name = match name {
        "SystemV/PST8PDT" => "PST8PDT",
        "SystemV/EST5EDT" => "EST5EDT",
        "SystemV/CST6CDT" => "CST6CDT",
        "SystemV/MST7MDT" => "MST7MDT",
        "SystemV/AST4ADT" => "America/Halifax",
        "SystemV/YST9YDT" => "America/Anchorage",
        "SystemV/HST10" => "HST",
        "SystemV/MST7" => "MST",
        "SystemV/EST5" => "EST",
        "SystemV/AST4" => "America/Puerto_Rico",
        "SystemV/CST6" => "America/Regina",
        "SystemV/PST8" => "Pacific/Pitcairn",
        "SystemV/YST9" => "Pacific/Gambier",
        other => other,
    };
    name.parse::<chrono_tz::Tz>().ok()
}

impl Zone {
    /// `ZoneOffset.UTC` (`Z`).
    pub fn utc() -> Self {
        Self {
            id: "Z".into(),
            rules: Rules::Fixed(0),
        }
    }

    /// `ZoneId.of("GMT")`, ksqlDB's default zone for formatting and parsing.
    pub fn gmt() -> Self {
        Self {
            id: "GMT".into(),
            rules: Rules::Fixed(0),
        }
    }

    /// A fixed offset in seconds (a `ZoneOffset`).
    pub fn fixed(seconds: i32) -> Self {
        Self {
            id: offset_id(seconds),
            rules: Rules::Fixed(seconds),
        }
    }

    /// The zone's id, as `ZoneId.getId()`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `ZoneId.of(name)`.
    pub fn parse(name: &str) -> Result<Self> {
        let bad_format = || {
            SqlError::eval(format!(
                "Invalid ID for region-based ZoneId, invalid format: {name}"
            ))
        };
        if name.starts_with(['+', '-']) || name == "Z" {
            return parse_offset_id(name).map(Self::fixed).ok_or_else(|| {
                SqlError::eval(format!("Invalid ID for ZoneOffset, invalid format: {name}"))
            });
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = name.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Ok(Self {
                        id: prefix.into(),
                        rules: Rules::Fixed(0),
                    });
                }
                if rest.starts_with(['+', '-']) {
                    let offset = parse_offset_id(rest).ok_or_else(bad_format)?;
                    let id = if offset == 0 {
                        prefix.to_string()
                    } else {
                        format!("{prefix}{}", offset_id(offset))
                    };
                    return Ok(Self {
                        id,
                        rules: Rules::Fixed(offset),
                    });
                }
                if prefix == "GMT" && rest == "0" {
                    return Ok(Self {
                        id: "GMT0".into(),
                        rules: Rules::Fixed(0),
                    });
                }
            }
        }
        let valid = name.len() >= 2
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "~/._+-".contains(c));
        if !valid {
            return Err(bad_format());
        }
        match tz_named(name) {
            Some(tz) => Ok(Self {
                id: name.to_string(),
                rules: Rules::Tz(tz),
            }),
            None => Err(SqlError::eval(format!("Unknown time-zone ID: {name}"))),
        }
    }

    /// The offset (seconds) at an instant.
    pub fn offset_at(&self, ms: i64) -> Result<i32> {
        match &self.rules {
            Rules::Fixed(s) => Ok(*s),
            Rules::Tz(tz) => {
                let utc = DateTime::<Utc>::from_timestamp_millis(ms)
                    .ok_or_else(|| SqlError::eval(format!("Instant {ms} is out of range")))?;
                Ok(tz
                    .offset_from_utc_datetime(&utc.naive_utc())
                    .fix()
                    .local_minus_utc())
            }
        }
    }

    pub(super) fn is_dst(&self, ms: i64) -> bool {
        match &self.rules {
            Rules::Fixed(_) => false,
            Rules::Tz(tz) => DateTime::<Utc>::from_timestamp_millis(ms).is_some_and(|utc| {
                tz.offset_from_utc_datetime(&utc.naive_utc())
                    .dst_offset()
                    .num_seconds()
                    > 0
            }),
        }
    }

    /// The offsets valid for a local date-time: none (a gap), one, or two (an overlap,
    /// earlier first).
    fn offsets_for_local(&self, local: &NaiveDateTime) -> Vec<i32> {
        match &self.rules {
            Rules::Fixed(s) => vec![*s],
            Rules::Tz(tz) => match tz.from_local_datetime(local) {
                LocalResult::Single(d) => vec![d.offset().fix().local_minus_utc()],
                LocalResult::Ambiguous(a, b) => vec![
                    a.offset().fix().local_minus_utc(),
                    b.offset().fix().local_minus_utc(),
                ],
                LocalResult::None => vec![],
            },
        }
    }

    /// `ZonedDateTime.ofLocal(local, zone, preferred)` as epoch milliseconds: in an overlap
    /// the preferred offset if valid, else the earlier; in a gap the time moves later by
    /// the gap's length.
    pub fn local_to_millis(&self, local: &NaiveDateTime, preferred: Option<i32>) -> Result<i64> {
        let offsets = self.offsets_for_local(local);
        let offset = match offsets.as_slice() {
            [] => {
                // The offset before the gap, applied to the local time, lands after it.
                let before_ms = local.and_utc().timestamp_millis() - 86_400_000;
                self.offset_at(before_ms)?
            }
            [single] => *single,
            [earlier, later] => match preferred {
                Some(p) if p == *later => *later,
                _ => *earlier,
            },
            _ => offsets[0],
        };
        Ok(local.and_utc().timestamp_millis() - offset as i64 * 1000)
    }
}
