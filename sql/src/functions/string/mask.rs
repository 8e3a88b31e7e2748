//! MASK, MASK_KEEP_LEFT/RIGHT and MASK_LEFT/RIGHT: characters replaced by their Unicode
//! category's mask character, as Java's `Character.getType` classifies them.

use std::sync::OnceLock;

use regex::Regex;

use crate::error::{Result, SqlError};
use crate::functions::args;
use crate::functions::java;
use crate::value::Value;

use super::string;

/// The Unicode general category tests Java's `Character.getType` makes for masking.
fn is_category(c: char, category: &'static str) -> bool {
    static LU: OnceLock<Option<Regex>> = OnceLock::new();
    static LL: OnceLock<Option<Regex>> = OnceLock::new();
    static ND: OnceLock<Option<Regex>> = OnceLock::new();
    let (cell, pattern) = match category {
        "Lu" => (&LU, "^\\p{Lu}$"),
        "Ll" => (&LL, "^\\p{Ll}$"),
        _ => (&ND, "^\\p{Nd}$"),
    };
    let mut buf = [0u8; 4];
    cell.get_or_init(|| Regex::new(pattern).ok())
        .as_ref()
        .is_some_and(|re| re.is_match(c.encode_utf8(&mut buf)))
}

/// ksqlDB's `Masker`: a mask per character class, `None` to keep that class.
#[derive(Debug, Clone, Copy)]
struct Masker {
    upper: Option<char>,
    lower: Option<char>,
    digit: Option<char>,
    other: Option<char>,
}

impl Masker {
    const DEFAULT: Masker = Masker {
        upper: Some('X'),
        lower: Some('x'),
        digit: Some('n'),
        other: Some('-'),
    };

    fn from_args(a: &[Value]) -> Result<Self> {
        let mask = |v: &Value| -> Result<Option<char>> {
            match args::opt_string(v)? {
                None => Ok(None),
                Some(m) if java::len(m) == 1 => Ok(m.chars().next()),
                Some(m) => Err(SqlError::eval(format!(
                    "Invalid mask character. Must be only single character, but was '{m}'"
                ))),
            }
        };
        Ok(Self {
            upper: mask(&a[0])?,
            lower: mask(&a[1])?,
            digit: mask(&a[2])?,
            other: mask(&a[3])?,
        })
    }

    fn mask_char(&self, c: char, out: &mut String) {
        let (mask, keep) = if c.is_ascii() {
            if c.is_ascii_uppercase() {
                (self.upper, c)
            } else if c.is_ascii_lowercase() {
                (self.lower, c)
            } else if c.is_ascii_digit() {
                (self.digit, c)
            } else {
                (self.other, c)
            }
        } else if is_category(c, "Lu") {
            (self.upper, c)
        } else if is_category(c, "Ll") {
            (self.lower, c)
        } else if is_category(c, "Nd") {
            (self.digit, c)
        } else {
            (self.other, c)
        };
        out.push(mask.unwrap_or(keep));
        // Java steps one UTF-16 unit at a time: a supplementary character's low
        // surrogate is masked again, as an "other" character.
        if c.len_utf16() == 2
            && let Some(m) = self.other
        {
            out.push(m);
        }
    }

    fn mask(&self, units: &[u16]) -> String {
        let mut out = String::with_capacity(units.len());
        for c in char::decode_utf16(units.iter().copied()) {
            match c {
                Ok(c) => self.mask_char(c, &mut out),
                Err(_) => out.push(self.other.unwrap_or('\u{fffd}')),
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum MaskKind {
    All,
    KeepLeft,
    KeepRight,
    Left,
    Right,
}

impl MaskKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::All => "mask",
            Self::KeepLeft => "mask_keep_left",
            Self::KeepRight => "mask_keep_right",
            Self::Left => "mask_left",
            Self::Right => "mask_right",
        }
    }
}

pub(super) fn mask_fn(kind: MaskKind, a: &[Value]) -> Result<Value> {
    let (num, masks) = match kind {
        MaskKind::All => (0, &a[1..]),
        _ => (args::primitive_int(&a[1])?, &a[2..]),
    };
    let masker = if masks.is_empty() {
        Masker::DEFAULT
    } else {
        Masker::from_args(masks)?
    };
    if num < 0 {
        return Err(SqlError::eval(format!(
            "function {} requires a non-negative number of characters to mask or skip",
            kind.name()
        )));
    }
    let Some(input) = args::opt_string(&a[0])? else {
        return Ok(Value::Null);
    };
    let units = java::utf16(input);
    let n = num as usize;
    let len = units.len();
    let (keep_head, masked, keep_tail): (usize, std::ops::Range<usize>, usize) = match kind {
        MaskKind::All => (0, 0..len, len),
        MaskKind::KeepLeft => {
            let k = n.min(len);
            (k, k..len, len)
        }
        MaskKind::KeepRight => {
            let m = len.saturating_sub(n);
            (0, 0..m, m)
        }
        MaskKind::Left => {
            let m = n.min(len);
            (0, 0..m, m)
        }
        MaskKind::Right => {
            let k = len.saturating_sub(n);
            (k, k..len, len)
        }
    };
    let mut out = java::from_utf16(&units[..keep_head]);
    out.push_str(&masker.mask(&units[masked]));
    out.push_str(&java::from_utf16(&units[keep_tail..]));
    string(out)
}
