//! A small JSON reader and writer that keep numbers as written.
//!
//! Written here rather than taken from serde_json because ksqlDB's JSON semantics need the
//! exact text of numbers (`10.00` is DECIMAL(4, 2), and its scale matters), and serde_json
//! keeps that only with its `arbitrary_precision` feature, which would change number
//! handling for every crate in the build. The reader also skips `//` and `/* */` comments
//! when asked (ksqlDB's test files have them).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::json_object::{items, members};

/// A JSON value; numbers keep their text.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, fields in order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// A field of an object, by exact name.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Self::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number as an i64, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// The array's items, if this is one.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The value as compact JSON text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }
}

/// Why JSON text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// What went wrong.
    pub message: String,
    /// The byte offset.
    pub offset: usize,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

/// Parses one JSON value (whitespace around it allowed, nothing else).
pub fn parse_json(text: &[u8]) -> Result<Json, JsonError> {
    Reader::new(text, false).document()
}

/// Parses one JSON value, skipping `//` and `/* */` comments.
pub fn parse_json_with_comments(text: &[u8]) -> Result<Json, JsonError> {
    Reader::new(text, true).document()
}

/// A nesting limit, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
    comments: bool,
    pub(super) depth: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8], comments: bool) -> Self {
        Self {
            bytes,
            at: 0,
            comments,
            depth: 0,
        }
    }

    pub(super) fn err<T>(&self, message: impl Into<String>) -> Result<T, JsonError> {
        Err(JsonError {
            message: message.into(),
            offset: self.at,
        })
    }

    fn document(mut self) -> Result<Json, JsonError> {
        self.skip_ws()?;
        let value = self.value()?;
        self.skip_ws()?;
        if self.at != self.bytes.len() {
            return self.err("unexpected text after the JSON value");
        }
        Ok(value)
    }

    #[inline]
    pub(super) fn skip_ws(&mut self) -> Result<(), JsonError> {
        loop {
            match self.bytes.get(self.at) {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.at += 1,
                Some(b'/') if self.comments => match self.bytes.get(self.at + 1) {
                    Some(b'/') => {
                        while let Some(&c) = self.bytes.get(self.at) {
                            if c == b'\n' {
                                break;
                            }
                            self.at += 1;
                        }
                    }
                    Some(b'*') => {
                        self.at += 2;
                        loop {
                            match self.bytes.get(self.at) {
                                None => return self.err("unterminated comment"),
                                Some(b'*') if self.bytes.get(self.at + 1) == Some(&b'/') => {
                                    self.at += 2;
                                    break;
                                }
                                _ => self.at += 1,
                            }
                        }
                    }
                    _ => return Ok(()),
                },
                _ => return Ok(()),
            }
        }
    }

    pub(super) fn value(&mut self) -> Result<Json, JsonError> {
        match self.bytes.get(self.at) {
            None => self.err("unexpected end of JSON"),
            Some(b'{') => {
                let mut fields = Vec::new();
                members(self, |r, name| {
                    let name = name.text()?.into_owned();
                    fields.push((name, r.value()?));
                    Ok(())
                })?;
                Ok(Json::Object(fields))
            }
            Some(b'[') => {
                let mut values = Vec::new();
                items(self, |r| {
                    values.push(r.value()?);
                    Ok(())
                })?;
                Ok(Json::Array(values))
            }
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("unexpected character"),
        }
    }

    /// Checks and passes over one value, allocating nothing for scalars.
    pub(super) fn skip_value(&mut self) -> Result<(), JsonError> {
        match self.bytes.get(self.at) {
            Some(b'"') => {
                self.at += 1;
                let start = self.at;
                loop {
                    match self.bytes.get(self.at) {
                        None => return self.err("unterminated string"),
                        Some(b'"') => {
                            if std::str::from_utf8(&self.bytes[start..self.at]).is_err() {
                                return self.err("invalid UTF-8 in string");
                            }
                            self.at += 1;
                            return Ok(());
                        }
                        Some(b'\\') => self.at += 2,
                        Some(&c) if c < 0x20 => return self.err("control character in string"),
                        Some(_) => self.at += 1,
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            // Containers and literals: parsed (and checked) as usual.
            _ => self.value().map(drop),
        }
    }

    pub(super) fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("JSON nested too deeply");
        }
        Ok(())
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            self.err("unexpected word")
        }
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        self.number_text()
            .map(|text| Json::Number(text.to_string()))
    }

    /// Reads a number, returning its text.
    #[inline]
    pub(super) fn number_text(&mut self) -> Result<&'a str, JsonError> {
        let start = self.at;
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        let digits = |r: &mut Self| {
            let s = r.at;
            while matches!(r.bytes.get(r.at), Some(b'0'..=b'9')) {
                r.at += 1;
            }
            r.at > s
        };
        if !digits(self) {
            return self.err("expected digits");
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if !digits(self) {
                return self.err("expected digits after '.'");
            }
        }
        if matches!(self.bytes.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.bytes.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !digits(self) {
                return self.err("expected exponent digits");
            }
        }
        // Only ASCII was consumed.
        Ok(std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or("0"))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.string_cow().map(Cow::into_owned)
    }

    /// Reads a string: borrowed from the text when it has no escapes (the common case).
    pub(super) fn string_cow(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.at += 1; // opening quote
        // The common case, a string without escapes, is borrowed.
        let plain = special_byte(&self.bytes[self.at..]);
        if let Some(n) = plain
            && self.bytes[self.at + n] == b'"'
        {
            let text = std::str::from_utf8(&self.bytes[self.at..self.at + n])
                .or_else(|_| self.err("invalid UTF-8 in string"))?;
            self.at += n + 1;
            return Ok(Cow::Borrowed(text));
        }
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.bytes.get(self.at) else {
                return self.err("unterminated string");
            };
            match c {
                b'"' => {
                    self.at += 1;
                    break;
                }
                b'\\' => {
                    self.at += 1;
                    let Some(&e) = self.bytes.get(self.at) else {
                        return self.err("unterminated escape");
                    };
                    self.at += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code)
                                && self.bytes.get(self.at) == Some(&b'\\')
                                && self.bytes.get(self.at + 1) == Some(&b'u')
                            {
                                self.at += 2;
                                let low = self.hex4()?;
                                code =
                                    0x10000 + ((code - 0xD800) << 10) + (low.wrapping_sub(0xDC00));
                            }
                            let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return self.err("invalid escape"),
                    }
                }
                c if c < 0x20 => return self.err("control character in string"),
                _ => {
                    // The run up to the next quote, escape or control character at once.
                    let run =
                        special_byte(&self.bytes[self.at..]).unwrap_or(self.bytes.len() - self.at);
                    out.extend_from_slice(&self.bytes[self.at..self.at + run]);
                    self.at += run;
                }
            }
        }
        String::from_utf8(out)
            .map(Cow::Owned)
            .or_else(|_| self.err("invalid UTF-8 in string"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(hex) = self.bytes.get(self.at..self.at + 4) else {
            return self.err("short \\u escape");
        };
        let text = std::str::from_utf8(hex).unwrap_or("");
        let code = u32::from_str_radix(text, 16).or_else(|_| self.err("bad \\u escape"))?;
        self.at += 4;
        Ok(code)
    }
}

