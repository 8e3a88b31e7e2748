//! The JSON format: an object per record with a field per column (or, for a single
//! unwrapped column, the bare value), read as ksqlDB reads it: field names matched exactly,
//! then case-insensitively; missing fields are NULL; numbers, strings and booleans coerced
//! to the column's type where ksqlDB coerces them.

use base64::Engine as _;
use bigdecimal::BigDecimal;

use super::cell::{Cell, fill_from_row};
use super::codec::RowCodec;
use super::json_cells::{CellColumns, read_cells};
use super::json_object::read_object_fields;
use super::json_text::{Json, parse_json, write_json, write_json_string};
use crate::error::{Result, SqlError};
use crate::functions::java::JavaHashMap;
use crate::types::SqlType;
use crate::value::{Row, Value, format_decimal, format_double};

/// JSON for a list of columns.
#[derive(Debug, Clone)]
pub struct JsonCodec {
    columns: Vec<(String, SqlType)>,
    /// Whether values are objects (`{"A": 1}`) or, for one column, bare (`1`).
    wrapped: bool,
    /// Objects read straight into cells, where the columns allow it.
    cells: Option<CellColumns>,
    /// What precedes each column's value in an object: `{"NAME":`, then `,"NAME":`.
    prefixes: Vec<String>,
}

impl JsonCodec {
    /// A codec for `columns`; `wrapped` is false only for a single unwrapped column.
    pub fn new(columns: Vec<(String, SqlType)>, wrapped: bool) -> Self {
        let wrapped = wrapped || columns.len() != 1;
        let cells = wrapped.then(|| CellColumns::new(&columns)).flatten();
        let prefixes = columns
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let mut prefix = String::from(if i == 0 { "{" } else { "," });
                write_json_string(name, &mut prefix);
                prefix.push(':');
                prefix
            })
            .collect();
        Self {
            columns,
            wrapped,
            cells,
            prefixes,
        }
    }
}

impl RowCodec for JsonCodec {
    fn decode(&self, bytes: &[u8]) -> Result<Option<Row>> {
        if self.wrapped {
            // The common case, an object: only the fields that name a column are read,
            // then matched as `lookup` matches them.
            let mut fields: Vec<(String, Json)> = Vec::with_capacity(self.columns.len());
            let is_object = read_object_fields(
                bytes,
                |name| {
                    self.columns
                        .iter()
                        .position(|(c, _)| c.eq_ignore_ascii_case(name))
                },
                |_, name, value| fields.push((name, value)),
            )
            .map_err(|e| SqlError::serde(format!("Failed to deserialize JSON: {e}")))?;
            if is_object {
                return self.row_of_owned(fields).map(Some);
            }
        }
        let json = parse_json(bytes)
            .map_err(|e| SqlError::serde(format!("Failed to deserialize JSON: {e}")))?;
        if json.is_null() {
            return Ok(None);
        }
        if !self.wrapped {
            let (_, ty) = &self.columns[0];
            return Ok(Some(vec![from_json(&json, ty)?]));
        }
        let Json::Object(fields) = &json else {
            return Err(SqlError::serde(format!(
                "Can't convert type. sourceType: {}, requiredType: STRUCT, JSON: {}",
                json_kind(&json),
                json.to_text()
            )));
        };
        self.row_of(fields).map(Some)
    }

    fn decode_cells<'a>(&self, bytes: &'a [u8], cells: &mut Vec<Cell<'a>>) -> Result<bool> {
        if let Some(columns) = &self.cells
            && read_cells(columns, bytes, cells).is_some()
        {
            return Ok(true);
        }
        // Not an object, or columns the fast path does not take: the row path.
        Ok(fill_from_row(cells, self.decode(bytes)?))
    }

    fn encode_cells(&self, cells: &[Cell<'_>]) -> Result<Option<Vec<u8>>> {
        let mut out = String::with_capacity(16 + 24 * cells.len());
        if !self.wrapped {
            write_cell(&cells[0], &self.columns[0].1, &mut out);
        } else {
            if cells.is_empty() {
                out.push('{');
            }
            for ((prefix, (_, ty)), cell) in self.prefixes.iter().zip(&self.columns).zip(cells) {
                out.push_str(prefix);
                write_cell(cell, ty, &mut out);
            }
            out.push('}');
        }
        Ok(Some(out.into_bytes()))
    }

    fn encode(&self, row: &[Value]) -> Result<Option<Vec<u8>>> {
        let mut out = String::with_capacity(64);
        if !self.wrapped {
            write_value(&row[0], &self.columns[0].1, &mut out);
        } else {
            out.push('{');
            for (i, ((name, ty), value)) in self.columns.iter().zip(row).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(name, &mut out);
                out.push(':');
                write_value(value, ty, &mut out);
            }
            out.push('}');
        }
        Ok(Some(out.into_bytes()))
    }
}

