//! Expression tests: parse, type, compile and evaluate on Arrow batches.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;

use super::compile::{Compiler, schema_of};
use super::{Scope, Typer};
use crate::arrow_conv::{array_values, to_array_owned};
use crate::functions::FunctionRegistry;
use crate::parser::ast::{SelectItem, Statement};
use crate::parser::parse_one;
use crate::types::SqlType;
use crate::value::Value;

/// Evaluates `select` (a projection list) over `rows` of `columns`.
fn eval(columns: &[(&str, SqlType)], rows: Vec<Vec<Value>>, select: &str) -> Vec<Vec<Value>> {
    try_eval(columns, rows, select).unwrap()
}

fn try_eval(
    columns: &[(&str, SqlType)],
    rows: Vec<Vec<Value>>,
    select: &str,
) -> crate::Result<Vec<Vec<Value>>> {
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
            panic!()
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
    let errors = compiler.errors.take();
    assert!(errors.is_empty() || select.contains("/"), "{errors:?}");
    let columns: Vec<Vec<Value>> = outputs
        .iter()
        .enumerate()
        .map(|(i, (_, e))| array_values(out.column(i), e.ty.as_ref().unwrap()).unwrap())
        .collect();
    Ok((0..out.num_rows())
        .map(|r| columns.iter().map(|c| c[r].clone()).collect())
        .collect())
}

#[test]
fn arithmetic_widens_and_divides_like_java() {
    let out = eval(
        &[("A", SqlType::Int), ("B", SqlType::BigInt)],
        vec![
            vec![Value::Int(7), Value::BigInt(2)],
            vec![Value::Int(-7), Value::BigInt(0)],
        ],
        "A + B, A / 2, A % 2, A / B, A * 1.5, A + 0.5E0",
    );
    assert_eq!(
        out[0],
        vec![
            Value::BigInt(9),
            Value::Int(3),
            Value::Int(1),
            Value::BigInt(3),
            Value::Decimal(105, 1),
            Value::Double(7.5)
        ]
    );
    // Division by zero: NULL for that row, the batch goes on.
    assert_eq!(out[1][3], Value::Null);
    assert_eq!(out[1][1], Value::Int(-3));
}

#[test]
fn comparisons_with_null_are_false() {
    let out = eval(
        &[("A", SqlType::Int), ("S", SqlType::String)],
        vec![vec![Value::Null, Value::String("x".into())]],
        "A = 1, NOT (A = 1), S = 'x', A IS NULL, S IN ('y', 'x'), A IN (1, 2), S LIKE 'x%'",
    );
    assert_eq!(
        out[0],
        vec![
            Value::Boolean(false),
            Value::Boolean(true),
            Value::Boolean(true),
            Value::Boolean(true),
            Value::Boolean(true),
            Value::Boolean(false),
            Value::Boolean(true)
        ]
    );
    assert!(try_eval(&[("A", SqlType::Int)], vec![], "NULL <> NULL").is_err());
}

#[test]
fn decimals_keep_ksqldb_scales() {
    let d = SqlType::decimal(4, 2).unwrap();
    let out = eval(
        &[("X", d.clone()), ("Y", d)],
        vec![vec![Value::Decimal(1010, 2), Value::Decimal(200, 2)]],
        "X / Y, X + Y, X * Y, X - 1",
    );
    assert_eq!(
        out[0],
        vec![
            Value::Decimal(50_500_000, 7),
            Value::Decimal(1210, 2),
            Value::Decimal(202_000, 4),
            Value::Decimal(910, 2)
        ]
    );
}

#[test]
fn structs_arrays_maps_and_lambdas() {
    let s = SqlType::structure([("F".to_string(), SqlType::Int)]);
    let a = SqlType::array(SqlType::Int);
    let m = SqlType::map(SqlType::String, SqlType::Int);
    let out = eval(
        &[("S", s), ("A", a), ("M", m), ("K", SqlType::Int)],
        vec![vec![
            Value::Struct(vec![Value::Int(5)]),
            Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            Value::Map(vec![(Value::String("a".into()), Value::Int(10))]),
            Value::Int(100),
        ]],
        "S->F, A[1], A[-1], A[5], M['a'], M['z'], ARRAY[1, 2], STRUCT(X := K), \
         TRANSFORM(A, x => x * 10 + K), FILTER(A, x => x > 1), REDUCE(A, 0, (s, x) => s + x), \
         CASE WHEN K > 10 THEN 'big' ELSE 'small' END, CAST(K AS STRING), COALESCE(NULL, K)",
    );
    assert_eq!(
        out[0],
        vec![
            Value::Int(5),
            Value::Int(1),
            Value::Int(3),
            Value::Null,
            Value::Int(10),
            Value::Null,
            Value::Array(vec![Value::Int(1), Value::Int(2)]),
            Value::Struct(vec![Value::Int(100)]),
            Value::Array(vec![Value::Int(110), Value::Int(120), Value::Int(130)]),
            Value::Array(vec![Value::Int(2), Value::Int(3)]),
            Value::Int(6),
            Value::String("big".into()),
            Value::String("100".into()),
            Value::Int(100),
        ]
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let cols = &[("A", SqlType::Int)];
    let err = try_eval(cols, vec![], "B").unwrap_err().to_string();
    assert!(err.contains("Column 'B' cannot be resolved"), "{err}");
    let err = try_eval(cols, vec![], "NOPE(A)").unwrap_err().to_string();
    assert!(
        err.contains("Can't find any functions with the name 'NOPE'"),
        "{err}"
    );
    let err = try_eval(cols, vec![], "UCASE(A)").unwrap_err().to_string();
    assert!(
        err.contains("does not accept parameters (INTEGER)"),
        "{err}"
    );
    let err = try_eval(cols, vec![], "A + 'x'").unwrap_err().to_string();
    assert!(err.contains("Unsupported arithmetic types"), "{err}");
}
