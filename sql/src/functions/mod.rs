//! ksqlDB's function library: scalar functions ([`ScalarFunction`], with overloads
//! resolved by [`signature`]), aggregate functions ([`AggregateFunction`]: state as a
//! [`Value`], with undo for table aggregations and merge for session windows) and table
//! functions ([`TableFunction`]: one row in, any number out).
//!
//! A scalar overload is implemented either by a DataFusion function whose semantics match
//! ksqlDB's (evaluated vectorised), or by a Rust function over [`Value`]s that the planner
//! wraps as a DataFusion UDF evaluated row by row (`crate::expr::udf`); a row whose
//! function fails gets NULL and a processing-log entry.

pub mod java_time;
pub mod signature;
pub mod time_parse;

pub mod java;
pub mod jregex;

mod aggregate;
mod args;
mod builtin;
mod collections;
mod datetime;
mod df;
mod encoding;
mod jackson;
mod json;
mod math;
mod misc;
mod nulls;
mod rng;
mod simple_date;
mod string;
mod table;
mod typed;
mod zone_names;

#[cfg(test)]
mod tests;

pub use datetime::{iso_date, iso_timestamp};

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use datafusion_expr::ScalarUDF;

pub use signature::{Binding, Param};

use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;

/// A function over one row's argument values.
pub type RowFn = Arc<dyn Fn(&[Value]) -> Result<Value> + Send + Sync>;

/// Computes an overload's return type from its resolved binding.
pub type ReturnFn = Arc<dyn Fn(&Binding) -> Result<SqlType> + Send + Sync>;

/// How an overload's return type is found.
#[derive(Clone)]
pub enum Returns {
    /// Always this type.
    Fixed(SqlType),
    /// The (cast) type of argument `n`.
    Arg(usize),
    /// The type bound to a generic variable.
    Generic(char),
    /// `ARRAY<generic>`.
    ArrayOf(char),
    /// Computed from the binding.
    Custom(ReturnFn),
}

impl From<SqlType> for Returns {
    fn from(t: SqlType) -> Self {
        Self::Fixed(t)
    }
}

impl Returns {
    /// The return type for a binding.
    pub fn resolve(&self, binding: &Binding) -> Result<SqlType> {
        let missing = || {
            SqlError::semantic(
                "Can't infer a type of null. Please explicitly cast it to a required type, \
                 e.g. CAST(null AS VARCHAR).",
            )
        };
        match self {
            Self::Fixed(t) => Ok(t.clone()),
            Self::Arg(n) => binding
                .arg_types
                .get(*n)
                .cloned()
                .flatten()
                .ok_or_else(missing),
            Self::Generic(c) => binding.generics.get(c).cloned().ok_or_else(missing),
            Self::ArrayOf(c) => binding
                .generics
                .get(c)
                .cloned()
                .map(SqlType::array)
                .ok_or_else(missing),
            Self::Custom(f) => f(binding),
        }
    }
}

/// How NULL arguments reach a row function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// Any NULL argument makes the result NULL without calling the function.
    Propagate,
    /// The function sees NULLs and decides.
    Pass,
}

/// How an overload is evaluated.
#[derive(Clone)]
pub enum Implementation {
    /// Row by row over values.
    Row {
        /// The function.
        f: RowFn,
        /// NULL handling.
        nulls: Nulls,
    },
    /// A DataFusion function with ksqlDB's semantics, called with the cast arguments.
    DataFusion(Arc<ScalarUDF>),
}

impl fmt::Debug for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Row { nulls, .. } => write!(f, "Row({nulls:?})"),
            Self::DataFusion(udf) => write!(f, "DataFusion({})", udf.name()),
        }
    }
}

/// One signature of a scalar function and its implementation.
#[derive(Clone)]
pub struct Overload {
    /// The parameters.
    pub params: Vec<Param>,
    /// Whether the last parameter repeats.
    pub variadic: bool,
    /// The return type.
    pub returns: Returns,
    /// The implementation.
    pub implementation: Implementation,
}

/// A scalar function: a name and its overloads.
#[derive(Clone)]
pub struct ScalarFunction {
    /// The name, as ksqlDB declares it (lookup is case-insensitive).
    pub name: String,
    /// A one-line description (`DESCRIBE FUNCTION`).
    pub description: String,
    /// The overloads, in declaration order.
    pub overloads: Vec<Overload>,
}

impl fmt::Debug for ScalarFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScalarFunction")
            .field("name", &self.name)
            .field("overloads", &self.overloads.len())
            .finish()
    }
}

/// A resolved call.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The chosen overload's implementation.
    pub implementation: Implementation,
    /// Argument types after casts.
    pub binding: Binding,
    /// The result type.
    pub return_type: SqlType,
}

impl ScalarFunction {
    /// A function with no overloads yet.
    pub fn new(name: &str, description: &str) -> Self {
        Self {
            name: name.to_string(),
            description: description.to_string(),
            overloads: Vec::new(),
        }
    }

