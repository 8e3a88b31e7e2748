//! COLLECT_LIST and COLLECT_SET of any type (ksqlDB's `CollectListUdaf`, a `TableUdaf`,
//! and `CollectSetUdaf`, not one): the values in arrival order, NULLs included, at most
//! `limit` of them (further values are ignored; ksqlDB's `ksql.functions.collect_list.limit`
//! and `ksql.functions.collect_set.limit`, unlimited by default). COLLECT_SET keeps the
//! first of equal values (Java `equals`). Undoing a COLLECT_LIST value removes its last
//! occurrence.

use std::sync::Arc;

use super::java::equals;
use super::{Signature, arg, arg_type, choose, elements};
use crate::error::Result;
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry, Param};
use crate::types::SqlType;
use crate::value::Value;

/// The config ksqlDB reads COLLECT_LIST's limit from.
const LIST_LIMIT_CONFIG: &str = "ksql.functions.collect_list.limit";
/// The config ksqlDB reads COLLECT_SET's limit from.
const SET_LIMIT_CONFIG: &str = "ksql.functions.collect_set.limit";

/// The properties configuring COLLECT_LIST and COLLECT_SET.
pub(super) const CONFIG_PROPERTIES: &[&str] = &[LIST_LIMIT_CONFIG, SET_LIMIT_CONFIG];

/// A limit as ksqlDB's `Collect.configure` reads it: a number (Java `intValue`, so it
/// truncates) or a string of an int; negative means unlimited. `None`: no such config, or
/// one ksqlDB would fail to parse.
fn limit_from_config(value: &Value) -> Option<usize> {
    let n: i64 = match value {
        Value::Int(v) => *v as i64,
        Value::BigInt(v) => *v as i32 as i64,
        Value::Double(v) => *v as i32 as i64,
        Value::Decimal(..) => value.as_f64()? as i32 as i64,
        Value::String(s) => s.trim().parse::<i32>().ok()? as i64,
        _ => return None,
    };
    Some(if n < 0 { usize::MAX } else { n as usize })
}

#[derive(Debug)]
struct Collect {
    ty: SqlType,
    set: bool,
    limit: usize,
}

impl Aggregator for Collect {
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
        let mut items = elements(self.name(), state)?;
        if items.len() < self.limit && !(self.set && items.iter().any(|x| equals(x, v))) {
            items.push(v.clone());
        }
        Ok(Value::Array(items))
    }
    fn supports_undo(&self) -> bool {
        !self.set
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = arg(args, 0);
        let mut items = elements(self.name(), state)?;
        // The last equal value: the one that was never added beyond the limit is not there.
        if let Some(i) = items.iter().rposition(|x| equals(x, v)) {
            items.remove(i);
        }
        Ok(Value::Array(items))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        let mut items = elements(self.name(), a)?;
        for v in elements(self.name(), b)? {
            if items.len() >= self.limit {
                break;
            }
            if !(self.set && items.iter().any(|x| equals(x, &v))) {
                items.push(v);
            }
        }
        Ok(Value::Array(items))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(Value::Array(elements(self.name(), state.clone())?))
    }
}

impl Collect {
    fn name(&self) -> &'static str {
        if self.set {
            "COLLECT_SET"
        } else {
            "COLLECT_LIST"
        }
    }
}

struct CollectFunction {
    set: bool,
    limit: usize,
}

impl AggregateFunction for CollectFunction {
    fn name(&self) -> &str {
        if self.set {
            "collect_set"
        } else {
            "collect_list"
        }
    }
    fn description(&self) -> &str {
        if self.set {
            "Gather all of the distinct values from an input grouping into a single Array.\n\
             Not available for aggregating values from an input Table.\nYou may limit the size \
             of the resultant Array to N entries, beyond which any further values will be \
             silently ignored, by setting the ksql.functions.collect_list.limit configuration \
             to N."
        } else {
            "Gather all of the values from an input grouping into a single Array field.\n\
             Although this aggregate works on both Stream and Table inputs, the order of \
             entries in the result array is not guaranteed when working on Table input \
             data.\nYou may limit the size of the resultant Array to N entries, beyond which \
             any further values will be silently ignored, by setting the \
             ksql.functions.collect_list.limit configuration to N."
        }
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(
            self.name(),
            &[Signature::new(vec![(Param::Generic('T'), "val1")])],
            args,
        )?;
        Ok(Arc::new(Collect {
            ty: arg_type(self.name(), args, 0)?,
            set: self.set,
            limit: self.limit,
        }))
    }
}

