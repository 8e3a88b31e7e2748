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

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use chrono_tz::OffsetComponents;

use super::zone_names;
use crate::error::{Result, SqlError};

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// A locale whose texts a pattern prints and parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// English (the JVM default ksqlDB runs with).
    English,
    /// `Locale.ROOT` (ksqlDB's timestamp parser).
    Root,
}

/// A `ChronoField` (and `IsoFields.QUARTER_OF_YEAR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Field {
    Era,
    YearOfEra,
    Year,
    QuarterOfYear,
    MonthOfYear,
    DayOfWeek,
    DayOfMonth,
    DayOfYear,
    AmPmOfDay,
    HourOfAmPm,
    ClockHourOfAmPm,
    HourOfDay,
    ClockHourOfDay,
    MinuteOfHour,
    SecondOfMinute,
    OffsetSeconds,
    MilliOfDay,
    NanoOfSecond,
    NanoOfDay,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::Era => "Era",
            Self::YearOfEra => "YearOfEra",
            Self::Year => "Year",
            Self::QuarterOfYear => "QuarterOfYear",
            Self::MonthOfYear => "MonthOfYear",
            Self::DayOfWeek => "DayOfWeek",
            Self::DayOfMonth => "DayOfMonth",
            Self::DayOfYear => "DayOfYear",
            Self::AmPmOfDay => "AmPmOfDay",
            Self::HourOfAmPm => "HourOfAmPm",
            Self::ClockHourOfAmPm => "ClockHourOfAmPm",
            Self::HourOfDay => "HourOfDay",
            Self::ClockHourOfDay => "ClockHourOfDay",
            Self::MinuteOfHour => "MinuteOfHour",
            Self::SecondOfMinute => "SecondOfMinute",
            Self::OffsetSeconds => "OffsetSeconds",
            Self::MilliOfDay => "MilliOfDay",
            Self::NanoOfSecond => "NanoOfSecond",
            Self::NanoOfDay => "NanoOfDay",
        }
    }

    /// The valid range (and how Java prints it).
    fn range(self) -> (i64, i64, &'static str) {
        match self {
            Self::Era => (0, 1, "0 - 1"),
            Self::YearOfEra => (1, 1_000_000_000, "1 - 999999999/1000000000"),
            Self::Year => (-999_999_999, 999_999_999, "-999999999 - 999999999"),
            Self::QuarterOfYear => (1, 4, "1 - 4"),
            Self::MonthOfYear => (1, 12, "1 - 12"),
            Self::DayOfWeek => (1, 7, "1 - 7"),
            Self::DayOfMonth => (1, 31, "1 - 28/31"),
            Self::DayOfYear => (1, 366, "1 - 365/366"),
            Self::AmPmOfDay => (0, 1, "0 - 1"),
            Self::HourOfAmPm => (0, 11, "0 - 11"),
            Self::ClockHourOfAmPm => (1, 12, "1 - 12"),
            Self::HourOfDay => (0, 23, "0 - 23"),
            Self::ClockHourOfDay => (1, 24, "1 - 24"),
            Self::MinuteOfHour => (0, 59, "0 - 59"),
            Self::SecondOfMinute => (0, 59, "0 - 59"),
            Self::OffsetSeconds => (-64_800, 64_800, "-64800 - 64800"),
            Self::MilliOfDay => (0, 86_399_999, "0 - 86399999"),
            Self::NanoOfSecond => (0, 999_999_999, "0 - 999999999"),
            Self::NanoOfDay => (0, NANOS_PER_DAY - 1, "0 - 86399999999999"),
        }
    }

    fn check(self, value: i64) -> std::result::Result<i64, String> {
        let (min, max, text) = self.range();
        if value < min || value > max {
            return Err(format!(
                "Invalid value for {} (valid values {text}): {value}",
                self.name()
            ));
        }
        Ok(value)
    }

    fn is_date(self) -> bool {
        matches!(
            self,
            Self::Era
                | Self::YearOfEra
                | Self::Year
                | Self::QuarterOfYear
                | Self::MonthOfYear
                | Self::DayOfWeek
                | Self::DayOfMonth
                | Self::DayOfYear
        )
    }
}

/// `SignStyle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignStyle {
    Normal,
    NotNegative,
    ExceedsPad,
}

/// `TextStyle` (format and stand-alone forms are the same in English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextStyle {
    Short,
    Full,
    Narrow,
}

/// One printer-parser of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(String),
    Number {
        field: Field,
        min: usize,
        max: usize,
        sign: SignStyle,
        /// Widths of the fixed-width values that follow without a separator.
        subsequent: usize,
    },
    /// `yy`: two digits, 2000-2099.
    Reduced {
        field: Field,
        subsequent: usize,
    },
    Fraction {
        width: usize,
    },
    Text {
        field: Field,
        style: TextStyle,
    },
    /// An `OffsetIdPrinterParser` pattern index (`+HH`, `+HHmm`, ...) and no-offset text.
    Offset {
        kind: usize,
        zero: String,
    },
    LocalizedOffset {
        full: bool,
    },
    ZoneId,
    ZoneText {
        full: bool,
    },
    Optional(Vec<Item>),
}

const OFFSET_PATTERNS: [&str; 11] = [
    "+HH",
    "+HHmm",
    "+HH:mm",
    "+HHMM",
    "+HH:MM",
    "+HHMMss",
    "+HH:MM:ss",
    "+HHMMSS",
    "+HH:MM:SS",
    "+HHmmss",
    "+HH:mm:ss",
];

fn pattern_error(message: impl Into<String>) -> SqlError {
    SqlError::eval(message.into())
}

/// Builds items as `DateTimeFormatterBuilder` does, tracking adjacent value parsing.
struct Builder {
    items: Vec<Item>,
    active_value: Option<usize>,
}

impl Builder {
    fn new() -> Self {
        Self {
            items: Vec::new(),
            active_value: None,
        }
    }

    fn push(&mut self, item: Item) {
        self.items.push(item);
        self.active_value = None;
    }

    fn literal(&mut self, text: &str) {
        if let Some(Item::Literal(last)) = self.items.last_mut() {
            last.push_str(text);
        } else {
            self.items.push(Item::Literal(text.to_string()));
        }
        self.active_value = None;
    }

    /// `appendValue(pp)`: a fixed-width, not-negative value directly after another value
    /// reserves its width in that one's parse.
    fn value(&mut self, item: Item) {
        let fixed = match &item {
            Item::Number { min, max, sign, .. } => min == max && *sign == SignStyle::NotNegative,
            Item::Reduced { .. } | Item::Fraction { .. } => true,
            _ => false,
        };
        let width = match &item {
            Item::Number { max, .. } => *max,
            Item::Reduced { .. } => 2,
            Item::Fraction { width } => *width,
            _ => 0,
        };
        match self.active_value {
            Some(active) if fixed => {
                match &mut self.items[active] {
                    Item::Number { subsequent, .. } | Item::Reduced { subsequent, .. } => {
                        *subsequent += width
                    }
                    _ => {}
                }
                self.items.push(item);
            }
            _ => {
                self.items.push(item);
                self.active_value = Some(self.items.len() - 1);
            }
        }
    }

