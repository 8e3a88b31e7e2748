//! LATEST_BY_OFFSET and EARLIEST_BY_OFFSET of any type, optionally the latest / earliest
//! N as an ARRAY, optionally keeping NULLs (`ignoreNulls`, true by default). As in ksqlDB
//! (`LatestByOffset`, `EarliestByOffset`, `KudafByOffsetUtils`) each kept value is a
//! `STRUCT<SEQ BIGINT, VAL type>` whose sequence number orders values when session windows
//! merge; "latest" is the last added. Not table UDAFs.
//!
//! Sequence numbers come from a process-wide counter, as ksqlDB's static `AtomicLong`,
//! except that it starts at the current time in microseconds rather than 0, so that values
//! added after a restart still order after those restored from state stores.
//!
//! Merging follows ksqlDB exactly, including for N values: the two lists are concatenated,
//! sorted by sequence number and the first (oldest) N kept, for LATEST too.

use std::cmp::Ordering;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    Signature, Unbound, arg, arg_type, bad_state, bool_literal, choose, elements, fields,
    int_literal, literals, long_field, struct_type,
};
use crate::error::{Result, SqlError};
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry, Param};
use crate::types::SqlType;
use crate::value::Value;

fn next_sequence() -> i64 {
    static SEQUENCE: OnceLock<AtomicI64> = OnceLock::new();
    SEQUENCE
        .get_or_init(|| {
            let micros = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(0);
            AtomicI64::new(micros)
        })
        .fetch_add(1, AtomicOrdering::Relaxed)
}

fn entry(value: Value) -> Value {
    Value::Struct(vec![Value::BigInt(next_sequence()), value])
}

/// An entry's sequence number and value.
fn parts(name: &str, entry: &Value) -> Result<(i64, Value)> {
    match entry {
        Value::Struct(f) if f.len() == 2 => Ok((long_field(name, &f[0])?, f[1].clone())),
        other => Err(bad_state(name, other)),
    }
}

/// `INTERMEDIATE_STRUCT_COMPARATOR`: by sequence number, a negative one (overflowed) after
/// a non-negative one.
fn compare_sequences(a: i64, b: i64) -> Ordering {
    if a < 0 && b >= 0 {
        Ordering::Greater
    } else if b < 0 && a >= 0 {
        Ordering::Less
    } else {
        a.cmp(&b)
    }
}

/// `INTERMEDIATE_STRUCT_COMPARATOR_IGNORE_NULLS`: an entry with a NULL value is older than
/// any other.
fn compare_ignoring_nulls(a: &(i64, Value), b: &(i64, Value)) -> Ordering {
    match (a.1.is_null(), b.1.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => compare_sequences(a.0, b.0),
    }
}

#[derive(Debug)]
struct ByOffset {
    name: &'static str,
    latest: bool,
    ty: SqlType,
    /// The number of values kept, for the ARRAY variants.
    n: Option<usize>,
    ignore_nulls: bool,
}

impl ByOffset {
    fn entry_type(&self) -> SqlType {
        struct_type(&[("SEQ", SqlType::BigInt), ("VAL", self.ty.clone())])
    }

    fn merge_lists(&self, n: usize, a: Value, b: Value) -> Result<Value> {
        let mut merged = elements(self.name, a)?;
        merged.extend(elements(self.name, b)?);
        let mut keyed = merged
            .into_iter()
            .map(|e| Ok((parts(self.name, &e)?.0, e)))
            .collect::<Result<Vec<_>>>()?;
        keyed.sort_by(|x, y| compare_sequences(x.0, y.0));
        keyed.truncate(n);
        Ok(Value::Array(keyed.into_iter().map(|(_, e)| e).collect()))
    }
}

