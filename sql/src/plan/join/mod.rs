//! Joins (ksqlDB's `JoinNode` and `JoinTree`): stream-stream (`WITHIN`), stream-table and
//! table-table (primary-key and foreign-key) joins, inner, left, right and full outer, and
//! chains of them (left-deep). Each side's rows carry all its sources' columns, named
//! `<ALIAS>_<COLUMN>`; a stream side is rekeyed by its join expression (through a
//! repartition topic unless it already is), a table side must be keyed by it (or, for a
//! foreign-key join, the left table's expression names the right table's key).
//!
//! The result's key is the join key: named after the first key column of the join's
//! equivalence set that the projection selects, or the synthetic `ROWKEY` when there is
//! none (full outer joins, expressions).

mod criteria;
mod foreign_key;
mod keyed;
mod project;
mod rekeyed;
mod stream_stream;
mod stream_table;
mod table_table;
#[cfg(test)]
mod tests;

use eddy_streams::serdes::SerdeRef;
use eddy_streams::{KStream, KTable};

use super::flow::{FlowColumn, Role, StreamFlow, scope_of};
use super::select::same_expr;
use super::source::SourceNaming;
use super::stream::lookup;
use super::{PlanContext, PlannedQuery, Target};
use crate::catalog::schema::{WINDOWEND, WINDOWSTART};
use crate::catalog::{DataSource, WindowInfo};
use crate::error::{Result, SqlError};
use crate::expr::{Scope, TExpr};
use crate::parser::ast::{Expr, ExprKind, Join, JoinKind, Query, SourceKind};
use crate::runtime::batch::NULL_ROW;
use crate::runtime::serdes::RowSerde;
use crate::serde::{Format, FormatInfo};
use crate::types::SqlType;
use crate::value::{Row, Value};

use criteria::{Criteria, check_copartitioned, check_windowing, is_key_of, split_criteria};

/// The batch column holding the join key (the records' key).
const JOIN_KEY: &str = "#joinkey";
/// The batch columns holding a windowed join key's bounds.
const JOIN_WINDOW: [&str; 2] = ["#joinkey_start", "#joinkey_end"];

/// One side of a join: a source not read yet, or the result of the joins so far.
enum SideFlow {
    /// A source, to be read keyed by its join expression.
    Source(DataSource, SourceNaming),
    /// Joined rows keyed by the last join's key.
    Stream(KStream<Row, Row>),
    /// A joined table keyed by the last join's key.
    Table(KTable<Row, Row>),
}

struct Side {
    flow: SideFlow,
    kind: SourceKind,
    /// The columns the side's rows carry, in row order.
    columns: Vec<FlowColumn>,
    /// The aliases of the side's sources.
    aliases: Vec<String>,
    /// Expressions equal to the side's current key (ksqlDB's join equivalence set).
    equivalence: Vec<Expr>,
    /// Qualified key column references that may stand for the key.
    viable: Vec<Expr>,
    /// The type of the key (joined sides).
    key_type: Option<SqlType>,
    /// Whether the side is a source table joined directly (FK joins need that).
    is_source: bool,
    /// The window of its keys: windowed sources join on the windowed key.
    window: Option<WindowInfo>,
}

impl Side {
    fn row(&self) -> Vec<(String, SqlType)> {
        self.columns
            .iter()
            .map(|c| (c.internal.clone(), c.ty.clone()))
            .collect()
    }
}

fn source_side(source: DataSource, naming: SourceNaming) -> Side {
    let window = source.window;
    let mut columns: Vec<FlowColumn> = source
        .schema
        .columns()
        .iter()
        .map(|c| FlowColumn {
            qualifier: Some(naming.alias.clone()),
            name: c.name.clone(),
            internal: naming.internal(&c.name),
            ty: c.ty.clone(),
            role: if c.kind == crate::catalog::ColumnKind::Key {
                Role::Key
            } else {
                Role::Value
            },
        })
        .collect();
    for (name, ty) in StreamFlow::pseudo_columns(source.window.is_some()) {
        if name == NULL_ROW {
            continue;
        }
        let role = if name == WINDOWSTART || name == WINDOWEND {
            Role::WindowBound
        } else {
            Role::Pseudo
        };
        columns.push(FlowColumn {
            qualifier: Some(naming.alias.clone()),
            internal: naming.internal(&name),
            name,
            ty,
            role,
        });
    }
    Side {
        kind: source.kind,
        aliases: vec![naming.alias.clone()],
        columns,
        flow: SideFlow::Source(source, naming),
        equivalence: Vec::new(),
        viable: Vec::new(),
        key_type: None,
        is_source: true,
        window,
    }
}