impl JsonCodec {
    /// The row of an object's fields.
    fn row_of(&self, fields: &[(String, Json)]) -> Result<Row> {
        self.columns
            .iter()
            .map(|(name, ty)| match lookup(fields, name) {
                Some(v) => from_json(v, ty)
                    .map_err(|e| SqlError::serde(format!("Failed to read field {name}: {e}"))),
                None => Ok(Value::Null),
            })
            .collect()
    }
}

impl JsonCodec {
    /// [`Self::row_of`] for fields the row may take: a field read by one column only is
    /// moved into it (its string is not copied again).
    fn row_of_owned(&self, mut fields: Vec<(String, Json)>) -> Result<Row> {
        let picks: Vec<Option<usize>> = self
            .columns
            .iter()
            .map(|(name, _)| lookup_index(&fields, name))
            .collect();
        let mut uses = vec![0usize; fields.len()];
        for i in picks.iter().flatten() {
            uses[*i] += 1;
        }
        self.columns
            .iter()
            .zip(picks)
            .map(|((name, ty), pick)| {
                let Some(i) = pick else {
                    return Ok(Value::Null);
                };
                let value = match (ty, uses[i]) {
                    (SqlType::String, 1) => match std::mem::replace(&mut fields[i].1, Json::Null) {
                        Json::String(s) => Ok(Value::String(s)),
                        other => from_json(&other, ty),
                    },
                    _ => from_json(&fields[i].1, ty),
                };
                value.map_err(|e| SqlError::serde(format!("Failed to read field {name}: {e}")))
            })
            .collect()
    }
}

/// The index of a field by exact name, else by case-insensitive name.
fn lookup_index(fields: &[(String, Json)], name: &str) -> Option<usize> {
    fields.iter().position(|(k, _)| k == name).or_else(|| {
        fields
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name))
    })
}

/// A field by exact name, else by case-insensitive name.
pub(crate) fn lookup<'a>(fields: &'a [(String, Json)], name: &str) -> Option<&'a Json> {
    lookup_index(fields, name).map(|i| &fields[i].1)
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "NullNode",
        Json::Bool(_) => "BooleanNode",
        Json::Number(n) if n.contains(['.', 'e', 'E']) => "DoubleNode",
        Json::Number(_) => "IntNode",
        Json::String(_) => "TextNode",
        Json::Array(_) => "ArrayNode",
        Json::Object(_) => "ObjectNode",
    }
}

fn mismatch(json: &Json, ty: &SqlType) -> SqlError {
    SqlError::serde(format!(
        "Can't convert type. sourceType: {}, requiredType: {ty}",
        json_kind(json)
    ))
}

pub(super) fn integer(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    // Java's Number.longValue() truncates doubles.
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| f as i64)
}

