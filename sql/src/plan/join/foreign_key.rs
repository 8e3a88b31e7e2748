//! Foreign-key table-table joins: the left table's expression names the right table's key;
//! the result keeps the left table's key (inner and left joins of two source tables).

use std::sync::Arc;

use crate::error::{Result, SqlError};
use crate::parser::ast::{Expr, JoinKind, SourceKind};
use crate::plan::PlanContext;
use crate::plan::flow::{FlowColumn, Role};
use crate::runtime::batch::StageSchema;
use crate::runtime::serdes::RowSerde;
use crate::value::Row;

use super::keyed::keyed_table;
use super::{JoinStep, Side, SideFlow, column_ref, concat, kind_name, prefix};

/// Plans a foreign-key join, with ksqlDB's errors for what it does not support: the joined
/// side, with the columns (and aliases) of both tables.
pub(super) fn join(
    ctx: &mut PlanContext<'_>,
    step: &JoinStep<'_>,
    columns: Vec<FlowColumn>,
    qualifiers: Vec<String>,
) -> Result<Side> {
    let JoinStep {
        join,
        left,
        right,
        lexpr,
        rexpr,
        lt,
        key_ty,
        right_source: s,
        name,
        left_name,
        written: (written_l, written_r),
        ..
    } = *step;
    let (lw, rw) = (left.columns.len(), right.columns.len());
    if join.kind == JoinKind::Full {
        return Err(SqlError::semantic(format!(
            "Invalid join type: full-outer join not supported for foreign-key table-table join. Got {} [FULL] OUTER JOIN {}.",
            left_name, s.name
        )));
    }
    if join.kind == JoinKind::Right {
        return Err(SqlError::semantic(format!(
            "Invalid join type: right join not supported for foreign-key table-table join. Got {} RIGHT JOIN {}.",
            left_name, s.name
        )));
    }
    if !left.is_source {
        return Err(SqlError::semantic(format!(
            "Invalid join condition: foreign-key table-table joins are not supported as part of n-way joins. Got {} = {}.",
            written_l, written_r
        )));
    }
    if right.window.is_some() {
        return Err(SqlError::semantic(
            "Foreign-key table-table joins are not supported on windowed tables.",
        ));
    }
    let l = keyed_table(ctx, left, &format!("{}Left", prefix(name)), None)?;
    let r = keyed_table(ctx, right, &format!("{}Right", prefix(name)), None)?;
    let left_row = left.row();
    let fk_program = {
        let (program, _) =
            ctx.compiler
                .program(&left_row, None, &[("#fk".to_string(), lt.clone())])?;
        Arc::new(program)
    };
    let schema = StageSchema::new(left_row.clone());
    let arrow = schema.arrow();
    let fk_ty = key_ty.clone();
    let log = ctx.log.clone();
    let extract = move |v: &Row| -> Option<Row> {
        let batch =
            crate::runtime::batch::SqlBatch::from_rows(&schema, &arrow, std::slice::from_ref(v))
                .ok()?;
        let out = fk_program.project(&batch.rows).ok()?;
        for e in fk_program.errors.take() {
            log.record(e);
        }
        let value = crate::arrow_conv::value_at(out.column(0).as_ref(), 0, &fk_ty).ok()?;
        (!value.is_null()).then(|| vec![value])
    };
    let joined_serde = RowSerde::internal(
        left_row
            .iter()
            .chain(&right.row())
            .map(|(_, t)| t.clone())
            .collect(),
    );
    ctx.step(format!(
        "{} foreign-key table-table join ON {lexpr} = {rexpr}",
        kind_name(join.kind)
    ));
    let store = format!("{}FK-JOIN", prefix(name));
    let table = match join.kind {
        JoinKind::Left => l.left_join_foreign_key(
            &r,
            extract,
            move |a, b| concat(Some(a), lw, b, rw),
            &store,
            joined_serde,
        ),
        _ => l.join_foreign_key(
            &r,
            extract,
            move |a, b| concat(Some(a), lw, Some(b), rw),
            &store,
            joined_serde,
        ),
    };
    let mut next = Side {
        flow: SideFlow::Table(table),
        kind: SourceKind::Table,
        columns,
        aliases: qualifiers,
        equivalence: Vec::new(),
        viable: Vec::new(),
        key_type: left
            .columns
            .iter()
            .find(|c| c.role == Role::Key)
            .map(|c| c.ty.clone()),
        is_source: false,
        window: None,
    };
    // The result keeps the left table's key.
    let left_keys: Vec<Expr> = left
        .columns
        .iter()
        .filter(|c| c.role == Role::Key)
        .map(column_ref)
        .collect();
    next.equivalence = left_keys.clone();
    next.viable = left_keys;
    Ok(next)
}
