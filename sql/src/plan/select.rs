//! Select items as ksqlDB resolves them (`AstSanitizer`, `SelectionUtil`): `*`, `alias.*`
//! and `struct->*` expanded; unaliased items named: a column keeps its name (in a join,
//! `ALIAS_NAME` when several sources have that column), `s->f` is named `F` (then `F_1`,
//! ...), anything else `KSQL_COL_n`, numbered past any such name the sources already use.

use std::collections::{BTreeMap, BTreeSet};

use super::PlanContext;
use super::flow::{FlowColumn, Role};
use crate::catalog::schema::{ROWOFFSET, ROWPARTITION, ROWTIME};
use crate::error::{Pos, Result, SqlError};
use crate::functions::FunctionKind;
use crate::parser::ast::{Expr, ExprKind, Query, SelectItem};
use crate::types::SqlType;

/// A resolved select item.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectColumn {
    /// The output name.
    pub alias: String,
    /// The expression.
    pub expr: Expr,
    /// Whether the name was written (`AS x`) rather than generated.
    pub explicit: bool,
}

/// Whether the query's projection or HAVING calls an aggregate function.
pub fn has_aggregates(ctx: &PlanContext<'_>, query: &Query) -> bool {
    let mut found = false;
    let mut check = |e: &Expr| {
        visit(e, &mut |x| {
            if let ExprKind::Function { name, .. } = &x.kind
                && ctx.registry.kind(name) == Some(FunctionKind::Aggregate)
            {
                found = true;
            }
        })
    };
    for item in &query.select {
        if let SelectItem::Expr { expr, .. } = item {
            check(expr);
        }
    }
    if let Some(h) = &query.having {
        check(h);
    }
    found
}

/// Calls `f` on an expression and all its sub-expressions.
pub fn visit(e: &Expr, f: &mut impl FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Column { .. } | ExprKind::Literal(_) | ExprKind::TimeUnit(_) => {}
        ExprKind::Negate(x) | ExprKind::Not(x) => visit(x, f),
        ExprKind::IsNull { expr, .. }
        | ExprKind::Cast { expr, .. }
        | ExprKind::Deref { expr, .. } => visit(expr, f),
        ExprKind::Binary { left, right, .. } | ExprKind::IsDistinctFrom { left, right, .. } => {
            visit(left, f);
            visit(right, f);
        }
        ExprKind::Between {
            expr, low, high, ..
        } => {
            visit(expr, f);
            visit(low, f);
            visit(high, f);
        }
        ExprKind::InList { expr, list, .. } => {
            visit(expr, f);
            list.iter().for_each(|x| visit(x, f));
        }
        ExprKind::Like { expr, pattern, .. } => {
            visit(expr, f);
            visit(pattern, f);
        }
        ExprKind::Case {
            operand,
            whens,
            else_result,
        } => {
            if let Some(o) = operand {
                visit(o, f);
            }
            for (w, t) in whens {
                visit(w, f);
                visit(t, f);
            }
            if let Some(e) = else_result {
                visit(e, f);
            }
        }
        ExprKind::Function { args, .. } | ExprKind::Array(args) => {
            args.iter().for_each(|x| visit(x, f))
        }
        ExprKind::Subscript { expr, index } => {
            visit(expr, f);
            visit(index, f);
        }
        ExprKind::Map(entries) => {
            for (k, v) in entries {
                visit(k, f);
                visit(v, f);
            }
        }
        ExprKind::Struct(fields) => fields.iter().for_each(|(_, v)| visit(v, f)),
        ExprKind::Lambda { body, .. } => visit(body, f),
    }
}

/// Generates `KSQL_COL_n` and struct-field names that clash with nothing in the sources.
pub struct AliasGenerator {
    used: BTreeMap<String, BTreeSet<u32>>,
    next: BTreeMap<String, u32>,
}

/// Splits `NAME_12` into `("NAME", Some(12))`.
fn split_number(name: &str) -> (&str, Option<u32>) {
    if let Some((base, n)) = name.rsplit_once('_')
        && !n.is_empty()
        && n.chars().all(|c| c.is_ascii_digit())
        && let Ok(n) = n.parse()
    {
        return (base, Some(n));
    }
    (name, None)
}

