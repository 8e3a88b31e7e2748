//! Formatting compiled patterns: the fields of a date, time, offset and zone printed by
//! each item, with English and `Locale.ROOT` texts and the JDK's zone names.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};

use crate::functions::zone_names;

use super::Locale;
use super::pattern::{Field, Item, OFFSET_PATTERNS, SignStyle, TextStyle};
use super::zone::{Rules, Zone};

/// What a pattern formats: a date, a time, an offset and a zone, each maybe absent
/// (formatting a `LocalDate` with `HH` is "Unsupported field: HourOfDay").
pub(super) struct Temporal<'a> {
    pub(super) date: Option<NaiveDate>,
    /// Nanoseconds of the day.
    pub(super) time: Option<i64>,
    pub(super) offset: Option<i32>,
    pub(super) zone: Option<&'a Zone>,
    pub(super) instant_ms: Option<i64>,
}

pub(super) enum FormatError {
    Unsupported(String),
    Other(String),
}

impl Temporal<'_> {
    pub(super) fn get(&self, field: Field) -> std::result::Result<i64, FormatError> {
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

pub(super) fn month_names(locale: Locale, style: TextStyle) -> [&'static str; 12] {
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
pub(super) fn texts(
    field: Field,
    style: TextStyle,
    locale: Locale,
) -> Option<(i64, Vec<&'static str>)> {
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

pub(super) fn format_items(
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
