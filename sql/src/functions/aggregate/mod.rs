//! Aggregate functions: ksqlDB's UDAFs, one module per family, each with ksqlDB's
//! signatures, intermediate (state) types, NULL handling, undo (the `TableUdaf`s) and
//! merge (session windows).
//!
//! Resolution follows ksqlDB's `UdafAggregateFunctionFactory`: a call's argument types
//! must match a signature exactly (UDAFs get no implicit casts), an untyped NULL matches
//! any parameter, and more than one match is ambiguous. The trailing arguments some
//! signatures take (TOPK's `k`, LATEST_BY_OFFSET's `latestN` and `ignoreNulls`) are literal
//! parameters: the aggregator's [`Aggregator::value_args`] says how many leading arguments
//! are evaluated per row; the rest must be literals. A call whose literal parameter is not a
//! literal still resolves (its types do not depend on the value) to an aggregator that
//! refuses to run, so that the planner can report ksqlDB's "Parameter N passed to function
//! X must be a literal constant, but was expression: '...'" with the expression's text.

mod attr;
mod average;
mod collect;
mod correlation;
mod count;
mod count_distinct;
mod histogram;
mod java;
mod minmax;
mod offset;
mod stddev;
mod sum;
mod topk;

use std::fmt;
use std::sync::Arc;

use super::{AggregateArg, Aggregator, FunctionRegistry, Param};
use crate::error::{Result, SqlError};
use crate::types::{SqlType, StructField};
use crate::value::Value;

/// The properties that configure aggregate functions.
pub(super) const CONFIG_PROPERTIES: &[&str] = collect::CONFIG_PROPERTIES;

/// Replaces the configurable aggregates with ones configured by `config`.
pub(super) fn configure(registry: &mut FunctionRegistry, config: &dyn Fn(&str) -> Option<Value>) {
    registry.add_aggregate(collect::configured(false, config));
    registry.add_aggregate(collect::configured(true, config));
}

pub(super) fn register(registry: &mut FunctionRegistry) {
    attr::register(registry);
    average::register(registry);
    collect::register(registry);
    correlation::register(registry);
    count::register(registry);
    count_distinct::register(registry);
    histogram::register(registry);
    minmax::register(registry);
    offset::register(registry);
    stddev::register(registry);
    sum::register(registry);
    topk::register(registry);
}

/// One signature of an aggregate function, as ksqlDB declares it: column parameters
/// (`val1`, `val2`, ...; at most one variadic, which matches any number of arguments of any
/// type) followed by literal parameters.
#[derive(Debug, Clone)]
pub(super) struct Signature {
    /// The parameters and their names.
    params: Vec<(Param, &'static str)>,
    /// The index of the variadic parameter, if any.
    variadic: Option<usize>,
}

impl Signature {
    /// A signature of fixed parameters.
    pub(super) fn new(params: Vec<(Param, &'static str)>) -> Self {
        Self {
            params,
            variadic: None,
        }
    }

    /// A signature whose parameter `index` is variadic (`ANY...`).
    pub(super) fn variadic(params: Vec<(Param, &'static str)>, index: usize) -> Self {
        Self {
            params,
            variadic: Some(index),
        }
    }

    /// Whether `args` match exactly (an untyped NULL matches anything).
    fn matches(&self, args: &[AggregateArg]) -> bool {
        match self.variadic {
            None => {
                args.len() == self.params.len()
                    && self
                        .params
                        .iter()
                        .zip(args)
                        .all(|((p, _), a)| accepts(p, a))
            }
            Some(v) => {
                let after = self.params.len() - v - 1;
                if args.len() < v + after {
                    return false;
                }
                let before_ok = self.params[..v]
                    .iter()
                    .zip(&args[..v])
                    .all(|((p, _), a)| accepts(p, a));
                let after_ok = self.params[v + 1..]
                    .iter()
                    .zip(&args[args.len() - after..])
                    .all(|((p, _), a)| accepts(p, a));
                let (variadic, _) = &self.params[v];
                let middle_ok = args[v..args.len() - after]
                    .iter()
                    .all(|a| accepts(variadic, a));
                before_ok && after_ok && middle_ok
            }
        }
    }

    /// ksqlDB's preference among matching signatures (`UdfIndex.Node.compare`): fixed
    /// arity over variadic, then more parameters, then fewer generic parameters.
    fn rank(&self) -> (bool, usize, isize) {
        let generics = self
            .params
            .iter()
            .enumerate()
            .filter(|(i, (p, _))| Some(*i) == self.variadic || is_generic(p))
            .count();
        (
            self.variadic.is_none(),
            self.params.len(),
            -(generics as isize),
        )
    }

    /// The signature as ksqlDB lists it: `TOPK(INTEGER val1, ANY... val2, INTEGER k)`.
    fn display(&self, name: &str) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, (p, n))| {
                if Some(i) == self.variadic {
                    format!("{p}... {n}")
                } else {
                    format!("{p} {n}")
                }
            })
            .collect();
        format!("{name}({})", params.join(", "))
    }
}

