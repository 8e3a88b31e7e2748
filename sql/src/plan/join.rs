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

use std::sync::Arc;

use eddy_streams::serdes::SerdeRef;
use eddy_streams::{JoinWindows, KStream, KTable};

use super::flow::{Flow, FlowColumn, Role, StreamFlow, TableFlow, scope_of};
use super::select::{SelectColumn, same_expr, visit};
use super::sink::{ResultSchema, resolve_target, stream_sink, table_sink};
use super::source::SourceNaming;
use super::stream::{
    lookup, not_null_row, prefix_error, stream_stage, table_stage, table_stage_with,
    timestamp_to_bigint,
};
use super::{PlanContext, PlannedQuery, Target, TransientOutput};
use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::catalog::{DataSource, WindowInfo};
use crate::error::{Result, SqlError};
use crate::expr::{Scope, ScopeColumn, TExpr};
use crate::parser::ast::{BinaryOp, Expr, ExprKind, Join, JoinKind, Query, SelectItem, SourceKind};
use crate::runtime::batch::{NULL_ROW, StageSchema};
use crate::runtime::convert::{FromRecordsNode, RecordLayout, ToRecordsNode};
use crate::runtime::serdes::{RowSerde, WindowedRowSerde};
use crate::runtime::transient::{StreamPushNode, TablePushNode};
use crate::serde::{Format, FormatInfo, codec_for};
use crate::types::SqlType;
use crate::value::{Row, Value};

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
struct Criteria {
    /// The expression over the sources joined so far.
    left: Expr,
    /// The expression over the joined source.
    right: Expr,
    /// The alias of the source `left` reads.
    left_alias: String,
    /// Whether the criteria was written right side first.
    flipped: bool,
}

impl Criteria {
    /// `left = right` as written, qualified (for messages).
    fn written(&self, scope: &Scope) -> (Expr, Expr) {
        let (l, r) = (qualify(&self.left, scope), qualify(&self.right, scope));
        if self.flipped { (r, l) } else { (l, r) }
    }
}

