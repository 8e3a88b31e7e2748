//! Pattern compilation (`DateTimeFormatterBuilder.parsePattern`): a pattern's letters,
//! quoted text and optional sections as printer-parser items, with their widths, sign
//! styles and adjacent-value parsing.

use crate::error::{Result, SqlError};

use super::NANOS_PER_DAY;

/// A `ChronoField` (and `IsoFields.QUARTER_OF_YEAR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Field {
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
    pub(super) fn name(self) -> &'static str {
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

    pub(super) fn check(self, value: i64) -> std::result::Result<i64, String> {
        let (min, max, text) = self.range();
        if value < min || value > max {
            return Err(format!(
                "Invalid value for {} (valid values {text}): {value}",
                self.name()
            ));
        }
        Ok(value)
    }

    pub(super) fn is_date(self) -> bool {
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
pub(super) enum SignStyle {
    Normal,
    NotNegative,
    ExceedsPad,
}

/// `TextStyle` (format and stand-alone forms are the same in English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextStyle {
    Short,
    Full,
    Narrow,
}

/// One printer-parser of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
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

pub(super) const OFFSET_PATTERNS: [&str; 11] = [
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
    pub(super) fn new() -> Self {
        Self {
            items: Vec::new(),
            active_value: None,
        }
    }

    pub(super) fn push(&mut self, item: Item) {
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
pub(super) fn compile_items(pattern: &str) -> Result<Vec<Item>> {
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
