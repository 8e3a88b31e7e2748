//! Positions in strings on UTF-16 code units, as Java's `String` counts them: SUBSTRING
//! and INSTR.

use crate::error::{Result, SqlError};
use crate::functions::args;
use crate::functions::java;
use crate::value::Value;

use super::string;

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

pub(super) fn substring_fn(a: &[Value]) -> Result<Value> {
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
pub(super) fn instr(text: &str, sub: &str, position: i32, occurrence: i32) -> i32 {
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

pub(super) fn instr_fn(a: &[Value]) -> Result<Value> {
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
