//! [`Compiler`]: typed expressions to DataFusion logical expressions, then to physical
//! expressions over a stage's input schema, and a stage's [`ExprProgram`] plus the
//! DataFusion logical plan that `EXPLAIN` prints.
//!
//! DataFusion evaluates what it does as ksqlDB does: columns, literals, numeric widening
//! casts, INT/BIGINT/DOUBLE `+ - *`, DOUBLE `/ %`, comparisons of primitive types, AND, OR,
//! NOT, `IS [NOT] NULL`, IS DISTINCT FROM, CASE, IN, BETWEEN, LIKE, struct field access.
//! ksqlDB's NULL rule for comparisons (a NULL operand gives FALSE, not NULL) wraps them in
//! `.. IS TRUE`. Everything else is a UDF from [`super::udf`].

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion_common::{Column, DFSchema, ScalarValue};
use datafusion_expr::execution_props::ExecutionProps;
use datafusion_expr::expr::{Cast, InList, Like, ScalarFunction as DfScalarFunction};
use datafusion_expr::logical_plan::builder::{LogicalPlanBuilder, table_source};
use datafusion_expr::{Between, BinaryExpr, Case, Expr, LogicalPlan, Operator};
use datafusion_functions::core::expr_fn::get_field;
use datafusion_physical_expr::{PhysicalExpr, create_physical_expr};

use super::eval::{ErrorSink, ExprProgram, cast_value};
use super::numeric_cast::NumericCast;
use super::udf::{CompiledLambda, HigherOrderUdf, IntegerDivision, RowUdf, lambda_field};
use super::{HigherOrder, TExpr, TKind};
use crate::arrow_conv::to_array_owned;
use crate::error::{Result, SqlError};
use crate::functions::{Implementation, Nulls, RowFn};
use crate::parser::ast::BinaryOp;
use crate::types::SqlType;
use crate::value::Value;

/// The batch column name a lambda parameter takes.
pub fn lambda_column(name: &str) -> String {
    format!("#lambda:{name}")
}

/// Compiles typed expressions, all sharing one error sink.
#[derive(Debug, Clone, Default)]
pub struct Compiler {
    /// Where per-row errors of the compiled UDFs go.
    pub errors: ErrorSink,
}

fn ty_of(e: &TExpr) -> Result<&SqlType> {
    e.ty.as_ref()
        .ok_or_else(|| SqlError::semantic("Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR)."))
}

/// A literal value of a type as a DataFusion scalar.
pub fn scalar(value: &Value, ty: &SqlType) -> Result<ScalarValue> {
    let array = to_array_owned(std::slice::from_ref(value), ty)?;
    Ok(ScalarValue::try_from_array(&array, 0)?)
}

/// The arrow schema of named columns (all nullable).
pub fn schema_of(columns: &[(String, SqlType)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, t)| Field::new(n, t.to_arrow(), true))
            .collect::<Vec<_>>(),
    ))
}

impl Compiler {
    /// A compiler with its own error sink.
    pub fn new(errors: ErrorSink) -> Self {
        Self { errors }
    }

    fn row_udf(
        &self,
        name: &str,
        args: Vec<Expr>,
        arg_types: Vec<Option<SqlType>>,
        ret: SqlType,
        nulls: Nulls,
        f: RowFn,
    ) -> Expr {
        let udf = RowUdf::udf(name, arg_types, ret, f, nulls, self.errors.clone());
        Expr::ScalarFunction(DfScalarFunction::new_udf(udf, args))
    }

