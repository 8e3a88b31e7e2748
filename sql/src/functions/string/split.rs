//! Splitting and extracting: SPLIT of strings and bytes, SPLIT_TO_MAP, and the Java regular
//! expression functions REGEXP_SPLIT_TO_ARRAY and REGEXP_EXTRACT(_ALL).

use crate::error::{Result, SqlError};
use crate::functions::java::JavaHashMap;
use crate::functions::{args, jregex};
use crate::value::Value;

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

pub(super) fn split_fn(a: &[Value]) -> Result<Value> {
    Ok(Value::Array(match (&a[0], &a[1]) {
        (Value::String(t), Value::String(d)) => split_string(t, d),
        (Value::Bytes(t), Value::Bytes(d)) => split_bytes(t, d),
        _ => return Err(SqlError::eval("SPLIT of mismatched arguments")),
    }))
}

pub(super) fn regexp_split(text: &str, pattern: &str) -> Result<Value> {
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

pub(super) fn regexp_extract(a: &[Value]) -> Result<Value> {
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

pub(super) fn regexp_extract_all(a: &[Value]) -> Result<Value> {
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

pub(super) fn split_to_map(a: &[Value]) -> Result<Value> {
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
