//! The Java semantics ksqlDB's UDAFs inherit from the values they hold: `compareTo`
//! (MIN, MAX, TOPK, TOPKDISTINCT), `equals` (COLLECT_SET, COLLECT_LIST's undo, HISTOGRAM,
//! ATTR, TOPKDISTINCT) and `toString` (which COUNT_DISTINCT hashes for most types), and
//! stream-lib's MurmurHash (COUNT_DISTINCT's HyperLogLog).

use std::cmp::Ordering;

use chrono::DateTime;

use crate::types::SqlType;
use crate::value::{Value, format_decimal, format_double};

/// Java's `compareTo` for two non-NULL values of the same type: `Double.compareTo` (-0.0
/// below 0.0, NaN above everything), `BigDecimal.compareTo` (by value), `String.compareTo`
/// (by UTF-16 code unit), `ByteBuffer.compareTo` (by signed byte, then length).
pub(super) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) | (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        (Value::BigInt(x), Value::BigInt(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => {
            x.cmp(y)
        }
        (Value::Double(x), Value::Double(y)) => compare_doubles(*x, *y),
        (Value::Decimal(x, s), Value::Decimal(y, t)) if s == t => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.encode_utf16().cmp(y.encode_utf16()),
        (Value::Bytes(x), Value::Bytes(y)) => {
            x.iter().map(|b| *b as i8).cmp(y.iter().map(|b| *b as i8))
        }
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        _ => a.total_cmp(b),
    }
}

/// `Double.compare`.
pub(super) fn compare_doubles(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // -0.0 < 0.0, otherwise numerically.
        _ => x.total_cmp(&y),
    }
}

/// Java's `Objects.equals` on the values ksqlDB holds: doubles by bits (NaN equals NaN,
/// -0.0 does not equal 0.0), decimals by value and scale, maps regardless of order.
pub(super) fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::Array(x), Value::Array(y)) | (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| equals(k, k2) && equals(v, v2)))
        }
        _ => a == b,
    }
}

/// Java's `toString` of the value ksqlDB holds for a SQL value (`java.sql.Timestamp`,
/// `java.sql.Date`, `java.sql.Time` in UTC, `BigDecimal`, `ByteBuffer`, `List`, `Map`,
/// Connect's `Struct`).
pub(super) fn to_string(value: &Value, ty: Option<&SqlType>) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Int(v) => v.to_string(),
        Value::BigInt(v) => v.to_string(),
        Value::Double(v) => format_double(*v),
        Value::Decimal(u, s) => big_decimal_string(*u, *s),
        Value::String(s) => s.clone(),
        Value::Bytes(b) => format!("java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len()),
        Value::Timestamp(ms) => timestamp_string(*ms),
        Value::Date(days) => DateTime::from_timestamp(*days as i64 * 86_400, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| days.to_string()),
        Value::Time(ms) => DateTime::from_timestamp_millis(*ms as i64)
            .map(|d| d.format("%H:%M:%S").to_string())
            .unwrap_or_else(|| ms.to_string()),
        Value::Array(items) => {
            let element = match ty {
                Some(SqlType::Array(e)) => Some(&**e),
                _ => None,
            };
            let inner: Vec<String> = items.iter().map(|v| to_string(v, element)).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Map(entries) => {
            let (kt, vt) = match ty {
                Some(SqlType::Map(k, v)) => (Some(&**k), Some(&**v)),
                _ => (None, None),
            };
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}={}", to_string(k, kt), to_string(v, vt)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::Struct(values) => {
            // Connect's Struct.toString: the non-null fields, `name=value`, comma separated.
            let names: Vec<Option<&str>> = match ty {
                Some(SqlType::Struct(fields)) => {
                    fields.iter().map(|f| Some(f.name.as_str())).collect()
                }
                _ => Vec::new(),
            };
            let types: Vec<Option<&SqlType>> = match ty {
                Some(SqlType::Struct(fields)) => fields.iter().map(|f| Some(&f.ty)).collect(),
                _ => Vec::new(),
            };
            let inner: Vec<String> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| {
                    let name = names.get(i).copied().flatten().unwrap_or("?");
                    let t = types.get(i).copied().flatten();
                    format!("{name}={}", to_string(v, t))
                })
                .collect();
            format!("Struct{{{}}}", inner.join(","))
        }
    }
}

