//! Java's `java.time.format.DateTimeFormatter`, by hand: the patterns ksqlDB's date and
//! time functions and `TIMESTAMP_FORMAT` take, formatted and parsed as the JDK does.
//!
//! Hand-written because the one crate that ports Java's formatter is GPL-licensed. What is
//! covered: the pattern syntax (letters, `'quoted'` text, `''`, optional `[...]` sections);
//! the letters `G u y Q q M L D d E a h K k H m s S A n N V z O X x Z`, with their widths,
//! sign styles, adjacent-value parsing (`yyyyMMdd`), English and `Locale.ROOT` texts and
//! the JDK's zone names; strict, optionally case-insensitive parsing and the SMART resolver
//! (`2021-02-30` is the 28th, `24:00` the next day, conflicting fields an error); and
//! ksqlDB's `StringToTimestampParser`, which lays the parsed fields over
//! 1970-01-01T00:00 in the zone. Week-based letters (`Y w W e c F`) are refused.
//!
//! `super::simple_date` is the other Java date parser ksqlDB uses, Apache Commons'
//! `FastDateFormat` (PARSE_DATE): `SimpleDateFormat` letters parsed leniently.

mod format;
mod parse;
mod pattern;
mod resolve;
#[cfg(test)]
mod tests;
mod zone;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use crate::error::{Result, SqlError};
use format::{FormatError, Temporal, format_items, month_names};
use parse::{ParseCtx, Parsed, parse_items};
use pattern::{Field, Item, TextStyle, compile_items};
use resolve::{Resolved, date_field, resolve};

pub use zone::Zone;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// A locale whose texts a pattern prints and parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// English (the JVM default ksqlDB runs with).
    English,
    /// `Locale.ROOT` (ksqlDB's timestamp parser).
    Root,
}

fn datetime_of(ms: i64) -> Result<NaiveDateTime> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.naive_utc())
        .ok_or_else(|| SqlError::eval(format!("Instant {ms} is out of range")))
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// `LocalDate.toString()`.
fn iso_date_of(d: NaiveDate) -> String {
    let y = d.year();
    let year = if y > 9999 {
        format!("+{y}")
    } else if y < 0 {
        format!("-{:04}", -(y as i64))
    } else {
        format!("{y:04}")
    };
    format!("{year}-{:02}-{:02}", d.month(), d.day())
}

/// `LocalTime.toString()` of nanoseconds of the day.
fn iso_time_of(nod: i64) -> String {
    let (h, m, s, n) = (
        nod / 3_600_000_000_000,
        nod / 60_000_000_000 % 60,
        nod / 1_000_000_000 % 60,
        nod % 1_000_000_000,
    );
    let mut out = format!("{h:02}:{m:02}");
    if s > 0 || n > 0 {
        out.push_str(&format!(":{s:02}"));
        if n > 0 {
            if n % 1_000_000 == 0 {
                out.push_str(&format!(".{:03}", n / 1_000_000));
            } else if n % 1000 == 0 {
                out.push_str(&format!(".{:06}", n / 1000));
            } else {
                out.push_str(&format!(".{n:09}"));
            }
        }
    }
    out
}

/// `LocalDate.toString()` of days since the epoch.
pub fn iso_date(days: i32) -> String {
    match epoch().checked_add_signed(Duration::days(days as i64)) {
        Some(d) => iso_date_of(d),
        None => days.to_string(),
    }
}

/// `LocalTime.toString()` of milliseconds since midnight.
pub fn iso_time(ms: i32) -> String {
    iso_time_of((ms as i64).rem_euclid(86_400_000) * 1_000_000)
}

fn cache() -> &'static Mutex<HashMap<String, std::result::Result<JavaPattern, String>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, std::result::Result<JavaPattern, String>>>> =
        OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A compiled Java `DateTimeFormatter` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    pattern: String,
    items: Vec<Item>,
}

