//! Function tests: SQL expressions parsed, typed (overload resolution), compiled and
//! evaluated on Arrow batches, as a query's projection would be.

mod collections;
mod datetime;
mod json;
mod math;
mod misc;
mod nulls;
mod string;

use std::collections::BTreeMap;

use arrow::array::RecordBatch;

use crate::arrow_conv::{array_values, to_array_owned};
use crate::expr::compile::{Compiler, schema_of};
use crate::expr::{Scope, Typer};
use crate::functions::FunctionRegistry;
use crate::parser::ast::{SelectItem, Statement};
use crate::parser::parse_one;
use crate::types::SqlType;
use crate::value::Value;

/// What evaluating a projection gave: per row the values, the result types, and the
/// processing-log messages.
pub(super) struct Output {
    pub rows: Vec<Vec<Value>>,
    pub types: Vec<SqlType>,
    pub errors: Vec<String>,
}

/// Evaluates `select` (a projection list) over `rows` of `columns`; an error is a
/// statement (planning) error.
pub(super) fn run(
    columns: &[(&str, SqlType)],
    rows: Vec<Vec<Value>>,
    select: &str,
) -> crate::Result<Output> {
    let cols: Vec<(String, SqlType)> = columns
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    let scope = Scope::of(cols.clone());
    let registry = FunctionRegistry::builtin();
    let types = BTreeMap::new();
    let mut typer = Typer::new(&scope, &registry, &types);
    let Statement::Query(q) = parse_one(&format!("SELECT {select} FROM t;"))?.statement else {
        panic!("not a query")
    };
    let mut outputs = Vec::new();
    for (i, item) in q.select.iter().enumerate() {
        let SelectItem::Expr { expr, .. } = item else {
            panic!("not an expression")
        };
        outputs.push((format!("C{i}"), typer.type_expr(expr)?));
    }
    let compiler = Compiler::default();
    let (program, _) = compiler.program(&cols, None, &outputs)?;
    let arrays = cols
        .iter()
        .enumerate()
        .map(|(i, (_, t))| {
            let column: Vec<Value> = rows.iter().map(|r| r[i].clone()).collect();
            to_array_owned(&column, t).unwrap()
        })
        .collect();
    let batch = RecordBatch::try_new(schema_of(&cols), arrays).unwrap();
    let out = program.evaluate(&batch)?;
    let types: Vec<SqlType> = outputs.iter().map(|(_, e)| e.ty.clone().unwrap()).collect();
    let columns: Vec<Vec<Value>> = types
        .iter()
        .enumerate()
        .map(|(i, t)| array_values(out.column(i), t).unwrap())
        .collect();
    Ok(Output {
        rows: (0..out.num_rows())
            .map(|r| columns.iter().map(|c| c[r].clone()).collect())
            .collect(),
        types,
        errors: compiler.errors.take(),
    })
}

/// Evaluates a constant expression (over one dummy row).
pub(super) fn eval(expr: &str) -> (Value, SqlType, Vec<String>) {
    let out = run(&[("DUMMY", SqlType::Int)], vec![vec![Value::Int(0)]], expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    (out.rows[0][0].clone(), out.types[0].clone(), out.errors)
}

/// The value of a constant expression that must not log an error.
pub(super) fn v(expr: &str) -> Value {
    let (value, _, errors) = eval(expr);
    assert!(errors.is_empty(), "{expr}: {errors:?}");
    value
}

/// The type of a constant expression.
pub(super) fn ty(expr: &str) -> SqlType {
    eval(expr).1
}

/// A constant expression that gives NULL and logs an error; the error.
pub(super) fn fails(expr: &str) -> String {
    let (value, _, errors) = eval(expr);
    assert_eq!(value, Value::Null, "{expr}");
    assert!(!errors.is_empty(), "{expr}: expected an error");
    errors.join("; ")
}

/// The planning error of an expression.
pub(super) fn plan_error(expr: &str) -> String {
    match run(&[("DUMMY", SqlType::Int)], vec![vec![Value::Int(0)]], expr) {
        Ok(_) => panic!("{expr}: expected a planning error"),
        Err(e) => e.to_string(),
    }
}

/// A STRING value.
pub(super) fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

/// An ARRAY of STRINGs.
pub(super) fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|t| s(t)).collect())
}

/// An ARRAY of INTs.
pub(super) fn ints(items: &[i32]) -> Value {
    Value::Array(items.iter().map(|&i| Value::Int(i)).collect())
}

#[test]
fn a_wrong_expectation_fails() {
    let result = std::panic::catch_unwind(|| assert_eq!(v("UCASE('a')"), s("b")));
    assert!(result.is_err());
}
