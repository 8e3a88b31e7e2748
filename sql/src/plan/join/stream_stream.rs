//! Stream-stream joins (`WITHIN`): both sides keyed by the join key, joined over the join
//! window.

use eddy_streams::JoinWindows;

use crate::error::{Result, SqlError};
use crate::parser::ast::JoinKind;
use crate::plan::PlanContext;
use crate::plan::select::same_expr;

use super::criteria::{check_windowed_keys, is_key_of};
use super::keyed::{key_serde, keyed_stream};
use super::{JoinStep, SideFlow, concat, joined_serde, kind_name};

/// The join window of `WITHIN`: without a GRACE PERIOD ksqlDB runs Kafka Streams' legacy
/// windows (24 hours of retention, unmatched results emitted eagerly).
fn join_windows(within: &crate::parser::ast::WithinExpr) -> JoinWindows {
    let windows = match within.grace {
        Some(grace) => JoinWindows::of_time_difference_and_grace(within.before, grace),
        None => JoinWindows::of(within.before),
    };
    windows.after(within.after)
}

/// Plans a stream-stream join: each side rekeyed (repartitioned unless already keyed by its
/// criteria), joined within the window.
pub(super) fn join(ctx: &mut PlanContext<'_>, step: &JoinStep<'_>) -> Result<SideFlow> {
    let JoinStep {
        join,
        left,
        right,
        lexpr,
        rexpr,
        lt,
        rt,
        key_ty,
        left_key_format,
        right_source: s,
        name,
        ..
    } = *step;
    let (lw, rw) = (left.columns.len(), right.columns.len());
    let within = join.within.as_ref().ok_or_else(|| {
        SqlError::semantic(
            "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to specify a WITHIN clause with a stream-stream join, please visit: https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select",
        )
    })?;
    let serde = key_serde(left_key_format, key_ty, left.window)?;
    let l_repart = !(left.equivalence.iter().any(|e| same_expr(e, lexpr, false))
        || (left.is_source && is_key_of(lexpr, left)));
    let r_repart = !(right.is_source && is_key_of(rexpr, right));
    check_windowed_keys(left, right, l_repart || r_repart, left_key_format, s)?;
    let l = keyed_stream(
        ctx,
        left,
        lt,
        serde.clone(),
        l_repart,
        &format!("{name}-left"),
    )?;
    let r = keyed_stream(ctx, right, rt, serde, r_repart, &format!("{name}-right"))?;
    let windows = join_windows(within);
    ctx.step(format!(
        "{} stream-stream join ON {lexpr} = {rexpr} WITHIN ({:?}, {:?})",
        kind_name(join.kind),
        within.before,
        within.after
    ));
    let stream = match join.kind {
        JoinKind::Inner => l.join(&r, move |a, b| concat(Some(a), lw, Some(b), rw), windows),
        JoinKind::Left => l.left_join(&r, move |a, b| concat(Some(a), lw, b, rw), windows),
        JoinKind::Right => r.left_join(&l, move |b, a| concat(a, lw, Some(b), rw), windows),
        JoinKind::Full => l.outer_join(&r, move |a, b| concat(a, lw, b, rw), windows),
    };
    Ok(SideFlow::Stream(
        stream.with_value_serde(joined_serde(left, right)),
    ))
}
