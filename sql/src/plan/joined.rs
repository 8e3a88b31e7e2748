//! A join's result as ksqlDB's `JoinNode` schema shows it to the steps planned over it
//! (PARTITION BY, then the projection): the join key (the viable key column it is named
//! after, `L_A`, or the synthetic `ROWKEY`), then per source its value columns, its pseudo
//! columns, its key columns and its window bounds, all named `<ALIAS>_<COLUMN>`
//! (`PreJoinProjectNode`, `JoinParamsFactory.createSchema`); a synthetic key is in the value
//! too, last. Queries over it are rewritten as ksqlDB's `ColumnReferenceRewriter` does for
//! joins: `L.A`, or `A` when only `L` has it, becomes `L_A`.

use super::flow::{FlowColumn, Role};
use super::select::{SelectColumn, rewrite, visit};
use crate::catalog::schema::ROWTIME;
use crate::error::{Result, SqlError};
use crate::parser::ast::{Expr, ExprKind, Name, Query, SelectItem};
use crate::types::SqlType;

/// The key of a join's result.
#[derive(Debug, Clone)]
pub struct JoinKey {
    /// Its name (`L_A`, `ROWKEY`).
    pub name: String,
    /// The batch column holding it.
    pub internal: String,
    /// Its type.
    pub ty: SqlType,
    /// Whether it is the synthetic key (no source column is it).
    pub synthetic: bool,
}

/// The name of a source's column in a join's result.
pub fn join_column_name(alias: &str, column: &str) -> String {
    format!("{alias}_{column}")
}

/// The flow columns of a join's result, from the sides' columns (qualified by their
/// source, in source order) and the join key.
pub fn columns(sides: &[FlowColumn], aliases: &[String], key: &JoinKey) -> Vec<FlowColumn> {
    let mut out = vec![FlowColumn {
        qualifier: None,
        name: key.name.clone(),
        internal: key.internal.clone(),
        ty: key.ty.clone(),
        role: Role::Key,
    }];
    for alias in aliases {
        let of_source: Vec<&FlowColumn> = sides
            .iter()
            .filter(|c| c.qualifier.as_deref() == Some(alias.as_str()))
            .collect();
        for role in [Role::Value, Role::Pseudo, Role::Key, Role::WindowBound] {
            for c in of_source.iter().filter(|c| c.role == role) {
                out.push(FlowColumn {
                    qualifier: None,
                    name: join_column_name(alias, &c.name),
                    internal: c.internal.clone(),
                    ty: c.ty.clone(),
                    role: Role::Value,
                });
            }
        }
    }
    if key.synthetic {
        out.push(FlowColumn {
            role: Role::Value,
            ..out[0].clone()
        });
    }
    // The record time of the joined rows.
    out.push(FlowColumn {
        qualifier: None,
        name: ROWTIME.to_string(),
        internal: ROWTIME.to_string(),
        ty: SqlType::BigInt,
        role: Role::Pseudo,
    });
    out
}

/// An expression over the sources rewritten over the join's result: a qualified column,
/// or an unqualified one that one source has, named `<ALIAS>_<COLUMN>`.
pub fn rewrite_expr(e: &Expr, sides: &[FlowColumn]) -> Expr {
    let mut params: Vec<String> = Vec::new();
    visit(e, &mut |x| {
        if let ExprKind::Lambda { params: p, .. } = &x.kind {
            params.extend(p.iter().cloned());
        }
    });
    rewrite(e, &mut |x| {
        let ExprKind::Column { source, name } = &x.kind else {
            return None;
        };
        let alias = match source {
            Some(q) => q.clone(),
            None if params.contains(name) => return None,
            None => sides
                .iter()
                .find(|c| &c.name == name)
                .and_then(|c| c.qualifier.clone())?,
        };
        Some(Expr::new(
            ExprKind::Column {
                source: None,
                name: join_column_name(&alias, name),
            },
            x.pos,
        ))
    })
}