/// The position of the first byte a JSON string cannot hold as it is: a quote, a
/// backslash or a control character. Eight bytes are tested at a time (strings are mostly
/// plain, and this scan is a large part of reading a record).
#[inline]
pub(super) fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A high bit per byte of `v` that is zero (exact for the lowest such byte, which is
    // all that is needed to know a word holds one).
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut at = 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let v = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let found = zero_bytes(v ^ (ONES * u64::from(b'"')))
            | zero_bytes(v ^ (ONES * u64::from(b'\\')))
            // Bytes below 0x20, when the byte's own high bit is clear.
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGHS);
        if found != 0 {
            break;
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| at + p)
}

/// Appends `s` as a JSON string literal.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    if special_byte(s.as_bytes()).is_none() {
        // Nothing to escape (the common case): one copy.
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a value as compact JSON.
pub fn write_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::String(s) => write_json_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text() {
        let v = parse_json(br#"{"a": 10.00, "b": [1, -2e3], "c": "\u00e9\n"}"#).unwrap();
        assert_eq!(v.get("a"), Some(&Json::Number("10.00".into())));
        assert_eq!(v.to_text(), r#"{"a":10.00,"b":[1,-2e3],"c":"é\n"}"#);
    }

    #[test]
    fn strings_with_and_without_escapes() {
        let v = parse_json(r#"["plain", "a\"b\\c\u00e9d", "tab\tend", "ü"]"#.as_bytes()).unwrap();
        let items: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Json::as_str)
            .collect();
        assert_eq!(items, ["plain", "a\"b\\c\u{e9}d", "tab\tend", "ü"]);
        assert!(parse_json(b"\"raw\ncontrol\"").is_err());
        assert!(parse_json(b"\"unterminated").is_err());
        assert!(parse_json(b"\"bad \xff utf8\"").is_err());
        let mut out = String::new();
        write_json_string("plain", &mut out);
        write_json_string("q\"\\\n\u{1}", &mut out);
        assert_eq!(out, r#""plain""q\"\\\n\u0001""#);
    }

    #[test]
    fn comments_only_when_asked() {
        let text = b"// c\n{ /* x */ \"a\": 1 }";
        assert!(parse_json(text).is_err());
        assert_eq!(
            parse_json_with_comments(text).unwrap().get("a"),
            Some(&Json::Number("1".into()))
        );
    }

    #[test]
    fn special_bytes_are_found_wherever_they_are() {
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut bytes = vec![b'a'; len];
                    // Non-ASCII bytes around it must not hide it or be taken for it.
                    if at > 0 {
                        bytes[at - 1] = 0xc3;
                    }
                    bytes[at] = special;
                    assert_eq!(special_byte(&bytes), Some(at), "{len} {at} {special}");
                }
            }
            let mut plain = vec![b'z'; len];
            plain.extend("é€ \u{7f}".bytes().take(len % 7));
            assert_eq!(special_byte(&plain), None, "{len}");
        }
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        for bad in [
            &b"{"[..],
            b"[1,",
            b"\"abc",
            b"01x",
            b"{\"a\" 1}",
            b"nul",
            b"",
        ] {
            assert!(
                parse_json(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(10_000);
        assert!(parse_json(deep.as_bytes()).is_err());
    }
}
