//! Serialisation formats of keys and values: KAFKA, JSON, DELIMITED and NONE, the
//! schema-registry formats Eddy refuses until it has a schema registry, and the rules of
//! which types and column counts each format can hold.

use std::fmt;

use crate::catalog::schema::Column;
use crate::error::{Result, SqlError};
use crate::types::SqlType;

/// A serialisation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Kafka's primitive serializers: one column of INT, BIGINT, DOUBLE, STRING or BYTES.
    Kafka,
    /// JSON objects (or a bare value for a single unwrapped column).
    Json,
    /// Delimited text (CSV by default).
    Delimited,
    /// No data: for keyless streams.
    None,
}

impl Format {
    /// Parses a format name (case-insensitive). Schema-registry formats are refused with a
    /// message saying why.
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "KAFKA" => Ok(Self::Kafka),
            "JSON" => Ok(Self::Json),
            "DELIMITED" => Ok(Self::Delimited),
            "NONE" => Ok(Self::None),
            f @ ("AVRO" | "PROTOBUF" | "PROTOBUF_NOSR" | "JSON_SR") => {
                Err(SqlError::semantic(format!(
                    "The '{f}' format needs a schema registry, which Eddy does not have yet; \
                     use KAFKA, JSON, DELIMITED or NONE"
                )))
            }
            other => Err(SqlError::semantic(format!("Unknown format: {other}"))),
        }
    }

    /// The format's name as ksqlDB prints it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Kafka => "KAFKA",
            Self::Json => "JSON",
            Self::Delimited => "DELIMITED",
            Self::None => "NONE",
        }
    }

    /// Whether the format can hold a column of this type.
    pub fn supports(&self, ty: &SqlType) -> bool {
        match self {
            Self::Kafka => matches!(
                ty,
                SqlType::Int | SqlType::BigInt | SqlType::Double | SqlType::String | SqlType::Bytes
            ),
            Self::Json => true,
            Self::Delimited => !matches!(
                ty,
                SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)
            ),
            Self::None => false,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format and its properties.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FormatInfo {
    /// The format.
    pub format: Format,
    /// DELIMITED's delimiter (default `,`).
    pub delimiter: Option<char>,
}

impl FormatInfo {
    /// A format without properties.
    pub fn of(format: Format) -> Self {
        Self {
            format,
            delimiter: None,
        }
    }

    /// The delimiter DELIMITED uses.
    pub fn delimiter(&self) -> char {
        self.delimiter.unwrap_or(',')
    }
}

/// Parses `VALUE_DELIMITER` / `KEY_DELIMITER`: one character, or `TAB` / `SPACE`.
pub fn parse_delimiter(name: &str, text: &str) -> Result<char> {
    let invalid = |why: &str| {
        SqlError::semantic(format!(
            "Failed to prepare statement: Configuration {name} is invalid: {why}"
        ))
    };
    match text {
        "" => Err(invalid(
            "Delimiter cannot be empty, if you meant to have a tab or space for delimiter, \
             please use the special values 'TAB' or 'SPACE'\nExample valid value: ';'",
        )),
        t if t.eq_ignore_ascii_case("TAB") => Ok('\t'),
        t if t.eq_ignore_ascii_case("SPACE") => Ok(' '),
        t if t.chars().count() == 1 => {
            let c = t.chars().next().unwrap_or(',');
            if c == ' ' || c == '\t' {
                return Err(invalid(
                    "Delimiter cannot be empty, if you meant to have a tab or space for \
                     delimiter, please use the special values 'TAB' or 'SPACE'\nExample valid \
                     value: ';'",
                ));
            }
            Ok(c)
        }
        other => Err(invalid(&format!(
            "Invalid delimiter value: '{other}'. Delimiter must be a single character or \
             TAB,SPACE\nExample valid value: ';'"
        ))),
    }
}

/// Checks that a format can hold `columns` (the key or the value columns of a source),
/// with ksqlDB's messages.
pub fn check_columns(
    info: &FormatInfo,
    columns: &[&Column],
    is_key: bool,
    wrap_single_value: Option<bool>,
) -> Result<()> {
    let names = || {
        columns
            .iter()
            .map(|c| format!("`{}` {}{}", c.name, c.ty, if is_key { " KEY" } else { "" }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // ksqlDB reports what its serde factory refuses with the persistence schema.
    let unsupported = |reason: String| {
        let features = match wrap_single_value {
            Some(true) => "WRAP_SINGLES",
            Some(false) => "UNWRAP_SINGLES",
            None => "",
        };
        SqlError::semantic(format!(
            "{} format does not support schema.\nformat: {}\nschema: Persistence{{columns=[{}], features=[{features}]}}\nreason: {reason}",
            if is_key { "Key" } else { "Value" },
            info.format,
            names()
        ))
    };
    match info.format {
        Format::None => {
            if !columns.is_empty() {
                return Err(unsupported(format!(
                    "The 'NONE' format can only be used when no columns are defined. Got: [{}]",
                    names()
                )));
            }
            if wrap_single_value.is_some() {
                return Err(SqlError::semantic(
                    "Format 'NONE' does not support 'WRAP_SINGLE_VALUE' set to 'true'.",
                ));
            }
        }
        Format::Kafka => {
            if columns.len() > 1 {
                return Err(unsupported(format!(
                    "The 'KAFKA' format only supports a single field. Got: [{}]",
                    names()
                )));
            }
            if wrap_single_value == Some(true) {
                return Err(SqlError::semantic(
                    "Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'.",
                ));
            }
        }
        Format::Delimited => {
            if wrap_single_value == Some(true) {
                return Err(SqlError::semantic(
                    "Format 'DELIMITED' does not support 'WRAP_SINGLE_VALUE' set to 'true'.",
                ));
            }
        }
        Format::Json => {}
    }
    for column in columns {
        if !info.format.supports(&column.ty) {
            let column_note = if info.format == Format::Delimited {
                format!(", column: `{}`", column.name)
            } else {
                String::new()
            };
            return Err(unsupported(format!(
                "The '{}' format does not support type '{}'{column_note}",
                info.format,
                column.ty.kind_name()
            )));
        }
        if info.format == Format::Json {
            check_json_map_keys(&column.ty)?;
        }
    }
    Ok(())
}

fn check_json_map_keys(ty: &SqlType) -> Result<()> {
    match ty {
        SqlType::Map(k, v) => {
            if **k != SqlType::String {
                return Err(SqlError::semantic(
                    "JSON only supports MAP types with STRING keys",
                ));
            }
            check_json_map_keys(v)
        }
        SqlType::Array(e) => check_json_map_keys(e),
        SqlType::Struct(fields) => fields.iter().try_for_each(|f| check_json_map_keys(&f.ty)),
        _ => Ok(()),
    }
}