fn is_generic(p: &Param) -> bool {
    match p {
        Param::Generic(_) | Param::Any => true,
        Param::Array(e) => is_generic(e),
        Param::Map(k, v) => is_generic(k) || is_generic(v),
        _ => false,
    }
}

/// Whether an argument matches a parameter without casts.
fn accepts(p: &Param, arg: &AggregateArg) -> bool {
    match &arg.ty {
        None => true,
        Some(ty) => accepts_type(p, ty),
    }
}

fn accepts_type(p: &Param, ty: &SqlType) -> bool {
    match (p, ty) {
        (Param::Generic(_) | Param::Any, _) => true,
        (Param::AnyDecimal, SqlType::Decimal { .. }) => true,
        (Param::Type(t), ty) => std::mem::discriminant(t) == std::mem::discriminant(ty),
        (Param::Array(e), SqlType::Array(inner)) => accepts_type(e, inner),
        (Param::Map(k, v), SqlType::Map(tk, tv)) => accepts_type(k, tk) && accepts_type(v, tv),
        (Param::AnyStruct, SqlType::Struct(_)) => true,
        _ => false,
    }
}

/// A type as ksqlDB prints it in function messages (no backticks around field names).
pub(super) fn type_text(ty: &SqlType) -> String {
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

fn args_text(args: &[AggregateArg]) -> String {
    args.iter()
        .map(|a| a.ty.as_ref().map_or_else(|| "null".to_string(), type_text))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The index of the signature `args` match, or ksqlDB's error.
pub(super) fn choose(name: &str, signatures: &[Signature], args: &[AggregateArg]) -> Result<usize> {
    let mut candidates: Vec<(usize, (bool, usize, isize))> = signatures
        .iter()
        .enumerate()
        .filter(|(_, s)| s.matches(args))
        .map(|(i, s)| (i, s.rank()))
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.1));
    let alternatives = || {
        signatures
            .iter()
            .map(|s| s.display(name))
            .collect::<Vec<_>>()
            .join("\n")
    };
    match candidates.as_slice() {
        [] => Err(SqlError::semantic(format!(
            "Function '{name}' does not accept parameters ({}).\nValid alternatives are:\n{}\n\
             For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;",
            args_text(args),
            alternatives()
        ))),
        [(i, _)] => Ok(*i),
        [(i, a), (_, b), ..] if a > b => Ok(*i),
        _ => Err(SqlError::semantic(format!(
            "Function '{name}' cannot be resolved due to ambiguous method parameters ({}).\n\
             Use CAST() to explicitly cast your parameters to one of the supported function \
             calls.\nValid function calls are:\n{}\n\
             For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;",
            args_text(args),
            alternatives()
        ))),
    }
}

/// The type of value argument `i`, or an error when it is an untyped NULL (ksqlDB cannot
/// type the UDAF's state then).
pub(super) fn arg_type(name: &str, args: &[AggregateArg], i: usize) -> Result<SqlType> {
    args.get(i).and_then(|a| a.ty.clone()).ok_or_else(|| {
        SqlError::semantic(format!(
            "Failed to create aggregate function {name}: can't infer a type of null. Please \
             explicitly cast it to a required type, e.g. CAST(null AS VARCHAR)."
        ))
    })
}

/// The literal parameters: the values of `args[from..]`, or the 1-based position of the
/// first one that is not a literal.
pub(super) fn literals(
    args: &[AggregateArg],
    from: usize,
) -> std::result::Result<Vec<Value>, usize> {
    args.iter()
        .enumerate()
        .skip(from)
        .map(|(i, a)| a.literal.clone().ok_or(i + 1))
        .collect()
}

