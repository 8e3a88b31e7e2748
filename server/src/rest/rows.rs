//! Result rows as the REST API writes them: JSON arrays of values, with ksqlDB's REST
//! mapper's choices (`ApiJsonMapper`): TIMESTAMP as `yyyy-MM-dd'T'HH:mm:ss.SSS` (UTC),
//! DATE as `yyyy-MM-dd`, TIME as `HH:mm:ss`, BYTES as base64, DECIMAL as a plain number,
//! STRUCT and MAP as objects. The JSON format's writer does everything else.

use eddy_sql::SqlType;
use eddy_sql::functions::{iso_date, iso_timestamp};
use eddy_sql::serde::json::write_value;
use eddy_sql::serde::json_text::write_json_string;
use eddy_sql::value::Value;

/// Appends one value.
pub fn write_rest_value(value: &Value, ty: &SqlType, out: &mut String) {
    match (value, ty) {
        (Value::Timestamp(ms), _) => write_json_string(&iso_timestamp(*ms), out),
        (Value::Date(days), _) => write_json_string(&iso_date(*days), out),
        (Value::Time(ms), _) => write_json_string(&iso_time(*ms), out),
        (Value::Array(items), SqlType::Array(element)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_rest_value(item, element, out);
            }
            out.push(']');
        }
        (Value::Map(entries), SqlType::Map(_, value_type)) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Value::String(s) => write_json_string(s, out),
                    other => write_json_string(&other.display(None), out),
                }
                out.push(':');
                write_rest_value(v, value_type, out);
            }
            out.push('}');
        }
        (Value::Struct(values), SqlType::Struct(fields)) => {
            out.push('{');
            for (i, (field, v)) in fields.iter().zip(values).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(&field.name, out);
                out.push(':');
                write_rest_value(v, &field.ty, out);
            }
            out.push('}');
        }
        _ => write_value(value, ty, out),
    }
}

/// `HH:mm:ss` of milliseconds since midnight (`SqlTimeTypes.formatTime`).
fn iso_time(ms: i32) -> String {
    let seconds = ms.div_euclid(1000);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// A row as a JSON array.
pub fn row_json(values: &[Value], types: &[SqlType], out: &mut String) {
    out.push('[');
    for (i, (value, ty)) in values.iter().zip(types).enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_rest_value(value, ty, out);
    }
    out.push(']');
}

/// ksqlDB's schema text of a result (`/query`'s header): `` `ID` BIGINT, `NAME` STRING ``.
pub fn schema_text(columns: &[(String, SqlType)]) -> String {
    columns
        .iter()
        .map(|(name, ty)| format!("`{name}` {ty}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[Value], types: &[SqlType]) -> String {
        let mut out = String::new();
        row_json(values, types, &mut out);
        out
    }

    #[test]
    fn temporal_values_are_iso_strings_and_the_rest_is_json() {
        let types = [
            SqlType::BigInt,
            SqlType::String,
            SqlType::Timestamp,
            SqlType::Date,
            SqlType::Time,
            SqlType::decimal(5, 2).unwrap(),
            SqlType::array(SqlType::Timestamp),
        ];
        let values = [
            Value::BigInt(7),
            Value::String("a\"b".into()),
            Value::Timestamp(1_600_000_000_123),
            Value::Date(18_000),
            Value::Time(3_723_000),
            Value::Decimal(12_345, 2),
            Value::Array(vec![Value::Timestamp(0), Value::Null]),
        ];
        assert_eq!(
            row(&values, &types),
            r#"[7,"a\"b","2020-09-13T12:26:40.123","2019-04-14","01:02:03",123.45,["1970-01-01T00:00:00.000",null]]"#
        );
    }

    #[test]
    fn schema_text_quotes_names() {
        let columns = [
            ("ID".to_string(), SqlType::BigInt),
            ("s".to_string(), SqlType::array(SqlType::Int)),
        ];
        assert_eq!(schema_text(&columns), "`ID` BIGINT, `s` ARRAY<INTEGER>");
    }
}
