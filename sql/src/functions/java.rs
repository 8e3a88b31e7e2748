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

/// A Java `HashMap`'s iteration order, for the maps ksqlDB's functions build in one: the
/// entries are kept in insertion order and the table's capacity is tracked as `HashMap`
/// sizes and resizes it, so that [`JavaHashMap::into_entries`] lists them by bucket of the
/// spread hash, then insertion order within a bucket.
#[derive(Debug, Clone, Default)]
pub struct JavaHashMap {
    entries: Vec<(Value, Value)>,
    capacity: usize,
    threshold: usize,
}

const MAX_CAPACITY: usize = 1 << 30;

fn table_size_for(cap: usize) -> usize {
    cap.max(1).next_power_of_two().min(MAX_CAPACITY)
}

impl JavaHashMap {
    /// `new HashMap<>()`.
    pub fn new() -> Self {
        Self::default()
    }

    /// `new HashMap<>(n)`.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::new(),
            capacity: 0,
            threshold: table_size_for(n),
        }
    }

    fn resize(&mut self) {
        let (cap, threshold) = if self.capacity > 0 {
            if self.capacity >= MAX_CAPACITY {
                return;
            }
            let cap = self.capacity * 2;
            let threshold = if self.capacity >= 16 {
                self.threshold * 2
            } else {
                cap * 3 / 4
            };
            (cap, threshold)
        } else if self.threshold > 0 {
            (self.threshold, self.threshold * 3 / 4)
        } else {
            (16, 12)
        };
        self.capacity = cap;
        self.threshold = threshold;
    }

    /// `put(key, value)`: a new key is appended, an existing one's value replaced.
    pub fn put(&mut self, key: Value, value: Value) {
        if self.capacity == 0 {
            self.resize();
        }
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => {
                self.entries.push((key, value));
                if self.entries.len() > self.threshold {
                    self.resize();
                }
            }
        }
    }

    /// `putAll(map)`.
    pub fn put_all(&mut self, entries: &[(Value, Value)]) {
        let s = entries.len();
        if s == 0 {
            return;
        }
        if self.capacity == 0 {
            let t = (s as f32 / 0.75 + 1.0) as usize;
            if t > self.threshold {
                self.threshold = table_size_for(t);
            }
        } else {
            while s > self.threshold && self.capacity < MAX_CAPACITY {
                self.resize();
            }
        }
        for (k, v) in entries {
            self.put(k.clone(), v.clone());
        }
    }

    /// The entries in iteration order.
    pub fn into_entries(self) -> Vec<(Value, Value)> {
        let mask = self.capacity.max(1) - 1;
        let mut indexed: Vec<(usize, usize, (Value, Value))> = self
            .entries
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
        let keys =
            |m: JavaHashMap| -> Vec<Value> { m.into_entries().into_iter().map(|e| e.0).collect() };
        // "b" (98) and "a" (97) land in buckets 2 and 1 of a 16-slot table.
        let mut m = JavaHashMap::new();
        m.put(s("b"), Value::Int(1));
        m.put(s("a"), Value::Int(2));
        assert_eq!(keys(m), vec![s("a"), s("b")]);
        // "Aa" and "BB" collide: insertion order decides.
        let mut m = JavaHashMap::new();
        m.put(s("BB"), Value::Int(1));
        m.put(s("Aa"), Value::Int(2));
        assert_eq!(keys(m), vec![s("BB"), s("Aa")]);
        // putAll of two entries into an empty map sizes its table to 4: "a" (97) and "e"
        // (101) share bucket 1.
        let mut m = JavaHashMap::new();
        m.put_all(&[(s("e"), Value::Null), (s("a"), Value::Null)]);
        assert_eq!(keys(m), vec![s("e"), s("a")]);
        // Orders printed by a JVM.
        let mut m = JavaHashMap::with_capacity(3);
        for k in ["q", "aa", "zz", "b", "a"] {
            m.put(s(k), Value::Null);
        }
        assert_eq!(keys(m), ["aa", "zz", "q", "a", "b"].map(s).to_vec());
        let mut m = JavaHashMap::new();
        for i in 0..20 {
            m.put(s(&format!("k{i}")), Value::Null);
        }
        let expected = [
            0, 1, 2, 3, 4, 5, 11, 6, 10, 7, 13, 8, 12, 9, 15, 14, 17, 16, 19, 18,
        ];
        assert_eq!(keys(m), expected.map(|i| s(&format!("k{i}"))).to_vec());
    }
}
