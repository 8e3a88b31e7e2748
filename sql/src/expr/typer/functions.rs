//! Typing function calls: the registry's scalar, aggregate and table functions, lambdas,
//! and the higher-order TRANSFORM, FILTER and REDUCE.

use crate::error::{Pos, Result, SqlError};
use crate::expr::{HigherOrder, TExpr, TKind};
use crate::functions::FunctionKind;
use crate::functions::signature::common_type;
use crate::parser::ast::{Expr, ExprKind};
use crate::types::SqlType;

use super::Typer;

impl Typer<'_> {
    pub(super) fn function(
        &mut self,
        name: &str,
        args: &[Expr],
        star: bool,
        pos: Pos,
    ) -> Result<TExpr> {
        match name {
            "TRANSFORM" => return self.higher_order(HigherOrder::Transform, args, pos),
            "FILTER" => return self.higher_order(HigherOrder::Filter, args, pos),
            "REDUCE" => return self.higher_order(HigherOrder::Reduce, args, pos),
            // ksqlDB's identity UDF: it only stops a key column in the projection from
            // being taken as the key, so the value gets a copy.
            "AS_VALUE" if args.len() == 1 && !star => return self.expr(&args[0]),
            _ => {}
        }
        match self.registry.kind(name) {
            Some(FunctionKind::Aggregate) => {
                return Err(SqlError::at(
                    pos,
                    format!("Use of aggregate function {name} requires a GROUP BY clause."),
                ));
            }
            Some(FunctionKind::Table) => {
                return Err(SqlError::at(
                    pos,
                    format!(
                        "Table function {name} can only be used in the SELECT clause of a \
                         stream query, not nested in other expressions"
                    ),
                ));
            }
            Some(FunctionKind::Scalar) => {}
            None => {
                return Err(SqlError::at(
                    pos,
                    format!("Can't find any functions with the name '{name}'"),
                ));
            }
        }
        let function = self.registry.scalar(name).ok_or_else(|| {
            SqlError::at(
                pos,
                format!("Can't find any functions with the name '{name}'"),
            )
        })?;
        let typed = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Result<Vec<_>>>()?;
        let arg_types: Vec<Option<SqlType>> = typed.iter().map(|t| t.ty.clone()).collect();
        let resolved = function.resolve(&arg_types).map_err(|e| e.or_at(pos))?;
        let args = typed
            .into_iter()
            .zip(&resolved.binding.arg_types)
            .map(|(t, ty)| match ty {
                Some(ty) => t.cast_to(ty),
                None => t,
            })
            .collect();
        Ok(TExpr::new(
            TKind::Call {
                name: function.name.clone(),
                implementation: resolved.implementation,
                args,
            },
            Some(resolved.return_type),
        ))
    }

    fn lambda(&mut self, e: &Expr, params: &[SqlType]) -> Result<TExpr> {
        let ExprKind::Lambda {
            params: names,
            body,
        } = &e.kind
        else {
            return Err(SqlError::at(e.pos, "Expecting a lambda here"));
        };
        if names.len() != params.len() {
            return Err(SqlError::at(
                e.pos,
                format!(
                    "Was expecting {} arguments but found {}, {names:?}. Check your lambda statement.",
                    params.len(),
                    names.len()
                ),
            ));
        }
        let bound: Vec<(String, SqlType)> =
            names.iter().cloned().zip(params.iter().cloned()).collect();
        let depth = self.lambda_vars.len();
        self.lambda_vars.extend(bound.iter().cloned());
        let body = self.expr(body);
        self.lambda_vars.truncate(depth);
        let body = body?;
        let ty = body.ty.clone();
        Ok(TExpr::new(
            TKind::Lambda {
                params: bound,
                body: Box::new(body),
            },
            ty,
        ))
    }

    fn higher_order(&mut self, function: HigherOrder, args: &[Expr], pos: Pos) -> Result<TExpr> {
        let name = format!("{function:?}").to_uppercase();
        let bad = || {
            SqlError::at(
                pos,
                format!("Function '{name}' does not accept parameters of these types"),
            )
        };
        let Some(first) = args.first() else {
            return Err(bad());
        };
        let collection = self.expr(first)?;
        let ty = collection.ty.clone().ok_or_else(bad)?;
        match (function, &ty, args.len()) {
            (HigherOrder::Transform, SqlType::Array(e), 2) => {
                let l = self.lambda(&args[1], &[(**e).clone()])?;
                let out = l.ty.clone().ok_or_else(bad)?;
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, l],
                    },
                    Some(SqlType::array(out)),
                ))
            }
            (HigherOrder::Transform, SqlType::Map(k, v), 3) => {
                let kl = self.lambda(&args[1], &[(**k).clone(), (**v).clone()])?;
                let vl = self.lambda(&args[2], &[(**k).clone(), (**v).clone()])?;
                let (kt, vt) = (
                    kl.ty.clone().ok_or_else(bad)?,
                    vl.ty.clone().ok_or_else(bad)?,
                );
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, kl, vl],
                    },
                    Some(SqlType::map(kt, vt)),
                ))
            }
            (HigherOrder::Filter, SqlType::Array(e), 2) => {
                let l = self.lambda(&args[1], &[(**e).clone()])?;
                if l.ty != Some(SqlType::Boolean) {
                    return Err(SqlError::at(pos, "FILTER's lambda must return a BOOLEAN"));
                }
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, l],
                    },
                    Some(ty),
                ))
            }
            (HigherOrder::Filter, SqlType::Map(k, v), 2) => {
                let l = self.lambda(&args[1], &[(**k).clone(), (**v).clone()])?;
                if l.ty != Some(SqlType::Boolean) {
                    return Err(SqlError::at(pos, "FILTER's lambda must return a BOOLEAN"));
                }
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, l],
                    },
                    Some(ty),
                ))
            }
            (HigherOrder::Reduce, SqlType::Array(_) | SqlType::Map(..), 3) => {
                let init = self.expr(&args[1])?;
                let state = init.ty.clone().ok_or_else(bad)?;
                let params = match &ty {
                    SqlType::Array(e) => vec![state.clone(), (**e).clone()],
                    SqlType::Map(k, v) => vec![state.clone(), (**k).clone(), (**v).clone()],
                    _ => unreachable!("matched arrays and maps"),
                };
                let l = self.lambda(&args[2], &params)?;
                let out = l.ty.clone().ok_or_else(bad)?;
                let result = common_type(&state, &out).ok_or_else(|| {
                    SqlError::at(
                        pos,
                        format!("REDUCE's lambda returns {out}, but the initial state is {state}"),
                    )
                })?;
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, init, l],
                    },
                    Some(result),
                ))
            }
            _ => Err(bad()),
        }
    }
}