    fn number(&mut self, field: Field, min: usize, max: usize, sign: SignStyle) {
        self.value(Item::Number {
            field,
            min,
            max,
            sign,
            subsequent: 0,
        });
    }
}

fn too_many(c: char) -> SqlError {
    pattern_error(format!("Too many pattern letters: {c}"))
}

/// `DateTimeFormatterBuilder.parsePattern`.
fn compile_items(pattern: &str) -> Result<Vec<Item>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut stack: Vec<Builder> = vec![Builder::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let b = stack
            .last_mut()
            .ok_or_else(|| pattern_error("Pattern invalid"))?;
        if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            i += n;
            letter(b, c, n)?;
            continue;
        }
        match c {
            '\'' => {
                let start = i;
                i += 1;
                let mut text = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(pattern_error(format!(
                                "Pattern ends with an incomplete string literal: {pattern}"
                            )));
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            text.push(*ch);
                            i += 1;
                        }
                    }
                }
                if i - start == 2 {
                    b.literal("'");
                } else {
                    b.literal(&text);
                }
            }
            '[' => {
                stack.push(Builder::new());
                i += 1;
            }
            ']' => {
                if stack.len() < 2 {
                    return Err(pattern_error(
                        "Pattern invalid as it contains ] without previous [",
                    ));
                }
                let section = stack.pop().map(|b| b.items).unwrap_or_default();
                if let Some(parent) = stack.last_mut() {
                    parent.push(Item::Optional(section));
                }
                i += 1;
            }
            '{' | '}' | '#' => {
                return Err(pattern_error(format!(
                    "Pattern includes reserved character: '{c}'"
                )));
            }
            other => {
                b.literal(&other.to_string());
                i += 1;
            }
        }
    }
    // Unclosed optional sections end with the pattern.
    while stack.len() > 1 {
        let section = stack.pop().map(|b| b.items).unwrap_or_default();
        if let Some(parent) = stack.last_mut() {
            parent.push(Item::Optional(section));
        }
    }
    Ok(stack.pop().map(|b| b.items).unwrap_or_default())
}

fn letter(b: &mut Builder, c: char, n: usize) -> Result<()> {
    use Field::*;
    let text_style = |n: usize, c: char| -> Result<TextStyle> {
        Ok(match n {
            1..=3 => TextStyle::Short,
            4 => TextStyle::Full,
            5 => TextStyle::Narrow,
            _ => return Err(too_many(c)),
        })
    };
    match c {
        'V' => {
            if n != 2 {
                return Err(pattern_error(format!(
                    "Pattern letter count must be 2: {c}"
                )));
            }
            b.push(Item::ZoneId);
        }
        'z' => {
            if n > 4 {
                return Err(too_many(c));
            }
            b.push(Item::ZoneText { full: n == 4 });
        }
        'Z' => match n {
            1..=3 => b.push(Item::Offset {
                kind: 3,
                zero: "+0000".into(),
            }),
            4 => b.push(Item::LocalizedOffset { full: true }),
            5 => b.push(Item::Offset {
                kind: 6,
                zero: "Z".into(),
            }),
            _ => return Err(too_many(c)),
        },
        'O' => match n {
            1 => b.push(Item::LocalizedOffset { full: false }),
            4 => b.push(Item::LocalizedOffset { full: true }),
            _ => {
                return Err(pattern_error(format!(
                    "Pattern letter count must be 1 or 4: {c}"
                )));
            }
        },
        'X' | 'x' => {
            if n > 5 {
                return Err(too_many(c));
            }
            let kind = n + if n == 1 { 0 } else { 1 };
            let zero = if c == 'X' {
                "Z"
            } else if n == 1 {
                "+00"
            } else if n.is_multiple_of(2) {
                "+0000"
            } else {
                "+00:00"
            };
            b.push(Item::Offset {
                kind,
                zero: zero.into(),
            });
        }
        'u' | 'y' => {
            let field = if c == 'u' { Year } else { YearOfEra };
            if n == 2 {
                b.value(Item::Reduced {
                    field,
                    subsequent: 0,
                });
            } else if n < 4 {
                b.number(field, n, 19, SignStyle::Normal);
            } else {
                b.number(field, n, 19, SignStyle::ExceedsPad);
            }
        }
        'M' | 'L' | 'Q' | 'q' => {
            let field = if matches!(c, 'M' | 'L') {
                MonthOfYear
            } else {
                QuarterOfYear
            };
            match n {
                1 => b.number(field, 1, 19, SignStyle::Normal),
                2 => b.number(field, 2, 2, SignStyle::NotNegative),
                _ => {
                    let style = text_style(n, c)?;
                    b.push(Item::Text { field, style });
                }
            }
        }
        'E' => {
            let style = text_style(n, c)?;
            b.push(Item::Text {
                field: DayOfWeek,
                style,
            });
        }
        'a' => {
            if n != 1 {
                return Err(too_many(c));
            }
            b.push(Item::Text {
                field: AmPmOfDay,
                style: TextStyle::Short,
            });
        }
        'G' => {
            let style = text_style(n, c)?;
            b.push(Item::Text { field: Era, style });
        }
        'S' => {
            if n > 9 {
                return Err(pattern_error(format!(
                    "Minimum width must be from 0 to 9 inclusive but was {n}"
                )));
            }
            b.value(Item::Fraction { width: n })
        }
        'd' | 'h' | 'H' | 'k' | 'K' | 'm' | 's' => {
            let field = match c {
                'd' => DayOfMonth,
                'h' => ClockHourOfAmPm,
                'H' => HourOfDay,
                'k' => ClockHourOfDay,
                'K' => HourOfAmPm,
                'm' => MinuteOfHour,
                _ => SecondOfMinute,
            };
            match n {
                1 => b.number(field, 1, 19, SignStyle::Normal),
                2 => b.number(field, 2, 2, SignStyle::NotNegative),
                _ => return Err(too_many(c)),
            }
        }
        'D' => match n {
            1 => b.number(DayOfYear, 1, 19, SignStyle::Normal),
            2 | 3 => b.number(DayOfYear, n, 3, SignStyle::NotNegative),
            _ => return Err(too_many(c)),
        },
        'A' => b.number(MilliOfDay, n, 19, SignStyle::NotNegative),
        'n' => b.number(NanoOfSecond, n, 19, SignStyle::NotNegative),
        'N' => b.number(NanoOfDay, n, 19, SignStyle::NotNegative),
        'Y' | 'w' | 'W' | 'e' | 'c' | 'F' | 'g' | 'B' | 'v' => {
            return Err(pattern_error(format!(
                "Pattern letter '{c}' (week-based, localized or day-period fields) is not \
                 supported"
            )));
        }
        _ => return Err(pattern_error(format!("Unknown pattern letter: {c}"))),
    }
    Ok(())
}

