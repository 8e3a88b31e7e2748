//! Conversions of text: CHR (code points and Java's escapes, Commons Text's
//! `unescapeJava`) and ENCODE between hex, utf8, ascii and base64.

use crate::error::{Result, SqlError};
use crate::functions::args;
use crate::functions::encoding;
use crate::functions::java;
use crate::value::Value;

use super::string;

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

pub(super) fn chr_fn(a: &[Value]) -> Result<Value> {
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

pub(super) fn encode_fn(a: &[Value]) -> Result<Value> {
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
