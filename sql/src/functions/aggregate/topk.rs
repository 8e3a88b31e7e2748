//! TOPK and TOPKDISTINCT (ksqlDB's `TopkKudaf` and `TopkDistinctKudaf`; not table UDAFs).
//!
//! `TOPK(col, otherCols..., k)` of an INT, BIGINT, DOUBLE or STRING column keeps the k
//! largest values, largest first; ties keep their arrival order. With other columns each
//! entry is a `STRUCT<sort_col type, col0 type, col1 type, ...>` of the record's values.
//! `TOPKDISTINCT(col, k)` (also DECIMAL, DATE, TIME, TIMESTAMP and BYTES) keeps the k
//! largest distinct values. Rows whose column is NULL are skipped. Values order by Java's
//! `compareTo`. As in ksqlDB, k = 0 fails on the first value and a negative k keeps all.

use std::cmp::Ordering;
use std::sync::Arc;

use super::java::{compare, equals};
use super::{
    Signature, Unbound, arg, arg_type, bad_state, choose, elements, int_literal, literals,
    struct_type,
};
use crate::error::{Result, SqlError};
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry, Param};
use crate::types::SqlType;
use crate::value::Value;

#[derive(Debug)]
struct TopK {
    /// The sort column's type.
    ty: SqlType,
    /// The other columns' types (entries are structs when there are any).
    others: Vec<SqlType>,
    k: i32,
}

impl TopK {
    fn entry_type(&self) -> SqlType {
        if self.others.is_empty() {
            return self.ty.clone();
        }
        let names: Vec<String> = (0..self.others.len()).map(|i| format!("col{i}")).collect();
        let mut fields: Vec<(&str, SqlType)> = vec![("sort_col", self.ty.clone())];
        fields.extend(
            names
                .iter()
                .map(String::as_str)
                .zip(self.others.iter().cloned()),
        );
        struct_type(&fields)
    }

    /// The sort value of an entry.
    fn key<'a>(&self, entry: &'a Value) -> Result<&'a Value> {
        if self.others.is_empty() {
            return Ok(entry);
        }
        match entry {
            Value::Struct(f) if !f.is_empty() => Ok(&f[0]),
            other => Err(bad_state("TOPK", other)),
        }
    }

    fn full(&self, len: usize) -> bool {
        self.k >= 0 && len == self.k as usize
    }
}

fn k_zero(name: &str) -> SqlError {
    SqlError::eval(format!("{name}: Index -1 out of bounds for length 0"))
}

impl Aggregator for TopK {
    fn value_args(&self) -> usize {
        1 + self.others.len()
    }
    fn state_type(&self) -> SqlType {
        SqlType::array(self.entry_type())
    }
    fn return_type(&self) -> SqlType {
        SqlType::array(self.entry_type())
    }
    fn init(&self) -> Value {
        Value::Array(Vec::new())
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = arg(args, 0);
        if v.is_null() {
            return Ok(state);
        }
        let mut items = elements("TOPK", state)?;
        let full = self.full(items.len());
        if let Some(last) = items.last()
            && full
            && compare(v, self.key(last)?) != Ordering::Greater
        {
            return Ok(Value::Array(items));
        }
        let entry = if self.others.is_empty() {
            v.clone()
        } else {
            Value::Struct(
                (0..self.value_args())
                    .map(|i| arg(args, i).clone())
                    .collect(),
            )
        };
        if full {
            match items.last_mut() {
                Some(last) => *last = entry,
                None => return Err(k_zero("TOPK")),
            }
        } else {
            items.push(entry);
        }
        // A stable sort, largest first (Comparator.comparing(..).reversed()).
        let mut keyed = items
            .into_iter()
            .map(|e| Ok((self.key(&e)?.clone(), e)))
            .collect::<Result<Vec<_>>>()?;
        keyed.sort_by(|a, b| compare(&b.0, &a.0));
        Ok(Value::Array(keyed.into_iter().map(|(_, e)| e).collect()))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        let one = elements("TOPK", a)?;
        let two = elements("TOPK", b)?;
        let mut merged = Vec::new();
        let (mut i, mut j) = (0, 0);
        while !self.full(merged.len()) {
            let v1 = one.get(i).map(|e| self.key(e)).transpose()?;
            let v2 = two.get(j).map(|e| self.key(e)).transpose()?;
            match (v1, v2) {
                (Some(x), Some(y)) if compare(x, y) != Ordering::Less => {
                    merged.push(one[i].clone());
                    i += 1;
                }
                (Some(_), None) => {
                    merged.push(one[i].clone());
                    i += 1;
                }
                (_, Some(_)) => {
                    merged.push(two[j].clone());
                    j += 1;
                }
                (None, None) => break,
            }
        }
        Ok(Value::Array(merged))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(Value::Array(elements("TOPK", state.clone())?))
    }
}

