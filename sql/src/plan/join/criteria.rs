//! The analysis of a join chain (ksqlDB's `Analyzer` and `JoinNode` checks): the criteria
//! split into each side's expression, and the rules on windowing, keys and partitions.

use crate::catalog::DataSource;
use crate::error::{Result, SqlError};
use crate::expr::Scope;
use crate::parser::ast::{BinaryOp, Expr, ExprKind, Join};
use crate::plan::PlanContext;
use crate::plan::flow::{FlowColumn, Role};
use crate::plan::select::visit;
use crate::serde::FormatInfo;

use super::{Side, qualify};

/// The sources an expression reads (by alias).
fn aliases_in(e: &Expr, scope: &Scope) -> Vec<String> {
    let mut out = Vec::new();
    visit(e, &mut |x| {
        if let ExprKind::Column { source, name } = &x.kind {
            let alias = match source {
                Some(s) => Some(s.clone()),
                None => scope
                    .columns
                    .iter()
                    .filter(|c| &c.name == name)
                    .filter_map(|c| c.qualifier.clone())
                    .next(),
            };
            if let Some(a) = alias
                && !out.contains(&a)
            {
                out.push(a);
            }
        }
    });
    out
}

/// A join's criteria as ksqlDB's `JoinInfo` holds them: the expression of the sources
/// joined so far (`left`) and the joined source's (`right`), qualified.
#[derive(Debug, Clone)]
pub(super) struct Criteria {
    /// The expression over the sources joined so far.
    pub(super) left: Expr,
    /// The expression over the joined source.
    pub(super) right: Expr,
    /// The alias of the source `left` reads.
    pub(super) left_alias: String,
    /// Whether the criteria was written right side first.
    pub(super) flipped: bool,
}

impl Criteria {
    /// `left = right` as written, qualified (for messages).
    pub(super) fn written(&self, scope: &Scope) -> (Expr, Expr) {
        let (l, r) = (qualify(&self.left, scope), qualify(&self.right, scope));
        if self.flipped { (r, l) } else { (l, r) }
    }
}

/// The join criteria split into the left side's and the right side's expressions, with
/// ksqlDB's errors for criteria it does not support (`Analyzer.visitJoinedSource`):
/// `left_aliases` are the sources joined so far, `right_alias` the joined one.
pub(super) fn split_criteria(
    ctx: &PlanContext<'_>,
    join: &Join,
    left_aliases: &[String],
    right_alias: &str,
    scope: &Scope,
) -> Result<Criteria> {
    let (a, b) = match &join.on.kind {
        ExprKind::Binary {
            op: BinaryOp::Eq,
            left: a,
            right: b,
        } => (a, b),
        ExprKind::Binary {
            op: BinaryOp::And, ..
        } => {
            return Err(SqlError::at(
                join.on.pos,
                format!(
                    "Invalid join condition: joins on multiple conditions are not yet supported. Got {}.",
                    join.on
                ),
            ));
        }
        _ => {
            return Err(SqlError::at(
                join.on.pos,
                format!(
                    "Unsupported join expression: {}. Only equality joins are supported (a = b).",
                    join.on
                ),
            ));
        }
    };
    for e in [a, b] {
        ctx.type_expr(scope, e).map_err(|err| match err {
            SqlError::Statement { pos, message }
                if message.starts_with("Column '")
                    && message.ends_with("' cannot be resolved.") =>
            {
                SqlError::Statement {
                    pos,
                    message: format!("JOIN ON {}", message.replacen("Column", "column", 1)),
                }
            }
            other => other,
        })?;
    }
    let single = |e: &Expr| -> Result<String> {
        match aliases_in(e, scope).as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(SqlError::at(
                e.pos,
                format!(
                    "Invalid comparison expression '{e}' in join '{}'. Each side of the join comparision must contain references from exactly one source.",
                    join.on
                ),
            )),
        }
    };
    let (sa, sb) = (single(a)?, single(b)?);
    if sa == sb {
        return Err(SqlError::semantic(format!(
            "Each side of the join must reference exactly one source and not the same source. Left side references `{sa}` and right references `{sb}`"
        )));
    }
    if sb == right_alias && left_aliases.contains(&sa) {
        Ok(Criteria {
            left: (**a).clone(),
            right: (**b).clone(),
            left_alias: sa,
            flipped: false,
        })
    } else if sa == right_alias && left_aliases.contains(&sb) {
        Ok(Criteria {
            left: (**b).clone(),
            right: (**a).clone(),
            left_alias: sb,
            flipped: true,
        })
    } else {
        Err(SqlError::semantic(format!(
            "A join criteria is expected to reference the source (`{right_alias}`) in the FROM clause, instead the right source references `{sb}` and the left source references `{sa}`"
        )))
    }
}