/// COLLECT_LIST (or COLLECT_SET) configured from ksqlDB's config, `config` looking a
/// property up (the built-in registry has no config: unlimited).
pub(super) fn configured(
    set: bool,
    config: impl Fn(&str) -> Option<Value>,
) -> Arc<dyn AggregateFunction> {
    let key = if set {
        SET_LIMIT_CONFIG
    } else {
        LIST_LIMIT_CONFIG
    };
    let limit = config(key)
        .and_then(|v| limit_from_config(&v))
        .unwrap_or(usize::MAX);
    Arc::new(CollectFunction { set, limit })
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(configured(false, |_| None));
    r.add_aggregate(configured(true, |_| None));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn strs(values: &[Option<&str>]) -> Vec<Value> {
        values
            .iter()
            .map(|v| v.map_or(Value::Null, |s| Value::String(s.into())))
            .collect()
    }

    #[test]
    fn collects_values_with_nulls() {
        let agg = resolve("COLLECT_LIST", &[col(SqlType::String)]);
        assert_eq!(agg.return_type(), SqlType::array(SqlType::String));
        let rows = strs(&[Some("a"), None, Some("a"), Some("b")]);
        assert_eq!(run(&*agg, &rows), Value::Array(rows.clone()));
        let set = resolve("COLLECT_SET", &[col(SqlType::String)]);
        assert_eq!(
            run(&*set, &rows),
            Value::Array(strs(&[Some("a"), None, Some("b")]))
        );
        assert!(agg.supports_undo());
        assert!(!set.supports_undo());
    }

    #[test]
    fn undo_removes_the_last_occurrence() {
        let agg = resolve("COLLECT_LIST", &[col(SqlType::Int)]);
        let s = add_all(
            &*agg,
            agg.init(),
            &[Value::Int(1), Value::Int(2), Value::Int(1), Value::Null],
        );
        let s = agg.undo(s, &[Value::Int(1)]).unwrap();
        let s = agg.undo(s, &[Value::Int(9)]).unwrap();
        let s = agg.undo(s, &[Value::Null]).unwrap();
        assert_eq!(s, Value::Array(vec![Value::Int(1), Value::Int(2)]));
    }

    #[test]
    fn limits() {
        let list = Collect {
            ty: SqlType::Int,
            set: false,
            limit: 2,
        };
        let rows = [Value::Int(1), Value::Int(2), Value::Int(3)];
        assert_eq!(
            run(&list, &rows),
            Value::Array(vec![Value::Int(1), Value::Int(2)])
        );
        let a = add_all(&list, list.init(), &rows[..1]);
        let b = add_all(&list, list.init(), &rows[1..]);
        assert_eq!(
            list.merge(a, b).unwrap(),
            Value::Array(vec![Value::Int(1), Value::Int(2)])
        );
        let set = Collect {
            ty: SqlType::Int,
            set: true,
            limit: 2,
        };
        let a = add_all(&set, set.init(), &[Value::Int(1)]);
        let b = add_all(
            &set,
            set.init(),
            &[Value::Int(1), Value::Int(2), Value::Int(3)],
        );
        assert_eq!(
            set.merge(a, b).unwrap(),
            Value::Array(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(limit_from_config(&Value::Int(1)), Some(1));
        assert_eq!(limit_from_config(&Value::String("5".into())), Some(5));
        assert_eq!(limit_from_config(&Value::Int(-1)), Some(usize::MAX));
        assert_eq!(limit_from_config(&Value::String("x".into())), None);
        let f = configured(false, |k| {
            (k == "ksql.functions.collect_list.limit").then_some(Value::Int(1))
        });
        let agg = f.resolve(&[col(SqlType::Int)]).unwrap();
        assert_eq!(run(&*agg, &rows), Value::Array(vec![Value::Int(1)]));
    }

    #[test]
    fn collects_structured_values() {
        let ty = SqlType::map(SqlType::String, SqlType::array(SqlType::Double));
        let agg = resolve("COLLECT_SET", &[col(ty.clone())]);
        assert_eq!(agg.state_type(), SqlType::array(ty));
        let m1 = Value::Map(vec![
            (
                Value::String("a".into()),
                Value::Array(vec![Value::Double(1.0)]),
            ),
            (Value::String("b".into()), Value::Null),
        ]);
        let m2 = Value::Map(vec![
            (Value::String("b".into()), Value::Null),
            (
                Value::String("a".into()),
                Value::Array(vec![Value::Double(1.0)]),
            ),
        ]);
        // Equal maps (Java equals ignores order) are collected once.
        assert_eq!(run(&*agg, &[m1.clone(), m2]), Value::Array(vec![m1]));
    }
}