/// One join of the chain, analysed and typed: what planning its operator needs.
struct JoinStep<'a> {
    join: &'a Join,
    /// The sources joined so far.
    left: &'a Side,
    /// The joined source.
    right: &'a Side,
    /// The criteria's expressions over each side, and typed.
    lexpr: &'a Expr,
    rexpr: &'a Expr,
    lt: &'a TExpr,
    rt: &'a TExpr,
    /// The criteria as written, qualified (for messages).
    written: (&'a Expr, &'a Expr),
    /// The name of the source the criteria's left side reads (ksqlDB's join's left source).
    left_name: &'a str,
    /// The joined source.
    right_source: &'a DataSource,
    /// The key format of the chain's first source.
    left_key_format: &'a FormatInfo,
    key_ty: &'a SqlType,
    /// The join's plan node name (`L_Join`, `Join`).
    name: &'a str,
}

/// Plans a join query.
#[allow(clippy::too_many_lines)]
pub fn plan(ctx: &mut PlanContext<'_>, query: &Query, target: &Target) -> Result<PlannedQuery> {
    if query.window.is_some() && query.group_by.is_empty() {
        return Err(SqlError::semantic(
            "WINDOW clause requires a GROUP BY clause.",
        ));
    }
    let aggregated = !query.group_by.is_empty() || super::select::has_aggregates(ctx, query);
    // The sources.
    let mut sources = vec![(
        query.from.source.clone(),
        lookup(ctx, &query.from.source.name)?,
    )];
    for j in &query.from.joins {
        sources.push((j.source.clone(), lookup(ctx, &j.source.name)?));
    }
    let aliases: Vec<String> = sources
        .iter()
        .map(|(a, _)| a.alias_or_name().to_string())
        .collect();
    {
        let aliased: Vec<(&str, &DataSource)> = aliases
            .iter()
            .map(String::as_str)
            .zip(sources.iter().map(|(_, s)| s))
            .collect();
        super::sanitize::check_ambiguous_columns(query, &aliased)?;
    }
    // ksqlDB's plan node names: the i-th of n joins is `L_` * (n - 1 - i) + `Join`, reading
    // `KafkaTopic_<prefix>Left` (the first source) and `KafkaTopic_<prefix>Right`.
    let n = query.from.joins.len();
    let join_prefix = |i: usize| "L_".repeat(n - 1 - i);
    let mut sides: Vec<Option<Side>> = sources
        .iter()
        .enumerate()
        .map(|(i, (a, s))| {
            Some(source_side(
                s.clone(),
                SourceNaming {
                    alias: a.alias_or_name().to_string(),
                    prefixed: true,
                    node_id: if i == 0 {
                        format!("KafkaTopic_{}Left", join_prefix(0))
                    } else {
                        format!("KafkaTopic_{}Right", join_prefix(i - 1))
                    },
                },
            ))
        })
        .collect();
    let source_of = |alias: &str| -> &DataSource {
        let i = aliases.iter().position(|a| a == alias).unwrap_or(0);
        &sources[i].1
    };
    // The analysis, join by join (ksqlDB's `Analyzer`): no source twice, the criteria, the
    // sources' windowing.
    let mut criteria: Vec<Criteria> = Vec::new();
    for (i, join) in query.from.joins.iter().enumerate() {
        let (a, _) = &sources[i + 1];
        if sources[..=i]
            .iter()
            .any(|(b, _)| b.name.value == a.name.value)
        {
            return Err(SqlError::semantic(if i > 0 {
                format!(
                    "N-way joins do not support multiple occurrences of the same source. Source: '{}'.",
                    a.name.value
                )
            } else {
                format!(
                    "Can not join '{0}' to '{0}': self joins are not yet supported.",
                    a.name.value
                )
            }));
        }
        let columns: Vec<FlowColumn> = sides[..=i + 1]
            .iter()
            .flatten()
            .flat_map(|s| s.columns.iter().cloned())
            .collect();
        let scope = scope_of(&columns, &aliases[..=i + 1]);
        let c = split_criteria(ctx, join, &aliases[..=i], &aliases[i + 1], &scope)?;
        let (written_left, written_right) = if c.flipped {
            (aliases[i + 1].as_str(), c.left_alias.as_str())
        } else {
            (c.left_alias.as_str(), aliases[i + 1].as_str())
        };
        check_windowing(
            (written_left, source_of(written_left)),
            (written_right, source_of(written_right)),
        )?;
        criteria.push(c);
    }
    let kafka_value: Vec<String> = sources
        .iter()
        .filter(|(_, s)| s.value_format.format == Format::Kafka)
        .map(|(a, _)| a.alias_or_name().to_string())
        .collect();
    if !kafka_value.is_empty() {
        return Err(SqlError::semantic(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support JOIN.",
            kafka_value.join(", ")
        )));
    }
    let mut foreign_key = vec![false; n];
    let mut left = sides[0]
        .take()
        .ok_or_else(|| SqlError::semantic("internal: no source"))?;
    let left_key_format = sources[0].1.key_format.clone();
    for (i, join) in query.from.joins.iter().enumerate() {
        let (_, s) = &sources[i + 1];
        let right = sides[i + 1]
            .take()
            .ok_or_else(|| SqlError::semantic("internal: no source"))?;
        let mut columns = left.columns.clone();
        columns.extend(right.columns.iter().cloned());
        let mut qualifiers = left.aliases.clone();
        qualifiers.extend(right.aliases.iter().cloned());
        let scope = scope_of(&columns, &qualifiers);
        let c = &criteria[i];
        let (lexpr, rexpr) = (c.left.clone(), c.right.clone());
        let (written_l, written_r) = c.written(&scope);
        // ksqlDB names the join's left source after the criteria's left side.
        let left_name = source_of(&c.left_alias).name.clone();
        let lt = ctx.type_expr(&scope, &lexpr)?;
        let rt = ctx.type_expr(&scope, &rexpr)?;
        let (lty, rty) = (lt.ty.clone(), rt.ty.clone());
        if lty.is_none() || rty.is_none() {
            let null_side = if lty.is_none() { &lexpr } else { &rexpr };
            return Err(SqlError::semantic(format!(
                "Invalid comparison expression '{null_side}' in join '{}'. Each side of the join comparision must contain references from exactly one source.",
                join.on
            )));
        }
        if lty != rty {
            let (wl, wr) = if c.flipped {
                (&rty, &lty)
            } else {
                (&lty, &rty)
            };
            return Err(SqlError::semantic(format!(
                "Invalid join condition: types don't match. Got {written_l}{{{}}} = {written_r}{{{}}}.",
                wl.as_ref().map(|t| t.to_string()).unwrap_or_default(),
                wr.as_ref().map(|t| t.to_string()).unwrap_or_default()
            )));
        }
        let key_ty = lty.unwrap_or(SqlType::String);
        if key_ty.contains_map() {
            let column = match &qualify(&lexpr, &scope).kind {
                ExprKind::Column {
                    source: Some(q),
                    name,
                } => format!("{q}_{name}"),
                ExprKind::Column { name, .. } => name.clone(),
                _ => {
                    synthetic_key_name(&sources.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>())
                }
            };
            return Err(SqlError::semantic(format!(
                "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{column}`. Column type: {key_ty}. See https://github.com/confluentinc/ksql/issues/6621 for more."
            )));
        }
        let name = format!("{}Join", join_prefix(i));
        let step = JoinStep {
            join,
            left: &left,
            right: &right,
            lexpr: &lexpr,
            rexpr: &rexpr,
            lt: &lt,
            rt: &rt,
            written: (&written_l, &written_r),
            left_name: &left_name,
            right_source: s,
            left_key_format: &left_key_format,
            key_ty: &key_ty,
            name: &name,
        };
        let joined = match (left.kind, right.kind) {
            (SourceKind::Stream, SourceKind::Stream) => stream_stream::join(ctx, &step)?,
            (SourceKind::Stream, SourceKind::Table) => stream_table::join(ctx, &step)?,
            (SourceKind::Table, SourceKind::Stream) => {
                return Err(SqlError::semantic(format!(
                    "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {} {} {}.",
                    left_name,
                    kind_name(join.kind),
                    s.name
                )));
            }
            (SourceKind::Table, SourceKind::Table) => {
                if join.within.is_some() {
                    return Err(SqlError::semantic(
                        "A window definition was provided for a Table-Table join. These joins are not windowed. Please drop the window definition (i.e. the WITHIN clause) and try to execute your Table-Table join again.",
                    ));
                }
                if !is_key_of(&rexpr, &right) {
                    return Err(SqlError::semantic(format!(
                        "Invalid join condition: table-table joins require to join on the primary key of the right input table. Got {} = {}.",
                        written_l, written_r
                    )));
                }
                let primary = left.equivalence.iter().any(|e| same_expr(e, &lexpr, false))
                    || (left.is_source && is_key_of(&lexpr, &left));
                if primary {
                    table_table::join(ctx, &step, &sources[0].1)?
                } else {
                    left = foreign_key::join(ctx, &step, columns, qualifiers)?;
                    foreign_key[i] = true;
                    continue;
                }
            }
        };
        let kind = if matches!(joined, SideFlow::Table(_)) {
            SourceKind::Table
        } else {
            SourceKind::Stream
        };
        // ksqlDB's join equivalence set and viable key columns.
        let (equivalence, viable) = if join.kind == JoinKind::Full {
            (Vec::new(), Vec::new())
        } else {
            let keys = vec![lexpr.clone(), rexpr.clone()];
            let mut equivalence = keys.clone();
            if left
                .equivalence
                .iter()
                .any(|e| keys.iter().any(|k| same_expr(e, k, false)))
            {
                equivalence.extend(left.equivalence.iter().cloned());
            }
            let mut viable = Vec::new();
            for e in left
                .viable
                .iter()
                .chain(std::iter::once(&lexpr))
                .chain(std::iter::once(&rexpr))
            {
                let qualified = qualify(e, &scope);
                if matches!(qualified.kind, ExprKind::Column { .. })
                    && equivalence
                        .iter()
                        .any(|k| same_expr(&qualify(k, &scope), &qualified, false))
                    && !viable
                        .iter()
                        .any(|v: &Expr| same_expr(v, &qualified, false))
                {
                    viable.push(qualified);
                }
            }
            (equivalence, viable)
        };
        left = Side {
            flow: joined,
            kind,
            columns,
            aliases: qualifiers,
            equivalence,
            viable,
            key_type: Some(key_ty),
            is_source: false,
            window: left.window,
        };
    }
    let source_list: Vec<DataSource> = sources.iter().map(|(_, s)| s.clone()).collect();
    let planned = if aggregated {
        rekeyed::aggregated_join(ctx, query, target, left, &source_list)?
    } else if query.partition_by.is_empty() {
        project::finish(ctx, query, target, left, &source_list)?
    } else {
        rekeyed::repartitioned(ctx, query, target, left, &source_list)?
    };
    // Checked as ksqlDB builds the joins' streams, after the logical plan: outermost first.
    for i in (0..n).rev().filter(|i| !foreign_key[*i]) {
        check_copartitioned(
            ctx,
            (&aliases[0], &sources[i].1),
            (&aliases[i + 1], &sources[i + 1].1),
        )?;
    }
    Ok(planned)
}