/// A time zone (`ZoneId`): an offset (`Z`, `+05:30`), or a region (`UTC`, `GMT`,
/// `America/Los_Angeles`, `UTC+01:00`).
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    id: String,
    rules: Rules,
}

#[derive(Debug, Clone, PartialEq)]
enum Rules {
    Fixed(i32),
    Tz(chrono_tz::Tz),
}

fn offset_id(seconds: i32) -> String {
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

fn tz_named(name: &str) -> Option<chrono_tz::Tz> {
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

    fn is_dst(&self, ms: i64) -> bool {
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

fn datetime_of(ms: i64) -> Result<NaiveDateTime> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.naive_utc())
        .ok_or_else(|| SqlError::eval(format!("Instant {ms} is out of range")))
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// What a pattern formats: a date, a time, an offset and a zone, each maybe absent
/// (formatting a `LocalDate` with `HH` is "Unsupported field: HourOfDay").
struct Temporal<'a> {
    date: Option<NaiveDate>,
    /// Nanoseconds of the day.
    time: Option<i64>,
    offset: Option<i32>,
    zone: Option<&'a Zone>,
    instant_ms: Option<i64>,
}

enum FormatError {
    Unsupported(String),
    Other(String),
}

impl Temporal<'_> {
    fn get(&self, field: Field) -> std::result::Result<i64, FormatError> {
        let unsupported =
            || FormatError::Unsupported(format!("Unsupported field: {}", field.name()));
        if field.is_date() {
            let d = self.date.ok_or_else(unsupported)?;
            let year = d.year() as i64;
            return Ok(match field {
                Field::Era => i64::from(year >= 1),
                Field::YearOfEra => {
                    if year >= 1 {
                        year
                    } else {
                        1 - year
                    }
                }
                Field::Year => year,
                Field::QuarterOfYear => (d.month0() / 3 + 1) as i64,
                Field::MonthOfYear => d.month() as i64,
                Field::DayOfWeek => d.weekday().number_from_monday() as i64,
                Field::DayOfMonth => d.day() as i64,
                Field::DayOfYear => d.ordinal() as i64,
                _ => return Err(unsupported()),
            });
        }
        if field == Field::OffsetSeconds {
            return self.offset.map(|o| o as i64).ok_or_else(unsupported);
        }
        let nod = self.time.ok_or_else(unsupported)?;
        let hour = nod / 3_600_000_000_000;
        Ok(match field {
            Field::AmPmOfDay => hour / 12,
            Field::HourOfAmPm => hour % 12,
            Field::ClockHourOfAmPm => {
                if hour % 12 == 0 {
                    12
                } else {
                    hour % 12
                }
            }
            Field::HourOfDay => hour,
            Field::ClockHourOfDay => {
                if hour == 0 {
                    24
                } else {
                    hour
                }
            }
            Field::MinuteOfHour => nod / 60_000_000_000 % 60,
            Field::SecondOfMinute => nod / 1_000_000_000 % 60,
            Field::NanoOfSecond => nod % 1_000_000_000,
            Field::MilliOfDay => nod / 1_000_000,
            Field::NanoOfDay => nod,
            _ => return Err(unsupported()),
        })
    }
}

