//! Table functions: ksqlDB's UDTFs, EXPLODE and CUBE_EXPLODE. Each takes one row's
//! argument values to the values of its output rows; a NULL array gives no rows.
//!
//! - `EXPLODE(ARRAY<T>)`: one row per element (NULL elements included), of type T. ksqlDB
//!   declares `explode(ARRAY<DECIMAL> input)` too, with the same semantics; maps are not
//!   accepted.
//! - `CUBE_EXPLODE(ARRAY<T>)`: every combination of the elements with some replaced by
//!   NULL, as `ARRAY<T>` rows: 2^n rows for n non-NULL elements (an element that is NULL
//!   already has one possibility only), in ksqlDB's order; more than 20 elements fail.

use std::sync::Arc;

use super::{FunctionRegistry, TableFn, TableFunction};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;

/// `Cube.MAX_COLUMNS`.
const CUBE_MAX_COLUMNS: usize = 20;

/// A type as ksqlDB prints it in function messages (no backticks around field names).
fn type_text(ty: &SqlType) -> String {
    match ty {
        SqlType::Array(e) => format!("ARRAY<{}>", type_text(e)),
        SqlType::Map(k, v) => format!("MAP<{}, {}>", type_text(k), type_text(v)),
        SqlType::Struct(fields) => format!(
            "STRUCT<{}>",
            fields
                .iter()
                .map(|f| format!("{} {}", f.name, type_text(&f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// ksqlDB's error for arguments no signature takes.
fn no_match(name: &str, args: &[Option<SqlType>], alternatives: &[&str]) -> SqlError {
    let listed: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().map_or_else(|| "null".to_string(), type_text))
        .collect();
    SqlError::semantic(format!(
        "Function '{name}' does not accept parameters ({}).\nValid alternatives are:\n{}\n\
         For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;",
        listed.join(", "),
        alternatives.join("\n")
    ))
}

/// The array argument of a table function over one array.
fn array_arg(name: &str, args: &[Option<SqlType>], alternatives: &[&str]) -> Result<SqlType> {
    match args {
        [Some(SqlType::Array(element))] => Ok((**element).clone()),
        [None] => Err(SqlError::semantic(format!(
            "Failed to resolve table function {name}: can't infer a type of null. Please \
             explicitly cast it to a required type, e.g. CAST(null AS ARRAY<VARCHAR>)."
        ))),
        _ => Err(no_match(name, args, alternatives)),
    }
}

struct Explode;

impl TableFunction for Explode {
    fn name(&self) -> &str {
        "explode"
    }

    fn description(&self) -> &str {
        "Explodes an array. This function outputs one value for each element of the array."
    }

    fn resolve(&self, args: &[Option<SqlType>]) -> Result<(SqlType, TableFn)> {
        let element = array_arg(
            self.name(),
            args,
            &["explode(ARRAY<DECIMAL> input)", "explode(ARRAY<T> list)"],
        )?;
        let f: TableFn = Arc::new(explode);
        Ok((element, f))
    }
}

fn explode(args: &[Value]) -> Result<Vec<Value>> {
    match args.first() {
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(Value::Null) | None => Ok(Vec::new()),
        Some(other) => Err(SqlError::eval(format!(
            "EXPLODE expects an array, got {other:?}"
        ))),
    }
}

struct CubeExplode;

impl TableFunction for CubeExplode {
    fn name(&self) -> &str {
        "cube_explode"
    }

    fn description(&self) -> &str {
        "Takes as argument a list of columns and outputs all possible combinations of them. \
         It produces 2^d new rows where d is the number of columns given as parameter. \
         Duplicate entries for columns with null value are skipped."
    }

    fn resolve(&self, args: &[Option<SqlType>]) -> Result<(SqlType, TableFn)> {
        let element = array_arg(self.name(), args, &["cube_explode(ARRAY<T> columns)"])?;
        let f: TableFn = Arc::new(cube);
        Ok((SqlType::array(element), f))
    }
}

/// `Cube.createAllCombinations`: bit `n - 1 - i` of the mask keeps column `i`; masks that
/// would keep a NULL column are duplicates and skipped.
fn cube(args: &[Value]) -> Result<Vec<Value>> {
    let columns = match args.first() {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => return Ok(Vec::new()),
        Some(other) => {
            return Err(SqlError::eval(format!(
                "CUBE_EXPLODE expects an array, got {other:?}"
            )));
        }
    };
    let n = columns.len();
    if n > CUBE_MAX_COLUMNS {
        return Err(SqlError::eval(format!(
            "cube_explode: too many columns ({n}); max is {CUBE_MAX_COLUMNS}"
        )));
    }
    let bit = |i: usize| 1u32 << (n - 1 - i);
    let non_null: u32 = (0..n)
        .filter(|&i| !columns[i].is_null())
        .map(bit)
        .fold(0, |m, b| m | b);
    Ok((0u32..1 << n)
        .filter(|mask| mask & non_null == *mask)
        .map(|mask| {
            Value::Array(
                (0..n)
                    .map(|i| {
                        if mask & bit(i) != 0 {
                            columns[i].clone()
                        } else {
                            Value::Null
                        }
                    })
                    .collect(),
            )
        })
        .collect())
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_table(Arc::new(Explode));
    r.add_table(Arc::new(CubeExplode));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: &str, args: &[Option<SqlType>]) -> Result<(SqlType, TableFn)> {
        let registry = FunctionRegistry::builtin();
        registry.table(name).expect("registered").resolve(args)
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn explodes_arrays() {
        let (ty, f) = resolve("EXPLODE", &[Some(SqlType::array(SqlType::BigInt))]).unwrap();
        assert_eq!(ty, SqlType::BigInt);
        let rows = f(&[Value::Array(vec![
            Value::BigInt(1),
            Value::Null,
            Value::BigInt(2),
        ])])
        .unwrap();
        assert_eq!(rows, vec![Value::BigInt(1), Value::Null, Value::BigInt(2)]);
        assert!(f(&[Value::Null]).unwrap().is_empty());
        assert!(f(&[Value::Array(vec![])]).unwrap().is_empty());
        let dec = SqlType::decimal(4, 2).unwrap();
        let (ty, _) = resolve("EXPLODE", &[Some(SqlType::array(dec.clone()))]).unwrap();
        assert_eq!(ty, dec);
    }

    #[test]
    fn explode_refuses_maps() {
        let err = resolve(
            "EXPLODE",
            &[Some(SqlType::map(SqlType::String, SqlType::Int))],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.starts_with(
                "Function 'explode' does not accept parameters (MAP<STRING, INTEGER>).\n\
                 Valid alternatives are:\nexplode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)"
            ),
            "{err}"
        );
        assert!(resolve("EXPLODE", &[None]).is_err());
        assert!(resolve("EXPLODE", &[]).is_err());
    }

    #[test]
    fn cubes_in_ksqldb_order() {
        let (ty, f) = resolve("CUBE_EXPLODE", &[Some(SqlType::array(SqlType::String))]).unwrap();
        assert_eq!(ty, SqlType::array(SqlType::String));
        let rows = f(&[Value::Array(vec![s("one"), s("two"), s("three")])]).unwrap();
        let n = Value::Null;
        let expected: Vec<Value> = [
            [n.clone(), n.clone(), n.clone()],
            [n.clone(), n.clone(), s("three")],
            [n.clone(), s("two"), n.clone()],
            [n.clone(), s("two"), s("three")],
            [s("one"), n.clone(), n.clone()],
            [s("one"), n.clone(), s("three")],
            [s("one"), s("two"), n.clone()],
            [s("one"), s("two"), s("three")],
        ]
        .into_iter()
        .map(|r| Value::Array(r.to_vec()))
        .collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn cube_skips_duplicates_of_nulls() {
        let (_, f) = resolve("CUBE_EXPLODE", &[Some(SqlType::array(SqlType::Int))]).unwrap();
        let rows = f(&[Value::Array(vec![Value::Int(1), Value::Null])]).unwrap();
        assert_eq!(
            rows,
            vec![
                Value::Array(vec![Value::Null, Value::Null]),
                Value::Array(vec![Value::Int(1), Value::Null]),
            ]
        );
        assert_eq!(
            f(&[Value::Array(vec![])]).unwrap(),
            vec![Value::Array(vec![])]
        );
        assert!(f(&[Value::Null]).unwrap().is_empty());
        let too_many = Value::Array((0..21).map(Value::Int).collect());
        assert_eq!(
            f(&[too_many]).unwrap_err().to_string(),
            "cube_explode: too many columns (21); max is 20"
        );
        assert_eq!(
            f(&[Value::Array((0..10).map(Value::Int).collect())])
                .unwrap()
                .len(),
            1 << 10
        );
    }

    #[test]
    fn cube_takes_one_array() {
        let err = resolve("CUBE_EXPLODE", &[Some(SqlType::Int), Some(SqlType::Int)])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with(
                "Function 'cube_explode' does not accept parameters (INTEGER, INTEGER).\n\
                 Valid alternatives are:\ncube_explode(ARRAY<T> columns)"
            ),
            "{err}"
        );
    }
}
