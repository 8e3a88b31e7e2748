//! [`Value`]: one ksqlDB value, as rows carry them outside Arrow batches (in state stores,
//! between the stateful operators of eddy-streams, in formats). A value's type is known
//! from the schema it belongs to; structs hold their fields in the schema's order.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;

use crate::types::SqlType;

/// A row: one value per column, in schema order.
pub type Row = Vec<Value>;

/// A ksqlDB value.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// NULL.
    #[default]
    Null,
    /// BOOLEAN.
    Boolean(bool),
    /// INT.
    Int(i32),
    /// BIGINT.
    BigInt(i64),
    /// DOUBLE.
    Double(f64),
    /// DECIMAL: the unscaled value and the scale (the precision is the type's).
    Decimal(i128, u8),
    /// STRING.
    String(String),
    /// BYTES.
    Bytes(Vec<u8>),
    /// TIMESTAMP, milliseconds since the epoch.
    Timestamp(i64),
    /// DATE, days since the epoch.
    Date(i32),
    /// TIME, milliseconds since midnight.
    Time(i32),
    /// ARRAY.
    Array(Vec<Value>),
    /// MAP, entries in insertion order with distinct keys.
    Map(Vec<(Value, Value)>),
    /// STRUCT, fields in the type's order.
    Struct(Vec<Value>),
}

impl Value {
    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The value as an i64, for INT, BIGINT, TIMESTAMP, DATE and TIME.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(v) | Self::Date(v) | Self::Time(v) => Some(*v as i64),
            Self::BigInt(v) | Self::Timestamp(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as an f64, for any numeric value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(v) => Some(*v as f64),
            Self::BigInt(v) => Some(*v as f64),
            Self::Double(v) => Some(*v),
            Self::Decimal(u, s) => decimal_to_f64(*u, *s),
            _ => None,
        }
    }

    /// The value as a string slice, for STRING.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a boolean, for BOOLEAN.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// A DECIMAL value as a `BigDecimal`.
    pub fn as_big_decimal(&self) -> Option<BigDecimal> {
        match self {
            Self::Decimal(u, s) => Some(BigDecimal::new(BigInt::from(*u), *s as i64)),
            Self::Int(v) => Some(BigDecimal::from(*v)),
            Self::BigInt(v) => Some(BigDecimal::from(*v)),
            _ => None,
        }
    }

    /// A DECIMAL value of `scale` from a `BigDecimal`, rounded half up; `None` if it does
    /// not fit `precision` digits.
    pub fn decimal_from(value: &BigDecimal, precision: u8, scale: u8) -> Option<Self> {
        let scaled = value.with_scale_round(scale as i64, bigdecimal::RoundingMode::HalfUp);
        let (digits, _) = scaled.as_bigint_and_exponent();
        let unscaled: i128 = digits.try_into().ok()?;
        if unscaled.unsigned_abs() >= 10u128.pow(precision as u32) {
            return None;
        }
        Some(Self::Decimal(unscaled, scale))
    }

    /// Orders two non-null values of the same type (numbers across numeric types); `None`
    /// for NULLs, for values of different kinds and for unordered types.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Boolean(a), Boolean(b)) => Some(a.cmp(b)),
            (Int(a), Int(b)) => Some(a.cmp(b)),
            (BigInt(a), BigInt(b)) => Some(a.cmp(b)),
            (Decimal(..), Decimal(..))
            | (Decimal(..), Int(_) | BigInt(_))
            | (Int(_) | BigInt(_), Decimal(..)) => {
                Some(self.as_big_decimal()?.cmp(&other.as_big_decimal()?))
            }
            (Int(_) | BigInt(_), Int(_) | BigInt(_)) => Some(self.as_i64()?.cmp(&other.as_i64()?)),
            (
                Double(_) | Int(_) | BigInt(_) | Decimal(..),
                Double(_) | Int(_) | BigInt(_) | Decimal(..),
            ) => self.as_f64()?.partial_cmp(&other.as_f64()?),
            (String(a), String(b)) => Some(a.cmp(b)),
            (Bytes(a), Bytes(b)) => Some(a.cmp(b)),
            (Timestamp(a), Timestamp(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (Time(a), Time(b)) => Some(a.cmp(b)),
            (Array(a), Array(b)) => {
                for (x, y) in a.iter().zip(b) {
                    match (x.is_null(), y.is_null()) {
                        (true, true) => continue,
                        (true, false) => return Some(Ordering::Less),
                        (false, true) => return Some(Ordering::Greater),
                        _ => {}
                    }
                    match x.compare(y)? {
                        Ordering::Equal => continue,
                        other => return Some(other),
                    }
                }
                Some(a.len().cmp(&b.len()))
            }
            _ => None,
        }
    }

    /// A total order for sorting (NULLs first, then by [`Value::compare`], then by kind).
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self.is_null(), other.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => self.compare(other).unwrap_or_else(|| {
                self.kind_rank()
                    .cmp(&other.kind_rank())
                    .then_with(|| format!("{self:?}").cmp(&format!("{other:?}")))
            }),
        }
    }

    fn kind_rank(&self) -> u8 {
        match self {
            Self::Null => 0,
            Self::Boolean(_) => 1,
            Self::Int(_) => 2,
            Self::BigInt(_) => 3,
            Self::Double(_) => 4,
            Self::Decimal(..) => 5,
            Self::String(_) => 6,
            Self::Bytes(_) => 7,
            Self::Timestamp(_) => 8,
            Self::Date(_) => 9,
            Self::Time(_) => 10,
            Self::Array(_) => 11,
            Self::Map(_) => 12,
            Self::Struct(_) => 13,
        }
    }

    /// The value shown for a human (the processing log, errors, the REPL): strings
    /// unquoted, structs and maps in ksqlDB's `{A=1, B=x}` style.
    pub fn display(&self, ty: Option<&SqlType>) -> String {
        match (self, ty) {
            (Self::Struct(values), Some(SqlType::Struct(fields))) => {
                let inner: Vec<String> = fields
                    .iter()
                    .zip(values)
                    .map(|(f, v)| format!("{}={}", f.name, v.display(Some(&f.ty))))
                    .collect();
                format!("Struct{{{}}}", inner.join(","))
            }
            (Self::Struct(values), _) => {
                let inner: Vec<String> = values.iter().map(|v| v.display(None)).collect();
                format!("Struct{{{}}}", inner.join(","))
            }
            (Self::Array(items), ty) => {
                let element = match ty {
                    Some(SqlType::Array(e)) => Some(&**e),
                    _ => None,
                };
                let inner: Vec<String> = items.iter().map(|v| v.display(element)).collect();
                format!("[{}]", inner.join(", "))
            }
            (Self::Map(entries), ty) => {
                let (k, v) = match ty {
                    Some(SqlType::Map(k, v)) => (Some(&**k), Some(&**v)),
                    _ => (None, None),
                };
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(a, b)| format!("{}={}", a.display(k), b.display(v)))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
            _ => self.to_string(),
        }
    }
}