fn prefix(name: &str) -> String {
    name.strip_suffix("Join")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{name}_"))
}

fn column_ref(c: &FlowColumn) -> Expr {
    Expr::new(
        ExprKind::Column {
            source: c.qualifier.clone(),
            name: c.name.clone(),
        },
        Default::default(),
    )
}

/// An unqualified column reference qualified by the source it resolves to.
fn qualify(e: &Expr, scope: &Scope) -> Expr {
    super::select::rewrite(e, &mut |x| match &x.kind {
        ExprKind::Column { source: None, name } => scope.resolve(None, name, x.pos).ok().map(|c| {
            Expr::new(
                ExprKind::Column {
                    source: c.qualifier.clone(),
                    name: c.name.clone(),
                },
                x.pos,
            )
        }),
        _ => None,
    })
}

/// The synthetic key's name: `ROWKEY`, or `ROWKEY_n` past names the sources use.
fn synthetic_key_name(sources: &[DataSource]) -> String {
    let names: Vec<&str> = sources
        .iter()
        .flat_map(|s| s.schema.columns().iter().map(|c| c.name.as_str()))
        .collect();
    if !names.contains(&"ROWKEY") {
        return "ROWKEY".to_string();
    }
    (1..)
        .map(|i| format!("ROWKEY_{i}"))
        .find(|n| !names.contains(&n.as_str()))
        .unwrap_or_else(|| "ROWKEY".into())
}

/// The internal serde of joined rows: the left side's columns then the right's.
fn joined_serde(left: &Side, right: &Side) -> SerdeRef<Row> {
    RowSerde::internal(
        left.row()
            .into_iter()
            .chain(right.row())
            .map(|(_, t)| t)
            .collect(),
    )
}

fn concat(left: Option<&Row>, left_width: usize, right: Option<&Row>, right_width: usize) -> Row {
    let mut out = Vec::with_capacity(left_width + right_width);
    match left {
        Some(l) => out.extend(l.iter().cloned()),
        None => out.extend(std::iter::repeat_n(Value::Null, left_width)),
    }
    match right {
        Some(r) => out.extend(r.iter().cloned()),
        None => out.extend(std::iter::repeat_n(Value::Null, right_width)),
    }
    out
}

fn kind_name(k: JoinKind) -> &'static str {
    match k {
        JoinKind::Inner => "[INNER] JOIN",
        JoinKind::Left => "LEFT [OUTER] JOIN",
        JoinKind::Right => "RIGHT [OUTER] JOIN",
        JoinKind::Full => "[FULL] OUTER JOIN",
    }
}