impl Aggregator for ByOffset {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        match self.n {
            Some(_) => SqlType::array(self.entry_type()),
            None => self.entry_type(),
        }
    }
    fn return_type(&self) -> SqlType {
        match self.n {
            Some(_) => SqlType::array(self.ty.clone()),
            None => self.ty.clone(),
        }
    }
    fn init(&self) -> Value {
        match (self.n, self.latest) {
            (Some(_), _) => Value::Array(Vec::new()),
            // LatestByOffset starts from an entry with a NULL value (and a sequence number).
            (None, true) => entry(Value::Null),
            (None, false) => Value::Null,
        }
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = arg(args, 0);
        match (self.n, self.latest) {
            (None, true) => {
                if v.is_null() && self.ignore_nulls {
                    return Ok(state);
                }
                Ok(entry(v.clone()))
            }
            (None, false) => {
                if !state.is_null() {
                    return Ok(state);
                }
                if v.is_null() && self.ignore_nulls {
                    return Ok(Value::Null);
                }
                Ok(entry(v.clone()))
            }
            (Some(n), latest) => {
                if v.is_null() && self.ignore_nulls {
                    return Ok(state);
                }
                let mut items = elements(self.name, state)?;
                if latest {
                    items.push(entry(v.clone()));
                    if items.len() > n {
                        items.drain(..items.len() - n);
                    }
                } else if items.len() < n {
                    items.push(entry(v.clone()));
                }
                Ok(Value::Array(items))
            }
        }
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        match (self.n, self.latest) {
            (Some(n), _) => self.merge_lists(n, a, b),
            (None, true) => {
                let pa = parts(self.name, &a)?;
                let pb = parts(self.name, &b)?;
                let order = if self.ignore_nulls {
                    compare_ignoring_nulls(&pa, &pb)
                } else {
                    compare_sequences(pa.0, pb.0)
                };
                Ok(if order != Ordering::Less { a } else { b })
            }
            (None, false) => {
                if a.is_null() {
                    return Ok(b);
                }
                if b.is_null() {
                    return Ok(a);
                }
                let sa = parts(self.name, &a)?.0;
                let sb = parts(self.name, &b)?.0;
                Ok(if compare_sequences(sa, sb) == Ordering::Less {
                    a
                } else {
                    b
                })
            }
        }
    }
    fn result(&self, state: &Value) -> Result<Value> {
        match self.n {
            Some(_) => Ok(Value::Array(
                elements(self.name, state.clone())?
                    .iter()
                    .map(|e| parts(self.name, e).map(|p| p.1))
                    .collect::<Result<_>>()?,
            )),
            None if state.is_null() => Ok(Value::Null),
            None => Ok(fields(self.name, state.clone(), 2)?.swap_remove(1)),
        }
    }
}

struct ByOffsetFunction {
    latest: bool,
}

impl ByOffsetFunction {
    fn signatures(&self) -> Vec<Signature> {
        let n = if self.latest { "latestN" } else { "earliestN" };
        let t = || (Param::Generic('T'), "val1");
        vec![
            Signature::new(vec![t()]),
            Signature::new(vec![t(), (SqlType::Boolean.into(), "ignoreNulls")]),
            Signature::new(vec![t(), (SqlType::Int.into(), n)]),
            Signature::new(vec![
                t(),
                (SqlType::Int.into(), n),
                (SqlType::Boolean.into(), "ignoreNulls"),
            ]),
        ]
    }
}