fn month_names(locale: Locale, style: TextStyle) -> [&'static str; 12] {
    match (locale, style) {
        (_, TextStyle::Short) | (Locale::Root, TextStyle::Full) => [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ],
        (Locale::English, TextStyle::Full) => [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        (Locale::English, TextStyle::Narrow) => {
            ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"]
        }
        (Locale::Root, TextStyle::Narrow) => [
            "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
        ],
    }
}

/// The texts of a field's values, in value order from the field's minimum.
fn texts(field: Field, style: TextStyle, locale: Locale) -> Option<(i64, Vec<&'static str>)> {
    Some(match field {
        Field::MonthOfYear => (1, month_names(locale, style).to_vec()),
        Field::DayOfWeek => (
            1,
            match (locale, style) {
                (_, TextStyle::Short) | (Locale::Root, TextStyle::Full) => {
                    vec!["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
                }
                (Locale::English, TextStyle::Full) => vec![
                    "Monday",
                    "Tuesday",
                    "Wednesday",
                    "Thursday",
                    "Friday",
                    "Saturday",
                    "Sunday",
                ],
                (_, TextStyle::Narrow) => vec!["M", "T", "W", "T", "F", "S", "S"],
            },
        ),
        Field::AmPmOfDay => (0, vec!["AM", "PM"]),
        Field::Era => (
            0,
            match (locale, style) {
                (_, TextStyle::Short) => vec!["BC", "AD"],
                (Locale::English, TextStyle::Full) => vec!["Before Christ", "Anno Domini"],
                (Locale::English, TextStyle::Narrow) => vec!["B", "A"],
                (Locale::Root, _) => vec!["BCE", "CE"],
            },
        ),
        Field::QuarterOfYear => (
            1,
            match (locale, style) {
                (_, TextStyle::Short) | (Locale::Root, TextStyle::Full) => {
                    vec!["Q1", "Q2", "Q3", "Q4"]
                }
                (Locale::English, TextStyle::Full) => {
                    vec!["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"]
                }
                (_, TextStyle::Narrow) => vec!["1", "2", "3", "4"],
            },
        ),
        _ => return None,
    })
}

/// Short and long names of a zone at an instant, from the JDK's tables.
fn zone_display_name(zone: &Zone, ms: i64, full: bool) -> String {
    static TABLE: OnceLock<HashMap<&'static str, [&'static str; 4]>> = OnceLock::new();
    if let Rules::Fixed(_) = zone.rules
        && !matches!(zone.id.as_str(), "UTC" | "GMT" | "UT")
    {
        return zone.id.clone();
    }
    let table = TABLE.get_or_init(|| {
        zone_names::DISPLAY_NAMES
            .lines()
            .filter_map(|line| {
                let mut parts = line.split('|');
                let id = parts.next()?;
                Some((
                    id,
                    [parts.next()?, parts.next()?, parts.next()?, parts.next()?],
                ))
            })
            .collect()
    });
    match table.get(zone.id.as_str()) {
        Some(names) => {
            let dst = zone.is_dst(ms);
            let index = usize::from(dst) * 2 + usize::from(full);
            names[index].to_string()
        }
        None => zone.id.clone(),
    }
}

fn format_number(
    value: i64,
    min: usize,
    max: usize,
    sign: SignStyle,
    field: Field,
) -> std::result::Result<String, FormatError> {
    let digits = value.unsigned_abs().to_string();
    if digits.len() > max {
        return Err(FormatError::Other(format!(
            "Field {} cannot be printed as the value {value} exceeds the maximum print width of {max}",
            field.name()
        )));
    }
    let mut out = String::new();
    if value >= 0 {
        if sign == SignStyle::ExceedsPad && min < 19 && digits.len() > min {
            out.push('+');
        }
    } else {
        match sign {
            SignStyle::NotNegative => {
                return Err(FormatError::Other(format!(
                    "Field {} cannot be printed as the value {value} cannot be negative according to the SignStyle",
                    field.name()
                )));
            }
            _ => out.push('-'),
        }
    }
    for _ in digits.len()..min {
        out.push('0');
    }
    out.push_str(&digits);
    Ok(out)
}

fn format_offset(total: i32, kind: usize, zero: &str) -> String {
    if total == 0 {
        return zero.to_string();
    }
    let pattern = OFFSET_PATTERNS[kind.min(OFFSET_PATTERNS.len() - 1)];
    let colon = pattern.contains(':');
    let abs_h = (total / 3600 % 100).unsigned_abs();
    let abs_m = (total / 60 % 60).unsigned_abs();
    let abs_s = (total % 60).unsigned_abs();
    let mut out = String::new();
    out.push(if total < 0 { '-' } else { '+' });
    out.push_str(&format!("{abs_h:02}"));
    let sep = if colon { ":" } else { "" };
    let mut output = abs_h;
    if (3..=8).contains(&kind) || (kind >= 9 && abs_s > 0) || (kind >= 1 && abs_m > 0) {
        out.push_str(&format!("{sep}{abs_m:02}"));
        output += abs_m;
        if kind == 7 || kind == 8 || (kind >= 5 && abs_s > 0) {
            out.push_str(&format!("{sep}{abs_s:02}"));
            output += abs_s;
        }
    }
    if output == 0 {
        return zero.to_string();
    }
    out
}

fn format_localized_offset(total: i32, full: bool) -> String {
    let mut out = String::from("GMT");
    if total == 0 {
        return out;
    }
    let abs_h = (total / 3600 % 100).unsigned_abs();
    let abs_m = (total / 60 % 60).unsigned_abs();
    let abs_s = (total % 60).unsigned_abs();
    out.push(if total < 0 { '-' } else { '+' });
    if full {
        out.push_str(&format!("{abs_h:02}:{abs_m:02}"));
        if abs_s != 0 {
            out.push_str(&format!(":{abs_s:02}"));
        }
    } else {
        out.push_str(&abs_h.to_string());
        if abs_m != 0 || abs_s != 0 {
            out.push_str(&format!(":{abs_m:02}"));
            if abs_s != 0 {
                out.push_str(&format!(":{abs_s:02}"));
            }
        }
    }
    out
}

fn format_items(
    items: &[Item],
    t: &Temporal<'_>,
    locale: Locale,
    out: &mut String,
) -> std::result::Result<(), FormatError> {
    for item in items {
        match item {
            Item::Literal(text) => out.push_str(text),
            Item::Number {
                field,
                min,
                max,
                sign,
                ..
            } => out.push_str(&format_number(t.get(*field)?, *min, *max, *sign, *field)?),
            Item::Reduced { field, .. } => {
                let v = t.get(*field)?;
                out.push_str(&format!("{:02}", v.unsigned_abs() % 100));
            }
            Item::Fraction { width } => {
                let nanos = t.get(Field::NanoOfSecond)?;
                let digits = format!("{nanos:09}");
                let mut frac: String = digits.chars().take(*width).collect();
                while frac.len() < *width {
                    frac.push('0');
                }
                out.push_str(&frac);
            }
            Item::Text { field, style } => {
                let v = t.get(*field)?;
                match texts(*field, *style, locale) {
                    Some((base, names)) => match names.get((v - base) as usize) {
                        Some(name) => out.push_str(name),
                        None => out.push_str(&v.to_string()),
                    },
                    None => out.push_str(&v.to_string()),
                }
            }
            Item::Offset { kind, zero } => out.push_str(&format_offset(
                t.get(Field::OffsetSeconds)? as i32,
                *kind,
                zero,
            )),
            Item::LocalizedOffset { full } => out.push_str(&format_localized_offset(
                t.get(Field::OffsetSeconds)? as i32,
                *full,
            )),
            Item::ZoneId => match t.zone {
                Some(z) => out.push_str(z.id()),
                None => {
                    return Err(FormatError::Unsupported(
                        "Unable to extract ZoneId from temporal".into(),
                    ));
                }
            },
            Item::ZoneText { full } => match (t.zone, t.instant_ms) {
                (Some(z), Some(ms)) => out.push_str(&zone_display_name(z, ms, *full)),
                _ => {
                    return Err(FormatError::Unsupported(
                        "Unable to extract ZoneId from temporal".into(),
                    ));
                }
            },
            Item::Optional(section) => {
                let mut buf = String::new();
                match format_items(section, t, locale, &mut buf) {
                    Ok(()) => out.push_str(&buf),
                    Err(FormatError::Unsupported(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// Fields parsed from text, with the zone if one was parsed.
#[derive(Debug, Clone, Default)]
struct Parsed {
    fields: BTreeMap<Field, i64>,
    zone: Option<Zone>,
}

struct ParseCtx<'a> {
    text: &'a [char],
    case_insensitive: bool,
    locale: Locale,
}

impl ParseCtx<'_> {
    fn chars_equal(&self, a: char, b: char) -> bool {
        a == b
            || (self.case_insensitive
                && (a.to_uppercase().eq(b.to_uppercase()) || a.to_lowercase().eq(b.to_lowercase())))
    }

    fn matches_at(&self, pos: usize, s: &str) -> bool {
        let mut p = pos;
        for c in s.chars() {
            match self.text.get(p) {
                Some(&t) if self.chars_equal(t, c) => p += 1,
                _ => return false,
            }
        }
        true
    }
}

/// Sets a parsed field; a second, different value for a field is a parse error.
fn set_field(parsed: &mut Parsed, field: Field, value: i64) -> bool {
    match parsed.fields.insert(field, value) {
        Some(old) => old == value,
        None => true,
    }
}

/// Parses items from `pos`; the new position, or the error position.
fn parse_items(
    items: &[Item],
    ctx: &ParseCtx<'_>,
    mut pos: usize,
    parsed: &mut Parsed,
) -> std::result::Result<usize, usize> {
    for item in items {
        pos = parse_item(item, ctx, pos, parsed)?;
    }
    Ok(pos)
}

fn digit_at(ctx: &ParseCtx<'_>, pos: usize) -> Option<i64> {
    ctx.text
        .get(pos)
        .and_then(|c| c.is_ascii_digit().then(|| c.to_digit(10)))
        .flatten()
        .map(|d| d as i64)
}

fn parse_number(
    ctx: &ParseCtx<'_>,
    position: usize,
    min: usize,
    max: usize,
    sign: SignStyle,
    subsequent: usize,
) -> std::result::Result<(i64, usize), usize> {
    let len = ctx.text.len();
    if position >= len {
        return Err(position);
    }
    let mut start = position;
    let (mut negative, mut positive) = (false, false);
    match ctx.text[start] {
        '+' => {
            // Strict: NORMAL refuses '+', EXCEEDS_PAD accepts it, NOT_NEGATIVE refuses.
            if sign != SignStyle::ExceedsPad {
                return Err(position);
            }
            positive = true;
            start += 1;
        }
        '-' => {
            if sign == SignStyle::NotNegative {
                return Err(position);
            }
            negative = true;
            start += 1;
        }
        _ => {}
    }
    let min_end = start + min;
    let mut eff_max = max + subsequent;
    let mut total: i64;
    let mut p;
    let mut pass = 0;
    loop {
        total = 0;
        p = start;
        let max_end = (start + eff_max).min(len);
        while p < max_end {
            match digit_at(ctx, p) {
                Some(d) => {
                    total = total.saturating_mul(10).saturating_add(d);
                    p += 1;
                }
                None => break,
            }
        }
        if p < min_end {
            return Err(position);
        }
        if subsequent > 0 && pass == 0 {
            let parse_len = p - start;
            eff_max = min.max(parse_len.saturating_sub(subsequent));
            pass = 1;
            continue;
        }
        break;
    }
    if negative {
        if total == 0 {
            return Err(position);
        }
        total = -total;
    } else if sign == SignStyle::ExceedsPad {
        let parse_len = p - start;
        if positive {
            if parse_len <= min {
                return Err(position);
            }
        } else if parse_len > min {
            return Err(position);
        }
    }
    Ok((total, p))
}

/// `OffsetIdPrinterParser.parse` (strict).
fn parse_offset(ctx: &ParseCtx<'_>, pos: usize, kind: usize, zero: &str) -> Option<(i32, usize)> {
    let len = ctx.text.len();
    if !zero.is_empty() {
        if pos == len {
            return None;
        }
        if ctx.matches_at(pos, zero) {
            return Some((0, pos + zero.chars().count()));
        }
    } else if pos == len {
        return Some((0, pos));
    }
    let pattern = OFFSET_PATTERNS[kind.min(OFFSET_PATTERNS.len() - 1)];
    let colon = pattern.contains(':');
    let sign = match ctx.text.get(pos) {
        Some('+') => 1,
        Some('-') => -1,
        _ => return zero.is_empty().then_some((0, pos)),
    };
    let mut at = pos + 1;
    let two = |at: usize| -> Option<i32> {
        let (a, b) = (digit_at(ctx, at)?, digit_at(ctx, at + 1)?);
        let v = (a * 10 + b) as i32;
        (v <= 59).then_some(v)
    };
    let hours = two(at)?;
    at += 2;
    let part = |at: &mut usize, mandatory: bool| -> Option<Option<i32>> {
        let mut p = *at;
        if colon {
            if ctx.text.get(p) != Some(&':') {
                return if mandatory { None } else { Some(None) };
            }
            p += 1;
        }
        match two(p) {
            Some(v) => {
                *at = p + 2;
                Some(Some(v))
            }
            None if mandatory => None,
            None => Some(None),
        }
    };
    let (mut minutes, mut seconds) = (0, 0);
    match kind {
        0 => {}
        1 | 2 => minutes = part(&mut at, false)?.unwrap_or(0),
        3 | 4 => minutes = part(&mut at, true)?.unwrap_or(0),
        5 | 6 => {
            minutes = part(&mut at, true)?.unwrap_or(0);
            seconds = part(&mut at, false)?.unwrap_or(0);
        }
        7 | 8 => {
            minutes = part(&mut at, true)?.unwrap_or(0);
            seconds = part(&mut at, true)?.unwrap_or(0);
        }
        _ => {
            if let Some(m) = part(&mut at, false)? {
                minutes = m;
                seconds = part(&mut at, false)?.unwrap_or(0);
            }
        }
    }
    if hours > 23 {
        return None;
    }
    Some((sign * (hours * 3600 + minutes * 60 + seconds), at))
}

/// Region ids by length, longest first, for matching a zone id in text.
fn zone_ids() -> &'static [&'static str] {
    static IDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut ids: Vec<&'static str> =
            chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        ids.sort_by_key(|id| std::cmp::Reverse(id.len()));
        ids
    })
}

fn parsed_zone_names() -> &'static [(&'static str, &'static str, &'static str)] {
    static NAMES: OnceLock<Vec<(&'static str, &'static str, &'static str)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<(&'static str, &'static str, &'static str)> = zone_names::PARSED_NAMES
            .lines()
            .filter_map(|l| {
                let mut parts = l.split(' ');
                Some((parts.next()?, parts.next()?, parts.next()?))
            })
            .collect();
        names.sort_by_key(|(name, ..)| std::cmp::Reverse(name.len()));
        names
    })
}

