//! Java semantics that ksqlDB's functions inherit from the JDK: `String` indexes count
//! UTF-16 code units, `compareTo` orders strings by code unit and byte buffers by signed
//! byte, `equals` tells `0.0` from `-0.0`, `toString` prints doubles and `BigDecimal`s its
//! own way, and `HashMap` iterates in an order its hash table decides.

use std::cmp::Ordering;
use std::collections::HashSet;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;

use crate::error::{Result, SqlError};
use crate::value::{Value, format_double};

/// A string's UTF-16 code units.
pub fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// UTF-16 code units as a string (a lone surrogate, which a Rust string cannot hold,
/// becomes U+FFFD).
pub fn from_utf16(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

/// `String.length()`: the number of UTF-16 code units.
pub fn len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `String.trim()`: strips leading and trailing characters up to U+0020.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `String.compareTo`: lexicographic by UTF-16 code unit.
pub fn compare_str(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `ByteBuffer.compareTo`: lexicographic by signed byte.
pub fn compare_bytes(a: &[u8], b: &[u8]) -> Ordering {
    a.iter().map(|&x| x as i8).cmp(b.iter().map(|&x| x as i8))
}

/// `Double.compare`: -0.0 before 0.0, NaN after everything.
pub fn compare_double(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a > b {
        Ordering::Greater
    } else {
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => (!a.is_sign_negative()).cmp(&!b.is_sign_negative()),
        }
    }
}

/// `compareTo` of two non-null values of one Comparable Java type (Integer, Long, Double,
/// BigDecimal, String, ByteBuffer, Boolean, Date, Time, Timestamp); `None` for values that
/// are not Comparable in Java (lists, maps, structs).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    Some(match (a, b) {
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::BigInt(x), Value::BigInt(y)) => x.cmp(y),
        (Value::Double(x), Value::Double(y)) => compare_double(*x, *y),
        (Value::Decimal(..), Value::Decimal(..)) => a.as_big_decimal()?.cmp(&b.as_big_decimal()?),
        (Value::String(x), Value::String(y)) => compare_str(x, y),
        (Value::Bytes(x), Value::Bytes(y)) => compare_bytes(x, y),
        (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        _ => return None,
    })
}

/// `compare`, or ksqlDB's error for a type Java cannot compare.
pub fn compare_or_err(a: &Value, b: &Value, function: &str) -> Result<Ordering> {
    compare(a, b).ok_or_else(|| {
        SqlError::eval(format!(
            "{function}: values of this type are not comparable"
        ))
    })
}