#[derive(Debug)]
struct TopKDistinct {
    ty: SqlType,
    k: i32,
}

impl TopKDistinct {
    fn full(&self, len: usize) -> bool {
        self.k >= 0 && len == self.k as usize
    }
}

impl Aggregator for TopKDistinct {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        SqlType::array(self.ty.clone())
    }
    fn return_type(&self) -> SqlType {
        SqlType::array(self.ty.clone())
    }
    fn init(&self) -> Value {
        Value::Array(Vec::new())
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = arg(args, 0);
        if v.is_null() {
            return Ok(state);
        }
        let mut items = elements("TOPKDISTINCT", state)?;
        let full = self.full(items.len());
        if full {
            match items.last() {
                Some(last) if compare(v, last) != Ordering::Greater => {
                    return Ok(Value::Array(items));
                }
                Some(_) => {}
                None => return Err(k_zero("TOPKDISTINCT")),
            }
        }
        if items.iter().any(|x| equals(x, v)) {
            return Ok(Value::Array(items));
        }
        if full {
            if let Some(last) = items.last_mut() {
                *last = v.clone();
            }
        } else {
            items.push(v.clone());
        }
        items.sort_by(|a, b| compare(b, a));
        Ok(Value::Array(items))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        let one = elements("TOPKDISTINCT", a)?;
        let two = elements("TOPKDISTINCT", b)?;
        let mut merged = Vec::new();
        let (mut i, mut j) = (0, 0);
        while !self.full(merged.len()) {
            match (one.get(i), two.get(j)) {
                (None, None) => break,
                (Some(x), None) => {
                    merged.push(x.clone());
                    i += 1;
                }
                (None, Some(y)) => {
                    merged.push(y.clone());
                    j += 1;
                }
                (Some(x), Some(y)) => match compare(x, y) {
                    Ordering::Greater => {
                        merged.push(x.clone());
                        i += 1;
                    }
                    Ordering::Less => {
                        merged.push(y.clone());
                        j += 1;
                    }
                    Ordering::Equal => {
                        merged.push(x.clone());
                        i += 1;
                        j += 1;
                    }
                },
            }
        }
        Ok(Value::Array(merged))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(Value::Array(elements("TOPKDISTINCT", state.clone())?))
    }
}

struct TopKFunction;

impl AggregateFunction for TopKFunction {
    fn name(&self) -> &str {
        "TOPK"
    }
    fn description(&self) -> &str {
        "Returns the top k values for a column and other values in those records."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        let signatures: Vec<Signature> = [
            SqlType::Int,
            SqlType::BigInt,
            SqlType::Double,
            SqlType::String,
        ]
        .into_iter()
        .map(|t| {
            Signature::variadic(
                vec![
                    (t.into(), "val1"),
                    (Param::Any, "val2"),
                    (SqlType::Int.into(), "k"),
                ],
                1,
            )
        })
        .collect();
        choose("TOPK", &signatures, args)?;
        let value_args = args.len() - 1;
        let ty = arg_type("TOPK", args, 0)?;
        let others = (1..value_args)
            .map(|i| arg_type("TOPK", args, i))
            .collect::<Result<Vec<_>>>()?;
        match literals(args, value_args) {
            Err(position) => Ok(Unbound::wrap(
                "TOPK",
                position,
                Arc::new(TopK { ty, others, k: 1 }),
            )),
            Ok(values) => {
                let k = values
                    .first()
                    .map(int_literal)
                    .transpose()?
                    .ok_or_else(|| SqlError::semantic("Failed to invoke UDAF factory method"))?;
                Ok(Arc::new(TopK { ty, others, k }))
            }
        }
    }
}

