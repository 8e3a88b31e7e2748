//! JSON objects read straight into [`Cell`]s: a stream source's hot path. Field values of
//! the common types (BOOLEAN, INT, BIGINT, DOUBLE, STRING, TIMESTAMP) become cells without
//! a [`Json`](super::json_text::Json) tree or a [`Value`], strings borrowed from the
//! record; STRUCTs and ARRAYs are read member by member into values; anything else (MAPs,
//! coercions) is converted by [`from_json`]. A record this path cannot read (bad JSON, a
//! value that does not convert) is left to the row path, so both read every record alike:
//! field matching and coercions are the same, and errors are the row path's.

use std::borrow::Cow;

use super::cell::Cell;
use super::json::{from_json, integer};
use super::json_object::{Name, Scalar, items, members, scalar, skip_field};
use super::json_text::{JsonError, Reader};
use crate::types::SqlType;
use crate::value::Value;

/// How a record's columns are read: which field feeds which column, and how each
/// column's values are read.
#[derive(Debug, Clone)]
pub struct CellColumns {
    fields: Fields,
}

impl CellColumns {
    /// Matching for `columns`, if the fast path applies to them (no two names equal ignoring case, at most 64).
    pub fn new(columns: &[(String, SqlType)]) -> Option<Self> {
        Fields::new(columns.iter().map(|(n, t)| (n.as_str(), t))).map(|fields| Self { fields })
    }
}

/// How a value of a type is read.
#[derive(Debug, Clone)]
enum Plan {
    /// A scalar, converted by [`cell_of`].
    Scalar(SqlType),
    /// A STRUCT (of this type), read field by field.
    Struct(Fields, SqlType),
    /// An ARRAY (of this type), read item by item.
    Array(Box<Plan>, SqlType),
}

impl Plan {
    fn of(ty: &SqlType) -> Self {
        match ty {
            SqlType::Struct(fields) => {
                match Fields::new(fields.iter().map(|f| (f.name.as_str(), &f.ty))) {
                    Some(fields) => Self::Struct(fields, ty.clone()),
                    None => Self::Scalar(ty.clone()),
                }
            }
            SqlType::Array(element) => Self::Array(Box::new(Self::of(element)), ty.clone()),
            // MAPs (read into Java's HashMap order) and the rest: as a tree.
            other => Self::Scalar(other.clone()),
        }
    }
}

/// The named members of an object (a record's columns, a STRUCT's fields).
#[derive(Debug, Clone)]
struct Fields {
    names: Vec<String>,
    plans: Vec<Plan>,
}

impl Fields {
    /// `None` where the fast path does not apply: two names equal ignoring case (a field
    /// would then feed two members) or more than 64 (bit masks).
    fn new<'t>(members: impl Iterator<Item = (&'t str, &'t SqlType)>) -> Option<Self> {
        let (names, plans): (Vec<String>, Vec<Plan>) = members
            .map(|(name, ty)| (name.to_string(), Plan::of(ty)))
            .unzip();
        let distinct = names.iter().enumerate().all(|(i, a)| {
            names[..i]
                .iter()
                .all(|b| !a.as_bytes().eq_ignore_ascii_case(b.as_bytes()))
        });
        (distinct && names.len() <= 64).then_some(Self { names, plans })
    }

    /// The member a field feeds, searched from `hint` (fields usually come in order), and
    /// whether its name matched exactly.
    fn member_of(&self, name: &[u8], hint: usize) -> Option<(usize, bool)> {
        let matches = |c: &usize| self.names[*c].as_bytes().eq_ignore_ascii_case(name);
        let n = self.names.len();
        (hint..n)
            .find(matches)
            .or_else(|| (0..hint.min(n)).find(matches))
            .map(|c| (c, self.names[c].as_bytes() == name))
    }

    /// Reads the members of the object at `r` into `out` (one per member, NULL where
    /// absent). As [`lookup`](super::json::lookup) matches, a field named exactly as a
    /// member wins over one matching it ignoring case, and the first of equals wins.
    /// `Ok(false)` when a value cannot be converted.
    fn read<'a>(&self, r: &mut Reader<'a>, out: &mut [Cell<'a>]) -> Result<bool, JsonError> {
        let (mut filled, mut exact, mut hint) = (0u64, 0u64, 0);
        let mut converted = true;
        members(r, |r, name: Name<'a>| {
            let Some((c, is_exact)) = self.member_of(name.bytes(), hint) else {
                return skip_field(r, name);
            };
            let bit = 1u64 << c;
            let take = if is_exact {
                exact & bit == 0
            } else {
                filled & bit == 0
            };
            if !take {
                return skip_field(r, name);
            }
            filled |= bit;
            if is_exact {
                exact |= bit;
            }
            hint = c + 1;
            match read_value(r, &self.plans[c])? {
                Some(cell) => out[c] = cell,
                None => converted = false,
            }
            Ok(())
        })?;
        Ok(converted)
    }
}