impl AliasGenerator {
    /// A generator avoiding the names in `existing`.
    pub fn new<'a>(existing: impl IntoIterator<Item = &'a str>) -> Self {
        let mut used: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for name in existing {
            let (base, n) = split_number(name);
            used.entry(base.to_string())
                .or_default()
                .insert(n.unwrap_or(0));
        }
        Self {
            used,
            next: BTreeMap::new(),
        }
    }

    fn next_for(&mut self, prefix: &str, drop_zero: bool) -> String {
        let used = self.used.get(prefix).cloned().unwrap_or_default();
        let next = self.next.entry(prefix.to_string()).or_insert(0);
        loop {
            let idx = *next;
            *next += 1;
            if !used.contains(&idx) {
                return if idx == 0 && drop_zero {
                    prefix.to_string()
                } else {
                    format!("{prefix}_{idx}")
                };
            }
        }
    }

    /// The next `KSQL_COL_n`.
    pub fn next_column(&mut self) -> String {
        self.next_for("KSQL_COL", false)
    }

    /// A name for an expression: its field name for `s->f`, else `KSQL_COL_n`.
    pub fn alias_for(&mut self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Deref { field, .. } => {
                let (base, _) = split_number(field);
                let base = base.to_string();
                self.next_for(&base, true)
            }
            _ => self.next_column(),
        }
    }
}

/// Resolves the projection over `columns` (the flow's named columns). `sources` lists
/// every source's column names (for generated names); `is_join` turns clashing qualified
/// column names into `ALIAS_NAME`.
pub fn resolve(
    items: &[SelectItem],
    columns: &[FlowColumn],
    sources: &[Vec<String>],
    is_join: bool,
) -> Result<Vec<SelectColumn>> {
    let mut generator = AliasGenerator::new(sources.iter().flatten().map(String::as_str));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for names in sources {
        for n in names.iter().collect::<BTreeSet<_>>() {
            *counts.entry(n.as_str()).or_default() += 1;
        }
    }
    // In a join, pseudo columns are in every source: `S.ROWTIME` is named `S_ROWTIME`
    // (ksqlDB's `DataSourceExtractor.isClashingColumnName`).
    let clashing = |name: &str| {
        counts.get(name).copied().unwrap_or(0) > 1
            || (is_join && [ROWTIME, ROWPARTITION, ROWOFFSET].contains(&name))
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::Wildcard(pos) => {
                for c in columns
                    .iter()
                    .filter(|c| matches!(c.role, Role::Key | Role::Value))
                {
                    out.push(star_column(c, *pos, is_join, &clashing));
                }
            }
            SelectItem::QualifiedWildcard(q) => {
                let matching: Vec<&FlowColumn> = columns
                    .iter()
                    .filter(|c| {
                        c.qualifier.as_deref() == Some(q.value.as_str())
                            && matches!(c.role, Role::Key | Role::Value)
                    })
                    .collect();
                if matching.is_empty()
                    && !columns
                        .iter()
                        .any(|c| c.qualifier.as_deref() == Some(&q.value))
                {
                    return Err(SqlError::at(
                        q.pos,
                        format!("'{}' is not a valid stream/table name or alias.", q.value),
                    ));
                }
                for c in matching {
                    out.push(star_column(c, q.pos, is_join, &clashing));
                }
            }
            SelectItem::StructWildcard(base) => {
                let ty = struct_type(base, columns)?;
                let SqlType::Struct(fields) = ty else {
                    return Err(SqlError::at(
                        base.pos,
                        format!("{} is not a STRUCT", crate::parser::display_expr(base)),
                    ));
                };
                for f in fields {
                    out.push(SelectColumn {
                        alias: f.name.clone(),
                        expr: Expr::new(
                            ExprKind::Deref {
                                expr: Box::new(base.clone()),
                                field: f.name.clone(),
                            },
                            base.pos,
                        ),
                        explicit: false,
                    });
                }
            }
            SelectItem::Expr { expr, alias } => {
                let (alias, explicit) = match alias {
                    Some(a) => (a.value.clone(), true),
                    None => (
                        match &expr.kind {
                            ExprKind::Column {
                                source: Some(s),
                                name,
                            } if is_join && clashing(name) => format!("{s}_{name}"),
                            ExprKind::Column { name, .. } => name.clone(),
                            _ => generator.alias_for(expr),
                        },
                        false,
                    ),
                };
                out.push(SelectColumn {
                    alias,
                    expr: expr.clone(),
                    explicit,
                });
            }
        }
    }
    Ok(out)
}

