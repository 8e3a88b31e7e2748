//! String functions, as ksqlDB's `udf.string` classes define them. Positions and lengths
//! count UTF-16 code units, as Java's `String` does; regular expressions are Java's
//! (see [`super::jregex`]).

use std::sync::OnceLock;

use regex::Regex;

use super::encoding::{self, Encoding};
use super::java::{self, JavaHashMap};
use super::{FunctionRegistry, Param, ScalarFunction, args, jregex, rng, typed};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;

fn s() -> Param {
    SqlType::String.into()
}

fn b() -> Param {
    SqlType::Bytes.into()
}

fn i() -> Param {
    SqlType::Int.into()
}

fn string(v: String) -> Result<Value> {
    Ok(Value::String(v))
}

/// `String.substring(start, end)` on UTF-16 code units.
fn substring16(units: &[u16], start: usize, end: usize) -> String {
    java::from_utf16(
        &units[start.min(units.len())..end.min(units.len()).max(start.min(units.len()))],
    )
}

/// SUBSTRING's start index (0-based) of a value of `len` units for a 1-based `pos`
/// (negative counts from the end).
fn start_index(len: usize, pos: i32) -> usize {
    let len = len as i64;
    let pos = pos as i64;
    if pos < 0 {
        (len + pos).max(0) as usize
    } else {
        (pos - 1).min(len).max(0) as usize
    }
}

fn end_index(len: usize, start: usize, length: i32) -> usize {
    let end = (start as i64 + length as i64).min(len as i64);
    end.max(start as i64) as usize
}

fn substring_fn(a: &[Value]) -> Result<Value> {
    let pos = args::int(&a[1])?;
    match &a[0] {
        Value::String(text) => {
            let units = java::utf16(text);
            let start = start_index(units.len(), pos);
            let end = match a.get(2) {
                Some(len) => end_index(units.len(), start, args::int(len)?),
                None => units.len(),
            };
            string(substring16(&units, start, end))
        }
        Value::Bytes(bytes) => {
            let start = start_index(bytes.len(), pos);
            let end = match a.get(2) {
                Some(len) => end_index(bytes.len(), start, args::int(len)?),
                None => bytes.len(),
            };
            Ok(Value::Bytes(bytes[start..end].to_vec()))
        }
        other => Err(SqlError::eval(format!(
            "SUBSTRING of {}",
            other.display(None)
        ))),
    }
}

/// `StringUtils.substring(str, start)`: a negative start counts from the end.
fn commons_substring(units: &[u16], start: i64) -> &[u16] {
    let len = units.len() as i64;
    let mut start = if start < 0 { len + start } else { start };
    if start < 0 {
        start = 0;
    }
    if start > len {
        return &[];
    }
    &units[start as usize..]
}

fn index_of(haystack: &[u16], needle: &[u16], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return (from <= haystack.len()).then_some(from);
    }
    (from..=haystack.len().saturating_sub(needle.len()))
        .find(|&i| i + needle.len() <= haystack.len() && &haystack[i..i + needle.len()] == needle)
}

/// `StringUtils.ordinalIndexOf`.
fn ordinal_index_of(text: &[u16], search: &[u16], ordinal: i32) -> i64 {
    if ordinal <= 0 {
        return -1;
    }
    if search.is_empty() {
        return 0;
    }
    let mut found = 0;
    let mut index: i64 = -1;
    loop {
        match index_of(text, search, (index + 1) as usize) {
            Some(i) => index = i as i64,
            None => return -1,
        }
        found += 1;
        if found >= ordinal {
            return index;
        }
    }
}

/// INSTR: Java's `Instr.instr(str, substring, position, occurrence)`.
fn instr(text: &str, sub: &str, position: i32, occurrence: i32) -> i32 {
    let str16 = java::utf16(text);
    let sub16 = java::utf16(sub);
    if (position as i64).abs() > str16.len() as i64 {
        return 0;
    }
    let find = |s: &[u16], sub: &[u16], position: i64, reversed: bool| -> i32 {
        let i = ordinal_index_of(commons_substring(s, position - 1), sub, occurrence);
        if i == -1 {
            return 0;
        }
        let r = if reversed {
            s.len() as i64 - position - i - sub.len() as i64 + 2
        } else {
            i + position
        };
        r as i32
    };
    if position < 0 {
        let rev: Vec<u16> = str16.iter().rev().copied().collect();
        let rev_sub: Vec<u16> = sub16.iter().rev().copied().collect();
        return find(&rev, &rev_sub, -(position as i64), true);
    }
    find(&str16, &sub16, position as i64, false)
}

