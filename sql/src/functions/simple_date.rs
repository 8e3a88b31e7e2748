//! Apache Commons Lang's `FastDateFormat` parsing (what ksqlDB's PARSE_DATE uses):
//! `SimpleDateFormat` pattern letters, numbers of any width (a field's own width when a
//! number follows it directly), texts case-insensitively, literals exactly, trailing text
//! ignored, and the fields combined by a lenient `GregorianCalendar` (month 13 is January
//! of the next year; dates before 1582-10-15 are Julian).

use chrono::{Datelike, NaiveDate, Utc};

use crate::error::{Result, SqlError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CalField {
    Era,
    Year,
    Month,
    DayOfMonth,
    DayOfYear,
    DayOfWeek,
    AmPm,
    HourOfDay,
    Hour,
    Minute,
    Second,
    Millisecond,
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Strategy {
    Literal(String),
    Number {
        field: CalField,
        width: usize,
        /// `yy`-style: two-digit years move into the century window.
        abbreviated_year: bool,
        /// Added to the value (months are 0-based in a Calendar).
        delta: i64,
        /// 24 for `k` (24 is 0), 12 for `h` (12 is 0).
        wrap: i64,
    },
    Text(CalField),
    Zone,
}

impl Strategy {
    fn is_number(&self) -> bool {
        match self {
            Self::Number { .. } => true,
            Self::Literal(text) => text.starts_with(|c: char| c.is_ascii_digit()),
            _ => false,
        }
    }
}

/// A compiled `FastDateFormat` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimplePattern {
    strategies: Vec<Strategy>,
}

fn number(field: CalField, width: usize) -> Strategy {
    Strategy::Number {
        field,
        width,
        abbreviated_year: false,
        delta: 0,
        wrap: 0,
    }
}

impl SimplePattern {
    /// Compiles a pattern.
    pub fn compile(pattern: &str) -> Result<Self> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut strategies = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_alphabetic() {
                let mut width = 1;
                while chars.get(i + width) == Some(&c) {
                    width += 1;
                }
                i += width;
                strategies.push(match c {
                    'D' => number(CalField::DayOfYear, width),
                    'E' => Strategy::Text(CalField::DayOfWeek),
                    'F' | 'W' | 'w' | 'u' => number(CalField::Ignored, width),
                    'G' => Strategy::Text(CalField::Era),
                    'H' => number(CalField::HourOfDay, width),
                    'K' => number(CalField::Hour, width),
                    'M' | 'L' if width >= 3 => Strategy::Text(CalField::Month),
                    'M' | 'L' => Strategy::Number {
                        field: CalField::Month,
                        width,
                        abbreviated_year: false,
                        delta: -1,
                        wrap: 0,
                    },
                    'S' => number(CalField::Millisecond, width),
                    'a' => Strategy::Text(CalField::AmPm),
                    'd' => number(CalField::DayOfMonth, width),
                    'h' => Strategy::Number {
                        field: CalField::Hour,
                        width,
                        abbreviated_year: false,
                        delta: 0,
                        wrap: 12,
                    },
                    'k' => Strategy::Number {
                        field: CalField::HourOfDay,
                        width,
                        abbreviated_year: false,
                        delta: 0,
                        wrap: 24,
                    },
                    'm' => number(CalField::Minute, width),
                    's' => number(CalField::Second, width),
                    'y' | 'Y' => Strategy::Number {
                        field: CalField::Year,
                        width,
                        abbreviated_year: width <= 2,
                        delta: 0,
                        wrap: 0,
                    },
                    'X' | 'Z' | 'z' => Strategy::Zone,
                    other => {
                        return Err(SqlError::eval(format!("Format '{other}' not supported")));
                    }
                });
                continue;
            }
            let mut text = String::new();
            let mut quoted = false;
            while i < chars.len() {
                let c = chars[i];
                if !quoted && c.is_ascii_alphabetic() {
                    break;
                }
                if c == '\'' {
                    i += 1;
                    if i == chars.len() || chars[i] != '\'' {
                        quoted = !quoted;
                        continue;
                    }
                }
                i += 1;
                text.push(c);
            }
            if quoted {
                return Err(SqlError::eval(format!("Unterminated quote in {pattern}")));
            }
            strategies.push(Strategy::Literal(text));
        }
        Ok(Self { strategies })
    }

    /// Parses a date-time to milliseconds since the epoch in `offset_seconds` (GMT: 0),
    /// as `FastDateFormat.parse(text).getTime()`.
    pub fn parse_millis(&self, text: &str) -> Result<i64> {
        let unparseable = || SqlError::eval(format!("Unparseable date: \"{text}\""));
        let chars: Vec<char> = text.chars().collect();
        let mut pos = 0;
        // Fields in the order they were set (the calendar prefers the latest).
        let mut set: Vec<(CalField, i64)> = Vec::new();
        let mut zone_offset: Option<i64> = None;
        for (k, strategy) in self.strategies.iter().enumerate() {
            let next_is_number = self.strategies.get(k + 1).is_some_and(Strategy::is_number);
            match strategy {
                Strategy::Literal(lit) => {
                    for c in lit.chars() {
                        if chars.get(pos) != Some(&c) {
                            return Err(unparseable());
                        }
                        pos += 1;
                    }
                }
                Strategy::Number {
                    field,
                    width,
                    abbreviated_year,
                    delta,
                    wrap,
                } => {
                    let max_width = if next_is_number { *width } else { 0 };
                    if max_width == 0 {
                        while chars.get(pos).is_some_and(|c| c.is_whitespace()) {
                            pos += 1;
                        }
                    }
                    let start = pos;
                    let end = if max_width == 0 {
                        chars.len()
                    } else {
                        (pos + max_width).min(chars.len())
                    };
                    while pos < end && chars[pos].is_ascii_digit() {
                        pos += 1;
                    }
                    if pos == start {
                        return Err(unparseable());
                    }
                    let digits: String = chars[start..pos].iter().collect();
                    let mut value: i64 = digits
                        .parse::<i32>()
                        .map_err(|_| SqlError::eval(format!("For input string: \"{digits}\"")))?
                        as i64;
                    if *abbreviated_year && value < 100 {
                        value = adjust_year(value);
                    }
                    if *wrap > 0 && value == *wrap {
                        value = 0;
                    }
                    set.push((*field, value + delta));
                }
                Strategy::Text(field) => {
                    let names = text_names(*field);
                    let mut best: Option<(usize, i64)> = None;
                    for (name, value) in names {
                        let n = name.chars().count();
                        let candidate: String = chars.iter().skip(pos).take(n).collect();
                        if candidate.to_lowercase() == name.to_lowercase()
                            && best.is_none_or(|(len, _)| n > len)
                        {
                            best = Some((n, *value));
                        }
                    }
                    let (len, value) = best.ok_or_else(unparseable)?;
                    pos += len;
                    set.push((*field, value));
                }
                Strategy::Zone => {
                    let (offset, end) = parse_zone(&chars, pos).ok_or_else(unparseable)?;
                    zone_offset = Some(offset);
                    pos = end;
                }
            }
        }
        let latest = |f: CalField| {
            set.iter()
                .enumerate()
                .rev()
                .find(|(_, (field, _))| *field == f)
                .map(|(i, (_, v))| (i, *v))
        };
        let era = latest(CalField::Era).map_or(1, |(_, v)| v);
        let year_of_era = latest(CalField::Year).map_or(1970, |(_, v)| v);
        let year = if era == 0 {
            1 - year_of_era
        } else {
            year_of_era
        };
        let month = latest(CalField::Month).map_or(0, |(_, v)| v);
        let dom = latest(CalField::DayOfMonth);
        let doy = latest(CalField::DayOfYear);
        let days = match (dom, doy) {
            (_, Some((i, d))) if dom.is_none_or(|(j, _)| i > j) => {
                fixed_date(year, 0, d).ok_or_else(unparseable)?
            }
            _ => {
                let y = year + month.div_euclid(12);
                let m = month.rem_euclid(12);
                fixed_date(y, m, dom.map_or(1, |(_, d)| d)).ok_or_else(unparseable)?
            }
        };
        let hour = match (latest(CalField::HourOfDay), latest(CalField::Hour)) {
            (Some((i, h)), other) if other.is_none_or(|(j, _)| i > j) => h,
            (_, Some((_, h))) => h + 12 * latest(CalField::AmPm).map_or(0, |(_, v)| v),
            _ => 12 * latest(CalField::AmPm).map_or(0, |(_, v)| v),
        };
        let minute = latest(CalField::Minute).map_or(0, |(_, v)| v);
        let second = latest(CalField::Second).map_or(0, |(_, v)| v);
        let milli = latest(CalField::Millisecond).map_or(0, |(_, v)| v);
        let millis = days * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + milli
            - zone_offset.unwrap_or(0) * 1000;
        Ok(millis)
    }
}