fn star_column(
    c: &FlowColumn,
    pos: Pos,
    is_join: bool,
    clashing: &impl Fn(&str) -> bool,
) -> SelectColumn {
    // A join's star always names columns after their source (ksqlDB's join schema).
    let _ = clashing;
    let alias = match &c.qualifier {
        Some(q) if is_join => format!("{q}_{}", c.name),
        _ => c.name.clone(),
    };
    SelectColumn {
        alias,
        expr: Expr::new(
            ExprKind::Column {
                source: c.qualifier.clone(),
                name: c.name.clone(),
            },
            pos,
        ),
        explicit: false,
    }
}

/// The type of a struct expression made of column references and dereferences.
fn struct_type(e: &Expr, columns: &[FlowColumn]) -> Result<SqlType> {
    match &e.kind {
        ExprKind::Column { source, name } => columns
            .iter()
            .find(|c| &c.name == name && (source.is_none() || c.qualifier == *source))
            .map(|c| c.ty.clone())
            .ok_or_else(|| SqlError::at(e.pos, format!("Column '{name}' cannot be resolved."))),
        ExprKind::Deref { expr, field } => match struct_type(expr, columns)? {
            SqlType::Struct(fields) => fields
                .iter()
                .find(|f| &f.name == field)
                .map(|f| f.ty.clone())
                .ok_or_else(|| {
                    SqlError::at(e.pos, format!("Field {field} was not found on STRUCT."))
                }),
            _ => Err(SqlError::at(
                e.pos,
                format!("Field {field} is not a STRUCT type."),
            )),
        },
        _ => Err(SqlError::at(
            e.pos,
            "Unsupported struct column expression in ->*",
        )),
    }
}

/// Whether two expressions are the same, ignoring positions and (for one source)
/// qualifiers.
pub fn same_expr(a: &Expr, b: &Expr, ignore_qualifiers: bool) -> bool {
    if ignore_qualifiers {
        strip(a).to_string() == strip(b).to_string()
    } else {
        a.to_string() == b.to_string()
    }
}

/// The expression with column qualifiers removed.
pub fn strip(e: &Expr) -> Expr {
    let mut e = e.clone();
    strip_in_place(&mut e);
    e
}

fn strip_in_place(e: &mut Expr) {
    match &mut e.kind {
        ExprKind::Column { source, .. } => *source = None,
        ExprKind::Literal(_) | ExprKind::TimeUnit(_) => {}
        ExprKind::Negate(x) | ExprKind::Not(x) => strip_in_place(x),
        ExprKind::IsNull { expr, .. }
        | ExprKind::Cast { expr, .. }
        | ExprKind::Deref { expr, .. } => strip_in_place(expr),
        ExprKind::Binary { left, right, .. } | ExprKind::IsDistinctFrom { left, right, .. } => {
            strip_in_place(left);
            strip_in_place(right);
        }
        ExprKind::Between {
            expr, low, high, ..
        } => {
            strip_in_place(expr);
            strip_in_place(low);
            strip_in_place(high);
        }
        ExprKind::InList { expr, list, .. } => {
            strip_in_place(expr);
            list.iter_mut().for_each(strip_in_place);
        }
        ExprKind::Like { expr, pattern, .. } => {
            strip_in_place(expr);
            strip_in_place(pattern);
        }
        ExprKind::Case {
            operand,
            whens,
            else_result,
        } => {
            if let Some(o) = operand {
                strip_in_place(o);
            }
            for (w, t) in whens {
                strip_in_place(w);
                strip_in_place(t);
            }
            if let Some(x) = else_result {
                strip_in_place(x);
            }
        }
        ExprKind::Function { args, .. } | ExprKind::Array(args) => {
            args.iter_mut().for_each(strip_in_place)
        }
        ExprKind::Subscript { expr, index } => {
            strip_in_place(expr);
            strip_in_place(index);
        }
        ExprKind::Map(entries) => {
            for (k, v) in entries {
                strip_in_place(k);
                strip_in_place(v);
            }
        }
        ExprKind::Struct(fields) => fields.iter_mut().for_each(|(_, v)| strip_in_place(v)),
        ExprKind::Lambda { body, .. } => strip_in_place(body),
    }
}