fn instr_fn(a: &[Value]) -> Result<Value> {
    let position = match a.get(2) {
        Some(p) => args::primitive_int(p)?,
        None => 1,
    };
    let occurrence = match a.get(3) {
        Some(o) => args::primitive_int(o)?,
        None => 1,
    };
    match (args::opt_string(&a[0])?, args::opt_string(&a[1])?) {
        (Some(text), Some(sub)) => Ok(Value::Int(instr(text, sub, position, occurrence))),
        _ => Ok(Value::Int(0)),
    }
}

/// LPAD / RPAD of strings, on UTF-16 code units.
/// The longest LPAD/RPAD result built (ksqlDB would try to allocate any length).
const MAX_PAD: i32 = 100_000_000;

fn pad_string(input: &str, target: i32, padding: &str, left: bool) -> Option<String> {
    if padding.is_empty() || target < 0 {
        return None;
    }
    let target = target as usize;
    let input = java::utf16(input);
    let padding = java::utf16(padding);
    let pad_len = target.saturating_sub(input.len());
    let pad: Vec<u16> = padding.iter().copied().cycle().take(pad_len).collect();
    let mut out = if left {
        let mut out = pad;
        out.extend_from_slice(&input);
        out
    } else {
        let mut out = input;
        out.extend_from_slice(&pad);
        out
    };
    out.truncate(target);
    Some(java::from_utf16(&out))
}

fn pad_bytes(input: &[u8], target: i32, padding: &[u8], left: bool) -> Option<Vec<u8>> {
    if padding.is_empty() || target < 0 {
        return None;
    }
    let target = target as usize;
    if input.len() > target {
        return Some(input[..target].to_vec());
    }
    let pad: Vec<u8> = padding
        .iter()
        .copied()
        .cycle()
        .take(target - input.len())
        .collect();
    Some(if left {
        [pad, input.to_vec()].concat()
    } else {
        [input.to_vec(), pad].concat()
    })
}

fn pad_fn(a: &[Value], left: bool) -> Result<Value> {
    let Some(target) = args::opt_int(&a[1])? else {
        return Ok(Value::Null);
    };
    if target > MAX_PAD {
        return Err(SqlError::eval(format!(
            "target length {target} is longer than the {MAX_PAD} supported"
        )));
    }
    Ok(match (&a[0], &a[2]) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (Value::String(input), Value::String(padding)) => pad_string(input, target, padding, left)
            .map(Value::String)
            .unwrap_or(Value::Null),
        (Value::Bytes(input), Value::Bytes(padding)) => pad_bytes(input, target, padding, left)
            .map(Value::Bytes)
            .unwrap_or(Value::Null),
        _ => return Err(SqlError::eval("PAD of mismatched arguments")),
    })
}

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
enum MaskKind {
    All,
    KeepLeft,
    KeepRight,
    Left,
    Right,
}

impl MaskKind {
    fn name(self) -> &'static str {
        match self {
            Self::All => "mask",
            Self::KeepLeft => "mask_keep_left",
            Self::KeepRight => "mask_keep_right",
            Self::Left => "mask_left",
            Self::Right => "mask_right",
        }
    }
}

