//! Order-preserving encodings of composite keys, so that a byte-ordered engine scans window
//! and session entries by key, then by time.
//!
//! A plain concatenation `key ++ timestamp` does not sort by key first when keys differ in
//! length (`"a" ++ t` and `"ab" ++ t` interleave), which is why Kafka Streams' window stores
//! filter range results. Here the user key is escaped (`0x00` becomes `0x00 0xFF`) and ends
//! with `0x00 0x00`, which keeps byte order equal to key order and makes every encoded key a
//! distinct prefix; timestamps follow as big-endian integers with the sign bit flipped, so
//! negative times sort before positive ones.

use crate::error::{Error, Result};

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x00;

/// Appends the escaped, terminated form of `key`.
pub fn encode_key_prefix(key: &[u8], out: &mut Vec<u8>) {
    out.reserve(key.len() + 2);
    for &b in key {
        if b == ESCAPE {
            out.extend_from_slice(&[ESCAPE, ESCAPED_ZERO]);
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

/// The escaped, terminated form of `key`: every composite key for `key` starts with it.
pub fn key_prefix(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2 + 16);
    encode_key_prefix(key, &mut out);
    out
}

/// Splits an encoded composite key into the user key and the rest.
pub fn decode_key_prefix(encoded: &[u8]) -> Result<(Vec<u8>, &[u8])> {
    let mut key = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let b = encoded[i];
        if b != ESCAPE {
            key.push(b);
            i += 1;
            continue;
        }
        match encoded.get(i + 1) {
            Some(&ESCAPED_ZERO) => {
                key.push(0);
                i += 2;
            }
            Some(&TERMINATOR) => return Ok((key, &encoded[i + 2..])),
            _ => break,
        }
    }
    Err(Error::Decode {
        what: "composite store key",
        reason: "the user key is not terminated".into(),
    })
}

/// A timestamp as 8 bytes whose byte order is numeric order.
pub fn encode_time(time: i64) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

/// Reads a timestamp written by [`encode_time`].
pub fn decode_time(bytes: &[u8]) -> Result<i64> {
    let raw: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Decode {
            what: "timestamp",
            reason: format!("{} bytes, need 8", bytes.len()),
        })?;
    Ok((u64::from_be_bytes(raw) ^ (1 << 63)) as i64)
}

/// `key` then `time`: the window store's key layout.
pub fn windowed_key(key: &[u8], window_start: i64) -> Vec<u8> {
    let mut out = key_prefix(key);
    out.extend_from_slice(&encode_time(window_start));
    out
}

/// Splits a windowed key into the user key and the window start.
pub fn decode_windowed_key(encoded: &[u8]) -> Result<(Vec<u8>, i64)> {
    let (key, rest) = decode_key_prefix(encoded)?;
    Ok((key, decode_time(rest)?))
}

/// `key`, then session end, then session start: the session store's key layout (by end
/// first, so "sessions ending at or after t" is a range scan).
pub fn session_key(key: &[u8], start: i64, end: i64) -> Vec<u8> {
    let mut out = key_prefix(key);
    out.extend_from_slice(&encode_time(end));
    out.extend_from_slice(&encode_time(start));
    out
}

/// Splits a session key into (user key, start, end).
pub fn decode_session_key(encoded: &[u8]) -> Result<(Vec<u8>, i64, i64)> {
    let (key, rest) = decode_key_prefix(encoded)?;
    let end = decode_time(rest)?;
    let start = decode_time(rest.get(8..).unwrap_or_default())?;
    Ok((key, start, end))
}

/// The smallest key greater than every key starting with `prefix`, or `None` if there is
/// none (the prefix is all `0xFF`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_keys_sort_by_key_then_time() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"\x00",
            b"\x00\x00",
            b"\x00\x01",
            b"a",
            b"a\x00",
            b"ab",
            b"b",
            b"\xff",
        ];
        let times = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        let mut pairs = Vec::new();
        for k in &keys {
            for t in times {
                pairs.push((k.to_vec(), t));
            }
        }
        let mut encoded: Vec<Vec<u8>> = pairs.iter().map(|(k, t)| windowed_key(k, *t)).collect();
        encoded.sort();
        let decoded: Vec<(Vec<u8>, i64)> = encoded
            .iter()
            .map(|e| decode_windowed_key(e).unwrap())
            .collect();
        let mut expected = pairs.clone();
        expected.sort();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn session_keys_round_trip() {
        let e = session_key(b"k\x00y", -3, 9);
        assert_eq!(decode_session_key(&e).unwrap(), (b"k\x00y".to_vec(), -3, 9));
        assert!(decode_key_prefix(b"abc").is_err());
        assert_eq!(prefix_successor(b"ab\xff"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
    }
}