/// `BigDecimal.toString`: plain unless the adjusted exponent is below -6, then scientific
/// (`1.23E-8`).
pub(super) fn big_decimal_string(unscaled: i128, scale: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let adjusted = digits.len() as i64 - 1 - scale as i64;
    if scale == 0 || adjusted >= -6 {
        return format_decimal(unscaled, scale);
    }
    let (first, rest) = digits.split_at(1);
    let sign = if unscaled < 0 { "-" } else { "" };
    if rest.is_empty() {
        format!("{sign}{first}E{adjusted}")
    } else {
        format!("{sign}{first}.{rest}E{adjusted}")
    }
}

/// `java.sql.Timestamp.toString` in UTC: `2021-01-02 03:04:05.6` (the fraction without
/// trailing zeros, at least one digit).
fn timestamp_string(ms: i64) -> String {
    let Some(t) = DateTime::from_timestamp_millis(ms) else {
        return ms.to_string();
    };
    let nanos = ms.rem_euclid(1000) * 1_000_000;
    let fraction = if nanos == 0 {
        "0".to_string()
    } else {
        let padded = format!("{nanos:09}");
        padded.trim_end_matches('0').to_string()
    };
    format!("{}.{fraction}", t.format("%Y-%m-%d %H:%M:%S"))
}

/// stream-lib's `MurmurHash.hash(Object)` of the value ksqlDB holds: Integer and Long by
/// `hashLong`, Double by its raw bits, String by its UTF-8 bytes, anything else by its
/// `toString`.
pub(super) fn murmur_object(value: &Value, ty: Option<&SqlType>) -> i32 {
    match value {
        Value::Null => 0,
        Value::Int(v) => murmur_long(*v as i64),
        Value::BigInt(v) => murmur_long(*v),
        Value::Double(v) => murmur_long(v.to_bits() as i64),
        Value::String(s) => murmur_bytes(s.as_bytes()),
        other => murmur_bytes(to_string(other, ty).as_bytes()),
    }
}

const MURMUR_M: i32 = 0x5bd1_e995;

/// Java's `>>>` on an int.
fn ushr(v: i32, n: u32) -> i32 {
    ((v as u32) >> n) as i32
}

/// stream-lib's 32-bit `MurmurHash.hash(byte[])` (seed -1). Java bytes are signed: the
/// tail bytes are sign-extended, as there.
pub(super) fn murmur_bytes(data: &[u8]) -> i32 {
    let length = data.len() as i32;
    let mut h: i32 = -1 ^ length;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(MURMUR_M);
        k ^= ushr(k, 24);
        k = k.wrapping_mul(MURMUR_M);
        h = h.wrapping_mul(MURMUR_M);
        h ^= k;
    }
    if !tail.is_empty() {
        let n = tail.len();
        if n >= 3 {
            h ^= ((tail[n - 3] as i8) as i32) << 16;
        }
        if n >= 2 {
            h ^= ((tail[n - 2] as i8) as i32) << 8;
        }
        h ^= (tail[n - 1] as i8) as i32;
        h = h.wrapping_mul(MURMUR_M);
    }
    h ^= ushr(h, 13);
    h = h.wrapping_mul(MURMUR_M);
    h ^= ushr(h, 15);
    h
}