    /// The DataFusion expression of a typed expression.
    pub fn expr(&self, e: &TExpr) -> Result<Expr> {
        Ok(match &e.kind {
            TKind::Column(name) => Expr::Column(Column::new_unqualified(name)),
            TKind::LambdaVar(name) => Expr::Column(Column::new_unqualified(lambda_column(name))),
            TKind::Literal(v) => match &e.ty {
                Some(ty) => Expr::Literal(scalar(v, ty)?, None),
                None => Expr::Literal(ScalarValue::Null, None),
            },
            TKind::Cast(inner) => self.cast(inner, ty_of(e)?)?,
            TKind::Call {
                name,
                implementation,
                args,
            } => {
                let compiled = args
                    .iter()
                    .map(|a| self.expr(a))
                    .collect::<Result<Vec<_>>>()?;
                match implementation {
                    Implementation::DataFusion(udf) => udf.call(compiled),
                    Implementation::Row { f, nulls } => self.row_udf(
                        name,
                        compiled,
                        args.iter().map(|a| a.ty.clone()).collect(),
                        ty_of(e)?.clone(),
                        *nulls,
                        f.clone(),
                    ),
                }
            }
            TKind::Binary { op, left, right } => self.binary(*op, left, right, ty_of(e)?)?,
            TKind::Not(inner) => Expr::Not(Box::new(self.expr(inner)?)),
            TKind::Negate(inner) => Expr::Negative(Box::new(self.expr(inner)?)),
            TKind::IsNull { expr, negated } => {
                let x = self.expr(expr)?;
                if *negated {
                    x.is_not_null()
                } else {
                    x.is_null()
                }
            }
            TKind::IsDistinctFrom {
                left,
                right,
                negated,
            } => Expr::BinaryExpr(BinaryExpr::new(
                Box::new(self.expr(left)?),
                if *negated {
                    Operator::IsNotDistinctFrom
                } else {
                    Operator::IsDistinctFrom
                },
                Box::new(self.expr(right)?),
            )),
            TKind::Case { whens, else_result } => Expr::Case(Case {
                expr: None,
                when_then_expr: whens
                    .iter()
                    .map(|(w, t)| Ok((Box::new(self.expr(w)?), Box::new(self.expr(t)?))))
                    .collect::<Result<_>>()?,
                else_expr: else_result
                    .as_ref()
                    .map(|e| self.expr(e).map(Box::new))
                    .transpose()?,
            }),
            TKind::InList {
                expr,
                list,
                negated,
            } => {
                // ksqlDB's `x NOT IN (...)` is `NOT (x IN (...))` over a two-valued IN: a
                // NULL `x` is in nothing, so it is NOT IN everything.
                let ty = ty_of(expr)?;
                let found = if list.is_empty() {
                    Expr::Literal(ScalarValue::Boolean(Some(false)), None)
                } else if is_nested(ty) {
                    let mut args = vec![self.expr(expr)?];
                    let mut types = vec![Some(ty.clone())];
                    for item in list {
                        args.push(self.expr(item)?);
                        types.push(Some(ty.clone()));
                    }
                    self.row_udf(
                        "in",
                        args,
                        types,
                        SqlType::Boolean,
                        Nulls::Pass,
                        Arc::new(move |a| {
                            let found = !a[0].is_null() && a[1..].iter().any(|v| v == &a[0]);
                            Ok(Value::Boolean(found))
                        }),
                    )
                } else {
                    false_if_null(Expr::InList(InList::new(
                        Box::new(self.expr(expr)?),
                        list.iter().map(|i| self.expr(i)).collect::<Result<_>>()?,
                        false,
                    )))
                };
                if *negated {
                    Expr::Not(Box::new(found))
                } else {
                    found
                }
            }
            TKind::Between {
                expr,
                low,
                high,
                negated,
            } => false_if_null(Expr::Between(Between::new(
                Box::new(self.expr(expr)?),
                *negated,
                Box::new(self.expr(low)?),
                Box::new(self.expr(high)?),
            ))),
            TKind::Like {
                expr,
                pattern,
                escape,
                negated,
            } => false_if_null(Expr::Like(Like::new(
                *negated,
                Box::new(self.expr(expr)?),
                Box::new(self.expr(pattern)?),
                *escape,
                false,
            ))),
            TKind::Subscript { expr, index } => {
                let container = ty_of(expr)?.clone();
                let index_ty = ty_of(index)?.clone();
                self.row_udf(
                    "subscript",
                    vec![self.expr(expr)?, self.expr(index)?],
                    vec![Some(container), Some(index_ty)],
                    ty_of(e)?.clone(),
                    Nulls::Propagate,
                    Arc::new(|a| Ok(subscript(&a[0], &a[1]))),
                )
            }
            TKind::Deref { expr, field } => get_field(self.expr(expr)?, field.as_str()),
            TKind::MakeArray(items) => self.row_udf(
                "array",
                items.iter().map(|i| self.expr(i)).collect::<Result<_>>()?,
                items.iter().map(|i| i.ty.clone()).collect(),
                ty_of(e)?.clone(),
                Nulls::Pass,
                Arc::new(|a| Ok(Value::Array(a.to_vec()))),
            ),
            TKind::MakeMap(entries) => {
                let mut args = Vec::new();
                let mut types = Vec::new();
                for (k, v) in entries {
                    args.push(self.expr(k)?);
                    args.push(self.expr(v)?);
                    types.push(k.ty.clone());
                    types.push(v.ty.clone());
                }
                self.row_udf(
                    "map",
                    args,
                    types,
                    ty_of(e)?.clone(),
                    Nulls::Pass,
                    Arc::new(|a| {
                        let mut entries: Vec<(Value, Value)> = Vec::new();
                        for pair in a.chunks(2) {
                            if pair[0].is_null() {
                                continue;
                            }
                            match entries.iter_mut().find(|(k, _)| *k == pair[0]) {
                                Some(entry) => entry.1 = pair[1].clone(),
                                None => entries.push((pair[0].clone(), pair[1].clone())),
                            }
                        }
                        Ok(Value::Map(entries))
                    }),
                )
            }
            TKind::MakeStruct(fields) => self.row_udf(
                "struct",
                fields
                    .iter()
                    .map(|(_, v)| self.expr(v))
                    .collect::<Result<_>>()?,
                fields.iter().map(|(_, v)| v.ty.clone()).collect(),
                ty_of(e)?.clone(),
                Nulls::Pass,
                Arc::new(|a| Ok(Value::Struct(a.to_vec()))),
            ),
            TKind::Lambda { .. } => {
                return Err(SqlError::semantic(
                    "a lambda can only be an argument of TRANSFORM, FILTER or REDUCE",
                ));
            }
            TKind::HigherOrder { function, args } => self.higher_order(*function, args, e)?,
        })
    }

