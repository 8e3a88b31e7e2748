//! Java `DateTimeFormatter` patterns (what ksqlDB's date and time functions and
//! `TIMESTAMP_FORMAT` take) translated to chrono's format strings, and parsing and
//! formatting with them.
//!
//! Hand-written because the one crate that ports Java's formatter is GPL-licensed; this
//! covers the pattern letters ksqlDB users write: `y u M L d D H h k K m s S a E e z Z X x
//! V`, quoted text (`'T'`, `''`) and optional sections are not supported beyond literal
//! brackets.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::error::{Result, SqlError};

/// A pattern compiled to a chrono format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    chrono: String,
    has_date: bool,
    has_time: bool,
    has_zone: bool,
}

fn bad(pattern: &str, why: &str) -> SqlError {
    SqlError::eval(format!("Unknown pattern '{pattern}': {why}"))
}

impl JavaPattern {
    /// Compiles a Java pattern.
    pub fn compile(pattern: &str) -> Result<Self> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut out = String::new();
        let (mut has_date, mut has_time, mut has_zone) = (false, false, false);
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // Quoted literal; '' is a quote.
                if chars.get(i + 1) == Some(&'\'') {
                    out.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            out.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    push_literal(&mut out, chars[i]);
                    i += 1;
                }
                i += 1;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                push_literal(&mut out, c);
                i += 1;
                continue;
            }
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            let spec = match (c, n) {
                ('y' | 'u', 2) => "%y",
                ('y' | 'u', _) => "%Y",
                ('M' | 'L', 1) => "%-m",
                ('M' | 'L', 2) => "%m",
                ('M' | 'L', 3) => "%b",
                ('M' | 'L', _) => "%B",
                ('d', 1) => "%-d",
                ('d', _) => "%d",
                ('D', _) => "%j",
                ('H', 1) => "%-H",
                ('H', _) => "%H",
                ('k', _) => "%H",
                ('h', 1) => "%-I",
                ('h', _) => "%I",
                ('K', _) => "%I",
                ('m', 1) => "%-M",
                ('m', _) => "%M",
                ('s', 1) => "%-S",
                ('s', _) => "%S",
                ('S', 1..=3) => "%3f",
                ('S', 4..=6) => "%6f",
                ('S', _) => "%9f",
                ('a', _) => "%p",
                ('E' | 'e', 1..=3) => "%a",
                ('E' | 'e', _) => "%A",
                ('z', _) | ('V', _) => "%Z",
                ('Z', 1..=3) => "%z",
                ('Z', _) => "%:z",
                ('X' | 'x', 1) => "%#z",
                ('X' | 'x', 2 | 4) => "%z",
                ('X' | 'x', _) => "%:z",
                _ => return Err(bad(pattern, &format!("unsupported letter '{c}'"))),
            };
            match c {
                'y' | 'u' | 'M' | 'L' | 'd' | 'D' | 'E' | 'e' => has_date = true,
                'H' | 'k' | 'h' | 'K' | 'm' | 's' | 'S' | 'a' => has_time = true,
                _ => has_zone = true,
            }
            // A fraction follows a '.' in Java patterns; chrono's %3f has none either.
            out.push_str(spec);
            i += n;
        }
        if StrftimeItems::new(&out).any(|item| matches!(item, Item::Error)) {
            return Err(bad(pattern, "it does not translate"));
        }
        Ok(Self {
            chrono: out,
            has_date,
            has_time,
            has_zone,
        })
    }

    /// Formats a timestamp (ms since the epoch) in a time zone.
    pub fn format_timestamp(&self, ms: i64, zone: &Zone) -> Result<String> {
        let utc = DateTime::<Utc>::from_timestamp_millis(ms)
            .ok_or_else(|| SqlError::eval(format!("timestamp {ms} is out of range")))?;
        Ok(match zone {
            Zone::Fixed(offset) => utc.with_timezone(offset).format(&self.chrono).to_string(),
            Zone::Named(tz) => utc.with_timezone(tz).format(&self.chrono).to_string(),
        })
    }

    /// Parses a timestamp (ms since the epoch); text without a zone is read in `zone`.
    /// Missing fields default as Java's do: date 1970-01-01, time midnight.
    pub fn parse_timestamp(&self, text: &str, zone: &Zone) -> Result<i64> {
        let fail = |e: chrono::ParseError| {
            SqlError::eval(format!(
                "Failed to parse timestamp '{text}' with formatter '{}': {e}",
                self.chrono
            ))
        };
        if self.has_zone {
            let dt = DateTime::<FixedOffset>::parse_from_str(text, &self.chrono).map_err(fail)?;
            return Ok(dt.timestamp_millis());
        }
        let naive = if self.has_date && self.has_time {
            NaiveDateTime::parse_from_str(text, &self.chrono).map_err(fail)?
        } else if self.has_date {
            NaiveDate::parse_from_str(text, &self.chrono)
                .map_err(fail)?
                .and_time(NaiveTime::MIN)
        } else {
            let t = NaiveTime::parse_from_str(text, &self.chrono).map_err(fail)?;
            NaiveDate::from_ymd_opt(1970, 1, 1)
                .unwrap_or_default()
                .and_time(t)
        };
        zone.local_to_utc_millis(&naive)
            .ok_or_else(|| SqlError::eval(format!("'{text}' does not exist in time zone")))
    }

    /// Formats a date (days since the epoch).
    pub fn format_date(&self, days: i32) -> Result<String> {
        self.format_timestamp(days as i64 * 86_400_000, &Zone::utc())
    }

    /// Parses a date (days since the epoch).
    pub fn parse_date(&self, text: &str) -> Result<i32> {
        let ms = self.parse_timestamp(text, &Zone::utc())?;
        Ok(ms.div_euclid(86_400_000) as i32)
    }

    /// Formats a time (ms since midnight).
    pub fn format_time(&self, ms: i32) -> Result<String> {
        self.format_timestamp(ms as i64, &Zone::utc())
    }

    /// Parses a time (ms since midnight).
    pub fn parse_time(&self, text: &str) -> Result<i32> {
        let ms = self.parse_timestamp(text, &Zone::utc())?;
        Ok(ms.rem_euclid(86_400_000) as i32)
    }
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// A time zone: a fixed offset or a named (IANA) zone.
#[derive(Debug, Clone)]
pub enum Zone {
    /// A fixed offset.
    Fixed(FixedOffset),
    /// A named zone.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// UTC.
    pub fn utc() -> Self {
        Self::Fixed(FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("0 is valid")))
    }

    /// A zone by its Java name (`UTC`, `America/Los_Angeles`, `+05:30`, `GMT+2`).
    pub fn parse(name: &str) -> Result<Self> {
        let trimmed = name.trim();
        if let Ok(tz) = trimmed.parse::<chrono_tz::Tz>() {
            return Ok(Self::Named(tz));
        }
        let offset_text = trimmed
            .strip_prefix("UTC")
            .or_else(|| trimmed.strip_prefix("GMT"))
            .unwrap_or(trimmed);
        if offset_text.is_empty() || trimmed == "Z" {
            return Ok(Self::utc());
        }
        let (sign, rest) = match offset_text.chars().next() {
            Some('+') => (1, &offset_text[1..]),
            Some('-') => (-1, &offset_text[1..]),
            _ => return Err(SqlError::eval(format!("Unknown time zone: {name}"))),
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h.parse::<i32>(), m.parse::<i32>()),
            None if rest.len() > 2 => (rest[..rest.len() - 2].parse(), rest[rest.len() - 2..].parse()),
            None => (rest.parse(), Ok(0)),
        };
        match (h, m) {
            (Ok(h), Ok(m)) => FixedOffset::east_opt(sign * (h * 3600 + m * 60))
                .map(Self::Fixed)
                .ok_or_else(|| SqlError::eval(format!("Unknown time zone: {name}"))),
            _ => Err(SqlError::eval(format!("Unknown time zone: {name}"))),
        }
    }

    fn local_to_utc_millis(&self, naive: &NaiveDateTime) -> Option<i64> {
        match self {
            Self::Fixed(offset) => offset
                .from_local_datetime(naive)
                .earliest()
                .map(|d| d.timestamp_millis()),
            Self::Named(tz) => tz
                .from_local_datetime(naive)
                .earliest()
                .map(|d| d.timestamp_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns() {
        let p = JavaPattern::compile("yyyy-MM-dd'T'HH:mm:ss.SSS").unwrap();
        assert_eq!(p.format_timestamp(1500, &Zone::utc()).unwrap(), "1970-01-01T00:00:01.500");
        assert_eq!(p.parse_timestamp("1970-01-01T00:00:01.500", &Zone::utc()).unwrap(), 1500);
        let d = JavaPattern::compile("yyyy-MM-dd").unwrap();
        assert_eq!(d.parse_date("1970-01-11").unwrap(), 10);
        let la = Zone::parse("America/Los_Angeles").unwrap();
        assert_eq!(
            JavaPattern::compile("yyyy-MM-dd HH")
                .unwrap()
                .parse_timestamp("1970-01-01 00", &la)
                .unwrap(),
            8 * 3_600_000
        );
        assert!(JavaPattern::compile("yyyy-qq").is_err());
    }
}