fn mask_fn(kind: MaskKind, a: &[Value]) -> Result<Value> {
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

/// Commons Text `StringEscapeUtils.unescapeJava`.
fn unescape_java(input: &str) -> Result<String> {
    let units = java::utf16(input);
    let mut out: Vec<u16> = Vec::with_capacity(units.len());
    let mut i = 0;
    let bs = b'\\' as u16;
    while i < units.len() {
        if units[i] != bs || i + 1 >= units.len() {
            out.push(units[i]);
            i += 1;
            continue;
        }
        let next = units[i + 1];
        match char::from_u32(next as u32) {
            Some('u') => {
                let mut j = i + 1;
                while j < units.len() && units[j] == b'u' as u16 {
                    j += 1;
                }
                if j < units.len() && units[j] == b'+' as u16 {
                    j += 1;
                }
                if j + 4 > units.len() {
                    return Err(SqlError::eval(format!(
                        "Less than 4 hex digits in unicode value: '{}' due to end of CharSequence",
                        java::from_utf16(&units[i..])
                    )));
                }
                let hex = java::from_utf16(&units[j..j + 4]);
                let code = u16::from_str_radix(&hex, 16)
                    .map_err(|_| SqlError::eval(format!("Unable to parse unicode value: {hex}")))?;
                out.push(code);
                i = j + 4;
            }
            Some(d @ '0'..='7') => {
                let mut value = d as u32 - '0' as u32;
                let mut j = i + 2;
                let max = if d <= '3' { 3 } else { 2 };
                while j < units.len() && j - (i + 1) < max {
                    match char::from_u32(units[j] as u32).and_then(|c| c.to_digit(8)) {
                        Some(v) => value = value * 8 + v,
                        None => break,
                    }
                    j += 1;
                }
                out.push(value as u16);
                i = j;
            }
            Some(c) => {
                let mapped = match c {
                    'b' => Some(0x08),
                    'n' => Some(b'\n' as u16),
                    't' => Some(b'\t' as u16),
                    'f' => Some(0x0c),
                    'r' => Some(b'\r' as u16),
                    '\\' | '"' | '\'' => Some(next),
                    _ => None,
                };
                match mapped {
                    Some(m) => out.push(m),
                    // A backslash before anything else is dropped.
                    None => out.push(next),
                }
                i += 2;
            }
            None => {
                out.push(next);
                i += 2;
            }
        }
    }
    Ok(java::from_utf16(&out))
}

fn chr_fn(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Int(code) => {
            if !(0..=0x10FFFF).contains(code) {
                return Ok(Value::Null);
            }
            let c = char::from_u32(*code as u32).unwrap_or('\u{fffd}');
            string(c.to_string())
        }
        Value::String(code) => {
            if java::len(code) < 6 || !code.starts_with("\\u") {
                return Ok(Value::Null);
            }
            string(unescape_java(code)?)
        }
        _ => Ok(Value::Null),
    }
}

/// `Encode.hexStrip`.
fn hex_strip(hex: &str) -> String {
    let len = java::len(hex);
    if hex.starts_with("0x") && !hex.contains(['\n', '\r']) {
        let rest = &hex[2..];
        if !len.is_multiple_of(2) {
            format!("0{rest}")
        } else {
            rest.to_string()
        }
    } else if (hex.starts_with("x'") || hex.starts_with("X'"))
        && hex.ends_with('\'')
        && hex.len() >= 3
        && !hex.contains(['\n', '\r'])
    {
        hex[2..hex.len() - 1].to_string()
    } else {
        hex.to_string()
    }
}

fn encode_fn(a: &[Value]) -> Result<Value> {
    let text = args::string(&a[0])?;
    let key = format!(
        "{}{}",
        args::string(&a[1])?.to_lowercase(),
        args::string(&a[2])?.to_lowercase()
    );
    let out = match key.as_str() {
        "hexascii" => encoding::ascii_string(&encoding::decode_hex_commons(&hex_strip(text))?),
        "hexutf8" => encoding::utf8_string(&encoding::decode_hex_commons(&hex_strip(text))?),
        "hexbase64" => encoding::base64_encode(&encoding::decode_hex_commons(&hex_strip(text))?),
        "utf8ascii" => encoding::ascii_string(text.as_bytes()),
        "utf8hex" => encoding::hex_lower(text.as_bytes()),
        "utf8base64" => encoding::base64_encode(text.as_bytes()),
        "asciiutf8" => encoding::utf8_string(&encoding::ascii_bytes(text)),
        "asciihex" => encoding::hex_lower(&encoding::ascii_bytes(text)),
        "asciibase64" => encoding::base64_encode(&encoding::ascii_bytes(text)),
        "base64ascii" => encoding::ascii_string(&encoding::base64_decode_lenient(text)),
        "base64utf8" => encoding::utf8_string(&encoding::base64_decode_lenient(text)),
        "base64hex" => encoding::hex_lower(&encoding::base64_decode_lenient(text)),
        _ => {
            return Err(SqlError::eval(
                "Supported input and output encodings are: hex, utf8, ascii and base64",
            ));
        }
    };
    string(out)
}