/// stream-lib's `MurmurHash.hashLong`.
pub(super) fn murmur_long(data: i64) -> i32 {
    let mut h: i32 = 0;
    let mut k = (data as i32).wrapping_mul(MURMUR_M);
    k ^= ushr(k, 24);
    h ^= k.wrapping_mul(MURMUR_M);
    k = ((data >> 32) as i32).wrapping_mul(MURMUR_M);
    k ^= ushr(k, 24);
    h = h.wrapping_mul(MURMUR_M);
    h ^= k.wrapping_mul(MURMUR_M);
    h ^= ushr(h, 13);
    h = h.wrapping_mul(MURMUR_M);
    h ^= ushr(h, 15);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_compare_by_utf16_code_units() {
        // U+FF61 is above U+1F600 in UTF-16 (the latter is a surrogate pair, 0xD83D...).
        let a = Value::String("\u{ff61}".into());
        let b = Value::String("\u{1f600}".into());
        assert_eq!(compare(&a, &b), Ordering::Greater);
        assert_eq!(a.total_cmp(&b), Ordering::Less);
    }

    #[test]
    fn bytes_compare_signed() {
        let a = Value::Bytes(vec![0x80]);
        let b = Value::Bytes(vec![0x01]);
        assert_eq!(compare(&a, &b), Ordering::Less);
        assert_eq!(
            compare(&Value::Bytes(vec![1]), &Value::Bytes(vec![1, 0])),
            Ordering::Less
        );
    }

    #[test]
    fn doubles_compare_and_equal_as_java() {
        assert_eq!(compare_doubles(-0.0, 0.0), Ordering::Less);
        assert_eq!(compare_doubles(f64::NAN, f64::INFINITY), Ordering::Greater);
        assert!(!equals(&Value::Double(0.0), &Value::Double(-0.0)));
        assert!(equals(&Value::Double(f64::NAN), &Value::Double(f64::NAN)));
    }

    #[test]
    fn maps_are_equal_regardless_of_order() {
        let a = Value::Map(vec![
            (Value::String("a".into()), Value::Int(1)),
            (Value::String("b".into()), Value::Int(2)),
        ]);
        let b = Value::Map(vec![
            (Value::String("b".into()), Value::Int(2)),
            (Value::String("a".into()), Value::Int(1)),
        ]);
        assert!(equals(&a, &b));
    }

    #[test]
    fn to_string_is_javas() {
        assert_eq!(big_decimal_string(123, 2), "1.23");
        assert_eq!(big_decimal_string(1, 7), "1E-7");
        assert_eq!(big_decimal_string(-123, 10), "-1.23E-8");
        assert_eq!(big_decimal_string(0, 10), "0E-10");
        assert_eq!(big_decimal_string(1, 6), "0.000001");
        assert_eq!(
            to_string(&Value::Timestamp(1500), None),
            "1970-01-01 00:00:01.5"
        );
        assert_eq!(
            to_string(&Value::Timestamp(0), None),
            "1970-01-01 00:00:00.0"
        );
        assert_eq!(to_string(&Value::Date(1), None), "1970-01-02");
        assert_eq!(to_string(&Value::Time(3_723_000), None), "01:02:03");
        let ty = SqlType::structure([("A", SqlType::Int), ("B", SqlType::String)]);
        assert_eq!(
            to_string(&Value::Struct(vec![Value::Int(1), Value::Null]), Some(&ty)),
            "Struct{A=1}"
        );
        assert_eq!(
            to_string(
                &Value::Array(vec![Value::Double(1.0), Value::Null]),
                Some(&SqlType::array(SqlType::Double))
            ),
            "[1.0, null]"
        );
    }

    #[test]
    fn hashes_as_stream_lib() {
        // Reference values from stream-lib's MurmurHash (ksqlDB's vendored copy).
        assert_eq!(murmur_bytes(b""), -1285986640);
        assert_eq!(murmur_bytes(b"a"), 713507990);
        assert_eq!(murmur_bytes(b"ab"), -1797532438);
        assert_eq!(murmur_bytes(b"abc"), -1465591341);
        assert_eq!(murmur_bytes(b"abcd"), 1555318719);
        assert_eq!(murmur_bytes(b"abcde"), -392878951);
        assert_eq!(murmur_bytes("h\u{e9}llo".as_bytes()), -255011586);
        assert_eq!(murmur_bytes("\u{ff}\u{fe}\u{fd}".as_bytes()), 326319349);
        assert_eq!(murmur_long(0), 0);
        assert_eq!(murmur_long(1), 1527037976);
        assert_eq!(murmur_long(-1), -2037786185);
        assert_eq!(murmur_long(i64::MAX), 310834921);
        assert_eq!(murmur_long(1234567890123), 985882080);
        assert_eq!(murmur_object(&Value::Int(-5), None), 615997438);
        assert_eq!(murmur_object(&Value::Double(1.5), None), -1688758945);
        assert_eq!(murmur_object(&Value::Boolean(true), None), 1948193093);
        assert_eq!(murmur_object(&Value::Decimal(123, 2), None), 2062904950);
    }
}
