//! ksqlDB's `ExpectedRecordComparator`: how an expected JSON value matches what a topic
//! holds, once the topic's bytes are read as ksqlDB's test serdes read them (JSON as a
//! generic tree with exact decimals, DELIMITED as a string, KAFKA as the column's Java
//! type).

use std::str::FromStr;

use base64::Engine as _;
use bigdecimal::BigDecimal;

use crate::serde::json_text::Json;

/// A value read from a topic, as the Java objects ksqlDB's test serdes produce.
#[derive(Debug, Clone, PartialEq)]
pub enum Actual {
    /// null.
    Null,
    /// A Boolean.
    Bool(bool),
    /// An Integer.
    Int(i32),
    /// A Long.
    Long(i64),
    /// A Double.
    Double(f64),
    /// A BigDecimal.
    Decimal(BigDecimal),
    /// A String.
    String(String),
    /// A ByteBuffer.
    Bytes(Vec<u8>),
    /// A List.
    List(Vec<Actual>),
    /// A Map (or Struct): field names as written.
    Map(Vec<(String, Actual)>),
}

impl Actual {
    /// A JSON tree as Jackson reads it with `USE_BIG_DECIMAL_FOR_FLOATS`: integers as
    /// Integer or Long, other numbers as BigDecimal.
    pub fn from_json(json: &Json) -> Self {
        match json {
            Json::Null => Self::Null,
            Json::Bool(b) => Self::Bool(*b),
            Json::Number(n) => {
                if !n.contains(['.', 'e', 'E']) {
                    if let Ok(i) = n.parse::<i32>() {
                        return Self::Int(i);
                    }
                    if let Ok(l) = n.parse::<i64>() {
                        return Self::Long(l);
                    }
                }
                BigDecimal::from_str(n).map_or(Self::String(n.clone()), Self::Decimal)
            }
            Json::String(s) => Self::String(s.clone()),
            Json::Array(items) => Self::List(items.iter().map(Self::from_json).collect()),
            Json::Object(fields) => Self::Map(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// As JSON text, for messages.
    pub fn show(&self) -> String {
        match self {
            Self::Null => "null".into(),
            Self::Bool(b) => b.to_string(),
            Self::Int(v) => v.to_string(),
            Self::Long(v) => v.to_string(),
            Self::Double(v) => crate::value::format_double(*v),
            Self::Decimal(d) => d.to_string(),
            Self::String(s) => format!("{s:?}"),
            Self::Bytes(b) => format!("{:?}", base64::engine::general_purpose::STANDARD.encode(b)),
            Self::List(items) => format!(
                "[{}]",
                items.iter().map(Self::show).collect::<Vec<_>>().join(", ")
            ),
            Self::Map(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{k:?}: {}", v.show()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn is_integral(n: &str) -> bool {
    !n.contains(['.', 'e', 'E'])
}

/// Whether an actual value matches the expected JSON.
pub fn matches(actual: &Actual, expected: &Json) -> bool {
    match expected {
        Json::Null => matches!(actual, Actual::Null),
        Json::Bool(b) => matches!(actual, Actual::Bool(a) if a == b),
        Json::String(s) => match actual {
            Actual::String(a) => a == s,
            Actual::Decimal(d) => BigDecimal::from_str(s).is_ok_and(|e| decimal_equals(d, &e)),
            Actual::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b) == *s,
            _ => false,
        },
        Json::Number(n) => compare_number(actual, n),
        Json::Array(items) => match actual {
            Actual::List(a) => {
                a.len() == items.len() && a.iter().zip(items).all(|(x, e)| matches(x, e))
            }
            _ => false,
        },
        Json::Object(fields) => match actual {
            Actual::Map(a) => {
                a.len() == fields.len()
                    && fields.iter().all(|(name, e)| {
                        let found = a
                            .iter()
                            .find(|(k, _)| k == name)
                            .or_else(|| {
                                let upper = name.to_uppercase();
                                a.iter().find(|(k, _)| *k == upper)
                            })
                            .map(|(_, v)| v)
                            .unwrap_or(&Actual::Null);
                        matches(found, e)
                    })
            }
            _ => false,
        },
    }
}

/// Java's `BigDecimal.equals`: value and scale.
fn decimal_equals(a: &BigDecimal, b: &BigDecimal) -> bool {
    let (ad, ascale) = a.as_bigint_and_exponent();
    let (bd, bscale) = b.as_bigint_and_exponent();
    ad == bd && ascale == bscale
}

fn compare_number(actual: &Actual, expected: &str) -> bool {
    let expected_decimal = BigDecimal::from_str(expected).ok();
    match actual {
        // Java's intValue()/longValue() of the expected node truncate.
        Actual::Int(a) => expected_decimal
            .as_ref()
            .and_then(|d| {
                d.with_scale_round(0, bigdecimal::RoundingMode::Down)
                    .to_string()
                    .parse::<i64>()
                    .ok()
            })
            .is_some_and(|e| e as i32 == *a),
        Actual::Long(a) => expected_decimal
            .as_ref()
            .and_then(|d| {
                d.with_scale_round(0, bigdecimal::RoundingMode::Down)
                    .to_string()
                    .parse::<i64>()
                    .ok()
            })
            .is_some_and(|e| e == *a),
        Actual::Double(a) => expected
            .parse::<f64>()
            .is_ok_and(|e| (e - a).abs() < 0.000_001),
        Actual::Decimal(a) => {
            let Some(e) = expected_decimal else {
                return false;
            };
            if is_integral(expected) {
                let (_, scale) = a.as_bigint_and_exponent();
                scale <= 0 && a == &e
            } else {
                decimal_equals(a, &e)
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::json_text::parse_json;

    fn j(s: &str) -> Json {
        parse_json(s.as_bytes()).unwrap()
    }

    #[test]
    fn decimals_compare_with_scale() {
        let actual = Actual::from_json(&j(r#"{"A": 5.0500000, "B": 1, "C": 1.0}"#));
        assert!(matches(
            &actual,
            &j(r#"{"a": 5.0500000, "B": 1, "C": 1.0}"#)
        ));
        assert!(!matches(&actual, &j(r#"{"A": 5.05, "B": 1, "C": 1.0}"#)));
        assert!(!matches(&actual, &j(r#"{"A": 5.0500000, "B": 1, "C": 1}"#)));
        assert!(!matches(&actual, &j(r#"{"A": 5.0500000, "B": 1}"#)));
        assert!(matches(&Actual::Double(0.1 + 0.2), &j("0.3")));
        assert!(matches(&Actual::Bytes(b"abc".to_vec()), &j("\"YWJj\"")));
    }
}