/// INITCAP: words are runs of non-whitespace (Java's `\s`); leading whitespace is
/// dropped, as ksqlDB's matcher loop drops it.
fn initcap(text: &str) -> String {
    let lower = text.to_lowercase();
    let is_ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
    let mut out = String::with_capacity(lower.len());
    let mut at_word_start = true;
    let mut started = false;
    for c in lower.chars() {
        if is_ws(c) {
            if started {
                out.push(c);
            }
            at_word_start = true;
        } else {
            if at_word_start {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            at_word_start = false;
            started = true;
        }
    }
    out
}

/// SPLIT of a string: by the literal delimiter, empty pieces kept; an empty delimiter
/// splits every character.
fn split_string(text: &str, delimiter: &str) -> Vec<Value> {
    if delimiter.is_empty() {
        if text.is_empty() {
            return vec![Value::String(String::new())];
        }
        return text.chars().map(|c| Value::String(c.to_string())).collect();
    }
    text.split(delimiter)
        .map(|p| Value::String(p.to_string()))
        .collect()
}

/// `BytesUtils.split`.
fn split_bytes(bytes: &[u8], delimiter: &[u8]) -> Vec<Value> {
    if bytes.is_empty() {
        return vec![Value::Bytes(Vec::new())];
    }
    if delimiter.is_empty() {
        return bytes.iter().map(|&b| Value::Bytes(vec![b])).collect();
    }
    let mut out = Vec::new();
    let mut offset = 0;
    let mut i = 0;
    while i + delimiter.len() <= bytes.len() {
        if &bytes[i..i + delimiter.len()] == delimiter {
            out.push(Value::Bytes(bytes[offset..i].to_vec()));
            offset = i + delimiter.len();
            i = offset;
        } else {
            i += 1;
        }
    }
    out.push(Value::Bytes(bytes[offset..].to_vec()));
    out
}

fn split_fn(a: &[Value]) -> Result<Value> {
    Ok(Value::Array(match (&a[0], &a[1]) {
        (Value::String(t), Value::String(d)) => split_string(t, d),
        (Value::Bytes(t), Value::Bytes(d)) => split_bytes(t, d),
        _ => return Err(SqlError::eval("SPLIT of mismatched arguments")),
    }))
}

fn regexp_split(text: &str, pattern: &str) -> Result<Value> {
    let re = jregex::compile(pattern)?;
    let pieces: Vec<String> = if pattern.is_empty() || re.is_match("") {
        jregex::split(&re, text)
    } else {
        let mut pieces = Vec::new();
        let mut last = 0;
        for (start, end) in jregex::find_all(&re, text) {
            pieces.push(text[last..start].to_string());
            last = end;
        }
        pieces.push(text[last..].to_string());
        pieces
    };
    Ok(Value::Array(
        pieces.into_iter().map(Value::String).collect(),
    ))
}

fn group_arg(a: &[Value]) -> Result<i32> {
    match a.get(2) {
        Some(g) => args::int(g),
        None => Ok(0),
    }
}

fn regexp_extract(a: &[Value]) -> Result<Value> {
    let re = jregex::compile(args::string(&a[0])?)?;
    let input = args::string(&a[1])?;
    let group = group_arg(a)?;
    if group > jregex::group_count(&re) as i32 {
        return Ok(Value::Null);
    }
    if group < 0 {
        return Err(SqlError::eval(format!("No group {group}")));
    }
    Ok(match re.captures(input) {
        Some(caps) => caps
            .get(group as usize)
            .map(|m| Value::String(m.as_str().to_string()))
            .unwrap_or(Value::Null),
        None => Value::Null,
    })
}

fn regexp_extract_all(a: &[Value]) -> Result<Value> {
    let re = jregex::compile(args::string(&a[0])?)?;
    let input = args::string(&a[1])?;
    let group = group_arg(a)?;
    if group > jregex::group_count(&re) as i32 {
        return Ok(Value::Null);
    }
    if group < 0 {
        return Err(SqlError::eval(format!("No group {group}")));
    }
    let mut out = Vec::new();
    for (start, _) in jregex::find_all(&re, input) {
        let caps = re.captures_at(input, start);
        out.push(
            caps.and_then(|c| c.get(group as usize))
                .map(|m| Value::String(m.as_str().to_string()))
                .unwrap_or(Value::Null),
        );
    }
    Ok(Value::Array(out))
}

fn split_to_map(a: &[Value]) -> Result<Value> {
    let input = args::string(&a[0])?;
    let entry = args::string(&a[1])?;
    let kv = args::string(&a[2])?;
    if entry.is_empty() || kv.is_empty() || entry == kv {
        return Ok(Value::Null);
    }
    let mut map = JavaHashMap::new();
    for piece in input.split(entry).filter(|p| !p.is_empty()) {
        if !piece.contains(kv) {
            continue;
        }
        let mut parts = piece.split(kv);
        let key = parts.next().unwrap_or_default();
        let value = parts.next().unwrap_or_default();
        map.put(
            Value::String(key.to_string()),
            Value::String(value.to_string()),
        );
    }
    Ok(Value::Map(map.into_entries()))
}

/// MD5 of bytes (RFC 1321), written here because eddy-sql has no digest dependency.
pub(crate) fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut message = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in message.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(k[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, word) in state.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_scalar(
        ScalarFunction::new(
            "ucase",
            "Returns an upper-case version of the input string.",
        )
        .with(vec![s()], SqlType::String, |a| {
            string(args::string(&a[0])?.to_uppercase())
        }),
    );
    r.add_scalar(
        ScalarFunction::new("lcase", "Returns a lower-case version of the input string.").with(
            vec![s()],
            SqlType::String,
            |a| string(args::string(&a[0])?.to_lowercase()),
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "len",
            "Returns the length of the input string or byte array.",
        )
        .with(vec![s()], SqlType::Int, |a| {
            Ok(Value::Int(java::len(args::string(&a[0])?) as i32))
        })
        .with(vec![b()], SqlType::Int, |a| {
            Ok(Value::Int(args::bytes(&a[0])?.len() as i32))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "trim",
            "Remove whitespace from the beginning and end of a string.",
        )
        .with(vec![s()], SqlType::String, |a| {
            string(java::trim(args::string(&a[0])?).to_string())
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "concat",
            "Concatenate an arbitrary number of string or bytes fields together",
        )
        .with_nulls(vec![s()], SqlType::String, |a| {
            let mut out = String::new();
            for v in a {
                if let Some(text) = args::opt_string(v)? {
                    out.push_str(text);
                }
            }
            string(out)
        })
        .variadic()
        .with_nulls(vec![b()], SqlType::Bytes, |a| {
            let mut out = Vec::new();
            for v in a {
                if let Value::Bytes(bytes) = v {
                    out.extend_from_slice(bytes);
                }
            }
            Ok(Value::Bytes(out))
        })
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "concat_ws",
            "Concatenate several strings or bytes, inserting a separator passed as the first \
             argument between each one.",
        )
        .with_nulls(vec![s()], SqlType::String, |a| {
            if a.len() < 2 {
                return Err(SqlError::eval(
                    "Function Concat_WS expects at least two input arguments.",
                ));
            }
            let Some(separator) = args::opt_string(&a[0])? else {
                return Ok(Value::Null);
            };
            let mut parts = Vec::new();
            for v in &a[1..] {
                if let Some(text) = args::opt_string(v)? {
                    parts.push(text);
                }
            }
            string(parts.join(separator))
        })
        .variadic()
        .with_nulls(vec![b()], SqlType::Bytes, |a| {
            if a.len() < 2 {
                return Err(SqlError::eval(
                    "Function Concat_WS expects at least two input arguments.",
                ));
            }
            let Value::Bytes(separator) = &a[0] else {
                return Ok(Value::Null);
            };
            let parts: Vec<&[u8]> = a[1..]
                .iter()
                .filter_map(|v| match v {
                    Value::Bytes(b) => Some(b.as_slice()),
                    _ => None,
                })
                .collect();
            Ok(Value::Bytes(parts.join(separator.as_slice())))
        })
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "substring",
            "Returns the portion of the string or bytes passed in value.",
        )
        .with(vec![s(), i()], SqlType::String, substring_fn)
        .with(vec![s(), i(), i()], SqlType::String, substring_fn)
        .with(vec![b(), i()], SqlType::Bytes, substring_fn)
        .with(vec![b(), i(), i()], SqlType::Bytes, substring_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "instr",
            "Returns the position of substring in the provided string",
        )
        .with_nulls(vec![s(), s()], SqlType::Int, instr_fn)
        .with_nulls(vec![s(), s(), i()], SqlType::Int, instr_fn)
        .with_nulls(vec![s(), s(), i(), i()], SqlType::Int, instr_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "LPad",
            "Pads the input string or bytes, starting from the beginning, with the specified \
             padding string until the target length is reached.",
        )
        .with_nulls(vec![s(), i(), s()], SqlType::String, |a| pad_fn(a, true))
        .with_nulls(vec![b(), i(), b()], SqlType::Bytes, |a| pad_fn(a, true)),
    );
    r.add_scalar(
        ScalarFunction::new(
            "RPad",
            "Pads the input string or bytes, starting from the end, with the specified padding \
             string until the target length is reached.",
        )
        .with_nulls(vec![s(), i(), s()], SqlType::String, |a| pad_fn(a, false))
        .with_nulls(vec![b(), i(), b()], SqlType::Bytes, |a| pad_fn(a, false)),
    );
    r.add_scalar(
        ScalarFunction::new(
            "replace",
            "Replaces all occurances of a substring in a string with a new substring.",
        )
        .with(vec![s(), s(), s()], SqlType::String, |a| {
            let (text, old, new) = (
                args::string(&a[0])?,
                args::string(&a[1])?,
                args::string(&a[2])?,
            );
            string(text.replace(old, new))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "regexp_extract",
            "extract the first subtring matched by a regex pattern",
        )
        .with(vec![s(), s()], SqlType::String, regexp_extract)
        .with(vec![s(), s(), i()], SqlType::String, regexp_extract),
    );
    r.add_scalar(
        ScalarFunction::new(
            "regexp_extract_all",
            "Extracts the all subtrings matched by a regex pattern",
        )
        .with(
            vec![s(), s()],
            SqlType::array(SqlType::String),
            regexp_extract_all,
        )
        .with(
            vec![s(), s(), i()],
            SqlType::array(SqlType::String),
            regexp_extract_all,
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "regexp_replace",
            "Replaces all matches of a regexp in a string with a new substring.",
        )
        .with(vec![s(), s(), s()], SqlType::String, |a| {
            let re = jregex::compile(args::string(&a[1])?)?;
            string(jregex::replace_all(
                &re,
                args::string(&a[0])?,
                args::string(&a[2])?,
            )?)
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "regexp_split_to_array",
            "Splits a string into an array of substrings based on a regexp.",
        )
        .with(vec![s(), s()], SqlType::array(SqlType::String), |a| {
            regexp_split(args::string(&a[0])?, args::string(&a[1])?)
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "split",
            "Splits a string or bytes into an array of substrings or bytes based on a delimiter.",
        )
        .with(vec![s(), s()], SqlType::array(SqlType::String), split_fn)
        .with(vec![b(), b()], SqlType::array(SqlType::Bytes), split_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "split_to_map",
            "Splits a string into key-value pairs and creates a map from them.",
        )
        .with(
            vec![s(), s(), s()],
            SqlType::map(SqlType::String, SqlType::String),
            split_to_map,
        ),
    );
    r.add_scalar(
        ScalarFunction::new(
            "initcap",
            "Capitalizes the first letter of each word in a string and the rest lowercased. \
             Words are delimited by whitespace.",
        )
        .with(vec![s()], SqlType::String, |a| {
            string(initcap(args::string(&a[0])?))
        }),
    );
    let mask_default = |kind: MaskKind| move |a: &[Value]| mask_fn(kind, a);
    r.add_scalar(
        ScalarFunction::new(
            "mask",
            "Returns a version of the input string with every character replaced by a mask.",
        )
        .with(vec![s()], SqlType::String, mask_default(MaskKind::All))
        .with_nulls(
            vec![s(), s(), s(), s(), s()],
            SqlType::String,
            mask_default(MaskKind::All),
        ),
    );
    for (kind, description) in [
        (
            MaskKind::KeepLeft,
            "Returns a version of the input string with all but the specified number of \
             left-most characters masked out.",
        ),
        (
            MaskKind::KeepRight,
            "Returns a version of the input string with all but the specified number of \
             right-most characters masked out.",
        ),
        (
            MaskKind::Left,
            "Returns a version of the input string with the specified number of characters, \
             starting from the beginning of the string, masked out.",
        ),
        (
            MaskKind::Right,
            "Returns a version of the input string with the specified number of characters, \
             counting back from the end of the string, masked out.",
        ),
    ] {
        r.add_scalar(
            ScalarFunction::new(kind.name(), description)
                .with_nulls(vec![s(), i()], SqlType::String, mask_default(kind))
                .with_nulls(
                    vec![s(), i(), s(), s(), s(), s()],
                    SqlType::String,
                    mask_default(kind),
                ),
        );
    }
    r.add_scalar(
        ScalarFunction::new(
            "Chr",
            "Returns a single-character string corresponding to the input character code.",
        )
        .with(vec![i()], SqlType::String, chr_fn)
        .with(vec![s()], SqlType::String, chr_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "elt",
            "ELT() returns the Nth element of the list of strings. Returns NULL if N is less \
             than 1 or greater than the number of arguments.",
        )
        .with_nulls(vec![i(), s()], SqlType::String, |a| {
            let n = args::primitive_int(&a[0])?;
            let values = &a[1..];
            if n < 1 || n as usize > values.len() {
                return Ok(Value::Null);
            }
            Ok(values[n as usize - 1].clone())
        })
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "field",
            "Returns the position (1-indexed) of str in args, or 0 if not found.",
        )
        .with_nulls(vec![s(), s()], SqlType::Int, |a| {
            let Some(needle) = args::opt_string(&a[0])? else {
                return Ok(Value::Int(0));
            };
            for (i, v) in a[1..].iter().enumerate() {
                if args::opt_string(v)? == Some(needle) {
                    return Ok(Value::Int(i as i32 + 1));
                }
            }
            Ok(Value::Int(0))
        })
        .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "encode",
            "Takes an input string s, which is encoded as input_encoding, and encodes it as \
             output_encoding.",
        )
        .with(vec![s(), s(), s()], SqlType::String, encode_fn),
    );
    r.add_scalar(
        ScalarFunction::new(
            "to_bytes",
            "Converts a STRING value in the specified encoding to BYTES.",
        )
        .with(vec![s(), s()], SqlType::Bytes, |a| {
            let encoding = Encoding::from_name(args::string(&a[1])?)?;
            Ok(Value::Bytes(encoding::decode(
                args::string(&a[0])?,
                encoding,
            )?))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "from_bytes",
            "Converts a BYTES value to STRING in the specified encoding.",
        )
        .with(vec![b(), s()], SqlType::String, |a| {
            let encoding = Encoding::from_name(args::string(&a[1])?)?;
            string(encoding::encode(args::bytes(&a[0])?, encoding))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "md5",
            "Computes the hex-encoded md5 hash of the given string",
        )
        .with(vec![s()], SqlType::String, |a| {
            string(encoding::hex_lower(&md5(args::string(&a[0])?.as_bytes())))
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "UUID",
            "Create a Universally Unique Identifier (UUID) generated according to RFC 4122.",
        )
        .with_datafusion(
            vec![],
            SqlType::String,
            typed::nullary_udf("uuid", SqlType::String, || {
                let (hi, lo) = rng::uuid_v4();
                string(rng::uuid_string(hi, lo))
            }),
        )
        .with(vec![b()], SqlType::String, |a| {
            let bytes = args::bytes(&a[0])?;
            if bytes.len() != 16 {
                return Ok(Value::Null);
            }
            let mut hi = [0u8; 8];
            let mut lo = [0u8; 8];
            hi.copy_from_slice(&bytes[..8]);
            lo.copy_from_slice(&bytes[8..]);
            string(rng::uuid_string(
                u64::from_be_bytes(hi),
                u64::from_be_bytes(lo),
            ))
        }),
    );
}