/// ksqlDB's rules for joining windowed sources (`Analyzer.throwOnIncompatibleSourceWindowing`):
/// both windowed or neither, sessions only with sessions. `a` and `b` are the sources the
/// criteria's sides read, as written.
pub(super) fn check_windowing(a: (&str, &DataSource), b: (&str, &DataSource)) -> Result<()> {
    let (wa, wb) = (a.1.window.map(|w| w.kind), b.1.window.map(|w| w.kind));
    match (wa, wb) {
        (None, None) => Ok(()),
        (Some(_), None) | (None, Some(_)) => {
            let is = |w: Option<crate::catalog::WindowType>| w.map_or("not", |w| w.name());
            Err(SqlError::semantic(format!(
                "Can not join windowed source to non-windowed source.\n`{}` is {} windowed\n`{}` is {} windowed",
                a.0,
                is(wa),
                b.0,
                is(wb)
            )))
        }
        (Some(l), Some(r)) => {
            use crate::catalog::WindowType::Session;
            if (l == Session) == (r == Session) {
                return Ok(());
            }
            Err(SqlError::semantic(format!(
                "Incompatible windowed sources.\nLeft source: {}\nRight source: {}\nSession windowed sources can only be joined to other session windowed sources, and may still not result in expected behaviour as session bounds must be an exact match for the join to work\nHopping and tumbling windowed sources can only be joined to other hopping and tumbling windowed sources",
                l.name(),
                r.name()
            )))
        }
    }
}

/// Whether `e` is a reference to the source side's single key column.
pub(super) fn is_key_of(e: &Expr, side: &Side) -> bool {
    let keys: Vec<&FlowColumn> = side
        .columns
        .iter()
        .filter(|c| c.role == Role::Key)
        .collect();
    match (&e.kind, keys.as_slice()) {
        (ExprKind::Column { source, name }, [k]) => {
            *name == k.name
                && source
                    .as_ref()
                    .is_none_or(|s| k.qualifier.as_ref() == Some(s))
        }
        _ => false,
    }
}

/// Windowed sides join on their windowed keys as they are: ksqlDB re-keys neither a
/// windowed stream nor a windowed table (`SchemaKStream.selectKey`), and a different window
/// or key format on the right would need that too. `right` is the joined source.
pub(super) fn check_windowed_keys(
    left: &Side,
    right: &Side,
    repartition: bool,
    left_key_format: &FormatInfo,
    right_source: &DataSource,
) -> Result<()> {
    if left.window.is_none() && right.window.is_none() {
        return Ok(());
    }
    if repartition
        || left.window != right.window
        || left_key_format.format != right_source.key_format.format
    {
        return Err(SqlError::semantic(
            "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
        ));
    }
    Ok(())
}

/// The sides of a (primary-key) join must have as many partitions
/// (`JoinNode.ensureMatchingPartitionCounts`): a joined side has the partitions of its last
/// source, and is named after its first. Skipped when the counts are unknown.
pub(super) fn check_copartitioned(
    ctx: &PlanContext<'_>,
    left: (&str, &DataSource),
    right: (&str, &DataSource),
) -> Result<()> {
    let (Some(l), Some(r)) = (
        ctx.partitions(&left.1.topic),
        ctx.partitions(&right.1.topic),
    ) else {
        return Ok(());
    };
    if l == r {
        return Ok(());
    }
    let (a, b) = (left.0, right.0);
    Err(SqlError::semantic(format!(
        "Can't join `{a}` with `{b}` since the number of partitions don't match. `{a}` partitions = {l}; `{b}` partitions = {r}. Please repartition either one so that the number of partitions match."
    )))
}