/// A JSON value as a value of `ty`, coerced as ksqlDB's JSON deserializer coerces.
pub fn from_json(json: &Json, ty: &SqlType) -> Result<Value> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    Ok(match (ty, json) {
        (SqlType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (SqlType::Boolean, Json::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::Boolean(true)
        }
        (SqlType::Boolean, Json::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Boolean(false)
        }
        (SqlType::Int, Json::Number(n)) => {
            Value::Int(integer(n).ok_or_else(|| mismatch(json, ty))? as i32)
        }
        (SqlType::Int, Json::String(s)) => Value::Int(s.trim().parse().map_err(|_| {
            SqlError::serde(format!(
                "Can't coerce string to type. targetType: INTEGER, value: {s}"
            ))
        })?),
        (SqlType::BigInt, Json::Number(n)) => {
            Value::BigInt(integer(n).ok_or_else(|| mismatch(json, ty))?)
        }
        (SqlType::BigInt, Json::String(s)) => Value::BigInt(s.trim().parse().map_err(|_| {
            SqlError::serde(format!(
                "Can't coerce string to type. targetType: BIGINT, value: {s}"
            ))
        })?),
        (SqlType::Double, Json::Number(n)) => {
            Value::Double(n.parse().map_err(|_| mismatch(json, ty))?)
        }
        (SqlType::Double, Json::String(s)) => Value::Double(s.trim().parse().map_err(|_| {
            SqlError::serde(format!(
                "Can't coerce string to type. targetType: DOUBLE, value: {s}"
            ))
        })?),
        (SqlType::Decimal { precision, scale }, Json::Number(n) | Json::String(n)) => {
            let d: BigDecimal = n
                .trim()
                .parse()
                .map_err(|_| SqlError::serde(format!("Cannot convert {n} to DECIMAL")))?;
            Value::decimal_from(&d, *precision, *scale).ok_or_else(|| {
                SqlError::serde(format!(
                    "Cannot fit decimal '{n}' into DECIMAL({precision}, {scale}) without rounding"
                ))
            })?
        }
        (SqlType::String, Json::String(s)) => Value::String(s.clone()),
        (SqlType::String, Json::Number(n)) => Value::String(n.clone()),
        (SqlType::String, Json::Bool(b)) => Value::String(b.to_string()),
        (SqlType::String, other) => Value::String(other.to_text()),
        (SqlType::Bytes, Json::String(s)) => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| SqlError::serde(format!("Value is not Base64 encoded: {e}")))?,
        ),
        (SqlType::Timestamp, Json::Number(n)) => {
            Value::Timestamp(integer(n).ok_or_else(|| mismatch(json, ty))?)
        }
        (SqlType::Timestamp, Json::String(s)) => {
            Value::Timestamp(s.trim().parse().map_err(|_| mismatch(json, ty))?)
        }
        (SqlType::Date, Json::Number(n)) => {
            Value::Date(integer(n).ok_or_else(|| mismatch(json, ty))? as i32)
        }
        (SqlType::Time, Json::Number(n)) => {
            Value::Time(integer(n).ok_or_else(|| mismatch(json, ty))? as i32)
        }
        (SqlType::Array(element), Json::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| from_json(i, element))
                .collect::<Result<_>>()?,
        ),
        (SqlType::Map(key, value), Json::Object(fields)) => {
            // ksqlDB reads a JSON map into `new HashMap<>(size)`, and functions that walk
            // a map (REDUCE, MAP_KEYS, ...) see that map's iteration order.
            let mut map = JavaHashMap::with_capacity(fields.len());
            for (k, v) in fields {
                map.put(
                    from_json(&Json::String(k.clone()), key)?,
                    from_json(v, value)?,
                );
            }
            Value::Map(map.into_entries())
        }
        (SqlType::Struct(schema), Json::Object(fields)) => Value::Struct(
            schema
                .iter()
                .map(|f| match lookup(fields, &f.name) {
                    Some(v) => from_json(v, &f.ty),
                    None => Ok(Value::Null),
                })
                .collect::<Result<_>>()?,
        ),
        _ => return Err(mismatch(json, ty)),
    })
}

/// A cell of `ty` as JSON text, as [`write_value`] writes its value.
fn write_cell(cell: &Cell<'_>, ty: &SqlType, out: &mut String) {
    match cell {
        Cell::Null => out.push_str("null"),
        Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Cell::I32(v) => out.push_str(itoa::Buffer::new().format(*v)),
        Cell::I64(v) | Cell::Timestamp(v) => out.push_str(itoa::Buffer::new().format(*v)),
        Cell::F64(v) => write_double(*v, out),
        Cell::Str(s) => write_json_string(s, out),
        Cell::Value(v) => write_value(v, ty, out),
    }
}

/// A DOUBLE: a number as Java prints it, or a string for NaN and the infinities.
fn write_double(v: f64, out: &mut String) {
    if v.is_finite() {
        out.push_str(&format_double(v));
    } else {
        write_json_string(&format_double(v), out);
    }
}

/// A value of `ty` as JSON text.
pub fn write_value(value: &Value, ty: &SqlType, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(v) | Value::Date(v) | Value::Time(v) => {
            out.push_str(itoa::Buffer::new().format(*v));
        }
        Value::BigInt(v) | Value::Timestamp(v) => out.push_str(itoa::Buffer::new().format(*v)),
        Value::Double(v) => write_double(*v, out),
        Value::Decimal(u, s) => out.push_str(&format_decimal(*u, *s)),
        Value::String(s) => write_json_string(s, out),
        Value::Bytes(b) => {
            write_json_string(&base64::engine::general_purpose::STANDARD.encode(b), out)
        }
        Value::Array(items) => {
            let element = match ty {
                SqlType::Array(e) => &**e,
                _ => &SqlType::String,
            };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, element, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let (kt, vt) = match ty {
                SqlType::Map(k, v) => (&**k, &**v),
                _ => (&SqlType::String, &SqlType::String),
            };
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Value::String(s) => write_json_string(s, out),
                    other => {
                        let mut key = String::new();
                        write_value(other, kt, &mut key);
                        write_json_string(key.trim_matches('"'), out);
                    }
                }
                out.push(':');
                write_value(v, vt, out);
            }
            out.push('}');
        }
        Value::Struct(values) => {
            let SqlType::Struct(fields) = ty else {
                out.push_str("null");
                return;
            };
            out.push('{');
            for (i, (f, v)) in fields.iter().zip(values).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(&f.name, out);
                out.push(':');
                write_value(v, &f.ty, out);
            }
            out.push('}');
        }
    }
}