impl AggregateFunction for ByOffsetFunction {
    fn name(&self) -> &str {
        if self.latest {
            "LATEST_BY_OFFSET"
        } else {
            "EARLIEST_BY_OFFSET"
        }
    }
    fn description(&self) -> &str {
        // Both as ksqlDB words them.
        "This function returns the oldest N values for the column, computed by offset."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        let name: &'static str = if self.latest {
            "LATEST_BY_OFFSET"
        } else {
            "EARLIEST_BY_OFFSET"
        };
        let signature = choose(name, &self.signatures(), args)?;
        let ty = arg_type(name, args, 0)?;
        let build = |n: Option<usize>, ignore_nulls: bool| -> Arc<dyn Aggregator> {
            Arc::new(ByOffset {
                name,
                latest: self.latest,
                ty: ty.clone(),
                n,
                ignore_nulls,
            })
        };
        let with_n = matches!(signature, 2 | 3);
        let values = match literals(args, 1) {
            Ok(values) => values,
            Err(position) => {
                return Ok(Unbound::wrap(
                    name,
                    position,
                    build(with_n.then_some(1), true),
                ));
            }
        };
        let (n, ignore_nulls) = match (signature, values.as_slice()) {
            (0, []) => (None, true),
            (1, [ignore]) => (None, bool_literal(ignore)?),
            (2, [n]) => (Some(int_literal(n)?), true),
            (3, [n, ignore]) => (Some(int_literal(n)?), bool_literal(ignore)?),
            _ => return Err(SqlError::semantic("Failed to invoke UDAF factory method")),
        };
        let n = match n {
            Some(n) if n <= 0 => {
                return Err(SqlError::semantic(format!(
                    "{} must be 1 or greater",
                    if self.latest { "latestN" } else { "earliestN" }
                )));
            }
            Some(n) => Some(n as usize),
            None => None,
        };
        Ok(build(n, ignore_nulls))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(ByOffsetFunction { latest: true }));
    r.add_aggregate(Arc::new(ByOffsetFunction { latest: false }));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn ints(values: &[Option<i32>]) -> Vec<Value> {
        values
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Int))
            .collect()
    }

    #[test]
    fn latest_skips_nulls_by_default() {
        let agg = resolve("LATEST_BY_OFFSET", &[col(SqlType::Int)]);
        assert_eq!(agg.return_type(), SqlType::Int);
        assert_eq!(
            agg.state_type().to_string(),
            "STRUCT<`SEQ` BIGINT, `VAL` INTEGER>"
        );
        assert_eq!(run(&*agg, &ints(&[Some(1), Some(2), None])), Value::Int(2));
        assert_eq!(run(&*agg, &ints(&[None, None])), Value::Null);
        assert!(!agg.supports_undo());
    }

    #[test]
    fn latest_can_keep_nulls() {
        let agg = resolve(
            "LATEST_BY_OFFSET",
            &[
                col(SqlType::Int),
                lit(SqlType::Boolean, Value::Boolean(false)),
            ],
        );
        assert_eq!(agg.value_args(), 1);
        assert_eq!(run(&*agg, &ints(&[Some(1), None])), Value::Null);
    }

    #[test]
    fn earliest_keeps_the_first() {
        let agg = resolve("EARLIEST_BY_OFFSET", &[col(SqlType::String)]);
        let rows = [
            Value::Null,
            Value::String("a".into()),
            Value::String("b".into()),
        ];
        assert_eq!(run(&*agg, &rows), Value::String("a".into()));
        assert_eq!(agg.result(&agg.init()).unwrap(), Value::Null);
        let agg = resolve(
            "EARLIEST_BY_OFFSET",
            &[
                col(SqlType::String),
                lit(SqlType::Boolean, Value::Boolean(false)),
            ],
        );
        assert_eq!(run(&*agg, &rows), Value::Null);
    }

    #[test]
    fn keeps_n_values() {
        let n = lit(SqlType::Int, Value::Int(2));
        let latest = resolve("LATEST_BY_OFFSET", &[col(SqlType::Int), n.clone()]);
        assert_eq!(latest.return_type(), SqlType::array(SqlType::Int));
        assert_eq!(
            latest.state_type().to_string(),
            "ARRAY<STRUCT<`SEQ` BIGINT, `VAL` INTEGER>>"
        );
        let rows = ints(&[Some(1), None, Some(2), Some(3)]);
        assert_eq!(
            run(&*latest, &rows),
            Value::Array(ints(&[Some(2), Some(3)]))
        );
        assert_eq!(run(&*latest, &ints(&[None])), Value::Array(vec![]));
        let earliest = resolve("EARLIEST_BY_OFFSET", &[col(SqlType::Int), n.clone()]);
        assert_eq!(
            run(&*earliest, &rows),
            Value::Array(ints(&[Some(1), Some(2)]))
        );
        let keep = lit(SqlType::Boolean, Value::Boolean(false));
        let latest = resolve(
            "LATEST_BY_OFFSET",
            &[col(SqlType::Int), n.clone(), keep.clone()],
        );
        assert_eq!(
            run(&*latest, &rows),
            Value::Array(ints(&[Some(2), Some(3)]))
        );
        assert_eq!(
            run(&*latest, &ints(&[Some(1), None])),
            Value::Array(ints(&[Some(1), None]))
        );
        let earliest = resolve("EARLIEST_BY_OFFSET", &[col(SqlType::Int), n, keep]);
        assert_eq!(run(&*earliest, &rows), Value::Array(ints(&[Some(1), None])));
    }

    #[test]
    fn merges_by_sequence_as_session_windows_do() {
        // Kafka Streams merges the new record's fresh state with each session in turn,
        // then adds the record.
        let agg = resolve("LATEST_BY_OFFSET", &[col(SqlType::Int)]);
        let w0 = add_all(&*agg, agg.init(), &ints(&[Some(1)]));
        let w1 = add_all(&*agg, agg.init(), &ints(&[None]));
        let merged = agg.merge(agg.init(), w0).unwrap();
        let merged = agg.merge(merged, w1.clone()).unwrap();
        assert_eq!(agg.result(&merged).unwrap(), Value::Int(1));
        assert_round_trips(&*agg, &merged);

        let keep = resolve(
            "LATEST_BY_OFFSET",
            &[
                col(SqlType::Int),
                lit(SqlType::Boolean, Value::Boolean(false)),
            ],
        );
        let w0 = add_all(&*keep, keep.init(), &ints(&[Some(1)]));
        let w1 = add_all(&*keep, keep.init(), &ints(&[None]));
        let merged = keep.merge(keep.init(), w0).unwrap();
        let merged = keep.merge(merged, w1).unwrap();
        assert_eq!(keep.result(&merged).unwrap(), Value::Null);

        let earliest = resolve("EARLIEST_BY_OFFSET", &[col(SqlType::Int)]);
        let w0 = add_all(&*earliest, earliest.init(), &ints(&[Some(1)]));
        let w1 = add_all(&*earliest, earliest.init(), &ints(&[Some(2)]));
        assert_eq!(
            earliest
                .result(&earliest.merge(w1.clone(), w0.clone()).unwrap())
                .unwrap(),
            Value::Int(1)
        );
        assert_eq!(
            earliest
                .result(&earliest.merge(Value::Null, w1).unwrap())
                .unwrap(),
            Value::Int(2)
        );
    }

    #[test]
    fn merging_n_keeps_the_oldest_n_as_ksqldb() {
        let n = lit(SqlType::Int, Value::Int(2));
        let keep = lit(SqlType::Boolean, Value::Boolean(false));
        let agg = resolve("LATEST_BY_OFFSET", &[col(SqlType::Int), n, keep]);
        let w0 = add_all(&*agg, agg.init(), &ints(&[Some(1)]));
        let w1 = add_all(&*agg, agg.init(), &ints(&[None]));
        let merged = agg.merge(agg.init(), w0).unwrap();
        let merged = agg.merge(merged, w1).unwrap();
        let s = agg.add(merged, &[Value::Int(2)]).unwrap();
        assert_round_trips(&*agg, &s);
        assert_eq!(
            agg.result(&s).unwrap(),
            Value::Array(ints(&[None, Some(2)]))
        );

        let a = add_all(&*agg, agg.init(), &ints(&[Some(1), Some(2)]));
        let b = add_all(&*agg, agg.init(), &ints(&[Some(3), Some(4)]));
        let merged = agg.merge(b, a).unwrap();
        assert_eq!(
            agg.result(&merged).unwrap(),
            Value::Array(ints(&[Some(1), Some(2)]))
        );
    }

    #[test]
    fn holds_any_type() {
        let ty = SqlType::structure([
            (
                "A",
                SqlType::map(SqlType::String, SqlType::array(SqlType::Int)),
            ),
            ("B", SqlType::decimal(4, 2).unwrap()),
        ]);
        let agg = resolve("LATEST_BY_OFFSET", &[col(ty.clone())]);
        assert_eq!(agg.return_type(), ty);
        let v = Value::Struct(vec![
            Value::Map(vec![(
                Value::String("k".into()),
                Value::Array(vec![Value::Int(1), Value::Null]),
            )]),
            Value::Decimal(123, 2),
        ]);
        assert_eq!(run(&*agg, std::slice::from_ref(&v)), v);
    }

    #[test]
    fn checks_literal_parameters() {
        let err = resolve_err(
            "LATEST_BY_OFFSET",
            &[col(SqlType::Int), lit(SqlType::Int, Value::Int(0))],
        );
        assert_eq!(err, "latestN must be 1 or greater");
        let err = resolve_err(
            "EARLIEST_BY_OFFSET",
            &[col(SqlType::Int), lit(SqlType::Int, Value::Int(-1))],
        );
        assert_eq!(err, "earliestN must be 1 or greater");
        let err = resolve_err(
            "LATEST_BY_OFFSET",
            &[
                col(SqlType::Int),
                lit(SqlType::String, Value::String("x".into())),
            ],
        );
        assert!(
            err.starts_with(
                "Function 'LATEST_BY_OFFSET' does not accept parameters (INTEGER, STRING)."
            ),
            "{err}"
        );
        // A non-literal parameter resolves, but the aggregator refuses to run.
        let agg = resolve(
            "LATEST_BY_OFFSET",
            &[col(SqlType::Int), col(SqlType::Int), col(SqlType::Boolean)],
        );
        assert_eq!(agg.value_args(), 1);
        assert_eq!(agg.return_type(), SqlType::array(SqlType::Int));
        assert!(agg.result(&agg.init()).is_err());
    }

    #[test]
    fn overflowed_sequences_are_later() {
        assert_eq!(compare_sequences(-5, 10), Ordering::Greater);
        assert_eq!(compare_sequences(10, -5), Ordering::Less);
        assert_eq!(compare_sequences(3, 4), Ordering::Less);
    }
}