/// The join criteria split into the left side's and the right side's expressions, with
/// ksqlDB's errors for criteria it does not support (`Analyzer.visitJoinedSource`):
/// `left_aliases` are the sources joined so far, `right_alias` the joined one.
fn split_criteria(
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
fn check_windowing(a: (&str, &DataSource), b: (&str, &DataSource)) -> Result<()> {
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
fn is_key_of(e: &Expr, side: &Side) -> bool {
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

/// The key serde for join keys of `ty`: the left source's key format when it can hold the
/// key, else KAFKA, else JSON.
fn key_serde(
    format: &FormatInfo,
    ty: &SqlType,
    window: Option<WindowInfo>,
) -> Result<SerdeRef<Row>> {
    let format = if format.format != Format::None && format.format.supports(ty) {
        format.clone()
    } else if Format::Kafka.supports(ty) {
        FormatInfo::of(Format::Kafka)
    } else {
        FormatInfo::of(Format::Json)
    };
    let codec = codec_for(&format, vec![(JOIN_KEY.to_string(), ty.clone())], false)?;
    Ok(match window {
        Some(w) => WindowedRowSerde::shared(codec, 1, w.size_ms),
        None => RowSerde::shared(codec, 1),
    })
}

/// Reads a stream side keyed by `key` (its join expression): the stream of records keyed
/// by the join key whose rows hold the side's columns.
fn keyed_stream(
    ctx: &mut PlanContext<'_>,
    side: &Side,
    key: &TExpr,
    serde: SerdeRef<Row>,
    needs_repartition: bool,
    name: &str,
) -> Result<KStream<Row, Row>> {
    let row = side.row();
    let value_serde = RowSerde::internal(row.iter().map(|(_, t)| t.clone()).collect());
    let key_ty = key.ty.clone().unwrap_or(SqlType::String);
    match &side.flow {
        SideFlow::Source(source, naming) => {
            let flow = super::source::stream(ctx, source, naming)?;
            let rowtime = naming.internal(ROWTIME);
            let mut outputs = vec![(JOIN_KEY.to_string(), key.clone())];
            outputs.extend(
                row.iter()
                    .map(|(n, t)| (n.clone(), TExpr::column(n.clone(), t.clone()))),
            );
            outputs.push((
                "#rowtime".to_string(),
                TExpr::column(rowtime, SqlType::BigInt),
            ));
            outputs.push((
                NULL_ROW.to_string(),
                TExpr::column(NULL_ROW, SqlType::Boolean),
            ));
            let stage = stream_stage(ctx, &flow, None, &outputs, &format!("{name}-Key"))?;
            // A windowed key is the join key and the window's bounds.
            let mut key = vec![(0, key_ty)];
            if side.window.is_some() {
                for bound in [WINDOWSTART, WINDOWEND] {
                    let internal = naming.internal(bound);
                    let i = row
                        .iter()
                        .position(|(n, _)| *n == internal)
                        .ok_or_else(|| {
                            SqlError::semantic(format!(
                                "internal: no {internal} in a windowed source"
                            ))
                        })?;
                    key.push((i + 1, SqlType::BigInt));
                }
            }
            let layout = RecordLayout {
                key,
                value: row
                    .iter()
                    .enumerate()
                    .map(|(i, (_, t))| (i + 1, t.clone()))
                    .collect(),
                rowtime: row.len() + 1,
                null_row: row.len() + 2,
                drop_null_keys: true,
            };
            let node = ctx.processor(
                &format!("{name}-Records"),
                stage.node,
                Arc::new(move || Box::new(ToRecordsNode::new("JoinRecords", layout.clone()))),
            );
            let stream = KStream::from_node(&ctx.builder, node, Some(serde), Some(value_serde));
            Ok(if needs_repartition {
                ctx.step(format!("Repartition: {name}-repartition"));
                stream.repartition(name)
            } else {
                stream
            })
        }
        SideFlow::Stream(stream) => {
            if !needs_repartition {
                return Ok(stream.clone());
            }
            // Rekey joined rows: back to batches, evaluate the key, records again.
            let mut stage_columns = vec![(
                JOIN_KEY.to_string(),
                side.key_type.clone().unwrap_or(SqlType::String),
            )];
            stage_columns.extend(row.iter().cloned());
            stage_columns.push((ROWTIME.to_string(), SqlType::BigInt));
            stage_columns.push((NULL_ROW.to_string(), SqlType::Boolean));
            let schema = StageSchema::new(stage_columns);
            let s = schema.clone();
            let node = ctx.processor(
                &format!("{name}-Batches"),
                stream.node(),
                Arc::new(move || Box::new(FromRecordsNode::new("JoinBatches", s.clone()))),
            );
            let flow = StreamFlow {
                node,
                schema,
                columns: side.columns.clone(),
                key: Vec::new(),
                window: None,
                qualifiers: side.aliases.clone(),
            };
            let mut outputs = vec![(JOIN_KEY.to_string(), key.clone())];
            outputs.extend(
                row.iter()
                    .map(|(n, t)| (n.clone(), TExpr::column(n.clone(), t.clone()))),
            );
            outputs.push((
                "#rowtime".to_string(),
                TExpr::column(ROWTIME, SqlType::BigInt),
            ));
            outputs.push((
                NULL_ROW.to_string(),
                TExpr::column(NULL_ROW, SqlType::Boolean),
            ));
            let stage = stream_stage(ctx, &flow, None, &outputs, &format!("{name}-Key"))?;
            let layout = RecordLayout {
                key: vec![(0, key_ty)],
                value: row
                    .iter()
                    .enumerate()
                    .map(|(i, (_, t))| (i + 1, t.clone()))
                    .collect(),
                rowtime: row.len() + 1,
                null_row: row.len() + 2,
                drop_null_keys: true,
            };
            let node = ctx.processor(
                &format!("{name}-Records"),
                stage.node,
                Arc::new(move || Box::new(ToRecordsNode::new("JoinRecords", layout.clone()))),
            );
            ctx.step(format!("Repartition: {name}-repartition"));
            Ok(
                KStream::from_node(&ctx.builder, node, Some(serde), Some(value_serde))
                    .repartition(name),
            )
        }
        SideFlow::Table(_) => Err(SqlError::semantic(
            "internal: a table side read as a stream",
        )),
    }
}

/// Reads a table side keyed by its key: a table whose rows hold the side's columns.
/// With `rekey` (the join's key serde and a store name), a source table whose key format
/// differs from the join's is re-keyed into it through a repartition topic and materialised
/// again, as ksqlDB's `SchemaKTable.selectKey` does for a join (`RightSourceKeyed`).
fn keyed_table(
    ctx: &mut PlanContext<'_>,
    side: &Side,
    name: &str,
    rekey: Option<(SerdeRef<Row>, String)>,
) -> Result<KTable<Row, Row>> {
    match &side.flow {
        SideFlow::Source(source, naming) => {
            let flow: TableFlow = super::source::table(ctx, source, naming)?;
            let key_width = flow.key.len();
            let mut outputs: Vec<(String, TExpr)> = flow
                .key
                .iter()
                .map(|(n, t)| (format!("#key:{n}"), TExpr::column(n.clone(), t.clone())))
                .collect();
            outputs.extend(
                side.row()
                    .into_iter()
                    .map(|(n, t)| (n.clone(), TExpr::column(n, t))),
            );
            let node = table_stage(
                ctx,
                &flow,
                None,
                &outputs,
                key_width,
                &format!("{name}-Prepare"),
            )?;
            let key_serde = super::source::key_serde(source)?;
            let row_serde = RowSerde::internal(side.row().into_iter().map(|(_, t)| t).collect());
            let Some((join_serde, store)) = rekey else {
                return Ok(KTable::from_node(
                    &ctx.builder,
                    node,
                    None,
                    Some(key_serde),
                    Some(row_serde),
                ));
            };
            let upserts = ctx.processor(
                &format!("{name}-SelectKey"),
                node,
                Arc::new(|| Box::new(UpsertsNode)),
            );
            let stream: KStream<Row, Option<Row>> =
                KStream::from_node(&ctx.builder, upserts, Some(join_serde), None)
                    .mark_for_repartition();
            ctx.step(format!(
                "{name}: re-keyed into the join's key format through {store}-repartition"
            ));
            Ok(KTable::from_upserts(&stream, &store, row_serde))
        }
        SideFlow::Table(t) => Ok(t.clone()),
        SideFlow::Stream(_) => Err(SqlError::semantic(
            "internal: a stream side read as a table",
        )),
    }
}

/// A table's changes as upserts: the new row, or `None` for a delete.
struct UpsertsNode;

impl eddy_streams::processor::Node for UpsertsNode {
    fn process(
        &mut self,
        batch: eddy_streams::processor::AnyBatch,
        ctx: &mut eddy_streams::processor::Context<'_>,
    ) -> eddy_streams::Result<()> {
        let changes = eddy_streams::processor::downcast::<
            Vec<eddy_streams::record::Record<Row, eddy_streams::record::Change<Row>>>,
        >(batch, "Upserts")?;
        let upserts: Vec<eddy_streams::record::Record<Row, Option<Row>>> = changes
            .into_iter()
            .map(|r| eddy_streams::record::Record::new(r.key, r.value.new, r.timestamp))
            .collect();
        ctx.forward_records(upserts);
        Ok(())
    }
}

/// Windowed sides join on their windowed keys as they are: ksqlDB re-keys neither a
/// windowed stream nor a windowed table (`SchemaKStream.selectKey`), and a different window
/// or key format on the right would need that too. `right` is the joined source.
fn check_windowed_keys(
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

/// The join window of `WITHIN`: without a GRACE PERIOD ksqlDB runs Kafka Streams' legacy
/// windows (24 hours of retention, unmatched results emitted eagerly).
fn join_windows(within: &crate::parser::ast::WithinExpr) -> JoinWindows {
    let windows = match within.grace {
        Some(grace) => JoinWindows::of_time_difference_and_grace(within.before, grace),
        None => JoinWindows::of(within.before),
    };
    windows.after(within.after)
}

fn kind_name(k: JoinKind) -> &'static str {
    match k {
        JoinKind::Inner => "[INNER] JOIN",
        JoinKind::Left => "LEFT [OUTER] JOIN",
        JoinKind::Right => "RIGHT [OUTER] JOIN",
        JoinKind::Full => "[FULL] OUTER JOIN",
    }
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
        let left_width = left.columns.len();
        let right_width = right.columns.len();
        let (lw, rw) = (left_width, right_width);
        let joined = match (left.kind, right.kind) {
            (SourceKind::Stream, SourceKind::Stream) => {
                let within = join.within.as_ref().ok_or_else(|| {
                    SqlError::semantic(
                        "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to specify a WITHIN clause with a stream-stream join, please visit: https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select",
                    )
                })?;
                let serde = key_serde(&left_key_format, &key_ty, left.window)?;
                let l_repart = !(left.equivalence.iter().any(|e| same_expr(e, &lexpr, false))
                    || (left.is_source && is_key_of(&lexpr, &left)));
                let r_repart = !(right.is_source && is_key_of(&rexpr, &right));
                check_windowed_keys(&left, &right, l_repart || r_repart, &left_key_format, s)?;
                let l = keyed_stream(
                    ctx,
                    &left,
                    &lt,
                    serde.clone(),
                    l_repart,
                    &format!("{name}-left"),
                )?;
                let r = keyed_stream(ctx, &right, &rt, serde, r_repart, &format!("{name}-right"))?;
                let windows = join_windows(within);
                ctx.step(format!(
                    "{} stream-stream join ON {lexpr} = {rexpr} WITHIN ({:?}, {:?})",
                    kind_name(join.kind),
                    within.before,
                    within.after
                ));
                let stream = match join.kind {
                    JoinKind::Inner => {
                        l.join(&r, move |a, b| concat(Some(a), lw, Some(b), rw), windows)
                    }
                    JoinKind::Left => {
                        l.left_join(&r, move |a, b| concat(Some(a), lw, b, rw), windows)
                    }
                    JoinKind::Right => {
                        r.left_join(&l, move |b, a| concat(a, lw, Some(b), rw), windows)
                    }
                    JoinKind::Full => l.outer_join(&r, move |a, b| concat(a, lw, b, rw), windows),
                };
                SideFlow::Stream(stream.with_value_serde(joined_serde(&left, &right)))
            }
            (SourceKind::Stream, SourceKind::Table) => {
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
                if !is_key_of(&rexpr, &right) {
                    return Err(SqlError::semantic(format!(
                        "Invalid join condition: stream-table joins require to join on the table's primary key. Got {} = {}.",
                        written_l, written_r
                    )));
                }
                let serde = super::source::key_serde(s)?;
                let l_repart = !(left.equivalence.iter().any(|e| same_expr(e, &lexpr, false))
                    || (left.is_source && is_key_of(&lexpr, &left)));
                check_windowed_keys(&left, &right, l_repart, &left_key_format, s)?;
                let l = keyed_stream(ctx, &left, &lt, serde, l_repart, &name)?;
                let t = keyed_table(ctx, &right, &format!("{}Right", prefix(&name)), None)?;
                ctx.step(format!(
                    "{} stream-table join ON {lexpr} = {rexpr}",
                    kind_name(join.kind)
                ));
                let stream = match join.kind {
                    JoinKind::Left => l.left_join_table(&t, move |a, b| concat(Some(a), lw, b, rw)),
                    _ => l.join_table(&t, move |a, b| concat(Some(a), lw, Some(b), rw)),
                };
                SideFlow::Stream(stream.with_value_serde(joined_serde(&left, &right)))
            }
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
                    check_windowed_keys(&left, &right, false, &left_key_format, s)?;
                    // The join is keyed in the left table's key format: a right table of
                    // another format is re-keyed into it.
                    let rekey = if s.key_format != left_key_format {
                        Some((
                            super::source::key_serde(&sources[0].1)?,
                            format!("{}RightSourceKeyed-Materialize", join_prefix(i)),
                        ))
                    } else {
                        None
                    };
                    let l = keyed_table(ctx, &left, &format!("{}Left", prefix(&name)), None)?;
                    let r = keyed_table(ctx, &right, &format!("{}Right", prefix(&name)), rekey)?;
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
                    SideFlow::Table(table.with_value_serde(joined_serde(&left, &right)))
                } else {
                    // A foreign-key join: the left table's expression names the right's key.
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
                    let l = keyed_table(ctx, &left, &format!("{}Left", prefix(&name)), None)?;
                    let r = keyed_table(ctx, &right, &format!("{}Right", prefix(&name)), None)?;
                    let left_row = left.row();
                    let fk_program = {
                        let (program, _) = ctx.compiler.program(
                            &left_row,
                            None,
                            &[("#fk".to_string(), lt.clone())],
                        )?;
                        Arc::new(program)
                    };
                    let schema = StageSchema::new(left_row.clone());
                    let arrow = schema.arrow();
                    let fk_ty = key_ty.clone();
                    let log = ctx.log.clone();
                    let extract = move |v: &Row| -> Option<Row> {
                        let batch = crate::runtime::batch::SqlBatch::from_rows(
                            &schema,
                            &arrow,
                            std::slice::from_ref(v),
                        )
                        .ok()?;
                        let out = fk_program.project(&batch.rows).ok()?;
                        for e in fk_program.errors.take() {
                            log.record(e);
                        }
                        let value =
                            crate::arrow_conv::value_at(out.column(0).as_ref(), 0, &fk_ty).ok()?;
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
                    let store = format!("{}FK-JOIN", prefix(&name));
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
                    left = next;
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
        aggregated_join(ctx, query, target, left, &source_list)?
    } else if query.partition_by.is_empty() {
        finish(ctx, query, target, left, &source_list)?
    } else {
        repartitioned(ctx, query, target, left, &source_list)?
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

/// The sides of a (primary-key) join must have as many partitions
/// (`JoinNode.ensureMatchingPartitionCounts`): a joined side has the partitions of its last
/// source, and is named after its first. Skipped when the counts are unknown.
fn check_copartitioned(
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

#[allow(clippy::too_many_lines)]
fn finish(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    side: Side,
    sources: &[DataSource],
) -> Result<PlannedQuery> {
    let synthetic = side.viable.is_empty();
    let key_ty = side.key_type.clone().unwrap_or(SqlType::String);
    let mut columns = side.columns.clone();
    let key_name = synthetic_key_name(sources);
    if synthetic {
        columns.insert(
            0,
            FlowColumn {
                qualifier: None,
                name: key_name.clone(),
                internal: JOIN_KEY.to_string(),
                ty: key_ty.clone(),
                role: Role::Key,
            },
        );
    }
    let mut scope = scope_of(&columns, &side.aliases);
    scope.columns.push(ScopeColumn {
        qualifier: None,
        name: ROWTIME.to_string(),
        internal: ROWTIME.to_string(),
        ty: SqlType::BigInt,
    });
    let filter = match &query.where_clause {
        Some(w) => Some(
            ctx.typer(&scope)
                .type_predicate(w, "WHERE")
                .map_err(|e| prefix_error(e, "Invalid Predicate: "))?,
        ),
        None => None,
    };
    let names: Vec<Vec<String>> = sources
        .iter()
        .map(|s| s.schema.columns().iter().map(|c| c.name.clone()).collect())
        .collect();
    let select = super::select::resolve(&query.select, &columns, &names, true)?;
    let typed: Vec<(String, TExpr)> = select
        .iter()
        .map(|s| Ok((s.alias.clone(), ctx.type_expr(&scope, &s.expr)?)))
        .collect::<Result<_>>()?;
    let row = side.row();
    // The joined batches: key (and its window), the sides' columns, ROWTIME, #nullrow.
    let window = side.window;
    let mut key_columns = vec![(JOIN_KEY.to_string(), key_ty.clone())];
    if window.is_some() {
        key_columns.extend(JOIN_WINDOW.map(|w| (w.to_string(), SqlType::BigInt)));
    }
    let mut stage_columns = key_columns.clone();
    stage_columns.extend(row.iter().cloned());
    let primary_source = sources[0].clone();
    let is_transient = matches!(target, Target::Transient);
    // The output key: the first viable key column the projection selects.
    let (key_item, values): (Option<SelectColumn>, Vec<SelectColumn>) = if is_transient {
        (None, select.clone())
    } else {
        let candidates: Vec<Expr> = if synthetic {
            vec![Expr::new(
                ExprKind::Column {
                    source: None,
                    name: key_name.clone(),
                },
                Default::default(),
            )]
        } else {
            side.viable.clone()
        };
        let position = candidates.iter().find_map(|k| {
            select
                .iter()
                .position(|s| same_expr(&qualify(&s.expr, &scope), k, false))
        });
        match position {
            Some(p) => {
                // The key column selected twice is ksqlDB's error (the other viable
                // columns are plain values).
                let key_expr = qualify(&select[p].expr, &scope);
                let keyed: Vec<&SelectColumn> = select
                    .iter()
                    .filter(|s| same_expr(&qualify(&s.expr, &scope), &key_expr, false))
                    .collect();
                if keyed.len() > 1 {
                    let mut aliases: Vec<String> = keyed.iter().map(|s| s.alias.clone()).collect();
                    aliases.sort();
                    let column = match &qualify(&select[p].expr, &scope).kind {
                        ExprKind::Column {
                            source: Some(q),
                            name,
                        } => format!("{q}_{name}"),
                        ExprKind::Column { name, .. } => name.clone(),
                        _ => select[p].alias.clone(),
                    };
                    return Err(SqlError::semantic(format!(
                        "The projection contains a key column (`{column}`) more than once, aliased as: {}.\nEach key column must only be in the projection once. If you intended to copy the key into the value, then consider using the AS_VALUE function to indicate which key reference should be copied.",
                        super::stream::join_and(&aliases)
                    )));
                }
                let mut rest = select.clone();
                let item = rest.remove(p);
                (Some(item), rest)
            }
            None => {
                let sink_name = match target {
                    Target::Create { name, .. } => name.clone(),
                    Target::Insert { target } => target.name.clone(),
                    Target::Transient => String::new(),
                };
                let listed: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
                return Err(super::stream::keys_not_included(
                    &sink_name,
                    "join expression",
                    &listed,
                    false,
                    synthetic,
                ));
            }
        }
    };
    let typed_of = |alias: &str| -> Result<TExpr> {
        typed
            .iter()
            .find(|(n, _)| n == alias)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| SqlError::semantic(format!("internal: no column {alias}")))
    };
    let result = ResultSchema {
        key: key_item
            .iter()
            .map(|k| (k.alias.clone(), key_ty.clone()))
            .collect(),
        value: values
            .iter()
            .map(|s| {
                Ok((
                    s.alias.clone(),
                    typed_of(&s.alias)?.ty.unwrap_or(SqlType::String),
                ))
            })
            .collect::<Result<_>>()?,
    };
    if !is_transient && result.value.is_empty() {
        return Err(SqlError::semantic(
            "The projection contains no value columns.",
        ));
    }
    let source_names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let resolved = resolve_target(ctx, target, side.kind, &primary_source, &result, window)?;
    // The window bounds of the result's windowed keys.
    let bounds: Vec<(String, TExpr)> = match window {
        Some(_) => [WINDOWSTART, WINDOWEND]
            .iter()
            .zip(JOIN_WINDOW)
            .map(|(name, internal)| (name.to_string(), TExpr::column(internal, SqlType::BigInt)))
            .collect(),
        None => Vec::new(),
    };
    match side.flow {
        SideFlow::Stream(stream) => {
            stage_columns.push((ROWTIME.to_string(), SqlType::BigInt));
            stage_columns.push((NULL_ROW.to_string(), SqlType::Boolean));
            let schema = StageSchema::new(stage_columns);
            let s = schema.clone();
            let node = ctx.processor(
                "Join-Batches",
                stream.node(),
                Arc::new(move || Box::new(FromRecordsNode::new("JoinBatches", s.clone()))),
            );
            let flow = StreamFlow {
                node,
                schema,
                columns,
                key: Vec::new(),
                window,
                qualifiers: side.aliases.clone(),
            };
            let filter = filter.map(|f| not_null_row(Some(f)));
            if is_transient {
                let mut outputs = typed.clone();
                outputs.push((
                    NULL_ROW.to_string(),
                    TExpr::column(NULL_ROW, SqlType::Boolean),
                ));
                let out = stream_stage(ctx, &flow, filter.as_ref(), &outputs, "Project")?;
                let cols: Vec<(String, SqlType)> = typed
                    .iter()
                    .map(|(n, t)| (n.clone(), t.ty.clone().unwrap_or(SqlType::String)))
                    .collect();
                if let Some(sender) = ctx.push.clone() {
                    let indexed: Vec<(usize, SqlType)> = cols
                        .iter()
                        .cloned()
                        .enumerate()
                        .map(|(i, (_, t))| (i, t))
                        .collect();
                    let null_row = cols.len();
                    ctx.processor(
                        "Push",
                        out.node,
                        Arc::new(move || {
                            Box::new(StreamPushNode::new(
                                "Push",
                                indexed.clone(),
                                null_row,
                                sender.clone(),
                            ))
                        }),
                    );
                }
                return transient(ctx, source_names, SourceKind::Stream, cols);
            }
            let (sink, sink_topic) =
                resolved.ok_or_else(|| SqlError::semantic("internal: no sink"))?;
            let mut outputs: Vec<(String, TExpr)> = key_item
                .iter()
                .map(|k| (k.alias.clone(), TExpr::column(JOIN_KEY, key_ty.clone())))
                .collect();
            for s in &values {
                outputs.push((s.alias.clone(), typed_of(&s.alias)?));
            }
            let rowtime = match &sink.timestamp {
                Some(ts) => {
                    let e = outputs
                        .iter()
                        .find(|(n, _)| n == &ts.column)
                        .map(|(_, e)| e.clone())
                        .ok_or_else(|| SqlError::semantic("no TIMESTAMP column"))?;
                    timestamp_to_bigint(e, ts.format.as_deref())?
                }
                None => TExpr::column(ROWTIME, SqlType::BigInt),
            };
            outputs.push((ROWTIME.to_string(), rowtime));
            outputs.extend(bounds.iter().cloned());
            outputs.push((
                NULL_ROW.to_string(),
                TExpr::column(NULL_ROW, SqlType::Boolean),
            ));
            let out = stream_stage(ctx, &flow, filter.as_ref(), &outputs, "Project")?;
            stream_sink(ctx, &out, &sink, false)?;
            persistent(
                ctx,
                source_names,
                sink,
                sink_topic,
                &result,
                SourceKind::Stream,
            )
        }
        SideFlow::Table(table) => {
            let flow = TableFlow {
                table,
                key: key_columns.clone(),
                row: row.clone(),
                columns,
                window,
                qualifiers: side.aliases.clone(),
                store: None,
            };
            let mut outputs: Vec<(String, TExpr)> = key_columns
                .iter()
                .map(|(n, t)| (format!("#key:{n}"), TExpr::column(n.clone(), t.clone())))
                .collect();
            let key_width = outputs.len();
            if is_transient {
                outputs.extend(typed.iter().cloned());
                let node = table_stage_with(
                    ctx,
                    &flow,
                    filter.as_ref(),
                    &outputs,
                    key_width,
                    "Project",
                    true,
                )?;
                let cols: Vec<(String, SqlType)> = typed
                    .iter()
                    .map(|(n, t)| (n.clone(), t.ty.clone().unwrap_or(SqlType::String)))
                    .collect();
                if let Some(sender) = ctx.push.clone() {
                    let indexes: Vec<usize> = (0..cols.len()).collect();
                    ctx.processor(
                        "Push",
                        node,
                        Arc::new(move || {
                            Box::new(TablePushNode::new("Push", indexes.clone(), sender.clone()))
                        }),
                    );
                }
                return transient(ctx, source_names, SourceKind::Table, cols);
            }
            let (sink, sink_topic) =
                resolved.ok_or_else(|| SqlError::semantic("internal: no sink"))?;
            let mut out_row = Vec::new();
            for s in &values {
                let t = typed_of(&s.alias)?;
                out_row.push((s.alias.clone(), t.ty.clone().unwrap_or(SqlType::String)));
                outputs.push((s.alias.clone(), t));
            }
            let rowtime = match &sink.timestamp {
                Some(ts) => {
                    let e = outputs
                        .iter()
                        .find(|(n, _)| n == &ts.column)
                        .map(|(_, e)| e.clone())
                        .ok_or_else(|| SqlError::semantic("no TIMESTAMP column"))?;
                    timestamp_to_bigint(e, ts.format.as_deref())?
                }
                None => TExpr::column(ROWTIME, SqlType::BigInt),
            };
            outputs.push((ROWTIME.to_string(), rowtime));
            out_row.push((ROWTIME.to_string(), SqlType::BigInt));
            let node = table_stage_with(
                ctx,
                &flow,
                filter.as_ref(),
                &outputs,
                key_width,
                "Project",
                true,
            )?;
            table_sink(ctx, node, &out_row, &sink)?;
            persistent(
                ctx,
                source_names,
                sink,
                sink_topic,
                &result,
                SourceKind::Table,
            )
        }
        SideFlow::Source(..) => Err(SqlError::semantic("internal: a join without joins")),
    }
}

/// A join re-keyed by PARTITION BY: the joined rows as a stream of ksqlDB's join schema
/// ([`super::joined`]), then planned as a query over one stream (PARTITION BY, the
/// projection, the sink), its expressions rewritten over that schema.
fn repartitioned(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    side: Side,
    sources: &[DataSource],
) -> Result<PlannedQuery> {
    let (flow, rewritten, input) = as_flow(ctx, query, side, sources)?;
    let Flow::Stream(flow) = flow else {
        return Err(SqlError::semantic(
            "PARTITION BY is not supported on tables: a table is already keyed by its PRIMARY KEY.",
        ));
    };
    super::stream::plan_stream(ctx, &rewritten, target, &input, flow)
}

/// An aggregation of a join (ksqlDB's `AggregateNode` over its `JoinNode`): the joined
/// rows or table as ksqlDB's join schema ([`super::joined`]), aggregated as one source's.
fn aggregated_join(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    side: Side,
    sources: &[DataSource],
) -> Result<PlannedQuery> {
    super::aggregate::check_clauses(ctx, query, target, side.kind)?;
    let (flow, rewritten, input) = as_flow(ctx, query, side, sources)?;
    let flow = match flow {
        Flow::Stream(f) => super::aggregate::Input::Stream(f),
        Flow::Table(f) => super::aggregate::Input::Table(f),
    };
    super::aggregate::plan_aggregation(ctx, &rewritten, target, &input, flow)
}

/// The join's result as a flow of ksqlDB's join schema, the query rewritten over it, and
/// what the planning over it needs of the sources.
fn as_flow<'s>(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    side: Side,
    sources: &'s [DataSource],
) -> Result<(Flow, Query, super::stream::StreamInput<'s>)> {
    if side.window.is_some() {
        return Err(SqlError::semantic(
            "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
        ));
    }
    let scope = scope_of(&side.columns, &side.aliases);
    let key_ty = side.key_type.clone().unwrap_or(SqlType::String);
    let key_ty = &key_ty;
    // The key is named after the first viable key column the projection selects (or the
    // first one), else it is the synthetic key (`LogicalPlanner.buildJoinKey`).
    let key = if side.viable.is_empty() {
        super::joined::JoinKey {
            name: synthetic_key_name(sources),
            internal: JOIN_KEY.to_string(),
            ty: key_ty.clone(),
            synthetic: true,
        }
    } else {
        let selected = |v: &Expr| {
            query.select.iter().any(|item| match item {
                SelectItem::Wildcard(_) => true,
                SelectItem::QualifiedWildcard(q) => {
                    matches!(&v.kind, ExprKind::Column { source: Some(s), .. } if *s == q.value)
                }
                SelectItem::Expr { expr, .. } => same_expr(&qualify(expr, &scope), v, false),
                SelectItem::StructWildcard(_) => false,
            })
        };
        let chosen = side
            .viable
            .iter()
            .find(|v| selected(v))
            .unwrap_or(&side.viable[0]);
        let ExprKind::Column {
            source: Some(q),
            name,
        } = &chosen.kind
        else {
            return Err(SqlError::semantic(
                "internal: a viable key that is not a column",
            ));
        };
        let name = super::joined::join_column_name(q, name);
        super::joined::JoinKey {
            internal: name.clone(),
            name,
            ty: key_ty.clone(),
            synthetic: false,
        }
    };
    let row = side.row();
    let columns = super::joined::columns(&side.columns, &side.aliases, &key);
    let flow = match &side.flow {
        SideFlow::Stream(stream) => {
            // The joined batches: key, the sides' columns, ROWTIME, #nullrow.
            let mut stage_columns = vec![(JOIN_KEY.to_string(), key.ty.clone())];
            stage_columns.extend(row.iter().cloned());
            stage_columns.push((ROWTIME.to_string(), SqlType::BigInt));
            stage_columns.push((NULL_ROW.to_string(), SqlType::Boolean));
            let schema = StageSchema::new(stage_columns);
            let s = schema.clone();
            let node = ctx.processor(
                "Join-Batches",
                stream.node(),
                Arc::new(move || Box::new(FromRecordsNode::new("JoinBatches", s.clone()))),
            );
            Flow::Stream(StreamFlow {
                node,
                schema,
                columns,
                key: vec![key.internal.clone()],
                window: None,
                qualifiers: Vec::new(),
            })
        }
        SideFlow::Table(table) => {
            // The joined rows with their record time, as ROWTIME.
            let keys = vec![(JOIN_KEY.to_string(), key.ty.clone())];
            let joined = TableFlow {
                table: table.clone(),
                key: keys.clone(),
                row: row.clone(),
                columns: Vec::new(),
                window: None,
                qualifiers: Vec::new(),
                store: None,
            };
            let mut outputs = vec![(
                format!("#key:{JOIN_KEY}"),
                TExpr::column(JOIN_KEY, key.ty.clone()),
            )];
            outputs.extend(
                row.iter()
                    .map(|(n, t)| (n.clone(), TExpr::column(n.clone(), t.clone()))),
            );
            outputs.push((ROWTIME.to_string(), TExpr::column(ROWTIME, SqlType::BigInt)));
            let node = table_stage_with(ctx, &joined, None, &outputs, 1, "Join-Rows", true)?;
            let mut row = row;
            row.push((ROWTIME.to_string(), SqlType::BigInt));
            Flow::Table(TableFlow {
                table: KTable::from_node(&ctx.builder, node, None, None, None),
                key: keys,
                row,
                columns,
                window: None,
                qualifiers: Vec::new(),
                store: None,
            })
        }
        SideFlow::Source(..) => {
            return Err(SqlError::semantic("internal: a join without joins"));
        }
    };
    // Select items are named over the join, as written, before the rewrite.
    let names: Vec<Vec<String>> = sources
        .iter()
        .map(|s| s.schema.columns().iter().map(|c| c.name.clone()).collect())
        .collect();
    let exprs: Vec<SelectItem> = query
        .select
        .iter()
        .filter(|i| matches!(i, SelectItem::Expr { .. }))
        .cloned()
        .collect();
    let named = super::select::resolve(&exprs, &side.columns, &names, true)?;
    let rewritten = super::joined::rewrite_query(query, &side.columns, &named)?;
    let input = super::stream::StreamInput {
        inherit: &sources[0],
        sources: sources.iter().map(|s| s.name.clone()).collect(),
        columns: names,
        alias: None,
        partition_display: Some(
            query
                .partition_by
                .iter()
                .map(|e| qualify(e, &scope).to_string())
                .collect(),
        ),
    };
    Ok((flow, rewritten, input))
}

fn persistent(
    ctx: &mut PlanContext<'_>,
    sources: Vec<String>,
    sink: DataSource,
    sink_topic: Option<super::SinkTopic>,
    result: &ResultSchema,
    kind: SourceKind,
) -> Result<PlannedQuery> {
    let topology = ctx.build()?;
    Ok(PlannedQuery {
        topology,
        sink: Some(sink),
        sources,
        result_kind: kind,
        columns: result.key.iter().chain(&result.value).cloned().collect(),
        steps: std::mem::take(&mut ctx.steps),
        stages: std::mem::take(&mut ctx.stages),
        sink_topic,
        log: ctx.log.clone(),
        transient_output: None,
    })
}

fn transient(
    ctx: &mut PlanContext<'_>,
    sources: Vec<String>,
    kind: SourceKind,
    columns: Vec<(String, SqlType)>,
) -> Result<PlannedQuery> {
    let topology = ctx.build()?;
    Ok(PlannedQuery {
        topology,
        sink: None,
        sources,
        result_kind: kind,
        columns: columns.clone(),
        steps: std::mem::take(&mut ctx.steps),
        stages: std::mem::take(&mut ctx.stages),
        sink_topic: None,
        log: ctx.log.clone(),
        transient_output: Some(TransientOutput { columns }),
    })
}

#[cfg(test)]
mod tests {
    use crate::plan::tests::{catalog, error, plan, plan_with, schema};

    const MULTI: &str = "CREATE STREAM S1 (ID INT KEY, V0 BIGINT) WITH (kafka_topic='s1', value_format='JSON');
         CREATE TABLE T2 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t2', value_format='JSON');
         CREATE TABLE T3 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t3', value_format='JSON');";

    #[test]
    fn every_join_is_analysed_before_planning() {
        let m = catalog(MULTI);
        let e = error(
            &m,
            "CREATE STREAM O AS SELECT * FROM S1 JOIN T2 ON S1.V0 = T2.V0 JOIN T3 ON S1.V0 = S1.V0;",
        );
        assert!(
            e.contains("Each side of the join must reference exactly one source and not the same source. Left side references `S1` and right references `S1`"),
            "{e}"
        );
    }

    #[test]
    fn messages_name_the_criteria_sources() {
        let m = catalog(MULTI);
        let e = error(
            &m,
            "CREATE STREAM O AS SELECT * FROM T2 JOIN T3 ON T2.ID = T3.ID JOIN S1 ON T2.ID = S1.ID;",
        );
        assert!(e.contains("Got T2 [INNER] JOIN S1."), "{e}");
        let m = catalog(
            "CREATE TABLE T1 (ID INT PRIMARY KEY, V INT) WITH (kafka_topic='t1', value_format='JSON');
             CREATE TABLE T2 (ID BIGINT PRIMARY KEY, V INT) WITH (kafka_topic='t2', value_format='JSON');",
        );
        let e = error(
            &m,
            "CREATE TABLE O AS SELECT T1.ID, T2.V FROM T1 JOIN T2 ON T2.ID = T1.ID;",
        );
        assert!(
            e.contains("types don't match. Got T2.ID{BIGINT} = T1.ID{INTEGER}."),
            "{e}"
        );
    }

    #[test]
    fn windowed_sources_join_only_alike() {
        let m = catalog(
            "CREATE STREAM SS (ID INT KEY, V BIGINT) WITH (kafka_topic='ss', value_format='JSON', WINDOW_TYPE='SESSION');
             CREATE STREAM TT (ID INT KEY, V BIGINT) WITH (kafka_topic='tt', value_format='JSON', WINDOW_TYPE='TUMBLING', WINDOW_SIZE='1 SECOND');
             CREATE STREAM NW (ID INT KEY, V BIGINT) WITH (kafka_topic='nw', value_format='JSON');",
        );
        let e = error(
            &m,
            "CREATE STREAM O AS SELECT * FROM SS JOIN NW WITHIN 1 MINUTE ON SS.ID = NW.ID;",
        );
        assert!(
            e.contains("Can not join windowed source to non-windowed source.\n`SS` is SESSION windowed\n`NW` is not windowed"),
            "{e}"
        );
        let e = error(
            &m,
            "CREATE STREAM O AS SELECT * FROM SS JOIN TT WITHIN 1 MINUTE ON SS.ID = TT.ID;",
        );
        assert!(
            e.contains(
                "Incompatible windowed sources.\nLeft source: SESSION\nRight source: TUMBLING\n"
            ),
            "{e}"
        );
    }

    #[test]
    fn windowed_sources_join_on_their_windowed_keys() {
        let m = catalog(
            "CREATE STREAM A (ID INT KEY, K INT, V BIGINT) WITH (kafka_topic='a', value_format='JSON', WINDOW_TYPE='TUMBLING', WINDOW_SIZE='1 SECOND');
             CREATE STREAM B (ID INT KEY, K INT, V BIGINT) WITH (kafka_topic='b', value_format='JSON', WINDOW_TYPE='TUMBLING', WINDOW_SIZE='1 SECOND');
             CREATE STREAM H (ID INT KEY, V BIGINT) WITH (kafka_topic='h', value_format='JSON', WINDOW_TYPE='HOPPING', WINDOW_SIZE='2 SECONDS');
             CREATE TABLE T (ID INT PRIMARY KEY, V BIGINT) WITH (kafka_topic='t', value_format='JSON', WINDOW_TYPE='TUMBLING', WINDOW_SIZE='1 SECOND');
             CREATE TABLE U (ID INT PRIMARY KEY, V BIGINT) WITH (kafka_topic='u', value_format='JSON', WINDOW_TYPE='TUMBLING', WINDOW_SIZE='1 SECOND');",
        );
        for sql in [
            "CREATE STREAM O AS SELECT A.ID, A.V, B.V FROM A JOIN B WITHIN 1 MINUTE ON A.ID = B.ID;",
            "CREATE STREAM O AS SELECT A.ID, A.V, T.V FROM A JOIN T ON A.ID = T.ID;",
            "CREATE TABLE O AS SELECT T.ID, T.V, U.V FROM T JOIN U ON T.ID = U.ID;",
        ] {
            let p = plan(&m, sql).unwrap();
            let sink = p.sink.unwrap();
            assert_eq!(sink.window.map(|w| w.size_ms), Some(Some(1000)), "{sql}");
        }
        let refused = "Implicit repartitioning of windowed sources is not supported.";
        for sql in [
            "CREATE STREAM O AS SELECT * FROM A JOIN B WITHIN 1 MINUTE ON A.K = B.K;",
            "CREATE STREAM O AS SELECT * FROM A JOIN H WITHIN 1 MINUTE ON A.ID = H.ID;",
            "CREATE STREAM O AS SELECT * FROM A JOIN T ON A.K = T.ID;",
        ] {
            let e = error(&m, sql);
            assert!(e.contains(refused), "{sql}: {e}");
        }
    }

    #[test]
    fn qualified_pseudo_columns_are_named_after_their_source() {
        let m = catalog(MULTI);
        let p = plan(
            &m,
            "CREATE STREAM O AS SELECT *, S1.ROWTIME, T2.ROWTIME FROM S1 JOIN T2 ON S1.ID = T2.ID;",
        )
        .unwrap();
        assert_eq!(
            schema(&p),
            "`S1_ID` INTEGER KEY, `S1_V0` BIGINT, `T2_ID` INTEGER, `T2_V0` BIGINT, `S1_ROWTIME` BIGINT, `T2_ROWTIME` BIGINT"
        );
    }

    #[test]
    fn joined_sides_must_be_copartitioned() {
        let m = catalog(MULTI);
        let sql = "CREATE STREAM O AS SELECT * FROM S1 JOIN T2 ON S1.ID = T2.ID JOIN T3 ON S1.ID = T3.ID;";
        let e = match plan_with(&m, sql, &[("s1", 1), ("t2", 1), ("t3", 2)]) {
            Ok(_) => panic!("planned"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("Can't join `S1` with `T3` since the number of partitions don't match. `S1` partitions = 1; `T3` partitions = 2."),
            "{e}"
        );
        assert!(plan_with(&m, sql, &[("s1", 2), ("t2", 2), ("t3", 2)]).is_ok());
        // The partitions of a joined side are those of its last source.
        assert!(plan_with(&m, sql, &[("s1", 3), ("t2", 2), ("t3", 2)]).is_err());
    }

    #[test]
    fn right_tables_of_another_key_format_are_rekeyed() {
        let m = catalog(
            "CREATE TABLE T1 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t1', key_format='KAFKA', value_format='JSON');
             CREATE TABLE T2 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t2', key_format='KAFKA', value_format='JSON');
             CREATE TABLE T3 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t3', key_format='DELIMITED', value_format='JSON');",
        );
        let p = plan(
            &m,
            "CREATE TABLE O AS SELECT T1.ID, T1.V0, T3.V0 FROM T1 JOIN T2 ON T1.ID = T2.ID JOIN T3 ON T1.ID = T3.ID;",
        )
        .unwrap();
        let rekeyed: Vec<&String> = p.steps.iter().filter(|s| s.contains("re-keyed")).collect();
        assert_eq!(rekeyed.len(), 1, "{:?}", p.steps);
        assert!(rekeyed[0].contains("RightSourceKeyed-Materialize-repartition"));
    }

    #[test]
    fn partition_by_over_joins_rekeys_the_join_schema() {
        let m = catalog(
            "CREATE STREAM L (A INT KEY, B INT, C INT) WITH (kafka_topic='l', value_format='JSON');
             CREATE STREAM R (X INT KEY, Y INT, Z INT) WITH (kafka_topic='r', value_format='JSON');",
        );
        let schema_of = |sql: &str| schema(&plan(&m, sql).unwrap());
        assert_eq!(
            schema_of(
                "CREATE STREAM O AS SELECT * FROM L JOIN R WITHIN 10 SECONDS ON L.A = R.X PARTITION BY L.B;"
            ),
            "`L_B` INTEGER KEY, `L_C` INTEGER, `L_ROWTIME` BIGINT, `L_ROWPARTITION` INTEGER, `L_ROWOFFSET` BIGINT, `L_A` INTEGER, `R_Y` INTEGER, `R_Z` INTEGER, `R_ROWTIME` BIGINT, `R_ROWPARTITION` INTEGER, `R_ROWOFFSET` BIGINT, `R_X` INTEGER"
        );
        // Unqualified columns, expressions (named KSQL_COL_n), the synthetic key.
        assert_eq!(
            schema_of(
                "CREATE STREAM O AS SELECT B + 1 AS K, Y FROM L JOIN R WITHIN 10 SECONDS ON L.A = R.X PARTITION BY B + 1;"
            ),
            "`K` INTEGER KEY, `Y` INTEGER"
        );
        assert_eq!(
            schema_of(
                "CREATE STREAM O AS SELECT ROWKEY, L.B FROM L FULL JOIN R WITHIN 10 SECONDS ON L.A = R.X PARTITION BY L.B;"
            ),
            "`B` INTEGER KEY, `ROWKEY` INTEGER"
        );
        let e = error(
            &m,
            "CREATE STREAM O AS SELECT L.A, R.Y FROM L JOIN R WITHIN 10 SECONDS ON L.A = R.X PARTITION BY L.B;",
        );
        assert!(
            e.contains("must include the partitioning expression L.B in its projection"),
            "{e}"
        );
    }

    #[test]
    fn joins_are_aggregated_over_the_join_schema() {
        let m = catalog(
            "CREATE TABLE T1 (ID BIGINT PRIMARY KEY, TOTAL INT) WITH (kafka_topic='t1', value_format='JSON');
             CREATE TABLE T2 (ID BIGINT PRIMARY KEY, TOTAL INT) WITH (kafka_topic='t2', value_format='JSON');",
        );
        let p = plan(
            &m,
            "CREATE TABLE O AS SELECT T1.ID, SUM(T2.TOTAL) AS S FROM T1 LEFT JOIN T2 ON T1.ID = T2.ID GROUP BY T1.ID;",
        )
        .unwrap();
        assert_eq!(schema(&p), "`T1_ID` BIGINT KEY, `S` INTEGER");
        let e = error(
            &m,
            "CREATE TABLE O AS SELECT T1.ID, SUM(T2.TOTAL) AS S FROM T1 JOIN T2 ON T1.ID = T2.ID;",
        );
        assert!(
            e.contains("does not support aggregate function SUM without a GROUP BY clause"),
            "{e}"
        );
    }

    #[test]
    fn four_way_joins_name_their_nodes_apart() {
        let m = catalog(
            "CREATE TABLE T1 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t1', value_format='JSON');
             CREATE TABLE T2 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t2', value_format='JSON');
             CREATE TABLE T3 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t3', value_format='JSON');
             CREATE TABLE T4 (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t4', value_format='JSON');",
        );
        let p = plan(
            &m,
            "CREATE TABLE O AS SELECT T1.ID, T2.V0 FROM T1 JOIN T2 ON T1.ID = T2.ID JOIN T3 ON T1.ID = T3.ID JOIN T4 ON T1.ID = T4.ID;",
        )
        .unwrap();
        let steps = p.steps.join("\n");
        for store in [
            "KafkaTopic_L_L_Left-Reduce",
            "KafkaTopic_L_L_Right-Reduce",
            "KafkaTopic_L_Right-Reduce",
            "KafkaTopic_Right-Reduce",
        ] {
            assert!(steps.contains(store), "{store} in {steps}");
        }
    }
}
