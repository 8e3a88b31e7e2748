//! JSON objects read straight into [`Cell`]s: a stream source's hot path. Field values of
//! the common types (BOOLEAN, INT, BIGINT, DOUBLE, STRING, TIMESTAMP) become cells without
//! a [`Json`](super::json_text::Json) tree or a [`Value`](crate::value::Value), strings
//! borrowed from the record; anything else is converted by [`from_json`], so both paths
//! read a record exactly alike (field matching, coercions and error messages are those of
//! [`JsonCodec::decode`](super::codec::RowCodec::decode)).

use std::borrow::Cow;

use super::cell::Cell;
use super::json::{from_json, integer};
use super::json_object::{Scalar, read_object_scalars};
use crate::error::{Result, SqlError};
use crate::types::SqlType;

/// Column matching for [`read_cells`].
#[derive(Debug, Clone)]
pub struct CellColumns {
    columns: Vec<(String, SqlType)>,
}

impl CellColumns {
    /// Matching for `columns`, if the fast path applies: no two names equal ignoring case
    /// (a field then feeds one column at most) and at most 64 columns (bit masks).
    pub fn new(columns: &[(String, SqlType)]) -> Option<Self> {
        let distinct = columns
            .iter()
            .enumerate()
            .all(|(i, (a, _))| columns[..i].iter().all(|(b, _)| !a.eq_ignore_ascii_case(b)));
        (distinct && columns.len() <= 64).then(|| Self {
            columns: columns.to_vec(),
        })
    }

    /// The column a field feeds, searched from `hint` (fields usually come in column
    /// order), and whether its name matched exactly.
    fn column_of(&self, name: &[u8], hint: usize) -> Option<(usize, bool)> {
        let matches = |c: &usize| self.columns[*c].0.as_bytes().eq_ignore_ascii_case(name);
        let n = self.columns.len();
        (hint..n)
            .find(matches)
            .or_else(|| (0..hint.min(n)).find(matches))
            .map(|c| (c, self.columns[c].0.as_bytes() == name))
    }
}

/// Reads a JSON object into one cell per column; `Ok(None)` when the document is not an
/// object (the caller reads it the slow way, to say what it is).
///
/// As [`lookup`](super::json::lookup) matches, a field named exactly as a column wins over
/// one matching it ignoring case, and the first of equals wins. A field that cannot be
/// converted fails the record, but only once the whole document is known to be JSON, and
/// the first failing column in column order is the one reported.
pub fn read_cells<'a>(
    columns: &CellColumns,
    bytes: &'a [u8],
    cells: &mut Vec<Cell<'a>>,
) -> Result<Option<()>> {
    let width = columns.columns.len();
    cells.clear();
    cells.resize(width, Cell::Null);
    let (mut filled, mut exact) = (0u64, 0u64);
    let mut failed: Vec<(usize, SqlError)> = Vec::new();
    let mut hint = 0;
    let is_object = read_object_scalars(
        bytes,
        |name| {
            let (c, is_exact) = columns.column_of(name, hint)?;
            let bit = 1u64 << c;
            let take = if is_exact {
                exact & bit == 0
            } else {
                filled & bit == 0
            };
            if !take {
                return None;
            }
            filled |= bit;
            if is_exact {
                exact |= bit;
            }
            hint = c + 1;
            Some(c)
        },
        |c, scalar| {
            if !failed.is_empty() {
                failed.retain(|(f, _)| *f != c);
            }
            let (name, ty) = &columns.columns[c];
            match cell_of(scalar, ty) {
                Ok(cell) => cells[c] = cell,
                Err(e) => {
                    cells[c] = Cell::Null;
                    failed.push((
                        c,
                        SqlError::serde(format!("Failed to read field {name}: {e}")),
                    ));
                }
            }
        },
    )
    .map_err(|e| SqlError::serde(format!("Failed to deserialize JSON: {e}")))?;
    if !is_object {
        return Ok(None);
    }
    match failed.into_iter().min_by_key(|(c, _)| *c) {
        Some((_, e)) => Err(e),
        None => Ok(Some(())),
    }
}

/// A field's value as a cell of `ty`, coerced as [`from_json`] coerces.
#[inline]
fn cell_of<'a>(scalar: Scalar<'a>, ty: &SqlType) -> Result<Cell<'a>> {
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
    if let Some(cell) = fast {
        return Ok(cell);
    }
    match (ty, scalar) {
        (SqlType::String, Scalar::String(s)) => Ok(Cell::Str(s)),
        (_, scalar) => from_json(&scalar.into_json(), ty).map(Cell::Value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::codec::RowCodec;
    use crate::serde::json::JsonCodec;
    use crate::value::Value;

    fn columns() -> Vec<(String, SqlType)> {
        vec![
            ("ID".into(), SqlType::BigInt),
            ("NAME".into(), SqlType::String),
            ("N".into(), SqlType::Int),
            ("X".into(), SqlType::Double),
            ("T".into(), SqlType::Timestamp),
            ("B".into(), SqlType::Boolean),
            ("D".into(), SqlType::decimal(4, 2).unwrap()),
            (
                "S".into(),
                SqlType::structure([("F".to_string(), SqlType::Int)]),
            ),
        ]
    }

    /// Cells and the row path agree, value for value and error for error.
    fn same_as_rows(text: &str) {
        let cols = columns();
        let matching = CellColumns::new(&cols).unwrap();
        let mut cells = Vec::new();
        let by_cells = read_cells(&matching, text.as_bytes(), &mut cells).map(|r| {
            r.map(|()| {
                cells
                    .drain(..)
                    .map(|c| c.into_value())
                    .collect::<Vec<Value>>()
            })
        });
        let by_rows = JsonCodec::new(cols.clone(), true).decode(text.as_bytes());
        match (by_cells, by_rows) {
            (Ok(Some(a)), Ok(Some(b))) => assert_eq!(a, b, "{text}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            (Ok(None), _) => {}
            (a, b) => panic!("{text}: cells {a:?}, rows {b:?}"),
        }
    }

    #[test]
    fn cells_read_as_rows_do() {
        for text in [
            r#"{"id": 1, "name": "a", "n": 2.9, "x": 1e3, "t": 5, "b": true, "d": 1.5, "s": {"f": 1}}"#,
            r#"{"ID": 1, "id": 2, "NAME": "a", "name": "b", "Name": "c"}"#,
            r#"{"id": 2, "ID": 3}"#,
            r#"{"id": "12", "name": 5, "n": "7", "x": "2.5", "b": "TRUE", "t": "9"}"#,
            r#"{"name": true, "id": null, "unknown": [1, {"a": 2}]}"#,
            r#"{"name": "esc\"aped\u00e9"}"#,
            r#"{"id": "x", "n": "y"}"#,
            r#"{"id": "x", "ID": 4}"#,
            r#"{"n": [1], "id": {}}"#,
            r#"{"id": "x", "oops": }"#,
            r#"{"id": 9223372036854775808}"#,
            r#"{}"#,
        ] {
            same_as_rows(text);
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
        assert!(
            CellColumns::new(&[("a".into(), SqlType::Int), ("A".into(), SqlType::Int)]).is_none()
        );
    }
}