    /// Adds an overload evaluated row by row, NULL in NULL out.
    pub fn with(
        mut self,
        params: Vec<Param>,
        returns: impl Into<Returns>,
        f: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static,
    ) -> Self {
        self.overloads.push(Overload {
            params,
            variadic: false,
            returns: returns.into(),
            implementation: Implementation::Row {
                f: Arc::new(f),
                nulls: Nulls::Propagate,
            },
        });
        self
    }

    /// Adds an overload evaluated row by row that sees NULL arguments.
    pub fn with_nulls(
        mut self,
        params: Vec<Param>,
        returns: impl Into<Returns>,
        f: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static,
    ) -> Self {
        self.overloads.push(Overload {
            params,
            variadic: false,
            returns: returns.into(),
            implementation: Implementation::Row {
                f: Arc::new(f),
                nulls: Nulls::Pass,
            },
        });
        self
    }

    /// Makes the last overload added variadic (its last parameter repeats, zero or more
    /// times).
    pub fn variadic(mut self) -> Self {
        if let Some(last) = self.overloads.last_mut() {
            last.variadic = true;
        }
        self
    }

    /// Adds an overload evaluated by a DataFusion function.
    pub fn with_datafusion(
        mut self,
        params: Vec<Param>,
        returns: impl Into<Returns>,
        udf: Arc<ScalarUDF>,
    ) -> Self {
        self.overloads.push(Overload {
            params,
            variadic: false,
            returns: returns.into(),
            implementation: Implementation::DataFusion(udf),
        });
        self
    }

    /// The overload for these argument types (`None`: untyped NULL), or ksqlDB's error:
    /// exact matches first, then matches with implicit casts; among several, ksqlDB's
    /// preference, a tie being ambiguous.
    pub fn resolve(&self, args: &[Option<SqlType>]) -> Result<Resolved> {
        let listed = || -> String {
            args.iter()
                .map(|a| a.as_ref().map_or("null".to_string(), |t| t.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for allow_casts in [false, true] {
            let mut matches: Vec<(&Overload, Binding)> = self
                .overloads
                .iter()
                .filter_map(|o| {
                    signature::bind(&o.params, o.variadic, args, allow_casts).map(|b| (o, b))
                })
                .collect();
            if matches.is_empty() {
                continue;
            }
            matches.sort_by_key(|(o, _)| {
                std::cmp::Reverse(signature::preference(&o.params, o.variadic))
            });
            if matches.len() > 1
                && signature::preference(&matches[0].0.params, matches[0].0.variadic)
                    == signature::preference(&matches[1].0.params, matches[1].0.variadic)
            {
                return Err(SqlError::semantic(format!(
                    "Function '{}' cannot be resolved due to ambiguous method parameters ({}).\n\
                     Use CAST() to explicitly cast your parameters to one of the supported \
                     function calls.\nValid function calls are:\n{}\nFor detailed \
                     information on a function run: DESCRIBE FUNCTION <Function-Name>;",
                    self.name,
                    listed(),
                    self.signatures().join("\n")
                )));
            }
            let (overload, binding) = matches.swap_remove(0);
            let return_type = overload.returns.resolve(&binding)?;
            return Ok(Resolved {
                implementation: overload.implementation.clone(),
                binding,
                return_type,
            });
        }
        Err(SqlError::semantic(format!(
            "Function '{}' does not accept parameters ({}).\nValid alternatives are:\n{}\nFor \
             detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;",
            self.name,
            listed(),
            self.signatures().join("\n")
        )))
    }

    /// The overloads' signatures as text, for messages and `DESCRIBE FUNCTION`.
    pub fn signatures(&self) -> Vec<String> {
        self.overloads
            .iter()
            .map(|o| {
                let mut params: Vec<String> = o.params.iter().map(|p| p.to_string()).collect();
                if o.variadic
                    && let Some(last) = params.last_mut()
                {
                    last.push_str("...");
                }
                format!("{}({})", self.name, params.join(", "))
            })
            .collect()
    }
}

/// An argument of an aggregate call: its type, and its value if it is a literal.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateArg {
    /// The type (`None`: untyped NULL).
    pub ty: Option<SqlType>,
    /// The value, for literal arguments.
    pub literal: Option<Value>,
}

/// An aggregate call resolved for its argument types.
pub trait Aggregator: Send + Sync + fmt::Debug {
    /// How many of the call's leading arguments are evaluated per row (the rest are
    /// literal parameters such as TOPK's k).
    fn value_args(&self) -> usize;
    /// The type of the state.
    fn state_type(&self) -> SqlType;
    /// The type of the result.
    fn return_type(&self) -> SqlType;
    /// The state before any row.
    fn init(&self) -> Value;
    /// The state after `args` (one value per value argument) are added.
    fn add(&self, state: Value, args: &[Value]) -> Result<Value>;
    /// Whether [`Aggregator::undo`] works (needed to aggregate tables).
    fn supports_undo(&self) -> bool {
        false
    }
    /// The state after `args`, added before, are taken out again.
    fn undo(&self, state: Value, _args: &[Value]) -> Result<Value> {
        Ok(state)
    }
    /// Two states merged (session windows that a record joins).
    fn merge(&self, a: Value, b: Value) -> Result<Value>;
    /// The result for a state.
    fn result(&self, state: &Value) -> Result<Value>;
}

/// An aggregate function: resolved per call into an [`Aggregator`].
pub trait AggregateFunction: Send + Sync {
    /// The name.
    fn name(&self) -> &str;
    /// A one-line description.
    fn description(&self) -> &str;
    /// The aggregator for these arguments, or ksqlDB's error.
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>>;
}

/// A table function's work on one row: the values of its output rows.
pub type TableFn = Arc<dyn Fn(&[Value]) -> Result<Vec<Value>> + Send + Sync>;

/// A table function (`EXPLODE`, `CUBE_EXPLODE`): one input row to any number of rows.
pub trait TableFunction: Send + Sync {
    /// The name.
    fn name(&self) -> &str;
    /// A one-line description.
    fn description(&self) -> &str;
    /// The output type and the function, for these argument types.
    fn resolve(&self, args: &[Option<SqlType>]) -> Result<(SqlType, TableFn)>;
}

/// Every function, by upper-cased name.
#[derive(Default, Clone)]
pub struct FunctionRegistry {
    scalars: BTreeMap<String, ScalarFunction>,
    aggregates: BTreeMap<String, Arc<dyn AggregateFunction>>,
    tables: BTreeMap<String, Arc<dyn TableFunction>>,
}

impl fmt::Debug for FunctionRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionRegistry")
            .field("scalars", &self.scalars.len())
            .field("aggregates", &self.aggregates.len())
            .field("tables", &self.tables.len())
            .finish()
    }
}