struct TopKDistinctFunction;

impl AggregateFunction for TopKDistinctFunction {
    fn name(&self) -> &str {
        "TOPKDISTINCT"
    }
    fn description(&self) -> &str {
        "Computes the top k distinct values for a column, per key."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        let k = || (Param::from(SqlType::Int), "k");
        let mut signatures: Vec<Signature> = [
            SqlType::Int,
            SqlType::BigInt,
            SqlType::Double,
            SqlType::String,
        ]
        .into_iter()
        .map(|t| Signature::new(vec![(t.into(), "val1"), k()]))
        .collect();
        signatures.push(Signature::new(vec![(Param::AnyDecimal, "val1"), k()]));
        signatures.extend(
            [
                SqlType::Date,
                SqlType::Time,
                SqlType::Timestamp,
                SqlType::Bytes,
            ]
            .into_iter()
            .map(|t| Signature::new(vec![(t.into(), "val1"), k()])),
        );
        choose("TOPKDISTINCT", &signatures, args)?;
        let ty = arg_type("TOPKDISTINCT", args, 0)?;
        match literals(args, 1) {
            Err(position) => Ok(Unbound::wrap(
                "TOPKDISTINCT",
                position,
                Arc::new(TopKDistinct { ty, k: 1 }),
            )),
            Ok(values) => {
                let k = values
                    .first()
                    .map(int_literal)
                    .transpose()?
                    .ok_or_else(|| SqlError::semantic("Failed to invoke UDAF factory method"))?;
                Ok(Arc::new(TopKDistinct { ty, k }))
            }
        }
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(TopKFunction));
    r.add_aggregate(Arc::new(TopKDistinctFunction));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn k(n: i32) -> AggregateArg {
        lit(SqlType::Int, Value::Int(n))
    }

    fn strs(values: &[&str]) -> Vec<Value> {
        values.iter().map(|s| Value::String((*s).into())).collect()
    }

    #[test]
    fn keeps_the_top_k_with_duplicates() {
        let agg = resolve("TOPK", &[col(SqlType::String), k(3)]);
        assert_eq!(agg.value_args(), 1);
        assert_eq!(agg.return_type(), SqlType::array(SqlType::String));
        let mut s = agg.init();
        let mut seen = Vec::new();
        for v in strs(&["a", "b", "c", "b", "d"]) {
            s = agg.add(s, &[v]).unwrap();
            seen.push(agg.result(&s).unwrap());
        }
        assert_eq!(
            seen,
            vec![
                Value::Array(strs(&["a"])),
                Value::Array(strs(&["b", "a"])),
                Value::Array(strs(&["c", "b", "a"])),
                Value::Array(strs(&["c", "b", "b"])),
                Value::Array(strs(&["d", "c", "b"])),
            ]
        );
        assert!(!agg.supports_undo());
    }

    #[test]
    fn carries_other_columns_in_structs() {
        let agg = resolve("TOPK", &[col(SqlType::Int), col(SqlType::String), k(3)]);
        assert_eq!(agg.value_args(), 2);
        assert_eq!(
            agg.return_type().to_string(),
            "ARRAY<STRUCT<`sort_col` INTEGER, `col0` STRING>>"
        );
        let entry = |v: i32, n: Option<&str>| {
            Value::Struct(vec![
                Value::Int(v),
                n.map_or(Value::Null, |s| Value::String(s.into())),
            ])
        };
        let mut s = agg.init();
        for (v, n) in [
            (Some(0), Some("zero")),
            (Some(100), Some("one")),
            (Some(99), Some("two")),
            (None, Some("three")),
            (Some(100), None),
        ] {
            let args = [
                v.map_or(Value::Null, Value::Int),
                n.map_or(Value::Null, |s: &str| Value::String(s.into())),
            ];
            s = agg.add(s, &args).unwrap();
        }
        assert_round_trips(&*agg, &s);
        assert_eq!(
            agg.result(&s).unwrap(),
            Value::Array(vec![
                entry(100, Some("one")),
                entry(100, None),
                entry(99, Some("two"))
            ])
        );
    }