    fn cast(&self, inner: &TExpr, to: &SqlType) -> Result<Expr> {
        let Some(from) = &inner.ty else {
            return Ok(Expr::Literal(scalar(&Value::Null, to)?, None));
        };
        let compiled = self.expr(inner)?;
        let widening = matches!(
            (from, to),
            (
                SqlType::Int,
                SqlType::BigInt | SqlType::Double | SqlType::Decimal { .. }
            ) | (SqlType::BigInt, SqlType::Double | SqlType::Decimal { .. })
                | (SqlType::Decimal { .. }, SqlType::Double)
        );
        if widening {
            return Ok(Expr::Cast(Cast::new(Box::new(compiled), to.to_arrow())));
        }
        if let Some(udf) = NumericCast::udf(from, to) {
            return Ok(Expr::ScalarFunction(DfScalarFunction::new_udf(
                udf,
                vec![compiled],
            )));
        }
        let (from_c, to_c) = (from.clone(), to.clone());
        Ok(self.row_udf(
            "cast",
            vec![compiled],
            vec![Some(from.clone())],
            to.clone(),
            Nulls::Propagate,
            Arc::new(move |a| cast_value(&a[0], &from_c, &to_c)),
        ))
    }

    fn binary(&self, op: BinaryOp, left: &TExpr, right: &TExpr, result: &SqlType) -> Result<Expr> {
        let l = self.expr(left)?;
        let r = self.expr(right)?;
        let operand = left.ty.clone().or_else(|| right.ty.clone());
        let df_op = |op: BinaryOp| match op {
            BinaryOp::Add => Operator::Plus,
            BinaryOp::Subtract => Operator::Minus,
            BinaryOp::Multiply => Operator::Multiply,
            BinaryOp::Divide => Operator::Divide,
            BinaryOp::Modulo => Operator::Modulo,
            BinaryOp::Eq => Operator::Eq,
            BinaryOp::NotEq => Operator::NotEq,
            BinaryOp::Lt => Operator::Lt,
            BinaryOp::LtEq => Operator::LtEq,
            BinaryOp::Gt => Operator::Gt,
            BinaryOp::GtEq => Operator::GtEq,
            BinaryOp::And => Operator::And,
            BinaryOp::Or => Operator::Or,
            BinaryOp::Concat => Operator::StringConcat,
        };
        let bin = |l: Expr, op: Operator, r: Expr| {
            Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))
        };
        Ok(match op {
            BinaryOp::And | BinaryOp::Or => bin(l, df_op(op), r),
            op if op.is_comparison() => match &operand {
                Some(ty) if is_nested(ty) => {
                    let t = ty.clone();
                    self.row_udf(
                        "equals",
                        vec![l, r],
                        vec![Some(t.clone()), Some(t)],
                        SqlType::Boolean,
                        Nulls::Pass,
                        Arc::new(move |a| {
                            Ok(Value::Boolean(
                                !a[0].is_null()
                                    && !a[1].is_null()
                                    && ((a[0] == a[1]) == (op == BinaryOp::Eq)),
                            ))
                        }),
                    )
                }
                _ => false_if_null(bin(l, df_op(op), r)),
            },
            BinaryOp::Concat => {
                let nulls = Nulls::Propagate;
                self.row_udf(
                    "concat",
                    vec![l, r],
                    vec![Some(SqlType::String), Some(SqlType::String)],
                    SqlType::String,
                    nulls,
                    Arc::new(|a| {
                        Ok(Value::String(format!(
                            "{}{}",
                            a[0].as_str().unwrap_or_default(),
                            a[1].as_str().unwrap_or_default()
                        )))
                    }),
                )
            }
            _ => match result {
                SqlType::Int | SqlType::BigInt
                    if matches!(op, BinaryOp::Divide | BinaryOp::Modulo) =>
                {
                    let udf = IntegerDivision::udf(
                        op == BinaryOp::Modulo,
                        *result == SqlType::BigInt,
                        self.errors.clone(),
                    );
                    Expr::ScalarFunction(DfScalarFunction::new_udf(udf, vec![l, r]))
                }
                SqlType::Decimal { precision, scale } => {
                    let (p, s) = (*precision, *scale);
                    self.row_udf(
                        op.symbol(),
                        vec![l, r],
                        vec![left.ty.clone(), right.ty.clone()],
                        result.clone(),
                        Nulls::Propagate,
                        Arc::new(move |a| decimal_arithmetic(op, &a[0], &a[1], p, s)),
                    )
                }
                _ => bin(l, df_op(op), r),
            },
        })
    }

    fn higher_order(&self, function: HigherOrder, args: &[TExpr], e: &TExpr) -> Result<Expr> {
        let collection = &args[0];
        let lambdas: Vec<&TExpr> = args
            .iter()
            .filter(|a| matches!(a.kind, TKind::Lambda { .. }))
            .collect();
        // Columns and enclosing lambda parameters the lambdas read.
        let mut captures: Vec<(String, SqlType, Expr)> = Vec::new();
        let mut seen = BTreeSet::new();
        for lambda in &lambdas {
            let TKind::Lambda { params, body } = &lambda.kind else {
                continue;
            };
            let mut own: BTreeSet<String> = params.iter().map(|(n, _)| n.clone()).collect();
            // Parameters of lambdas nested in the body are theirs, not captures.
            body.visit(&mut |x| {
                if let TKind::Lambda { params, .. } = &x.kind {
                    own.extend(params.iter().map(|(n, _)| n.clone()));
                }
            });
            body.visit(&mut |x| {
                let (column, outer) = match &x.kind {
                    TKind::Column(c) => (c.clone(), Expr::Column(Column::new_unqualified(c))),
                    TKind::LambdaVar(v) if !own.contains(v) => (
                        lambda_column(v),
                        Expr::Column(Column::new_unqualified(lambda_column(v))),
                    ),
                    _ => return,
                };
                if let Some(ty) = &x.ty
                    && seen.insert(column.clone())
                {
                    captures.push((column, ty.clone(), outer));
                }
            });
        }
        let mut compiled = Vec::new();
        for lambda in &lambdas {
            let TKind::Lambda { params, body } = &lambda.kind else {
                continue;
            };
            let mut fields: Vec<Field> = params
                .iter()
                .map(|(n, t)| lambda_field(&lambda_column(n), t))
                .collect();
            fields.extend(captures.iter().map(|(n, t, _)| lambda_field(n, t)));
            let schema = Arc::new(Schema::new(fields));
            let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
            let body_expr = self.expr(body)?;
            let physical = create_physical_expr(
                &body_expr,
                &df_schema,
                &ExecutionProps::new(),
                &Default::default(),
            )?;
            compiled.push(CompiledLambda {
                body: physical,
                schema,
                params: params.iter().map(|(_, t)| t.clone()).collect(),
                ret: ty_of(body)?.clone(),
            });
        }
        let mut call_args = vec![self.expr(collection)?];
        let state = if function == HigherOrder::Reduce {
            call_args.push(self.expr(&args[1])?);
            args[1].ty.clone()
        } else {
            None
        };
        let count = captures.len();
        call_args.extend(captures.into_iter().map(|(_, _, e)| e));
        let udf = HigherOrderUdf::udf(
            function,
            ty_of(collection)?.clone(),
            compiled,
            state,
            ty_of(e)?.clone(),
            count,
        );
        Ok(Expr::ScalarFunction(DfScalarFunction::new_udf(
            udf, call_args,
        )))
    }

    /// A physical expression over `schema`.
    pub fn physical(&self, e: &TExpr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
        let expr = self.expr(e)?;
        Ok(create_physical_expr(
            &expr,
            schema,
            &ExecutionProps::new(),
            &Default::default(),
        )?)
    }

    /// Compiles a stage: `filter` then `outputs` over batches with `input` columns. Also
    /// returns the stage as a DataFusion logical plan, for `EXPLAIN`.
    pub fn program(
        &self,
        input: &[(String, SqlType)],
        filter: Option<&TExpr>,
        outputs: &[(String, TExpr)],
    ) -> Result<(ExprProgram, LogicalPlan)> {
        let input_schema = schema_of(input);
        let df_schema = DFSchema::try_from(input_schema.as_ref().clone())?;
        let filter_expr = filter.map(|f| self.expr(f)).transpose()?;
        let output_exprs: Vec<(Expr, &SqlType)> = outputs
            .iter()
            .map(|(name, e)| Ok((self.expr(e)?.alias(name), ty_of(e)?)))
            .collect::<Result<_>>()?;
        let props = ExecutionProps::new();
        let physical = |e: &Expr| -> Result<Arc<dyn PhysicalExpr>> {
            Ok(create_physical_expr(
                e,
                &df_schema,
                &props,
                &Default::default(),
            )?)
        };
        let program = ExprProgram {
            filter: filter_expr.as_ref().map(&physical).transpose()?,
            outputs: output_exprs
                .iter()
                .map(|(e, ty)| Ok((physical(e)?, (*ty).clone())))
                .collect::<Result<_>>()?,
            output_schema: schema_of(
                &outputs
                    .iter()
                    .map(|(n, e)| Ok((n.clone(), ty_of(e)?.clone())))
                    .collect::<Result<Vec<_>>>()?,
            ),
            errors: self.errors.clone(),
        };
        let mut builder =
            LogicalPlanBuilder::scan("input", table_source(input_schema.as_ref()), None)?;
        if let Some(f) = filter_expr {
            builder = builder.filter(f)?;
        }
        let plan = builder
            .project(output_exprs.into_iter().map(|(e, _)| e))?
            .build()?;
        Ok((program, plan))
    }
}

