//! Stream-table joins: the stream side keyed by its criteria, looked up in the table side,
//! which must be joined on its primary key (inner and left joins only).

use crate::error::{Result, SqlError};
use crate::parser::ast::JoinKind;
use crate::plan::PlanContext;
use crate::plan::select::same_expr;

use super::criteria::{check_windowed_keys, is_key_of};
use super::keyed::{keyed_stream, keyed_table};
use super::{JoinStep, SideFlow, concat, joined_serde, kind_name, prefix};

/// Plans a stream-table join, with ksqlDB's errors for what it does not support.
pub(super) fn join(ctx: &mut PlanContext<'_>, step: &JoinStep<'_>) -> Result<SideFlow> {
    let JoinStep {
        join,
        left,
        right,
        lexpr,
        rexpr,
        lt,
        left_key_format,
        right_source: s,
        name,
        left_name,
        written: (written_l, written_r),
        ..
    } = *step;
    let (lw, rw) = (left.columns.len(), right.columns.len());
    if join.within.is_some() {
        return Err(SqlError::semantic(
            "A window definition was provided for a Stream-Table join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to execute your Stream-Table join again.",
        ));
    }
    if matches!(join.kind, JoinKind::Full | JoinKind::Right) {
        return Err(SqlError::semantic(format!(
            "Invalid join type: {}-outer join not supported for stream-table join. Got {} {} {}.",
            if join.kind == JoinKind::Full {
                "full"
            } else {
                "right"
            },
            left_name,
            kind_name(join.kind),
            s.name
        )));
    }
    if !is_key_of(rexpr, right) {
        return Err(SqlError::semantic(format!(
            "Invalid join condition: stream-table joins require to join on the table's primary key. Got {} = {}.",
            written_l, written_r
        )));
    }
    let serde = crate::plan::source::key_serde(s)?;
    let l_repart = !(left.equivalence.iter().any(|e| same_expr(e, lexpr, false))
        || (left.is_source && is_key_of(lexpr, left)));
    check_windowed_keys(left, right, l_repart, left_key_format, s)?;
    let l = keyed_stream(ctx, left, lt, serde, l_repart, name)?;
    let t = keyed_table(ctx, right, &format!("{}Right", prefix(name)), None)?;
    ctx.step(format!(
        "{} stream-table join ON {lexpr} = {rexpr}",
        kind_name(join.kind)
    ));
    let stream = match join.kind {
        JoinKind::Left => l.left_join_table(&t, move |a, b| concat(Some(a), lw, b, rw)),
        _ => l.join_table(&t, move |a, b| concat(Some(a), lw, Some(b), rw)),
    };
    Ok(SideFlow::Stream(
        stream.with_value_serde(joined_serde(left, right)),
    ))
}