/// An INTEGER literal parameter's value (a NULL cannot be passed to ksqlDB's `int`).
pub(super) fn int_literal(value: &Value) -> Result<i32> {
    match value {
        Value::Int(v) => Ok(*v),
        other => other
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| SqlError::semantic("Failed to invoke UDAF factory method")),
    }
}

/// A BOOLEAN literal parameter's value.
pub(super) fn bool_literal(value: &Value) -> Result<bool> {
    value
        .as_bool()
        .ok_or_else(|| SqlError::semantic("Failed to invoke UDAF factory method"))
}

/// The aggregator of a call whose literal parameter `position` (1-based) is an expression
/// rather than a literal: it has the types of the call but refuses to run. The planner
/// reports ksqlDB's error for it (it knows the expression's text).
pub(super) struct Unbound {
    name: String,
    position: usize,
    inner: Arc<dyn Aggregator>,
}

impl Unbound {
    /// Wraps an aggregator built with placeholder literal values.
    pub(super) fn wrap(
        name: &str,
        position: usize,
        inner: Arc<dyn Aggregator>,
    ) -> Arc<dyn Aggregator> {
        Arc::new(Self {
            name: name.to_ascii_uppercase(),
            position,
            inner,
        })
    }

    fn refuse(&self) -> SqlError {
        SqlError::semantic(format!(
            "Parameter {} passed to function {} must be a literal constant",
            self.position, self.name
        ))
    }
}

impl fmt::Debug for Unbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unbound")
            .field("name", &self.name)
            .field("position", &self.position)
            .finish()
    }
}

impl Aggregator for Unbound {
    fn value_args(&self) -> usize {
        self.inner.value_args()
    }
    fn state_type(&self) -> SqlType {
        self.inner.state_type()
    }
    fn return_type(&self) -> SqlType {
        self.inner.return_type()
    }
    fn init(&self) -> Value {
        self.inner.init()
    }
    fn add(&self, _state: Value, _args: &[Value]) -> Result<Value> {
        Err(self.refuse())
    }
    fn supports_undo(&self) -> bool {
        self.inner.supports_undo()
    }
    fn undo(&self, _state: Value, _args: &[Value]) -> Result<Value> {
        Err(self.refuse())
    }
    fn merge(&self, _a: Value, _b: Value) -> Result<Value> {
        Err(self.refuse())
    }
    fn result(&self, _state: &Value) -> Result<Value> {
        Err(self.refuse())
    }
}

/// Value argument `i` (NULL if the engine passed fewer).
pub(super) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

/// The error for a state that is not what the aggregator keeps.
pub(super) fn bad_state(name: &str, state: &Value) -> SqlError {
    SqlError::eval(format!("{name}: unexpected aggregation state {state:?}"))
}

/// The error for an argument that is not of the resolved type.
pub(super) fn bad_arg(name: &str, value: &Value) -> SqlError {
    SqlError::eval(format!("{name}: unexpected argument {value:?}"))
}

/// The fields of a STRUCT state with `n` fields.
pub(super) fn fields(name: &str, state: Value, n: usize) -> Result<Vec<Value>> {
    match state {
        Value::Struct(f) if f.len() == n => Ok(f),
        other => Err(bad_state(name, &other)),
    }
}

/// The elements of an ARRAY state.
pub(super) fn elements(name: &str, state: Value) -> Result<Vec<Value>> {
    match state {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        other => Err(bad_state(name, &other)),
    }
}

/// A STRUCT type from field names and types.
pub(super) fn struct_type(fields: &[(&str, SqlType)]) -> SqlType {
    SqlType::Struct(
        fields
            .iter()
            .map(|(n, t)| StructField {
                name: (*n).to_string(),
                ty: t.clone(),
            })
            .collect(),
    )
}

/// A BIGINT field of a state.
pub(super) fn long_field(name: &str, v: &Value) -> Result<i64> {
    match v {
        Value::BigInt(n) => Ok(*n),
        Value::Null => Ok(0),
        other => Err(bad_state(name, other)),
    }
}