fn is_nested(ty: &SqlType) -> bool {
    matches!(
        ty,
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)
    )
}

/// ksqlDB's comparisons are FALSE, never NULL, when an operand is NULL.
fn false_if_null(e: Expr) -> Expr {
    Expr::IsTrue(Box::new(e))
}

/// `array[index]` (1-based, negative from the end) or `map[key]`; NULL when absent.
pub fn subscript(container: &Value, index: &Value) -> Value {
    match container {
        Value::Array(items) => {
            let Some(i) = index.as_i64() else {
                return Value::Null;
            };
            let len = items.len() as i64;
            let at = if i > 0 {
                i - 1
            } else if i < 0 {
                len + i
            } else {
                -1
            };
            if (0..len).contains(&at) {
                items[at as usize].clone()
            } else {
                Value::Null
            }
        }
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k == index)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// DECIMAL arithmetic with ksqlDB's result scale, rounded half up; division by zero is an
/// error (the row's value becomes NULL).
fn decimal_arithmetic(
    op: BinaryOp,
    a: &Value,
    b: &Value,
    precision: u8,
    scale: u8,
) -> Result<Value> {
    let (x, y) = match (a.as_big_decimal(), b.as_big_decimal()) {
        (Some(x), Some(y)) => (x, y),
        _ => return Ok(Value::Null),
    };
    let result = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Subtract => x - y,
        BinaryOp::Multiply => x * y,
        BinaryOp::Divide | BinaryOp::Modulo if y == 0 => {
            return Err(SqlError::eval("Division by zero"));
        }
        BinaryOp::Divide => {
            // Enough digits that rounding to the result's scale is exact.
            x.with_prec(80) / y
        }
        BinaryOp::Modulo => x % y,
        other => {
            return Err(SqlError::eval(format!(
                "{} is not arithmetic",
                other.symbol()
            )));
        }
    };
    Value::decimal_from(&result, precision, scale).ok_or_else(|| {
        SqlError::eval(format!(
            "Numeric field overflow: A field with precision {precision} and scale {scale} must round to an absolute value less than 10^{}",
            precision - scale
        ))
    })
}