/// The query rewritten over the join's result, its projection's items named as ksqlDB
/// names them over the join (`names`: the resolved items that are expressions, in order);
/// wildcards are left to expand over the result.
pub fn rewrite_query(query: &Query, sides: &[FlowColumn], names: &[SelectColumn]) -> Result<Query> {
    let mut names = names.iter();
    let mut select = Vec::new();
    for item in &query.select {
        select.push(match item {
            SelectItem::Expr { expr, .. } => {
                let named = names
                    .next()
                    .ok_or_else(|| SqlError::semantic("internal: an unnamed select item"))?;
                SelectItem::Expr {
                    expr: rewrite_expr(expr, sides),
                    alias: Some(Name {
                        value: named.alias.clone(),
                        pos: expr.pos,
                    }),
                }
            }
            SelectItem::Wildcard(pos) => SelectItem::Wildcard(*pos),
            SelectItem::StructWildcard(e) => SelectItem::StructWildcard(rewrite_expr(e, sides)),
            SelectItem::QualifiedWildcard(q) => {
                return Err(SqlError::at(
                    q.pos,
                    format!(
                        "{}.* cannot be selected from a join that is re-keyed: select * or the columns instead.",
                        q.value
                    ),
                ));
            }
        });
    }
    let all = |exprs: &[Expr]| exprs.iter().map(|e| rewrite_expr(e, sides)).collect();
    Ok(Query {
        select,
        where_clause: query.where_clause.as_ref().map(|e| rewrite_expr(e, sides)),
        group_by: all(&query.group_by),
        partition_by: all(&query.partition_by),
        having: query.having.as_ref().map(|e| rewrite_expr(e, sides)),
        ..query.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Pos;

    fn column(alias: &str, name: &str, role: Role) -> FlowColumn {
        FlowColumn {
            qualifier: Some(alias.into()),
            name: name.into(),
            internal: join_column_name(alias, name),
            ty: SqlType::Int,
            role,
        }
    }

    fn sides() -> Vec<FlowColumn> {
        vec![
            column("L", "A", Role::Key),
            column("L", "B", Role::Value),
            column("L", "ROWTIME", Role::Pseudo),
            column("R", "X", Role::Key),
            column("R", "Y", Role::Value),
            column("R", "ROWTIME", Role::Pseudo),
        ]
    }

    fn names(columns: &[FlowColumn]) -> Vec<&str> {
        columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn the_result_lists_values_pseudo_columns_then_keys_per_source() {
        let key = JoinKey {
            name: "L_A".into(),
            internal: "L_A".into(),
            ty: SqlType::Int,
            synthetic: false,
        };
        let cols = columns(&sides(), &["L".into(), "R".into()], &key);
        assert_eq!(
            names(&cols),
            [
                "L_A",
                "L_B",
                "L_ROWTIME",
                "L_A",
                "R_Y",
                "R_ROWTIME",
                "R_X",
                "ROWTIME"
            ]
        );
        let key = JoinKey {
            name: "ROWKEY".into(),
            internal: "#joinkey".into(),
            ty: SqlType::Int,
            synthetic: true,
        };
        let cols = columns(&sides(), &["L".into(), "R".into()], &key);
        assert_eq!(names(&cols)[0], "ROWKEY");
        assert_eq!(names(&cols)[cols.len() - 2], "ROWKEY");
    }

    #[test]
    fn references_are_rewritten_to_join_column_names() {
        let col = |source: Option<&str>, name: &str| {
            Expr::new(
                ExprKind::Column {
                    source: source.map(str::to_string),
                    name: name.into(),
                },
                Pos::default(),
            )
        };
        let e = rewrite_expr(&col(Some("L"), "B"), &sides());
        assert_eq!(e.to_string(), "L_B");
        assert_eq!(rewrite_expr(&col(None, "Y"), &sides()).to_string(), "R_Y");
        // Names of the result itself stay.
        assert_eq!(rewrite_expr(&col(None, "L_B"), &sides()).to_string(), "L_B");
    }
}