/// Two-digit years land from 80 years ago to 20 years ahead.
fn adjust_year(two_digit: i64) -> i64 {
    let century_start = Utc::now().year() as i64 - 80;
    let century = century_start / 100 * 100;
    let start = century_start - century;
    let trial = century + two_digit;
    if two_digit >= start {
        trial
    } else {
        trial + 100
    }
}

/// Days since the epoch of a (lenient) year, 0-based month and day, on the calendar
/// `GregorianCalendar` uses for it: Julian before the 1582-10-15 cutover.
fn fixed_date(year: i64, month0: i64, day: i64) -> Option<i64> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let gregorian = NaiveDate::from_ymd_opt(year as i32, month0 as u32 + 1, 1)
        .map(|d| (d - epoch).num_days() + day - 1);
    let julian = {
        let (y, m) = (year, month0 + 1);
        let a = (14 - m).div_euclid(12);
        let y2 = y + 4800 - a;
        let m2 = m + 12 * a - 3;
        let jdn = 1 + (153 * m2 + 2).div_euclid(5) + 365 * y2 + y2.div_euclid(4) - 32083;
        jdn - 2_440_588 + day - 1
    };
    let cutover = (NaiveDate::from_ymd_opt(1582, 10, 15)? - epoch).num_days();
    match gregorian {
        Some(g) if year > 1582 || (year == 1582 && g >= cutover) => Some(g),
        Some(_) => Some(julian),
        None => None,
    }
}

