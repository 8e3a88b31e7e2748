//! COUNT_DISTINCT: the approximate number of distinct non-NULL values, by ksqlDB's
//! HyperLogLog (stream-lib's `HyperLogLog` with log2m = 14, so 16384 5-bit registers packed
//! six to an int: the state is `ARRAY<INT>` of 2731 ints, as in ksqlDB). Values hash as
//! stream-lib's `MurmurHash.hash(Object)` hashes the Java value ksqlDB holds, so that the
//! estimates (exact for small sets, bar register collisions) are ksqlDB's. No undo.

use std::sync::Arc;

use super::java::murmur_object;
use super::{Signature, arg, arg_type, bad_state, choose, elements};
use crate::error::Result;
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry, Param};
use crate::types::SqlType;
use crate::value::Value;

const NAME: &str = "COUNT_DISTINCT";
const LOG2M: u32 = 14;
const M: usize = 1 << LOG2M;
const REGISTERS_PER_WORD: usize = 6;
const REGISTER_BITS: usize = 5;
/// `RegisterSet.getSizeForCount(M)`.
const WORDS: usize = M / REGISTERS_PER_WORD + 1;

#[derive(Debug)]
struct CountDistinctAggregator {
    ty: SqlType,
}

fn words(state: Value) -> Result<Vec<i32>> {
    let items = elements(NAME, state)?;
    if items.is_empty() {
        return Ok(vec![0; WORDS]);
    }
    if items.len() != WORDS {
        return Err(bad_state(NAME, &Value::Array(items)));
    }
    items
        .into_iter()
        .map(|v| match v {
            Value::Int(w) => Ok(w),
            Value::Null => Ok(0),
            other => Err(bad_state(NAME, &other)),
        })
        .collect()
}

fn to_state(words: Vec<i32>) -> Value {
    Value::Array(words.into_iter().map(Value::Int).collect())
}

fn position(register: usize) -> (usize, usize) {
    let word = register / REGISTERS_PER_WORD;
    (word, REGISTER_BITS * (register - word * REGISTERS_PER_WORD))
}

fn get(words: &[i32], register: usize) -> i32 {
    let (w, shift) = position(register);
    ((words[w] & (0x1f << shift)) as u32 >> shift) as i32
}

/// `HyperLogLog.offerHashed(int)` on the state's words, in place.
fn offer(words: &mut [Value], hash: i32) -> Result<()> {
    let j = ((hash as u32) >> (32 - LOG2M)) as usize;
    let r = ((hash << LOG2M) | ((1 << (LOG2M - 1)) + 1)).leading_zeros() as i32 + 1;
    let (w, shift) = position(j);
    let word = match &words[w] {
        Value::Int(x) => *x,
        Value::Null => 0,
        other => return Err(bad_state(NAME, other)),
    };
    let mask = 0x1f << shift;
    if (word & mask) < (r << shift) {
        words[w] = Value::Int((word & !mask) | (r << shift));
    }
    Ok(())
}

/// `HyperLogLog.cardinality()`.
fn cardinality(words: &[i32]) -> i64 {
    let mut sum = 0.0f64;
    let mut zeros = 0.0f64;
    for j in 0..M {
        let v = get(words, j);
        sum += 1.0 / (1i64 << v) as f64;
        if v == 0 {
            zeros += 1.0;
        }
    }
    let m = M as f64;
    let alpha_mm = (0.7213 / (1.0 + 1.079 / m)) * m * m;
    let estimate = alpha_mm * (1.0 / sum);
    let chosen = if estimate <= (5.0 / 2.0) * m {
        m * (m / zeros).ln()
    } else {
        estimate
    };
    // Math.round.
    (chosen + 0.5).floor() as i64
}

impl Aggregator for CountDistinctAggregator {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        SqlType::array(SqlType::Int)
    }
    fn return_type(&self) -> SqlType {
        SqlType::BigInt
    }
    fn init(&self) -> Value {
        to_state(vec![0; WORDS])
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = arg(args, 0);
        if v.is_null() {
            return Ok(state);
        }
        let mut items = match state {
            Value::Array(items) if items.len() == WORDS => items,
            Value::Array(items) if items.is_empty() => vec![Value::Int(0); WORDS],
            Value::Null => vec![Value::Int(0); WORDS],
            other => return Err(bad_state(NAME, &other)),
        };
        offer(&mut items, murmur_object(v, Some(&self.ty)))?;
        Ok(Value::Array(items))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        // RegisterSet.merge: the larger of each register.
        let mut x = words(a)?;
        let y = words(b)?;
        for (wx, wy) in x.iter_mut().zip(&y) {
            let mut word = 0;
            for j in 0..REGISTERS_PER_WORD {
                let mask = 0x1f << (REGISTER_BITS * j);
                word |= (*wx & mask).max(*wy & mask);
            }
            *wx = word;
        }
        Ok(to_state(x))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(Value::BigInt(cardinality(&words(state.clone())?)))
    }
}

