//! PARTITION BY: re-keys a stream by expressions of its columns, as ksqlDB's
//! `PartitionByParamsFactory` does.
//!
//! The new key columns are named after the column a key expression names, else by ksqlDB's
//! alias generator (`KSQL_COL_0`, or the field of `s->f`). The old key columns become value
//! columns after the existing ones, so `SELECT *` lists the new key, the remaining values,
//! then the old key. `PARTITION BY NULL` moves the key into the value and leaves the key
//! empty. The WHERE clause runs before the re-keying, in the same vectorised stage.

use super::PlanContext;
use super::flow::{FlowColumn, Role, StreamFlow};
use super::select::{AliasGenerator, rewrite, same_expr};
use super::stream::{null_on_null_row, stream_stage};
use crate::error::{Result, SqlError};
use crate::expr::TExpr;
use crate::parser::ast::{Expr, ExprKind, Literal};
use crate::runtime::batch::NULL_ROW;
use crate::types::SqlType;

/// A stream re-keyed by PARTITION BY.
pub struct Repartitioned {
    /// The re-keyed stream.
    pub flow: StreamFlow,
    /// Per key column: a reference to it, for matching the projection.
    pub key_refs: Vec<Expr>,
    /// The PARTITION BY expressions as ksqlDB prints them in errors (columns qualified).
    pub display: Vec<String>,
    /// The PARTITION BY expressions as written.
    pub exprs: Vec<Expr>,
}

/// Whether the clause is `PARTITION BY NULL`; an error if NULL is one of several.
pub fn is_partition_by_null(exprs: &[Expr]) -> Result<bool> {
    let is_null = |e: &Expr| matches!(e.kind, ExprKind::Literal(Literal::Null));
    if !exprs.iter().any(is_null) {
        return Ok(false);
    }
    if exprs.len() > 1 {
        return Err(SqlError::semantic(
            "Cannot PARTITION BY multiple columns including NULL",
        ));
    }
    Ok(true)
}

/// The stream with its key moved into the value and no key (`PARTITION BY NULL`).
pub fn partition_by_null(flow: StreamFlow) -> StreamFlow {
    let (keys, mut others): (Vec<FlowColumn>, Vec<FlowColumn>) =
        flow.columns.into_iter().partition(|c| c.role == Role::Key);
    // A key column already in the value (a join's key) is not added twice.
    let keys: Vec<FlowColumn> = keys
        .into_iter()
        .filter(|k| {
            !others
                .iter()
                .any(|c| c.role == Role::Value && c.name == k.name)
        })
        .collect();
    let at = others
        .iter()
        .rposition(|c| c.role == Role::Value)
        .map_or(0, |i| i + 1);
    others.splice(
        at..at,
        keys.into_iter().map(|c| FlowColumn {
            role: Role::Value,
            ..c
        }),
    );
    StreamFlow {
        columns: others,
        key: Vec::new(),
        window: None,
        ..flow
    }
}