/// A DOUBLE field of a state.
pub(super) fn double_field(name: &str, v: &Value) -> Result<f64> {
    match v {
        Value::Double(n) => Ok(*n),
        Value::Null => Ok(0.0),
        other => Err(bad_state(name, other)),
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! Helpers for the aggregators' unit tests.

    use std::sync::Arc;

    use crate::functions::{AggregateArg, Aggregator, FunctionRegistry};
    use crate::serde::binary::BinaryCodec;
    use crate::serde::codec::RowCodec;
    use crate::types::SqlType;
    use crate::value::Value;

    /// A column argument of a type.
    pub fn col(ty: SqlType) -> AggregateArg {
        AggregateArg {
            ty: Some(ty),
            literal: None,
        }
    }

    /// A literal argument.
    pub fn lit(ty: SqlType, v: Value) -> AggregateArg {
        AggregateArg {
            ty: Some(ty),
            literal: Some(v),
        }
    }

    /// An untyped NULL argument.
    pub fn null() -> AggregateArg {
        AggregateArg {
            ty: None,
            literal: Some(Value::Null),
        }
    }

    /// The aggregator of a built-in function for these arguments.
    pub fn resolve(name: &str, args: &[AggregateArg]) -> Arc<dyn Aggregator> {
        let registry = FunctionRegistry::builtin();
        let f = registry.aggregate(name).expect("registered");
        f.resolve(args).expect("resolves")
    }

    /// The error resolving a built-in function for these arguments.
    pub fn resolve_err(name: &str, args: &[AggregateArg]) -> String {
        let registry = FunctionRegistry::builtin();
        let f = registry.aggregate(name).expect("registered");
        match f.resolve(args) {
            Ok(a) => panic!("{name} resolved to {a:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// The state after adding one-value rows.
    pub fn add_all(agg: &dyn Aggregator, state: Value, rows: &[Value]) -> Value {
        rows.iter().fold(state, |s, v| {
            agg.add(s, std::slice::from_ref(v)).expect("adds")
        })
    }

    /// The result after adding one-value rows to a fresh state.
    pub fn run(agg: &dyn Aggregator, rows: &[Value]) -> Value {
        let state = add_all(agg, agg.init(), rows);
        assert_round_trips(agg, &state);
        agg.result(&state).expect("result")
    }

    /// Asserts that a state encodes and decodes with the internal codec as its state type.
    pub fn assert_round_trips(agg: &dyn Aggregator, state: &Value) {
        let codec = BinaryCodec::new(vec![agg.state_type()]);
        let bytes = codec
            .encode(std::slice::from_ref(state))
            .expect("encodes")
            .expect("some bytes");
        let back = codec.decode(&bytes).expect("decodes").expect("a row");
        assert_eq!(back, vec![state.clone()], "state round trip");
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn every_ksqldb_udaf_is_registered() {
        let registry = FunctionRegistry::builtin();
        for name in [
            "ATTR",
            "AVG",
            "COLLECT_LIST",
            "COLLECT_SET",
            "CORRELATION",
            "COUNT",
            "COUNT_DISTINCT",
            "EARLIEST_BY_OFFSET",
            "HISTOGRAM",
            "LATEST_BY_OFFSET",
            "MAX",
            "MIN",
            "STDDEV_SAMP",
            "STDDEV_SAMPLE",
            "SUM",
            "SUM_LIST",
            "TOPK",
            "TOPKDISTINCT",
        ] {
            assert!(registry.aggregate(name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_non_literal_parameter_resolves_to_an_aggregator_that_refuses_to_run() {
        let agg = resolve(
            "EARLIEST_BY_OFFSET",
            &[col(SqlType::Int), col(SqlType::Int)],
        );
        assert_eq!(agg.value_args(), 1);
        assert_eq!(agg.return_type(), SqlType::array(SqlType::Int));
        let err = agg
            .add(agg.init(), &[Value::Int(1)])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Parameter 2 passed to function EARLIEST_BY_OFFSET must be a literal constant"
        );
    }

    #[test]
    fn null_arguments_can_be_ambiguous() {
        let err = resolve_err("SUM", &[null()]);
        assert!(
            err.starts_with(
                "Function 'SUM' cannot be resolved due to ambiguous method parameters (null)."
            ),
            "{err}"
        );
    }

    #[test]
    fn messages_print_types_as_ksqldb() {
        let t = SqlType::structure([("A", SqlType::map(SqlType::String, SqlType::Int))]);
        assert_eq!(type_text(&t), "STRUCT<A MAP<STRING, INTEGER>>");
    }
}