/// A value of `ty` as a JSON value (for tools that need the tree).
pub fn to_json(value: &Value, ty: &SqlType) -> Json {
    let mut text = String::new();
    write_value(value, ty, &mut text);
    parse_json(text.as_bytes()).unwrap_or(Json::Null)
}

/// Appends JSON text for a JSON tree (re-exported for the conformance runner).
pub fn json_text(json: &Json) -> String {
    let mut out = String::new();
    write_json(json, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> JsonCodec {
        JsonCodec::new(
            vec![
                ("ID".into(), SqlType::BigInt),
                ("NAME".into(), SqlType::String),
                ("D".into(), SqlType::decimal(4, 2).unwrap()),
                (
                    "S".into(),
                    SqlType::structure([("F".to_string(), SqlType::Int)]),
                ),
            ],
            true,
        )
    }

    #[test]
    fn reads_case_insensitively_and_coerces() {
        let row = codec()
            .decode(br#"{"id": "12", "Name": 5, "d": 1.5, "s": {"f": 2.9}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            row,
            vec![
                Value::BigInt(12),
                Value::String("5".into()),
                Value::Decimal(150, 2),
                Value::Struct(vec![Value::Int(2)])
            ]
        );
        let out = codec().encode(&row).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"ID":12,"NAME":"5","D":1.50,"S":{"F":2}}"#
        );
    }

    #[test]
    fn exact_names_win_and_other_fields_are_only_checked() {
        // `ID` matches exactly after `id` matched case-insensitively: the exact one wins;
        // a second exact `NAME` does not replace the first; unknown fields, nested or not,
        // are passed over.
        let row = codec()
            .decode(
                br#"{"id": 1, "x": {"deep": [1, {"y": "z"}]}, "ID": 2, "NAME": "a", "NAME": "b", "n": null}"#,
            )
            .unwrap()
            .unwrap();
        assert_eq!(row[0], Value::BigInt(2));
        assert_eq!(row[1], Value::String("a".into()));
        assert_eq!(row[2], Value::Null);
        // A bad document is an error even where the bad part names no column.
        for bad in [
            &br#"{"x": [1, }"#[..],
            b"{\"x\": \"\xff\"}",
            br#"{"ID": 1} trailing"#,
            br#"{"x": tru}"#,
        ] {
            let e = codec().decode(bad).unwrap_err().to_string();
            assert!(e.contains("Failed to deserialize JSON"), "{e}");
        }
        // Not an object: the whole document says what it is.
        let e = codec().decode(b"[1, 2]").unwrap_err().to_string();
        assert!(e.contains("ArrayNode"), "{e}");
        assert_eq!(codec().decode(b" null ").unwrap(), None);
    }

    #[test]
    fn errors_are_reported_not_panicked() {
        assert!(codec().decode(b"[1]").is_err());
        assert!(codec().decode(b"{\"id\": \"x\"}").is_err());
        assert!(codec().decode(b"{").is_err());
        assert_eq!(codec().decode(b"null").unwrap(), None);
    }

    #[test]
    fn cells_encode_as_values_do() {
        let row = vec![
            Value::BigInt(-7),
            Value::String("quote \" and \u{1}".into()),
            Value::Decimal(150, 2),
            Value::Null,
        ];
        let cells = [
            Cell::I64(-7),
            Cell::Str("quote \" and \u{1}".into()),
            Cell::Value(Value::Decimal(150, 2)),
            Cell::Null,
        ];
        let by_values = codec().encode(&row).unwrap();
        assert_eq!(codec().encode_cells(&cells).unwrap(), by_values);
        assert_ne!(codec().encode_cells(&cells[..3]).unwrap(), by_values);
        let doubles = JsonCodec::new(vec![("X".into(), SqlType::Double)], true);
        for x in [0.1, 1e21, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(
                doubles.encode_cells(&[Cell::F64(x)]).unwrap(),
                doubles.encode(&[Value::Double(x)]).unwrap()
            );
        }
        let none = JsonCodec::new(vec![], true);
        assert_eq!(none.encode_cells(&[]).unwrap(), Some(b"{}".to_vec()));
    }

    #[test]
    fn single_unwrapped_column() {
        let c = JsonCodec::new(vec![("K".into(), SqlType::String)], false);
        assert_eq!(
            c.decode(b"\"a\"").unwrap(),
            Some(vec![Value::String("a".into())])
        );
        assert_eq!(
            c.encode(&[Value::String("a".into())]).unwrap().unwrap(),
            b"\"a\""
        );
    }
}