    #[test]
    fn merges_sorted_lists() {
        let agg = resolve("TOPK", &[col(SqlType::BigInt), k(3)]);
        let a = Value::Array(vec![Value::BigInt(9), Value::BigInt(5)]);
        let b = Value::Array(vec![Value::BigInt(7), Value::BigInt(5), Value::BigInt(1)]);
        assert_eq!(
            agg.merge(a, b).unwrap(),
            Value::Array(vec![Value::BigInt(9), Value::BigInt(7), Value::BigInt(5)])
        );
        let d = resolve("TOPKDISTINCT", &[col(SqlType::BigInt), k(3)]);
        let a = Value::Array(vec![Value::BigInt(9), Value::BigInt(5)]);
        let b = Value::Array(vec![Value::BigInt(7), Value::BigInt(5), Value::BigInt(1)]);
        assert_eq!(
            d.merge(a, b).unwrap(),
            Value::Array(vec![Value::BigInt(9), Value::BigInt(7), Value::BigInt(5)])
        );
    }

    #[test]
    fn keeps_distinct_values() {
        let agg = resolve("TOPKDISTINCT", &[col(SqlType::Double), k(2)]);
        assert_eq!(agg.return_type(), SqlType::array(SqlType::Double));
        let rows = [
            Value::Double(1.0),
            Value::Double(3.0),
            Value::Null,
            Value::Double(3.0),
            Value::Double(2.0),
        ];
        assert_eq!(
            run(&*agg, &rows),
            Value::Array(vec![Value::Double(3.0), Value::Double(2.0)])
        );
        let dec = resolve(
            "TOPKDISTINCT",
            &[col(SqlType::decimal(3, 1).unwrap()), k(5)],
        );
        assert_eq!(
            run(&*dec, &[Value::Decimal(10, 1), Value::Decimal(-5, 1)]),
            Value::Array(vec![Value::Decimal(10, 1), Value::Decimal(-5, 1)])
        );
    }

    #[test]
    fn odd_ks_behave_as_in_ksqldb() {
        let agg = resolve("TOPK", &[col(SqlType::Int), k(0)]);
        assert!(agg.add(agg.init(), &[Value::Int(1)]).is_err());
        let agg = resolve("TOPK", &[col(SqlType::Int), k(-1)]);
        let rows: Vec<Value> = (0..5).map(Value::Int).collect();
        assert_eq!(
            run(&*agg, &rows),
            Value::Array((0..5).rev().map(Value::Int).collect())
        );
    }

    #[test]
    fn resolves_as_ksqldb() {
        let err = resolve_err("TOPK", &[col(SqlType::decimal(2, 1).unwrap()), k(1)]);
        assert!(
            err.starts_with(
                "Function 'TOPK' does not accept parameters (DECIMAL(2, 1), INTEGER).\n\
                 Valid alternatives are:\nTOPK(INTEGER val1, ANY... val2, INTEGER k)"
            ),
            "{err}"
        );
        assert!(
            resolve_err(
                "TOPK",
                &[col(SqlType::Int), lit(SqlType::BigInt, Value::BigInt(3))]
            )
            .starts_with("Function 'TOPK' does not accept parameters (INTEGER, BIGINT).")
        );
        assert!(
            resolve_err("TOPKDISTINCT", &[col(SqlType::Int)])
                .starts_with("Function 'TOPKDISTINCT' does not accept parameters (INTEGER).")
        );
        // k from a column: resolves, refuses to run.
        let agg = resolve("TOPK", &[col(SqlType::Int), col(SqlType::Int)]);
        assert_eq!(agg.value_args(), 1);
        assert!(agg.add(agg.init(), &[Value::Int(1)]).is_err());
    }
}