impl JavaPattern {
    /// Compiles a pattern as `DateTimeFormatter.ofPattern` does (cached by its text).
    pub fn compile(pattern: &str) -> Result<Self> {
        let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(pattern) {
            return hit.clone().map_err(SqlError::eval);
        }
        let compiled = compile_items(pattern)
            .map(|items| Self {
                pattern: pattern.to_string(),
                items,
            })
            .map_err(|e| e.to_string());
        if cache.len() >= 1000 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), compiled.clone());
        compiled.map_err(SqlError::eval)
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    fn format(&self, t: &Temporal<'_>) -> std::result::Result<String, String> {
        let mut out = String::new();
        match format_items(&self.items, t, Locale::English, &mut out) {
            Ok(()) => Ok(out),
            Err(FormatError::Unsupported(m) | FormatError::Other(m)) => Err(m),
        }
    }

    /// Formats a timestamp (ms since the epoch) in a zone, as
    /// `instant.atZone(zone).format(formatter)`.
    pub fn format_timestamp(&self, ms: i64, zone: &Zone) -> Result<String> {
        self.try_format_timestamp(ms, zone).map_err(SqlError::eval)
    }

    /// [`JavaPattern::format_timestamp`], the error as Java's message.
    pub fn try_format_timestamp(
        &self,
        ms: i64,
        zone: &Zone,
    ) -> std::result::Result<String, String> {
        let offset = zone.offset_at(ms).map_err(|e| e.to_string())?;
        let shifted = ms
            .checked_add(offset as i64 * 1000)
            .ok_or_else(|| format!("Instant {ms} is out of range"))?;
        let local = datetime_of(shifted).map_err(|e| e.to_string())?;
        let nod =
            local.num_seconds_from_midnight() as i64 * 1_000_000_000 + local.nanosecond() as i64;
        self.format(&Temporal {
            date: Some(local.date()),
            time: Some(nod),
            offset: Some(offset),
            zone: Some(zone),
            instant_ms: Some(ms),
        })
    }

    /// Formats a date (days since the epoch), as `LocalDate.format`.
    pub fn format_date(&self, days: i32) -> Result<String> {
        self.try_format_date(days).map_err(SqlError::eval)
    }

    /// [`JavaPattern::format_date`], the error as Java's message.
    pub fn try_format_date(&self, days: i32) -> std::result::Result<String, String> {
        let date = epoch()
            .checked_add_signed(Duration::days(days as i64))
            .ok_or_else(|| format!("Date {days} is out of range"))?;
        self.format(&Temporal {
            date: Some(date),
            time: None,
            offset: None,
            zone: None,
            instant_ms: None,
        })
    }

    /// Formats a time (ms since midnight), as `LocalTime.format`.
    pub fn format_time(&self, ms: i32) -> Result<String> {
        self.try_format_time(ms).map_err(SqlError::eval)
    }

    /// [`JavaPattern::format_time`], the error as Java's message.
    pub fn try_format_time(&self, ms: i32) -> std::result::Result<String, String> {
        self.format(&Temporal {
            date: None,
            time: Some((ms as i64).rem_euclid(86_400_000) * 1_000_000),
            offset: None,
            zone: None,
            instant_ms: None,
        })
    }

    /// Parses text as `DateTimeFormatter.parse`: the whole text, strictly; the resolved
    /// fields or Java's error message.
    fn parse_resolved(
        &self,
        text: &str,
        case_insensitive: bool,
        locale: Locale,
    ) -> std::result::Result<Resolved, String> {
        let chars: Vec<char> = text.chars().collect();
        let ctx = ParseCtx {
            text: &chars,
            case_insensitive,
            locale,
        };
        let mut parsed = Parsed::default();
        match parse_items(&self.items, &ctx, 0, &mut parsed) {
            Err(at) => Err(format!("Text '{text}' could not be parsed at index {at}")),
            Ok(end) if end < chars.len() => Err(format!(
                "Text '{text}' could not be parsed, unparsed text found at index {end}"
            )),
            Ok(_) => resolve(parsed).map_err(|e| format!("Text '{text}' could not be parsed: {e}")),
        }
    }

    /// ksqlDB's `StringToTimestampParser.parse(text, zone)`: parsed case-insensitively
    /// (`Locale.ROOT`), then laid over 1970-01-01T00:00 in the parsed zone, or `zone`.
    pub fn parse_timestamp(&self, text: &str, zone: &Zone) -> Result<i64> {
        self.try_parse_timestamp(text, zone).map_err(SqlError::eval)
    }

    /// [`JavaPattern::parse_timestamp`], the error as Java's message.
    pub fn try_parse_timestamp(&self, text: &str, zone: &Zone) -> std::result::Result<i64, String> {
        let r = self.parse_resolved(text, true, Locale::Root)?;
        let zone = r.zone.clone().unwrap_or_else(|| match (&r.offset, zone) {
            (Some(o), _) => Zone::fixed(*o),
            (None, z) => z.clone(),
        });
        let mut date = epoch();
        let mut nod: i64 = 0;
        match r.date {
            Some(d) => date = d,
            None => {
                for (field, value) in &r.rest {
                    match field {
                        Field::Era if date_field(date, Field::Era) != Some(*value) => {
                            date = date
                                .with_year(1 - date.year())
                                .ok_or_else(|| "Invalid era".to_string())?;
                        }
                        Field::Year => {
                            let y = *value as i32;
                            date = NaiveDate::from_ymd_opt(y, date.month(), date.day())
                                .or_else(|| NaiveDate::from_ymd_opt(y, date.month(), 28))
                                .ok_or_else(|| format!("Invalid value for Year: {y}"))?;
                        }
                        Field::MonthOfYear => {
                            let m = *value as u32;
                            let last = (28..=31)
                                .rev()
                                .find(|d| NaiveDate::from_ymd_opt(date.year(), m, *d).is_some())
                                .unwrap_or(28);
                            date = NaiveDate::from_ymd_opt(date.year(), m, date.day().min(last))
                                .ok_or_else(|| format!("Invalid value for MonthOfYear: {m}"))?;
                        }
                        Field::DayOfWeek => {
                            let current = date.weekday().number_from_monday() as i64;
                            date = date
                                .checked_add_signed(Duration::days(value - current))
                                .ok_or_else(|| "Invalid day of week".to_string())?;
                        }
                        Field::DayOfMonth => {
                            date =
                                NaiveDate::from_ymd_opt(date.year(), date.month(), *value as u32)
                                    .ok_or_else(|| {
                                    format!(
                                        "Invalid date '{} {value}' as '{}' is not a valid day",
                                        month_names(Locale::English, TextStyle::Full)
                                            [date.month0() as usize]
                                            .to_uppercase(),
                                        date.year()
                                    )
                                })?;
                        }
                        Field::DayOfYear => {
                            if *value == 366 && !r.rest.contains_key(&Field::Year) {
                                return Err(
                                    "Leap day cannot be parsed without supplying the year field"
                                        .into(),
                                );
                            }
                            date = NaiveDate::from_yo_opt(date.year(), *value as u32).ok_or_else(
                                || {
                                    format!(
                                        "Invalid date 'DayOfYear {value}' as '{}' is not a leap year",
                                        date.year()
                                    )
                                },
                            )?;
                        }
                        _ => {}
                    }
                }
            }
        }
        match r.time {
            Some(t) => nod = t,
            None => {
                for (field, value) in &r.rest {
                    let hour = nod / 3_600_000_000_000;
                    let hour_nanos = 3_600_000_000_000;
                    match field {
                        Field::AmPmOfDay => nod += (value - hour / 12) * 12 * hour_nanos,
                        Field::HourOfAmPm => nod += (value - hour % 12) * hour_nanos,
                        Field::HourOfDay => nod = nod % hour_nanos + value * hour_nanos,
                        Field::MinuteOfHour => {
                            nod = nod - (nod / 60_000_000_000 % 60) * 60_000_000_000
                                + value * 60_000_000_000
                        }
                        Field::SecondOfMinute => {
                            nod = nod - (nod / 1_000_000_000 % 60) * 1_000_000_000
                                + value * 1_000_000_000
                        }
                        Field::NanoOfSecond => nod = nod - nod % 1_000_000_000 + value,
                        _ => {}
                    }
                    nod = nod.rem_euclid(NANOS_PER_DAY);
                }
            }
        }
        let local = date
            .and_time(NaiveTime::MIN)
            .checked_add_signed(Duration::nanoseconds(nod))
            .ok_or_else(|| format!("Text '{text}' is out of the supported range"))?;
        let ms = zone
            .local_to_millis(&local, r.offset)
            .map_err(|e| e.to_string())?;
        // Sub-millisecond digits are dropped (Timestamp.from(instant)).
        Ok(ms)
    }

    /// `LocalDate.parse(text, formatter)` (STRINGTODATE): days since the epoch.
    pub fn parse_date(&self, text: &str) -> Result<i32> {
        self.try_parse_date(text).map_err(SqlError::eval)
    }

    /// [`JavaPattern::parse_date`], the error as Java's message.
    pub fn try_parse_date(&self, text: &str) -> std::result::Result<i32, String> {
        let r = self.parse_resolved(text, true, Locale::English)?;
        let date = r.date.ok_or_else(|| {
            format!(
                "Text '{text}' could not be parsed: Unable to obtain LocalDate from \
                 TemporalAccessor"
            )
        })?;
        Ok((date - epoch()).num_days() as i32)
    }

    /// ksqlDB's PARSE_TIME: a time of day (ms since midnight), from text with no date
    /// fields.
    pub fn parse_time(&self, text: &str) -> Result<i32> {
        self.try_parse_time(text).map_err(SqlError::eval)
    }

    /// [`JavaPattern::parse_time`], the error as Java's message.
    pub fn try_parse_time(&self, text: &str) -> std::result::Result<i32, String> {
        let r = self.parse_resolved(text, true, Locale::English)?;
        if r.date.is_some() || r.rest.keys().any(|f| f.is_date()) {
            return Err("Time format contains date field.".into());
        }
        let t = r.time.ok_or_else(|| {
            format!(
                "Text '{text}' could not be parsed: Unable to obtain LocalTime from \
                 TemporalAccessor"
            )
        })?;
        Ok((t / 1_000_000) as i32)
    }
}