struct CountDistinct;

impl AggregateFunction for CountDistinct {
    fn name(&self) -> &str {
        NAME
    }
    fn description(&self) -> &str {
        "This function returns the number of items found in a group. The implementation is \
         probabilistic with a typical accuracy (standard error) of less than 1%."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(
            NAME,
            &[Signature::new(vec![(Param::Generic('T'), "val1")])],
            args,
        )?;
        Ok(Arc::new(CountDistinctAggregator {
            ty: arg_type(NAME, args, 0)?,
        }))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(CountDistinct));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    // Reference cardinalities from ksqlDB's stream-lib HyperLogLog (log2m = 14).

    #[test]
    fn estimates_as_ksqldb() {
        let agg = resolve("COUNT_DISTINCT", &[col(SqlType::Int)]);
        assert_eq!(agg.state_type(), SqlType::array(SqlType::Int));
        assert_eq!(agg.return_type(), SqlType::BigInt);
        for (n, ints, longs, strings) in [
            (1, 1, 1, 1),
            (10, 10, 10, 10),
            (100, 100, 100, 100),
            (1000, 1002, 1003, 1002),
            (5000, 4962, 4982, 4963),
            (20000, 19730, 19985, 20362),
        ] {
            let agg = resolve("COUNT_DISTINCT", &[col(SqlType::Int)]);
            let rows: Vec<Value> = (0..n).map(Value::Int).collect();
            assert_eq!(run(&*agg, &rows), Value::BigInt(ints), "ints {n}");
            let agg = resolve("COUNT_DISTINCT", &[col(SqlType::BigInt)]);
            let rows: Vec<Value> = (0..n).map(|i| Value::BigInt(i as i64 * 7919)).collect();
            assert_eq!(run(&*agg, &rows), Value::BigInt(longs), "longs {n}");
            let agg = resolve("COUNT_DISTINCT", &[col(SqlType::String)]);
            let rows: Vec<Value> = (0..n).map(|i| Value::String(format!("s{i}"))).collect();
            assert_eq!(run(&*agg, &rows), Value::BigInt(strings), "strings {n}");
        }
    }

    #[test]
    fn ignores_nulls_and_duplicates() {
        let agg = resolve("COUNT_DISTINCT", &[col(SqlType::String)]);
        let rows = [
            Value::String("a".into()),
            Value::Null,
            Value::String("a".into()),
            Value::String("b".into()),
        ];
        assert_eq!(run(&*agg, &rows), Value::BigInt(2));
        assert_eq!(agg.result(&agg.init()).unwrap(), Value::BigInt(0));
        assert!(!agg.supports_undo());
    }

    #[test]
    fn merges_registers() {
        let agg = resolve("COUNT_DISTINCT", &[col(SqlType::String)]);
        let a: Vec<Value> = (0..3000).map(|i| Value::String(format!("s{i}"))).collect();
        let b: Vec<Value> = (2000..6000)
            .map(|i| Value::String(format!("s{i}")))
            .collect();
        let sa = add_all(&*agg, agg.init(), &a);
        let sb = add_all(&*agg, agg.init(), &b);
        let merged = agg.merge(sa, sb).unwrap();
        assert_round_trips(&*agg, &merged);
        assert_eq!(agg.result(&merged).unwrap(), Value::BigInt(6030));
    }

    #[test]
    fn accepts_any_type_but_an_untyped_null() {
        let ty = SqlType::structure([("A", SqlType::array(SqlType::Int))]);
        let agg = resolve("COUNT_DISTINCT", &[col(ty)]);
        let rows = [
            Value::Struct(vec![Value::Array(vec![Value::Int(1)])]),
            Value::Struct(vec![Value::Array(vec![Value::Int(2)])]),
            Value::Struct(vec![Value::Array(vec![Value::Int(1)])]),
        ];
        assert_eq!(run(&*agg, &rows), Value::BigInt(2));
        let registry = FunctionRegistry::builtin();
        assert!(
            registry
                .aggregate("COUNT_DISTINCT")
                .unwrap()
                .resolve(&[null()])
                .is_err()
        );
    }
}
