//! Primary-key table-table joins: both tables keyed by the join key, a right table of
//! another key format re-keyed into the left's.

use crate::catalog::DataSource;
use crate::error::Result;
use crate::parser::ast::JoinKind;
use crate::plan::PlanContext;

use super::criteria::check_windowed_keys;
use super::keyed::keyed_table;
use super::{JoinStep, SideFlow, concat, joined_serde, kind_name, prefix};

/// Plans a primary-key table-table join; `first` is the chain's first source, whose key
/// format the join is keyed in.
pub(super) fn join(
    ctx: &mut PlanContext<'_>,
    step: &JoinStep<'_>,
    first: &DataSource,
) -> Result<SideFlow> {
    let JoinStep {
        join,
        left,
        right,
        lexpr,
        rexpr,
        left_key_format,
        right_source: s,
        name,
        ..
    } = *step;
    let (lw, rw) = (left.columns.len(), right.columns.len());
    check_windowed_keys(left, right, false, left_key_format, s)?;
    // The join is keyed in the left table's key format: a right table of
    // another format is re-keyed into it.
    let rekey = if s.key_format != *left_key_format {
        Some((
            crate::plan::source::key_serde(first)?,
            format!("{}RightSourceKeyed-Materialize", prefix(name)),
        ))
    } else {
        None
    };
    let l = keyed_table(ctx, left, &format!("{}Left", prefix(name)), None)?;
    let r = keyed_table(ctx, right, &format!("{}Right", prefix(name)), rekey)?;
    ctx.step(format!(
        "{} table-table join ON {lexpr} = {rexpr}",
        kind_name(join.kind)
    ));
    let table = match join.kind {
        JoinKind::Inner => l.join(&r, move |a, b| concat(Some(a), lw, Some(b), rw)),
        JoinKind::Left => l.left_join(&r, move |a, b| concat(Some(a), lw, b, rw)),
        JoinKind::Right => r.left_join(&l, move |b, a| concat(a, lw, Some(b), rw)),
        JoinKind::Full => l.outer_join(&r, move |a, b| concat(a, lw, b, rw)),
    };
    Ok(SideFlow::Table(
        table.with_value_serde(joined_serde(left, right)),
    ))
}