/// Adds the re-keying stage (with `filter`) after `flow`.
pub fn repartition(
    ctx: &mut PlanContext<'_>,
    flow: &StreamFlow,
    exprs: &[Expr],
    filter: Option<&TExpr>,
    alias: Option<&str>,
) -> Result<Repartitioned> {
    let scope = flow.scope();
    let key_internals: Vec<&str> = flow
        .columns
        .iter()
        .filter(|c| c.role == Role::Key)
        .map(|c| c.internal.as_str())
        .collect();
    let mut generator = AliasGenerator::new(flow.columns.iter().map(|c| c.name.as_str()));
    let mut keys: Vec<(String, TExpr)> = Vec::new();
    for e in exprs {
        let typed = ctx
            .type_in_clause(&scope, e, "PARTITION BY")
            .map_err(|err| match err {
                SqlError::Statement { pos, message }
                    if message.starts_with("PARTITION BY column '")
                        && message.ends_with("' cannot be resolved.") =>
                {
                    let column = &message["PARTITION BY column '".len()
                        ..message.len() - "' cannot be resolved.".len()];
                    SqlError::Statement {
                        pos,
                        message: format!(
                            "{message} '{column}' must be a column in the source schema since \
                             PARTITION BY is applied on the input."
                        ),
                    }
                }
                other => other,
            })?;
        if typed.is_untyped_null() {
            return Err(SqlError::semantic(
                "Cannot PARTITION BY multiple columns including NULL",
            ));
        }
        if let Some(ty) = typed.ty.as_ref().filter(|t| t.contains_map()) {
            let name = key_name(
                e,
                &mut AliasGenerator::new(flow.columns.iter().map(|c| c.name.as_str())),
            );
            return Err(SqlError::semantic(format!(
                "Map keys, including types that contain maps, are not supported as they may lead \
                 to unexpected behavior due to inconsistent serialization. Key column name: \
                 `{name}`. Column type: {ty}. See https://github.com/confluentinc/ksql/issues/6621 \
                 for more."
            )));
        }
        // An expression of key columns only is evaluated on the key, even for null values.
        let key_only = typed
            .columns()
            .iter()
            .all(|c| key_internals.contains(&c.as_str()));
        let typed = if key_only {
            typed
        } else {
            null_on_null_row(typed)
        };
        keys.push((key_name(e, &mut generator), typed));
    }
    ctx.step(format!(
        "PartitionBy: {}",
        exprs
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Stage outputs: new keys, the other columns as they were (old keys now values).
    let is_new_key = |name: &str| keys.iter().any(|(k, _)| k == name);
    let mut outputs: Vec<(String, TExpr)> = keys.clone();
    let mut columns: Vec<FlowColumn> = keys
        .iter()
        .map(|(name, t)| FlowColumn {
            qualifier: alias.map(str::to_string),
            name: name.clone(),
            internal: name.clone(),
            ty: t.ty.clone().unwrap_or(SqlType::String),
            role: Role::Key,
        })
        .collect();
    // Value columns that became keys are replaced by them; pseudo columns stay (a key named
    // ROWTIME is NULL for a null value, the record time is not). An old key column already
    // in the value (a join's key) is not added twice.
    let is_value = |name: &str| {
        flow.columns
            .iter()
            .any(|c| c.role == Role::Value && c.name == name)
    };
    let retained: Vec<&FlowColumn> = flow
        .columns
        .iter()
        .filter(|c| c.role != Role::Key && (c.role == Role::Pseudo || !is_new_key(&c.name)))
        .chain(
            flow.columns
                .iter()
                .filter(|c| c.role == Role::Key && !is_new_key(&c.name) && !is_value(&c.name)),
        )
        .collect();
    for c in retained {
        outputs.push((
            c.internal.clone(),
            TExpr::column(c.internal.clone(), c.ty.clone()),
        ));
        // A pseudo column shadowed by a key of its name is no longer nameable.
        let name = if c.role == Role::Pseudo && is_new_key(&c.name) {
            format!("#shadowed_{}", c.name)
        } else {
            c.name.clone()
        };
        columns.push(FlowColumn {
            role: if c.role == Role::Key {
                Role::Value
            } else {
                c.role
            },
            name,
            ..c.clone()
        });
    }
    // Key columns get their own batch columns when a retained column has their name.
    for (i, (name, _)) in keys.iter().enumerate() {
        if outputs[keys.len()..].iter().any(|(n, _)| n == name) {
            let internal = format!("#key_{name}");
            outputs[i].0 = internal.clone();
            columns[i].internal = internal;
        }
    }
    outputs.push((
        NULL_ROW.to_string(),
        TExpr::column(NULL_ROW, SqlType::Boolean),
    ));
    let staged = stream_stage(ctx, flow, filter, &outputs, "PartitionBy")?;
    let key_refs = keys
        .iter()
        .map(|(name, _)| {
            Expr::new(
                ExprKind::Column {
                    source: None,
                    name: name.clone(),
                },
                Default::default(),
            )
        })
        .collect();
    let key_internals_out: Vec<String> = columns
        .iter()
        .filter(|c| c.role == Role::Key)
        .map(|c| c.internal.clone())
        .collect();
    Ok(Repartitioned {
        flow: StreamFlow {
            columns,
            key: key_internals_out,
            window: None,
            qualifiers: flow.qualifiers.clone(),
            ..staged
        },
        key_refs,
        display: exprs
            .iter()
            .map(|e| match alias {
                Some(alias) => qualified(e, flow, alias).to_string(),
                None => e.to_string(),
            })
            .collect(),
        exprs: exprs.to_vec(),
    })
}

/// The key column a PARTITION BY expression becomes.
fn key_name(e: &Expr, generator: &mut AliasGenerator) -> String {
    match &e.kind {
        ExprKind::Column { name, .. } => name.clone(),
        _ => generator.alias_for(e),
    }
}

/// The expression with its unqualified column references qualified by `alias`.
fn qualified(e: &Expr, flow: &StreamFlow, alias: &str) -> Expr {
    rewrite(e, &mut |x| match &x.kind {
        ExprKind::Column { source: None, name } if flow.columns.iter().any(|c| &c.name == name) => {
            Some(Expr::new(
                ExprKind::Column {
                    source: Some(alias.to_string()),
                    name: name.clone(),
                },
                x.pos,
            ))
        }
        _ => None,
    })
}

/// A select item that is a PARTITION BY expression, made a reference to its key column
/// (ksqlDB's `UserRepartitionNode.resolveSelect`).
pub fn resolve_select(item: &Expr, repartitioned: &Repartitioned) -> Option<Expr> {
    repartitioned
        .exprs
        .iter()
        .position(|p| same_expr(p, item, true))
        .map(|i| Expr::new(repartitioned.key_refs[i].kind.clone(), item.pos))
}