/// A decimal as an f64.
pub fn decimal_to_f64(unscaled: i128, scale: u8) -> Option<f64> {
    Some(unscaled as f64 / 10f64.powi(scale as i32))
}

/// Formats an unscaled decimal with its scale, as Java's `BigDecimal.toPlainString`.
pub fn format_decimal(unscaled: i128, scale: u8) -> String {
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let body = if scale == 0 {
        digits
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        format!("{int}.{frac}")
    } else {
        format!("0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    if negative { format!("-{body}") } else { body }
}

/// Formats a double as Java's `Double.toString` does (`1.0`, `1.5E10`, `1.0E-5`), which
/// ksqlDB's string casts and DELIMITED output use.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let abs = v.abs();
    if (1e-3..1e7).contains(&abs) {
        let s = format!("{v}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        // Shortest round-trip digits, in scientific notation. When one digit is enough,
        // Java (since JDK 19) prints the two-digit decimal nearest the exact value
        // (Double.MIN_VALUE is 4.9E-324, not 5.0E-324); that decimal rounds to `v` too.
        let mut s = format!("{v:e}");
        if !s.split_once('e').is_some_and(|(m, _)| m.contains('.')) {
            s = format!("{v:.1e}");
        }
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.to_string();
        format!("{mantissa}E{exponent}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Boolean(b) => write!(f, "{b}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::BigInt(v) => write!(f, "{v}"),
            Self::Double(v) => f.write_str(&format_double(*v)),
            Self::Decimal(u, s) => f.write_str(&format_decimal(*u, *s)),
            Self::String(s) => f.write_str(s),
            Self::Bytes(b) => {
                use base64::Engine as _;
                f.write_str(&base64::engine::general_purpose::STANDARD.encode(b))
            }
            Self::Timestamp(v) => write!(f, "{v}"),
            Self::Date(v) => write!(f, "{v}"),
            Self::Time(v) => write!(f, "{v}"),
            other => f.write_str(&other.display(None)),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Boolean(a), Boolean(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (BigInt(a), BigInt(b)) => a == b,
            (Double(a), Double(b)) => a.to_bits() == b.to_bits() || a == b,
            (Decimal(a, s), Decimal(b, t)) => a == b && s == t,
            (String(a), String(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Timestamp(a), Timestamp(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (Time(a), Time(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Struct(a), Struct(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Self::Null => {}
            Self::Boolean(b) => b.hash(state),
            Self::Int(v) | Self::Date(v) | Self::Time(v) => v.hash(state),
            Self::BigInt(v) | Self::Timestamp(v) => v.hash(state),
            Self::Double(v) => {
                // Equal doubles hash equally: -0.0 and 0.0 compare equal.
                let v = if *v == 0.0 { 0.0f64 } else { *v };
                v.to_bits().hash(state)
            }
            Self::Decimal(u, s) => (u, s).hash(state),
            Self::String(s) => s.hash(state),
            Self::Bytes(b) => b.hash(state),
            Self::Array(a) | Self::Struct(a) => a.hash(state),
            Self::Map(m) => m.hash(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_with_their_scale() {
        assert_eq!(format_decimal(505, 2), "5.05");
        assert_eq!(format_decimal(-5, 3), "-0.005");
        assert_eq!(format_decimal(100, 0), "100");
        let d = BigDecimal::from(10);
        assert_eq!(Value::decimal_from(&d, 4, 2), Some(Value::Decimal(1000, 2)));
        assert_eq!(Value::decimal_from(&d, 3, 2), None);
    }

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(format_double(1.0), "1.0");
        assert_eq!(format_double(0.5), "0.5");
        assert_eq!(format_double(1.5e10), "1.5E10");
        assert_eq!(format_double(1e-5), "1.0E-5");
        assert_eq!(format_double(1e23), "1.0E23");
        assert_eq!(format_double(5e-324), "4.9E-324");
        assert_eq!(format_double(-f64::MAX), "-1.7976931348623157E308");
        assert_eq!(format_double(-123.25), "-123.25");
    }

    #[test]
    fn numbers_compare_across_types() {
        assert_eq!(
            Value::Int(2).compare(&Value::Decimal(150, 2)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::BigInt(2).compare(&Value::Double(2.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(Value::Null.compare(&Value::Int(1)), None);
    }
}
