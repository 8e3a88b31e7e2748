//! The DELIMITED format: one line of delimited text per record, quoted as Apache Commons
//! CSV 1.4's default format quotes (ksqlDB uses it): a field is quoted when it holds the
//! delimiter, a quote or a line break, starts with a character at or below `#` (or, as
//! the record's first field, with anything but an ASCII letter or digit), or ends with
//! one at or below a space; quotes inside are doubled. An empty field is NULL.
//!
//! Fields are split by hand rather than with the csv crate: a record here is a single line
//! in a Kafka value, and the csv crate's reader is built for streams of many records (a
//! reader and its buffer per record would cost more than the parse).

use base64::Engine as _;
use bigdecimal::BigDecimal;

use super::codec::RowCodec;
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::{Row, Value, format_decimal, format_double};

/// DELIMITED for a list of columns.
#[derive(Debug, Clone)]
pub struct DelimitedCodec {
    columns: Vec<(String, SqlType)>,
    delimiter: char,
}

impl DelimitedCodec {
    /// A codec for `columns` split by `delimiter`.
    pub fn new(columns: Vec<(String, SqlType)>, delimiter: char) -> Self {
        Self { columns, delimiter }
    }
}

/// Splits one line into fields; `None` marks an empty unquoted field.
fn split(line: &str, delimiter: char) -> Result<Vec<Option<String>>> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(SqlError::serde("unterminated quote in DELIMITED value")),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
        }
        loop {
            match chars.peek() {
                None => break,
                Some(&c) if c == delimiter => break,
                Some(_) if quoted => {
                    return Err(SqlError::serde(
                        "text after a closing quote in DELIMITED value",
                    ));
                }
                Some(&c) => {
                    field.push(c);
                    chars.next();
                }
            }
        }
        fields.push(if field.is_empty() && !quoted {
            None
        } else {
            Some(field)
        });
        match chars.next() {
            None => break,
            Some(_) => continue,
        }
    }
    Ok(fields)
}

fn parse_field(text: &str, ty: &SqlType) -> Result<Value> {
    let bad = || SqlError::serde(format!("cannot read '{text}' as {ty}"));
    Ok(match ty {
        SqlType::Boolean => Value::Boolean(match text.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad()),
        }),
        SqlType::Int => Value::Int(text.trim().parse().map_err(|_| bad())?),
        SqlType::BigInt => Value::BigInt(text.trim().parse().map_err(|_| bad())?),
        SqlType::Double => Value::Double(text.trim().parse().map_err(|_| bad())?),
        SqlType::Decimal { precision, scale } => {
            let d: BigDecimal = text.trim().parse().map_err(|_| bad())?;
            Value::decimal_from(&d, *precision, *scale).ok_or_else(bad)?
        }
        SqlType::String => Value::String(text.to_string()),
        SqlType::Bytes => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| bad())?,
        ),
        SqlType::Timestamp => Value::Timestamp(text.trim().parse().map_err(|_| bad())?),
        SqlType::Date => Value::Date(text.trim().parse().map_err(|_| bad())?),
        SqlType::Time => Value::Time(text.trim().parse().map_err(|_| bad())?),
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) => {
            return Err(SqlError::serde(format!(
                "The 'DELIMITED' format does not support type '{}'",
                ty.kind_name()
            )));
        }
    })
}

fn needs_quotes(text: &str, delimiter: char, first: bool) -> bool {
    let Some(c) = text.chars().next() else {
        // Commons CSV quotes an empty string only as a record's first field.
        return first;
    };
    // Commons CSV 1.4 (ksqlDB's version) also quotes a record's first field when it
    // does not start with an ASCII letter or digit ("-1" is written "\"-1\"").
    if c <= '#' || (first && !c.is_ascii_alphanumeric()) {
        return true;
    }
    if text
        .chars()
        .any(|c| c == delimiter || c == '"' || c == '\n' || c == '\r')
    {
        return true;
    }
    text.chars().last().is_some_and(|c| c <= ' ')
}

impl RowCodec for DelimitedCodec {
    fn decode(&self, bytes: &[u8]) -> Result<Option<Row>> {
        let line = std::str::from_utf8(bytes)
            .map_err(|_| SqlError::serde("DELIMITED value is not valid UTF-8"))?;
        let fields = split(line, self.delimiter)?;
        if fields.len() != self.columns.len() {
            return Err(SqlError::serde(format!(
                "Unexpected field count, csvFields:{} schemaFields:{} line: {line}",
                fields.len(),
                self.columns.len()
            )));
        }
        fields
            .iter()
            .zip(&self.columns)
            .map(|(field, (_, ty))| match field {
                None => Ok(Value::Null),
                Some(text) => parse_field(text, ty),
            })
            .collect::<Result<Row>>()
            .map(Some)
    }

    fn encode(&self, row: &[Value]) -> Result<Option<Vec<u8>>> {
        let mut out = String::new();
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            let text = match value {
                Value::Null => continue,
                Value::Double(v) => format_double(*v),
                Value::Decimal(u, s) => format_decimal(*u, *s),
                Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
                Value::Array(_) | Value::Map(_) | Value::Struct(_) => {
                    return Err(SqlError::serde(
                        "The 'DELIMITED' format does not support nested types",
                    ));
                }
                other => other.to_string(),
            };
            if needs_quotes(&text, self.delimiter, i == 0) {
                out.push('"');
                out.push_str(&text.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&text);
            }
        }
        Ok(Some(out.into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> DelimitedCodec {
        DelimitedCodec::new(
            vec![
                ("A".into(), SqlType::Int),
                ("B".into(), SqlType::String),
                ("C".into(), SqlType::Double),
            ],
            ',',
        )
    }

    #[test]
    fn round_trip_with_quotes_and_nulls() {
        let row = codec().decode(b"1,\"a,\"\"b\"\"\",").unwrap().unwrap();
        assert_eq!(
            row,
            vec![Value::Int(1), Value::String("a,\"b\"".into()), Value::Null]
        );
        let out = codec().encode(&row).unwrap().unwrap();
        assert_eq!(out, b"1,\"a,\"\"b\"\"\",");
        let out = codec()
            .encode(&[
                Value::Int(-10),
                Value::String(" x".into()),
                Value::Double(1.0),
            ])
            .unwrap()
            .unwrap();
        // A first field not starting with a letter or digit is quoted (Commons CSV 1.4);
        // later ones are not.
        assert_eq!(String::from_utf8(out).unwrap(), "\"-10\",\" x\",1.0");
        let out = codec()
            .encode(&[
                Value::Int(1),
                Value::String("-x".into()),
                Value::Double(-1.0),
            ])
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "1,-x,-1.0");
    }

    #[test]
    fn wrong_field_count_is_an_error() {
        assert!(codec().decode(b"1,2").is_err());
        assert!(codec().decode(b"x,a,1").is_err());
    }
}