/// `ZoneIdPrinterParser.parse` (and, with `names`, `ZoneTextPrinterParser`).
fn parse_zone(ctx: &ParseCtx<'_>, pos: usize, names: bool) -> Option<(Zone, usize)> {
    let text = ctx.text;
    let next = *text.get(pos)?;
    if next == '+' || next == '-' {
        let (offset, end) = parse_offset(ctx, pos, 6, "")?;
        return (end > pos).then(|| (Zone::fixed(offset), end));
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if ctx.matches_at(pos, prefix) {
            let after = pos + prefix.len();
            if prefix == "GMT" && text.get(after) == Some(&'0') {
                return Some((Zone::parse("GMT0").ok()?, after + 1));
            }
            if matches!(text.get(after), Some('+' | '-'))
                && let Some((offset, end)) = parse_offset(ctx, after, 6, "")
                && end > after
            {
                let id = if offset == 0 {
                    prefix.to_string()
                } else {
                    format!("{prefix}{}", offset_id(offset))
                };
                return Some((
                    Zone {
                        id,
                        rules: Rules::Fixed(offset),
                    },
                    end,
                ));
            }
            // "UTC" before a region id such as "UTC/..." is still the prefix zone.
            let longer = zone_ids()
                .iter()
                .find(|id| id.len() > prefix.len() && ctx.matches_at(pos, id));
            if longer.is_none() {
                return Some((Zone::parse(prefix).ok()?, after));
            }
        }
    }
    if let Some(id) = zone_ids().iter().find(|id| ctx.matches_at(pos, id)) {
        let mut end = pos + id.len();
        let mut best = Zone::parse(id).ok()?;
        if names
            && let Some((name, root, english)) = parsed_zone_names()
                .iter()
                .find(|(name, ..)| name.len() > id.len() && ctx.matches_at(pos, name))
        {
            let target = if ctx.locale == Locale::Root {
                root
            } else {
                english
            };
            if let Some(tz) = tz_named(target) {
                best = Zone {
                    id: target.to_string(),
                    rules: Rules::Tz(tz),
                };
                end = pos + name.len();
            }
        }
        return Some((best, end));
    }
    if names
        && let Some((name, root, english)) = parsed_zone_names()
            .iter()
            .find(|(name, ..)| ctx.matches_at(pos, name))
    {
        let target = if ctx.locale == Locale::Root {
            root
        } else {
            english
        };
        let zone = if let Some(tz) = tz_named(target) {
            Zone {
                id: target.to_string(),
                rules: Rules::Tz(tz),
            }
        } else {
            Zone::parse(target).ok()?
        };
        return Some((zone, pos + name.chars().count()));
    }
    if ctx.chars_equal(next, 'Z') {
        return Some((Zone::utc(), pos + 1));
    }
    None
}

