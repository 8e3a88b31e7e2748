//! ATTR of any type (ksqlDB's `Attr`, a `TableUdaf`): the single value a group is
//! expected to have, NULL when it has had more than one (or none). The state counts each
//! distinct value (NULL included) in an `ARRAY<STRUCT<VALUE type, COUNT INT>>`; undo
//! decrements (never below 0; entries stay), and the result is the value of the only entry
//! with a positive count.

use std::sync::Arc;

use super::java::equals;
use super::{Signature, arg, arg_type, bad_state, choose, elements, struct_type};
use crate::error::Result;
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry, Param};
use crate::types::SqlType;
use crate::value::Value;

#[derive(Debug)]
struct Attr {
    ty: SqlType,
}

fn entry(e: &Value) -> Result<(&Value, i32)> {
    match e {
        Value::Struct(f) if f.len() == 2 => match &f[1] {
            Value::Int(n) => Ok((&f[0], *n)),
            Value::Null => Ok((&f[0], 0)),
            other => Err(bad_state("ATTR", other)),
        },
        other => Err(bad_state("ATTR", other)),
    }
}

/// `Attr.Impl.update`.
fn update(entries: &mut Vec<Value>, value: &Value, delta: i32) -> Result<()> {
    for e in entries.iter_mut() {
        let (v, n) = entry(e)?;
        if equals(v, value) {
            let v = v.clone();
            *e = Value::Struct(vec![v, Value::Int(n.wrapping_add(delta).max(0))]);
            return Ok(());
        }
    }
    if delta > 0 {
        entries.push(Value::Struct(vec![value.clone(), Value::Int(delta)]));
    }
    Ok(())
}

impl Aggregator for Attr {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        SqlType::array(struct_type(&[
            ("VALUE", self.ty.clone()),
            ("COUNT", SqlType::Int),
        ]))
    }
    fn return_type(&self) -> SqlType {
        self.ty.clone()
    }
    fn init(&self) -> Value {
        Value::Array(Vec::new())
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        let mut entries = elements("ATTR", state)?;
        update(&mut entries, arg(args, 0), 1)?;
        Ok(Value::Array(entries))
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        let mut entries = elements("ATTR", state)?;
        update(&mut entries, arg(args, 0), -1)?;
        Ok(Value::Array(entries))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        let mut entries = elements("ATTR", a)?;
        for e in elements("ATTR", b)? {
            let (v, n) = entry(&e)?;
            update(&mut entries, v, n)?;
        }
        Ok(Value::Array(entries))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        let entries = elements("ATTR", state.clone())?;
        let mut live = Vec::new();
        for e in &entries {
            let (v, n) = entry(e)?;
            if n > 0 {
                live.push(v);
            }
        }
        Ok(match live.as_slice() {
            [only] => (*only).clone(),
            _ => Value::Null,
        })
    }
}

struct AttrFunction;

impl AggregateFunction for AttrFunction {
    fn name(&self) -> &str {
        "ATTR"
    }
    fn description(&self) -> &str {
        "The ATTR() aggregation indicates there are multiple values, but only one was \
         expected. For example, if aggregating against a table that semantically should have \
         only one value for a column given a key, this aggregation enables users to indicate \
         that they expect only a single value.\n\nIf the aggregation encounters more than a \
         single value for the expected singular column, the entire aggregation will return \
         null."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(
            "ATTR",
            &[Signature::new(vec![(Param::Generic('T'), "val1")])],
            args,
        )?;
        Ok(Arc::new(Attr {
            ty: arg_type("ATTR", args, 0)?,
        }))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(AttrFunction));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn the_single_value_or_null() {
        let agg = resolve("ATTR", &[col(SqlType::String)]);
        assert_eq!(agg.return_type(), SqlType::String);
        assert_eq!(
            agg.state_type().to_string(),
            "ARRAY<STRUCT<`VALUE` STRING, `COUNT` INTEGER>>"
        );
        assert_eq!(run(&*agg, &[s("a"), s("a"), s("a")]), s("a"));
        assert_eq!(run(&*agg, &[s("a"), s("b")]), Value::Null);
        assert_eq!(run(&*agg, &[Value::Null, Value::Null]), Value::Null);
        // NULL counts as a value.
        assert_eq!(run(&*agg, &[Value::Null, s("a")]), Value::Null);
        assert_eq!(run(&*agg, &[]), Value::Null);
    }

    #[test]
    fn undo_follows_a_table() {
        let agg = resolve("ATTR", &[col(SqlType::String)]);
        assert!(agg.supports_undo());
        let st = add_all(&*agg, agg.init(), &[s("1"), s("1")]);
        let st = agg.undo(st, &[s("1")]).unwrap();
        assert_eq!(agg.result(&st).unwrap(), s("1"));
        let st = agg.undo(st, &[s("1")]).unwrap();
        assert_eq!(agg.result(&st).unwrap(), Value::Null);
        // Never below zero; the entry stays.
        let st = agg.undo(st, &[s("1")]).unwrap();
        assert_eq!(
            st,
            Value::Array(vec![Value::Struct(vec![s("1"), Value::Int(0)])])
        );
        let st = add_all(&*agg, st, &[s("2")]);
        assert_eq!(agg.result(&st).unwrap(), s("2"));
        let st = add_all(&*agg, st, &[s("3")]);
        assert_eq!(agg.result(&st).unwrap(), Value::Null);
        let st = agg.undo(st, &[s("3")]).unwrap();
        assert_round_trips(&*agg, &st);
        assert_eq!(agg.result(&st).unwrap(), s("2"));
    }

    #[test]
    fn merges_counts() {
        let agg = resolve("ATTR", &[col(SqlType::array(SqlType::Int))]);
        let v = Value::Array(vec![Value::Int(1), Value::Int(2)]);
        let a = add_all(&*agg, agg.init(), std::slice::from_ref(&v));
        let b = add_all(&*agg, agg.init(), &[v.clone(), v.clone()]);
        let merged = agg.merge(a, b).unwrap();
        assert_eq!(
            merged,
            Value::Array(vec![Value::Struct(vec![v.clone(), Value::Int(3)])])
        );
        assert_eq!(agg.result(&merged).unwrap(), v);
    }
}