fn text_names(field: CalField) -> &'static [(&'static str, i64)] {
    match field {
        CalField::Month => &[
            ("January", 0),
            ("February", 1),
            ("March", 2),
            ("April", 3),
            ("May", 4),
            ("June", 5),
            ("July", 6),
            ("August", 7),
            ("September", 8),
            ("October", 9),
            ("November", 10),
            ("December", 11),
            ("Jan", 0),
            ("Feb", 1),
            ("Mar", 2),
            ("Apr", 3),
            ("Jun", 5),
            ("Jul", 6),
            ("Aug", 7),
            ("Sep", 8),
            ("Oct", 9),
            ("Nov", 10),
            ("Dec", 11),
        ],
        CalField::DayOfWeek => &[
            ("Sunday", 1),
            ("Monday", 2),
            ("Tuesday", 3),
            ("Wednesday", 4),
            ("Thursday", 5),
            ("Friday", 6),
            ("Saturday", 7),
            ("Sun", 1),
            ("Mon", 2),
            ("Tue", 3),
            ("Wed", 4),
            ("Thu", 5),
            ("Fri", 6),
            ("Sat", 7),
        ],
        CalField::AmPm => &[("AM", 0), ("PM", 1)],
        CalField::Era => &[("AD", 1), ("BC", 0)],
        _ => &[],
    }
}

/// `Z` / `X` / `z`: an offset (`Z`, `+hh`, `+hhmm`, `+hh:mm`, `GMT+hh:mm`) in seconds.
fn parse_zone(chars: &[char], pos: usize) -> Option<(i64, usize)> {
    let mut p = pos;
    let rest: String = chars[pos..].iter().collect();
    if rest.starts_with('Z') {
        return Some((0, pos + 1));
    }
    for prefix in ["GMT", "UTC"] {
        if rest.starts_with(prefix) {
            p += 3;
            if !matches!(chars.get(p), Some('+' | '-')) {
                return Some((0, p));
            }
        }
    }
    let sign = match chars.get(p)? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    p += 1;
    let digit = |i: usize| chars.get(i).and_then(|c| c.to_digit(10)).map(|d| d as i64);
    let h = digit(p)? * 10 + digit(p + 1)?;
    p += 2;
    if chars.get(p) == Some(&':') {
        p += 1;
    }
    let m = match (digit(p), digit(p + 1)) {
        (Some(a), Some(b)) => {
            p += 2;
            a * 10 + b
        }
        _ => 0,
    };
    Some((sign * (h * 3600 + m * 60), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(pattern: &str, text: &str) -> Result<i64> {
        SimplePattern::compile(pattern)?
            .parse_millis(text)
            .map(|ms| ms / 86_400_000)
    }

    #[test]
    fn parses_leniently() {
        assert_eq!(days("yyyy-MM-dd", "2018-05-11").unwrap(), 17662);
        assert_eq!(days("yyyy-MM-dd'Lit'", "2018-05-11Lit").unwrap(), 17662);
        assert_eq!(days("dd-MMM-yyyy", "01-JAN-2022").unwrap(), 18993);
        assert_eq!(days("MMM-yyyy", "Jan-2022").unwrap(), 18993);
        assert_eq!(days("dd/MM/yyyy", "11/05/2019").unwrap(), 18027);
        // Lenient: month 13 is next January; trailing text is ignored.
        assert_eq!(
            days("yyyy-MM-dd", "2021-13-01").unwrap(),
            days("yyyy-MM-dd", "2022-01-01").unwrap()
        );
        assert_eq!(days("yyyy-MM-dd", "2021-01-01 junk").unwrap(), 18628);
        assert_eq!(days("yyyyMMdd", "20210102").unwrap(), 18629);
        assert!(days("yyyy-MM-dd", "2021/01/01").is_err());
        // Julian calendar before the Gregorian cutover.
        assert_eq!(
            days("yyyy-MM-dd", "1582-10-04").unwrap() + 1,
            days("yyyy-MM-dd", "1582-10-15").unwrap()
        );
        assert!(SimplePattern::compile("yyyy-qq").is_err());
    }
}