fn parse_item(
    item: &Item,
    ctx: &ParseCtx<'_>,
    pos: usize,
    parsed: &mut Parsed,
) -> std::result::Result<usize, usize> {
    match item {
        Item::Literal(text) => {
            if ctx.matches_at(pos, text) {
                Ok(pos + text.chars().count())
            } else {
                Err(pos)
            }
        }
        Item::Number {
            field,
            min,
            max,
            sign,
            subsequent,
        } => {
            let (value, end) = parse_number(ctx, pos, *min, *max, *sign, *subsequent)?;
            if !set_field(parsed, *field, value) {
                return Err(pos);
            }
            Ok(end)
        }
        Item::Reduced { field, subsequent } => {
            let (value, end) = parse_number(ctx, pos, 2, 2, SignStyle::NotNegative, *subsequent)?;
            let value = if end - pos == 2 && value >= 0 {
                let v = 2000 + value;
                if v < 2000 { v + 100 } else { v }
            } else {
                value
            };
            if !set_field(parsed, *field, value) {
                return Err(pos);
            }
            Ok(end)
        }
        Item::Fraction { width } => {
            let min_end = pos + width;
            if min_end > ctx.text.len() {
                return Err(pos);
            }
            let mut total: i64 = 0;
            for p in pos..min_end {
                total = total * 10 + digit_at(ctx, p).ok_or(pos)?;
            }
            let nanos = total * 10i64.pow(9u32.saturating_sub(*width as u32))
                / if *width > 9 {
                    10i64.pow(*width as u32 - 9)
                } else {
                    1
                };
            if !set_field(parsed, Field::NanoOfSecond, nanos) {
                return Err(pos);
            }
            Ok(min_end)
        }
        Item::Text { field, style } => {
            let (base, names) = texts(*field, *style, ctx.locale).ok_or(pos)?;
            let mut candidates: Vec<(usize, &str)> = names.iter().copied().enumerate().collect();
            candidates.sort_by_key(|(_, n)| std::cmp::Reverse(n.len()));
            for (i, name) in candidates {
                if ctx.matches_at(pos, name) {
                    if !set_field(parsed, *field, base + i as i64) {
                        return Err(pos);
                    }
                    return Ok(pos + name.chars().count());
                }
            }
            Err(pos)
        }
        Item::Offset { kind, zero } => {
            let (offset, end) = parse_offset(ctx, pos, *kind, zero).ok_or(pos)?;
            if !set_field(parsed, Field::OffsetSeconds, offset as i64) {
                return Err(pos);
            }
            Ok(end)
        }
        Item::LocalizedOffset { .. } => {
            if !ctx.matches_at(pos, "GMT") {
                return Err(pos);
            }
            let at = pos + 3;
            let sign = match ctx.text.get(at) {
                Some('+') => 1,
                Some('-') => -1,
                _ => {
                    set_field(parsed, Field::OffsetSeconds, 0);
                    return Ok(at);
                }
            };
            let mut p = at + 1;
            let mut hours = 0;
            let mut digits = 0;
            while digits < 2
                && let Some(d) = digit_at(ctx, p)
            {
                hours = hours * 10 + d;
                p += 1;
                digits += 1;
            }
            if digits == 0 {
                return Err(pos);
            }
            let mut minutes = 0;
            if ctx.text.get(p) == Some(&':')
                && let (Some(a), Some(b)) = (digit_at(ctx, p + 1), digit_at(ctx, p + 2))
            {
                minutes = a * 10 + b;
                p += 3;
            }
            if !set_field(
                parsed,
                Field::OffsetSeconds,
                sign * (hours * 3600 + minutes * 60),
            ) {
                return Err(pos);
            }
            Ok(p)
        }
        Item::ZoneId | Item::ZoneText { .. } => {
            let names = matches!(item, Item::ZoneText { .. });
            let (zone, end) = parse_zone(ctx, pos, names).ok_or(pos)?;
            parsed.zone = Some(zone);
            Ok(end)
        }
        Item::Optional(section) => {
            let mut attempt = parsed.clone();
            match parse_items(section, ctx, pos, &mut attempt) {
                Ok(end) => {
                    *parsed = attempt;
                    Ok(end)
                }
                Err(_) => Ok(pos),
            }
        }
    }
}

/// What the SMART resolver made of parsed fields.
#[derive(Debug, Default)]
struct Resolved {
    date: Option<NaiveDate>,
    /// Nanoseconds of the day.
    time: Option<i64>,
    /// Fields neither merged into the date nor the time.
    rest: BTreeMap<Field, i64>,
    zone: Option<Zone>,
    offset: Option<i32>,
}

fn add_field(
    fields: &mut BTreeMap<Field, i64>,
    field: Field,
    value: i64,
) -> std::result::Result<(), String> {
    match fields.insert(field, value) {
        Some(old) if old != value => Err(format!(
            "Conflict found: {} {old} differs from {} {value}",
            field.name(),
            field.name()
        )),
        _ => Ok(()),
    }
}

fn date_field(date: NaiveDate, field: Field) -> Option<i64> {
    Temporal {
        date: Some(date),
        time: None,
        offset: None,
        zone: None,
        instant_ms: None,
    }
    .get(field)
    .ok()
}

fn time_field(nod: i64, field: Field) -> Option<i64> {
    Temporal {
        date: None,
        time: Some(nod),
        offset: None,
        zone: None,
        instant_ms: None,
    }
    .get(field)
    .ok()
}

fn java_date_text(d: NaiveDate) -> String {
    iso_date_of(d)
}