/// What kind of function a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    /// Scalar.
    Scalar,
    /// Aggregate.
    Aggregate,
    /// Table.
    Table,
}

impl FunctionRegistry {
    /// The built-in functions (shared, built once).
    pub fn builtin() -> Arc<FunctionRegistry> {
        static BUILTIN: OnceLock<Arc<FunctionRegistry>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut registry = FunctionRegistry::default();
                builtin::register(&mut registry);
                Arc::new(registry)
            })
            .clone()
    }

    /// The built-in functions with ksqlDB's function properties applied (`config` looks a
    /// property up): `ksql.functions.collect_list.limit` and `collect_set.limit`.
    pub fn configured(config: impl Fn(&str) -> Option<String>) -> Arc<FunctionRegistry> {
        let builtin = Self::builtin();
        let lookup = |name: &str| config(name).map(Value::String);
        if !aggregate::CONFIG_PROPERTIES
            .iter()
            .any(|p| lookup(p).is_some())
        {
            return builtin;
        }
        let mut registry = (*builtin).clone();
        aggregate::configure(&mut registry, &lookup);
        Arc::new(registry)
    }

    /// Adds a scalar function (replacing one of the same name).
    pub fn add_scalar(&mut self, function: ScalarFunction) {
        self.scalars
            .insert(function.name.to_ascii_uppercase(), function);
    }

    /// Adds an aggregate function.
    pub fn add_aggregate(&mut self, function: Arc<dyn AggregateFunction>) {
        self.aggregates
            .insert(function.name().to_ascii_uppercase(), function);
    }

    /// Adds a table function.
    pub fn add_table(&mut self, function: Arc<dyn TableFunction>) {
        self.tables
            .insert(function.name().to_ascii_uppercase(), function);
    }

    /// A scalar function by name.
    pub fn scalar(&self, name: &str) -> Option<&ScalarFunction> {
        self.scalars.get(&name.to_ascii_uppercase())
    }

    /// An aggregate function by name.
    pub fn aggregate(&self, name: &str) -> Option<&Arc<dyn AggregateFunction>> {
        self.aggregates.get(&name.to_ascii_uppercase())
    }

    /// A table function by name.
    pub fn table(&self, name: &str) -> Option<&Arc<dyn TableFunction>> {
        self.tables.get(&name.to_ascii_uppercase())
    }

    /// What kind of function `name` is, if it is one.
    pub fn kind(&self, name: &str) -> Option<FunctionKind> {
        let upper = name.to_ascii_uppercase();
        if self.aggregates.contains_key(&upper) {
            Some(FunctionKind::Aggregate)
        } else if self.tables.contains_key(&upper) {
            Some(FunctionKind::Table)
        } else if self.scalars.contains_key(&upper) {
            Some(FunctionKind::Scalar)
        } else {
            None
        }
    }

    /// Every function name and its kind and description, sorted (`SHOW FUNCTIONS`).
    pub fn list(&self) -> Vec<(String, FunctionKind, String)> {
        let mut all: Vec<(String, FunctionKind, String)> = self
            .scalars
            .values()
            .map(|f| {
                (
                    f.name.to_ascii_uppercase(),
                    FunctionKind::Scalar,
                    f.description.clone(),
                )
            })
            .chain(self.aggregates.values().map(|f| {
                (
                    f.name().to_ascii_uppercase(),
                    FunctionKind::Aggregate,
                    f.description().to_string(),
                )
            }))
            .chain(self.tables.values().map(|f| {
                (
                    f.name().to_ascii_uppercase(),
                    FunctionKind::Table,
                    f.description().to_string(),
                )
            }))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}