/// The expression with sub-expressions replaced: `f` is asked first for each node
/// (outermost first); a node it does not replace is rebuilt from its rewritten children.
pub fn rewrite(e: &Expr, f: &mut impl FnMut(&Expr) -> Option<Expr>) -> Expr {
    if let Some(replaced) = f(e) {
        return replaced;
    }
    let b = |x: &Expr, f: &mut dyn FnMut(&Expr) -> Option<Expr>| Box::new(rewrite_dyn(x, f));
    let kind = match &e.kind {
        ExprKind::Column { .. } | ExprKind::Literal(_) | ExprKind::TimeUnit(_) => e.kind.clone(),
        ExprKind::Negate(x) => ExprKind::Negate(b(x, f)),
        ExprKind::Not(x) => ExprKind::Not(b(x, f)),
        ExprKind::IsNull { expr, negated } => ExprKind::IsNull {
            expr: b(expr, f),
            negated: *negated,
        },
        ExprKind::Cast { expr, ty } => ExprKind::Cast {
            expr: b(expr, f),
            ty: ty.clone(),
        },
        ExprKind::Deref { expr, field } => ExprKind::Deref {
            expr: b(expr, f),
            field: field.clone(),
        },
        ExprKind::Binary { op, left, right } => ExprKind::Binary {
            op: *op,
            left: b(left, f),
            right: b(right, f),
        },
        ExprKind::IsDistinctFrom {
            left,
            right,
            negated,
        } => ExprKind::IsDistinctFrom {
            left: b(left, f),
            right: b(right, f),
            negated: *negated,
        },
        ExprKind::Between {
            expr,
            low,
            high,
            negated,
        } => ExprKind::Between {
            expr: b(expr, f),
            low: b(low, f),
            high: b(high, f),
            negated: *negated,
        },
        ExprKind::InList {
            expr,
            list,
            negated,
        } => ExprKind::InList {
            expr: b(expr, f),
            list: list.iter().map(|x| rewrite_dyn(x, f)).collect(),
            negated: *negated,
        },
        ExprKind::Like {
            expr,
            pattern,
            escape,
            negated,
        } => ExprKind::Like {
            expr: b(expr, f),
            pattern: b(pattern, f),
            escape: *escape,
            negated: *negated,
        },
        ExprKind::Case {
            operand,
            whens,
            else_result,
        } => ExprKind::Case {
            operand: operand.as_ref().map(|o| b(o, f)),
            whens: whens
                .iter()
                .map(|(w, t)| (rewrite_dyn(w, f), rewrite_dyn(t, f)))
                .collect(),
            else_result: else_result.as_ref().map(|x| b(x, f)),
        },
        ExprKind::Function { name, args, star } => ExprKind::Function {
            name: name.clone(),
            args: args.iter().map(|x| rewrite_dyn(x, f)).collect(),
            star: *star,
        },
        ExprKind::Array(items) => {
            ExprKind::Array(items.iter().map(|x| rewrite_dyn(x, f)).collect())
        }
        ExprKind::Subscript { expr, index } => ExprKind::Subscript {
            expr: b(expr, f),
            index: b(index, f),
        },
        ExprKind::Map(entries) => ExprKind::Map(
            entries
                .iter()
                .map(|(k, v)| (rewrite_dyn(k, f), rewrite_dyn(v, f)))
                .collect(),
        ),
        ExprKind::Struct(fields) => ExprKind::Struct(
            fields
                .iter()
                .map(|(n, v)| (n.clone(), rewrite_dyn(v, f)))
                .collect(),
        ),
        ExprKind::Lambda { params, body } => ExprKind::Lambda {
            params: params.clone(),
            body: b(body, f),
        },
    };
    Expr::new(kind, e.pos)
}

fn rewrite_dyn(e: &Expr, f: &mut dyn FnMut(&Expr) -> Option<Expr>) -> Expr {
    rewrite(e, &mut |x| f(x))
}

/// A column reference to an internal name.
pub fn internal_column(name: &str, pos: Pos) -> Expr {
    Expr::new(
        ExprKind::Column {
            source: None,
            name: name.to_string(),
        },
        pos,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_skip_used_ones() {
        let mut g = AliasGenerator::new(["KSQL_COL_0", "F", "ID"]);
        assert_eq!(g.next_column(), "KSQL_COL_1");
        assert_eq!(g.next_column(), "KSQL_COL_2");
        let deref = |f: &str| {
            Expr::new(
                ExprKind::Deref {
                    expr: Box::new(Expr::new(
                        ExprKind::Column {
                            source: None,
                            name: "S".into(),
                        },
                        Pos::default(),
                    )),
                    field: f.into(),
                },
                Pos::default(),
            )
        };
        assert_eq!(g.alias_for(&deref("F")), "F_1");
        assert_eq!(g.alias_for(&deref("G")), "G");
        assert_eq!(g.alias_for(&deref("G")), "G_1");
    }
}