/// `Parsed.resolve` with `ResolverStyle.SMART`, ISO chronology.
fn resolve(parsed: Parsed) -> std::result::Result<Resolved, String> {
    let mut f = parsed.fields;
    let mut out = Resolved {
        zone: parsed.zone,
        ..Default::default()
    };
    if let Some(offset) = f.remove(&Field::OffsetSeconds) {
        out.offset = Some(Field::OffsetSeconds.check(offset)? as i32);
    }
    // Era and year of era become the year.
    if let Some(yoe) = f.remove(&Field::YearOfEra) {
        Field::YearOfEra.check(yoe)?;
        match f.remove(&Field::Era) {
            None => {
                let year = f.get(&Field::Year).copied();
                let y = if year.is_none_or(|y| y > 0) {
                    yoe
                } else {
                    1 - yoe
                };
                add_field(&mut f, Field::Year, y)?;
            }
            Some(1) => add_field(&mut f, Field::Year, yoe)?,
            Some(0) => add_field(&mut f, Field::Year, 1 - yoe)?,
            Some(era) => return Err(format!("Invalid value for era: {era}")),
        }
    } else if let Some(era) = f.get(&Field::Era) {
        Field::Era.check(*era)?;
    }
    // The date.
    if let Some(&year) = f.get(&Field::Year) {
        if f.contains_key(&Field::MonthOfYear) && f.contains_key(&Field::DayOfMonth) {
            let y = Field::Year.check(year)?;
            let m = Field::MonthOfYear.check(f.remove(&Field::MonthOfYear).unwrap_or(1))?;
            let mut d = Field::DayOfMonth.check(f.remove(&Field::DayOfMonth).unwrap_or(1))?;
            f.remove(&Field::Year);
            let leap = NaiveDate::from_ymd_opt(y as i32, 2, 29).is_some();
            match m {
                4 | 6 | 9 | 11 => d = d.min(30),
                2 => d = d.min(if leap { 29 } else { 28 }),
                _ => {}
            }
            out.date = Some(
                NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
                    .ok_or_else(|| format!("Invalid date {y}-{m}-{d}"))?,
            );
        } else if f.contains_key(&Field::DayOfYear) {
            let y = Field::Year.check(year)?;
            let doy = Field::DayOfYear.check(f.remove(&Field::DayOfYear).unwrap_or(1))?;
            f.remove(&Field::Year);
            out.date = Some(NaiveDate::from_yo_opt(y as i32, doy as u32).ok_or_else(|| {
                format!("Invalid date 'DayOfYear 366' as '{y}' is not a leap year")
            })?);
        }
    }
    // The time.
    if let Some(ch) = f.remove(&Field::ClockHourOfDay) {
        if ch != 0 {
            Field::ClockHourOfDay.check(ch)?;
        }
        add_field(&mut f, Field::HourOfDay, if ch == 24 { 0 } else { ch })?;
    }
    if let Some(ch) = f.remove(&Field::ClockHourOfAmPm) {
        if ch != 0 {
            Field::ClockHourOfAmPm.check(ch)?;
        }
        add_field(&mut f, Field::HourOfAmPm, if ch == 12 { 0 } else { ch })?;
    }
    if f.contains_key(&Field::AmPmOfDay) && f.contains_key(&Field::HourOfAmPm) {
        let ap = Field::AmPmOfDay.check(f.remove(&Field::AmPmOfDay).unwrap_or(0))?;
        let hap = Field::HourOfAmPm.check(f.remove(&Field::HourOfAmPm).unwrap_or(0))?;
        add_field(&mut f, Field::HourOfDay, ap * 12 + hap)?;
    }
    if let Some(nod) = f.remove(&Field::NanoOfDay) {
        Field::NanoOfDay.check(nod)?;
        add_field(&mut f, Field::HourOfDay, nod / 3_600_000_000_000)?;
        add_field(&mut f, Field::MinuteOfHour, nod / 60_000_000_000 % 60)?;
        add_field(&mut f, Field::SecondOfMinute, nod / 1_000_000_000 % 60)?;
        add_field(&mut f, Field::NanoOfSecond, nod % 1_000_000_000)?;
    }
    if let Some(mod_) = f.remove(&Field::MilliOfDay) {
        Field::MilliOfDay.check(mod_)?;
        let sod = mod_ / 1000;
        add_field(&mut f, Field::HourOfDay, sod / 3600)?;
        add_field(&mut f, Field::MinuteOfHour, sod / 60 % 60)?;
        add_field(&mut f, Field::SecondOfMinute, sod % 60)?;
        add_field(&mut f, Field::NanoOfSecond, mod_ % 1000 * 1_000_000)?;
    }
    if let Some(nos) = f.get(&Field::NanoOfSecond) {
        Field::NanoOfSecond.check(*nos)?;
    }
    let mut excess_days = 0;
    if let Some(&hod) = f.get(&Field::HourOfDay) {
        let moh = f.get(&Field::MinuteOfHour).copied();
        let som = f.get(&Field::SecondOfMinute).copied();
        let nos = f.get(&Field::NanoOfSecond).copied();
        let cannot_default = (moh.is_none() && (som.is_some() || nos.is_some()))
            || (moh.is_some() && som.is_none() && nos.is_some());
        if !cannot_default {
            let (moh, som, nos) = (moh.unwrap_or(0), som.unwrap_or(0), nos.unwrap_or(0));
            Field::MinuteOfHour.check(moh)?;
            Field::NanoOfSecond.check(nos)?;
            if hod == 24 && moh == 0 && som == 0 && nos == 0 {
                out.time = Some(0);
                excess_days = 1;
            } else {
                Field::HourOfDay.check(hod)?;
                Field::SecondOfMinute.check(som)?;
                out.time = Some(((hod * 60 + moh) * 60 + som) * 1_000_000_000 + nos);
            }
            for field in [
                Field::HourOfDay,
                Field::MinuteOfHour,
                Field::SecondOfMinute,
                Field::NanoOfSecond,
            ] {
                f.remove(&field);
            }
        }
    }
    for (field, value) in &f {
        if !field.is_date() {
            field.check(*value)?;
        }
    }
    if let (Some(date), Some(_)) = (out.date, out.time)
        && excess_days != 0
    {
        out.date = date.checked_add_signed(Duration::days(excess_days));
    }
    // Fields left over must agree with what was resolved.
    let mut rest = BTreeMap::new();
    for (field, value) in f {
        let derived = if field.is_date() {
            out.date.and_then(|d| date_field(d, field))
        } else {
            out.time.and_then(|t| time_field(t, field))
        };
        match derived {
            Some(d) if d != value => {
                let from = match (field.is_date(), out.date, out.time) {
                    (true, Some(date), _) => java_date_text(date),
                    (_, _, Some(t)) => iso_time_of(t),
                    _ => String::new(),
                };
                return Err(format!(
                    "Conflict found: Field {} {d} differs from {} {value} derived from {from}",
                    field.name(),
                    field.name()
                ));
            }
            Some(_) => {}
            None => {
                rest.insert(field, value);
            }
        }
    }
    out.rest = rest;
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn formats_as_java() {
        let la = Zone::parse("America/Los_Angeles").unwrap();
        let t = ts(2021, 9, 5, 20, 4, 5) + 123;
        let f = |p: &str, z: &Zone| {
            JavaPattern::compile(p)
                .unwrap()
                .format_timestamp(t, z)
                .unwrap()
        };
        assert_eq!(
            f(
                "MMM MMMM MMMMM EEE EEEE EEEEE a G GGGG GGGGG QQQ QQQQ QQQQQ",
                &la
            ),
            "Sep September S Sun Sunday S PM AD Anno Domini A Q3 3rd quarter 3"
        );
        assert_eq!(
            f(
                "z zzzz VV O OOOO X XX XXX XXXX XXXXX x xx xxx Z ZZZZ ZZZZZ",
                &la
            ),
            "PDT Pacific Daylight Time America/Los_Angeles GMT-7 GMT-07:00 -07 -0700 -07:00 -0700 \
             -07:00 -07 -0700 -07:00 -0700 GMT-07:00 -07:00"
        );
        assert_eq!(
            f("yy yyyy u uuuuu D DDD SSSS", &la),
            "21 2021 2021 02021 248 248 1230"
        );
        assert_eq!(
            f("yyyy-MM-dd'T'HH:mm:ss.SSSX", &Zone::utc()),
            "2021-09-05T20:04:05.123Z"
        );
        assert_eq!(f("h:mm a, ''yy", &Zone::gmt()), "8:04 PM, '21");
        assert_eq!(f("z X", &Zone::gmt()), "GMT Z");
        assert_eq!(f("z", &Zone::parse("+05:30").unwrap()), "+05:30");
        let date = JavaPattern::compile("yyyy G").unwrap();
        assert_eq!(
            date.format_date(
                (NaiveDate::from_ymd_opt(-5, 1, 1).unwrap() - epoch()).num_days() as i32
            )
            .unwrap(),
            "0006 BC"
        );
        assert_eq!(
            JavaPattern::compile("HH:mm").unwrap().try_format_date(0),
            Err("Unsupported field: HourOfDay".to_string())
        );
        assert_eq!(
            JavaPattern::compile("yyyy[ HH]")
                .unwrap()
                .format_date(0)
                .unwrap(),
            "1970"
        );
    }

    #[test]
    fn parses_as_ksqldb_timestamp_parser() {
        let p = |pat: &str, text: &str| {
            JavaPattern::compile(pat)
                .unwrap()
                .try_parse_timestamp(text, &Zone::gmt())
        };
        assert_eq!(p("yyyy-MM-dd", "2021-02-30"), Ok(ts(2021, 2, 28, 0, 0, 0)));
        assert!(
            p("yyyy-MM-dd", "2021-02-32")
                .unwrap_err()
                .contains("Invalid value for DayOfMonth")
        );
        assert_eq!(p("yyyyMMdd", "20210102"), Ok(ts(2021, 1, 2, 0, 0, 0)));
        assert!(p("yyyy-MM-dd", "12345-01-01").is_err());
        assert_eq!(
            p("yyyy-MM-dd HH:mm", "2021-01-01 24:00"),
            Ok(ts(2021, 1, 2, 0, 0, 0))
        );
        assert!(
            p("hh:mm a", "13:00 PM")
                .unwrap_err()
                .contains("ClockHourOfAmPm")
        );
        assert_eq!(p("hh:mm a", "01:30 pm"), Ok(ts(1970, 1, 1, 13, 30, 0)));
        assert!(
            p("EEE yyyy-MM-dd", "Mon 2021-01-01")
                .unwrap_err()
                .contains("Conflict found")
        );
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ssX", "2021-01-01T00:00:00+0530"),
            Ok(ts(2020, 12, 31, 18, 30, 0))
        );
        assert!(
            p("yyyy-MM-dd'T'HH:mm:ssX", "2021-01-01T00:00:00+05:30")
                .unwrap_err()
                .contains("unparsed text found at index 22")
        );
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ssX", "2020-05-11T21:58:33z"),
            Ok(ts(2020, 5, 11, 21, 58, 33))
        );
        assert_eq!(p("yyyy MMM", "2021 SEP"), Ok(ts(2021, 9, 1, 0, 0, 0)));
        assert!(p("MMMM", "September").is_err());
        assert_eq!(
            p("HHmmssSSS", "123456789"),
            Ok(ts(1970, 1, 1, 12, 34, 56) + 789)
        );
        assert!(p("yyyy-MM-dd HH:mm:ss.SSS", "2021-01-01 00:00:00.12").is_err());
        assert_eq!(p("yyyy[-MM[-dd]]", "2021-05"), Ok(ts(2021, 5, 1, 0, 0, 0)));
        assert_eq!(p("yy-MM-dd", "21-05-01"), Ok(ts(2021, 5, 1, 0, 0, 0)));
        assert!(
            p("yyyy-MM-dd", "0000-01-01")
                .unwrap_err()
                .contains("YearOfEra")
        );
        // PST is a zone with daylight saving time: in May it is -07:00.
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ss zzz", "2018-05-11T21:58:33 PST"),
            Ok(1_526_101_113_000)
        );
        assert_eq!(
            p("yyyy-MM-dd HH VV", "2021-01-01 00 America/New_York"),
            Ok(ts(2021, 1, 1, 5, 0, 0))
        );
        let la = Zone::parse("America/Los_Angeles").unwrap();
        assert_eq!(
            JavaPattern::compile("yyyy-MM-dd HH")
                .unwrap()
                .try_parse_timestamp("1970-01-01 00", &la),
            Ok(8 * 3_600_000)
        );
        // In the spring-forward gap the time moves on by the gap.
        assert_eq!(
            JavaPattern::compile("yyyy-MM-dd HH:mm")
                .unwrap()
                .try_parse_timestamp("2021-03-14 02:30", &la),
            Ok(ts(2021, 3, 14, 10, 30, 0))
        );
    }

    #[test]
    fn dates_and_times() {
        let d = JavaPattern::compile("dd-MMM-yyyy").unwrap();
        assert_eq!(d.try_parse_date("01-jan-2022"), Ok(18993));
        assert!(
            JavaPattern::compile("yyyy-MM")
                .unwrap()
                .try_parse_date("2022-01")
                .is_err()
        );
        let t = JavaPattern::compile("hh:mm:ss a").unwrap();
        assert_eq!(t.try_parse_time("01:00:00 PM"), Ok(46_800_000));
        assert_eq!(
            JavaPattern::compile("yyyy HH")
                .unwrap()
                .try_parse_time("2021 10"),
            Err("Time format contains date field.".into())
        );
        assert_eq!(
            JavaPattern::compile("HH_mm_ss_SSS")
                .unwrap()
                .format_time(65000)
                .unwrap(),
            "00_01_05_000"
        );
        assert_eq!(iso_date(-1), "1969-12-31");
        assert_eq!(iso_time(60_220_000), "16:43:40");
    }

    #[test]
    fn bad_patterns() {
        assert!(JavaPattern::compile("yyyy-qq").is_ok());
        assert!(
            JavaPattern::compile("HHH")
                .unwrap_err()
                .to_string()
                .contains("Too many pattern letters: H")
        );
        assert!(
            JavaPattern::compile("b")
                .unwrap_err()
                .to_string()
                .contains("Unknown pattern letter: b")
        );
        assert!(JavaPattern::compile("'abc").is_err());
        assert!(JavaPattern::compile("a]").is_err());
        assert!(JavaPattern::compile("{").is_err());
    }

    #[test]
    fn zones() {
        assert_eq!(Zone::parse("UTC").unwrap().id(), "UTC");
        assert_eq!(Zone::parse("+0200").unwrap().offset_at(0).unwrap(), 7200);
        assert_eq!(Zone::parse("GMT+2").unwrap().id(), "GMT+02:00");
        assert!(Zone::parse("PST").is_err());
        assert!(Zone::parse("utc").is_err());
        assert!(
            Zone::parse("Mars/Base")
                .unwrap_err()
                .to_string()
                .contains("Unknown time-zone ID")
        );
    }
}