/// A value whose `==` and hash are Java's `equals` and `hashCode` for values of one type:
/// doubles compare by bits (NaN equals NaN, 0.0 differs from -0.0).
pub fn equality_key(v: &Value) -> Value {
    match v {
        Value::Double(d) => {
            let bits = if d.is_nan() {
                f64::NAN.to_bits()
            } else {
                d.to_bits()
            };
            Value::BigInt(bits as i64)
        }
        Value::Array(items) => Value::Array(items.iter().map(equality_key).collect()),
        Value::Struct(items) => Value::Struct(items.iter().map(equality_key).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (equality_key(k), equality_key(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Java's `Objects.equals` for two values of one type.
pub fn equals(a: &Value, b: &Value) -> bool {
    equality_key(a) == equality_key(b)
}

/// The distinct values in order of first occurrence (a `LinkedHashSet`).
pub fn distinct(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(equality_key(v)))
        .collect()
}

/// The set of values (a `HashSet`), for membership tests.
pub fn value_set<'a>(values: impl IntoIterator<Item = &'a Value>) -> HashSet<Value> {
    values.into_iter().map(equality_key).collect()
}

/// `BigDecimal.toString()`: plain unless the exponent calls for scientific notation.
pub fn big_decimal_to_string(d: &BigDecimal) -> String {
    let (unscaled, scale) = d.as_bigint_and_exponent();
    decimal_string(&unscaled, scale, false)
}

/// `BigDecimal.toPlainString()`.
pub fn big_decimal_to_plain_string(d: &BigDecimal) -> String {
    let (unscaled, scale) = d.as_bigint_and_exponent();
    decimal_string(&unscaled, scale, true)
}

/// `toString` / `toPlainString` of an unscaled value and a scale.
pub fn decimal_string(unscaled: &BigInt, scale: i64, plain: bool) -> String {
    let negative = unscaled.sign() == bigdecimal::num_bigint::Sign::Minus;
    let digits = unscaled.magnitude().to_string();
    let sign = if negative { "-" } else { "" };
    let adjusted = -scale + (digits.len() as i64 - 1);
    if plain || (scale >= 0 && adjusted >= -6) {
        if scale <= 0 {
            if digits == "0" {
                return "0".to_string();
            }
            return format!("{sign}{digits}{}", "0".repeat((-scale) as usize));
        }
        let scale = scale as usize;
        return if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        };
    }
    // Scientific notation: one digit, the rest as a fraction, then E and the exponent.
    let (first, rest) = digits.split_at(1);
    let mantissa = if rest.is_empty() {
        first.to_string()
    } else {
        format!("{first}.{rest}")
    };
    let exp_sign = if adjusted >= 0 { "+" } else { "" };
    format!("{sign}{mantissa}E{exp_sign}{adjusted}")
}

/// `Object.toString()` of a primitive ksqlDB value (Boolean, Integer, Long, Double,
/// BigDecimal, String); `None` for other types.
pub fn to_string(v: &Value) -> Option<String> {
    Some(match v {
        Value::Boolean(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(i) => i.to_string(),
        Value::Double(d) => format_double(*d),
        Value::Decimal(..) => big_decimal_to_string(&v.as_big_decimal()?),
        Value::String(s) => s.clone(),
        _ => return None,
    })
}

/// `String.hashCode()`.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// `hashCode()` of a map key (the types ksqlDB allows as keys).
fn key_hash(v: &Value) -> i32 {
    match v {
        Value::String(s) => string_hash(s),
        Value::Int(i) | Value::Date(i) | Value::Time(i) => *i,
        Value::BigInt(l) | Value::Timestamp(l) => (*l ^ ((*l as u64) >> 32) as i64) as i32,
        Value::Boolean(b) => {
            if *b {
                1231
            } else {
                1237
            }
        }
        Value::Double(d) => {
            let bits = if d.is_nan() {
                f64::NAN.to_bits()
            } else {
                d.to_bits()
            };
            (bits ^ (bits >> 32)) as i32
        }
        _ => 0,
    }
}

/// How a `HashMap` was made, which decides its table size.
#[derive(Debug, Clone, Copy)]
pub enum HashMapInit {
    /// `new HashMap<>()`.
    Default,
    /// `new HashMap<>(n)`.
    Capacity(usize),
}

fn table_size_for(cap: usize) -> usize {
    cap.max(1).next_power_of_two().min(1 << 30)
}

/// Entries (distinct keys, in insertion order) in the order a Java `HashMap` holding them
/// iterates: by bucket of the spread hash, then insertion order within a bucket.
pub fn hash_map_order(entries: Vec<(Value, Value)>, init: HashMapInit) -> Vec<(Value, Value)> {
    let mut capacity = match init {
        HashMapInit::Default => 16,
        HashMapInit::Capacity(n) => table_size_for(n),
    };
    // The table doubles whenever the size passes three quarters of it.
    while entries.len() > capacity * 3 / 4 && capacity < (1 << 30) {
        capacity *= 2;
    }
    let mask = capacity - 1;
    let mut indexed: Vec<(usize, usize, (Value, Value))> = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let h = key_hash(&e.0);
            let spread = (h ^ ((h as u32) >> 16) as i32) as u32 as usize;
            (spread & mask, i, e)
        })
        .collect();
    indexed.sort_by_key(|(bucket, i, _)| (*bucket, *i));
    indexed.into_iter().map(|(_, _, e)| e).collect()
}

/// Puts `key -> value` into insertion-ordered entries, replacing an existing key's value in
/// place (as `HashMap.put` does).
pub fn map_put(entries: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => entries.push((key, value)),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn strings_count_utf16_units() {
        assert_eq!(len("a😀"), 3);
        assert_eq!(trim("\u{1} a \n"), "a");
        assert_eq!(trim("\u{a0}a"), "\u{a0}a");
        // U+FFFF sorts after a surrogate pair in Java.
        assert_eq!(compare_str("\u{ffff}", "😀"), Ordering::Greater);
        assert_eq!(compare_bytes(&[0x80], &[0x01]), Ordering::Less);
        assert_eq!(string_hash("abc"), 96354);
    }

    #[test]
    fn doubles_compare_as_java() {
        assert_eq!(compare_double(-0.0, 0.0), Ordering::Less);
        assert_eq!(compare_double(f64::NAN, f64::INFINITY), Ordering::Greater);
        assert_eq!(compare_double(-f64::NAN, 1.0), Ordering::Greater);
        assert!(!equals(&Value::Double(0.0), &Value::Double(-0.0)));
        assert!(equals(&Value::Double(f64::NAN), &Value::Double(f64::NAN)));
    }

    #[test]
    fn big_decimals_print_as_java() {
        let s = |t: &str| big_decimal_to_string(&BigDecimal::from_str(t).unwrap());
        assert_eq!(s("1.50"), "1.50");
        assert_eq!(s("1e5"), "1E+5");
        assert_eq!(s("1.5e3"), "1.5E+3");
        assert_eq!(s("0.0000001"), "1E-7");
        assert_eq!(s("0.000001"), "0.000001");
        assert_eq!(s("-12.5e-10"), "-1.25E-9");
        assert_eq!(s("100"), "100");
        assert_eq!(s("0e3"), "0E+3");
        let p = |t: &str| big_decimal_to_plain_string(&BigDecimal::from_str(t).unwrap());
        assert_eq!(p("1e5"), "100000");
        assert_eq!(p("1e-7"), "0.0000001");
    }

    #[test]
    fn hash_map_iteration_order() {
        let s = |x: &str| Value::String(x.into());
        // "b" (98) and "a" (97) land in buckets 2 and 1 of a 16-slot table.
        let entries = vec![(s("b"), Value::Int(1)), (s("a"), Value::Int(2))];
        let ordered = hash_map_order(entries, HashMapInit::Default);
        assert_eq!(ordered[0].0, s("a"));
        // "Aa" and "BB" collide: insertion order decides.
        let entries = vec![(s("BB"), Value::Int(1)), (s("Aa"), Value::Int(2))];
        let ordered = hash_map_order(entries, HashMapInit::Default);
        assert_eq!(ordered[0].0, s("BB"));
    }
}