/// Reads the value at `r` as `plan` says; `None` when it cannot be converted.
fn read_value<'a>(r: &mut Reader<'a>, plan: &Plan) -> Result<Option<Cell<'a>>, JsonError> {
    let next = r.bytes.get(r.at);
    match plan {
        Plan::Struct(fields, _) if next == Some(&b'{') => {
            let mut values = vec![Cell::Null; fields.names.len()];
            Ok(fields.read(r, &mut values)?.then(|| {
                Cell::Value(Value::Struct(
                    values.into_iter().map(Cell::into_value).collect(),
                ))
            }))
        }
        Plan::Array(element, _) if next == Some(&b'[') => {
            let (mut values, mut converted) = (Vec::new(), true);
            items(r, |r| {
                match read_value(r, element)? {
                    Some(cell) => values.push(cell.into_value()),
                    None => converted = false,
                }
                Ok(())
            })?;
            Ok(converted.then_some(Cell::Value(Value::Array(values))))
        }
        // A STRUCT or ARRAY that is not an object or array: NULL, or what `from_json`
        // makes of it.
        Plan::Scalar(ty) | Plan::Struct(_, ty) | Plan::Array(_, ty) => Ok(cell_of(scalar(r)?, ty)),
    }
}

/// Reads a JSON object into one cell per column. `None` when the record must be read the
/// row path's way ([`JsonCodec::decode`](super::codec::RowCodec::decode)): it is not an
/// object, it is not valid JSON, or a value does not convert. The row path then gives
/// the result or the error, so both paths read every record alike.
pub fn read_cells<'a>(
    columns: &CellColumns,
    bytes: &'a [u8],
    cells: &mut Vec<Cell<'a>>,
) -> Option<()> {
    cells.clear();
    cells.resize(columns.fields.names.len(), Cell::Null);
    let mut r = Reader::new(bytes, false);
    let read = (|| -> Result<bool, JsonError> {
        r.skip_ws()?;
        if r.bytes.get(r.at) != Some(&b'{') {
            return Ok(false);
        }
        let converted = columns.fields.read(&mut r, cells)?;
        r.skip_ws()?;
        Ok(converted && r.at == r.bytes.len())
    })();
    matches!(read, Ok(true)).then_some(())
}

