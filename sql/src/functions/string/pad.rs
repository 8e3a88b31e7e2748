//! LPAD / RPAD of strings (on UTF-16 code units) and bytes.

use crate::error::{Result, SqlError};
use crate::functions::args;
use crate::functions::java;
use crate::value::Value;

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

pub(super) fn pad_fn(a: &[Value], left: bool) -> Result<Value> {
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