/// A scalar as a cell of `ty`, coerced as [`from_json`] coerces; `None` where it cannot
/// be.
#[inline]
fn cell_of<'a>(scalar: Scalar<'a>, ty: &SqlType) -> Option<Cell<'a>> {
    let fast = match (ty, &scalar) {
        (_, Scalar::Null) => Some(Cell::Null),
        (SqlType::Boolean, Scalar::Bool(b)) => Some(Cell::Bool(*b)),
        (SqlType::Int, Scalar::Number(n)) => integer(n).map(|v| Cell::I32(v as i32)),
        (SqlType::BigInt, Scalar::Number(n)) => integer(n).map(Cell::I64),
        (SqlType::Timestamp, Scalar::Number(n)) => integer(n).map(Cell::Timestamp),
        (SqlType::Double, Scalar::Number(n)) => n.parse().ok().map(Cell::F64),
        (SqlType::String, Scalar::Number(n)) => Some(Cell::Str(Cow::Borrowed(n))),
        (SqlType::String, Scalar::Bool(b)) => {
            Some(Cell::Str(Cow::Borrowed(if *b { "true" } else { "false" })))
        }
        _ => None,
    };
    if fast.is_some() {
        return fast;
    }
    match (ty, scalar) {
        (SqlType::String, Scalar::String(s)) => Some(Cell::Str(s)),
        (_, scalar) => from_json(&scalar.into_json(), ty).ok().map(Cell::Value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::codec::RowCodec;
    use crate::serde::json::JsonCodec;

    fn columns() -> Vec<(String, SqlType)> {
        let inner = SqlType::structure([
            ("F".to_string(), SqlType::Int),
            ("G".to_string(), SqlType::array(SqlType::String)),
        ]);
        vec![
            ("ID".into(), SqlType::BigInt),
            ("NAME".into(), SqlType::String),
            ("N".into(), SqlType::Int),
            ("X".into(), SqlType::Double),
            ("T".into(), SqlType::Timestamp),
            ("B".into(), SqlType::Boolean),
            ("D".into(), SqlType::decimal(4, 2).unwrap()),
            ("S".into(), inner.clone()),
            ("L".into(), SqlType::array(inner)),
            ("M".into(), SqlType::map(SqlType::String, SqlType::Int)),
        ]
    }

    /// Reads `text` both ways: the cells, when the fast path took the record, must be
    /// the row path's row. Whether the fast path took it.
    fn same_as_rows(text: &str) -> bool {
        let cols = columns();
        let mut cells = Vec::new();
        let fast = read_cells(
            &CellColumns::new(&cols).unwrap(),
            text.as_bytes(),
            &mut cells,
        );
        let by_rows = JsonCodec::new(cols.clone(), true).decode(text.as_bytes());
        if fast.is_some() {
            let by_cells: Vec<Value> = cells.into_iter().map(Cell::into_value).collect();
            assert_eq!(Some(by_cells), by_rows.unwrap(), "{text}");
        }
        fast.is_some()
    }

    #[test]
    fn cells_read_as_rows_do() {
        let taken = [
            r#"{"id": 1, "name": "a", "n": 2.9, "x": 1e3, "t": 5, "b": true, "d": 1.5, "s": {"f": 1}}"#,
            r#"{"ID": 1, "id": 2, "NAME": "a", "name": "b", "Name": "c"}"#,
            r#"{"id": 2, "ID": 3}"#,
            r#"{"id": "12", "name": 5, "n": "7", "x": "2.5", "b": "TRUE", "t": "9"}"#,
            r#"{"name": true, "id": null, "unknown": [1, {"a": 2}]}"#,
            r#"{"name": "esc\"aped\u00e9"}"#,
            r#"{"id": 9223372036854775808}"#,
            r#"{}"#,
            r#"{"s": {"f": 1, "F": 2, "g": ["a", 1, true, null]}, "l": [{"G": []}, null, {"f": 3.5}]}"#,
            r#"{"s": {"x": {"deep": 1}, "f": null}, "l": [], "m": {"b": 2, "a": 1}}"#,
            r#"{"s": null, "l": null, "m": null}"#,
        ];
        for text in taken {
            assert!(same_as_rows(text), "the fast path left {text}");
        }
        // Errors and odd shapes go the row path's way (which says what is wrong).
        for text in [
            // Even where a later exact name would replace the value that fails.
            r#"{"id": "x", "ID": 4}"#,
            r#"{"id": "x", "n": "y"}"#,
            r#"{"n": [1], "id": {}}"#,
            r#"{"id": "x", "oops": }"#,
            r#"{"s": {"f": "x"}}"#,
            r#"{"l": [1]}"#,
            r#"{"s": "not an object"}"#,
            r#"[1, 2]"#,
            r#"{"id": 1} trailing"#,
        ] {
            assert!(!same_as_rows(text), "the fast path took {text}");
        }
    }

    #[test]
    fn a_wrong_expectation_is_noticed() {
        // The comparison above compares: a cell decoded differently from the row fails it.
        let cols = columns();
        let mut cells = Vec::new();
        read_cells(
            &CellColumns::new(&cols).unwrap(),
            br#"{"id": 1}"#,
            &mut cells,
        )
        .unwrap();
        assert_eq!(cells[0], Cell::I64(1));
        assert_ne!(cells[0], Cell::I64(2));
        let same_names = [("a".into(), SqlType::Int), ("A".into(), SqlType::Int)];
        assert!(CellColumns::new(&same_names).is_none());
    }
}
