//! The checks ksqlDB makes while it prepares a query, before analysing it: qualifiers must
//! name a source of the query (`AstBuilder.throwOnUnknownNameOrAlias`, reported as
//! "Failed to prepare statement: ..."), and in a join an unqualified column must belong to
//! one source only (`AstSanitizer`, reported as "Exception while preparing statement: ...").
//! Both walk the query in its textual order: projection, FROM and joins, WHERE, GROUP BY,
//! PARTITION BY, HAVING.

use super::select::visit;
use crate::catalog::DataSource;
use crate::catalog::schema::{ROWOFFSET, ROWPARTITION, ROWTIME, WINDOWEND, WINDOWSTART};
use crate::error::{Pos, Result, SqlError};
use crate::parser::ast::{Expr, ExprKind, Query, SelectItem};

/// A clause's expressions in the order ksqlDB visits them, with the qualified wildcards'
/// qualifiers.
fn expressions(query: &Query) -> (Vec<&Expr>, Vec<(&str, Pos)>) {
    let mut exprs = Vec::new();
    let mut wildcards = Vec::new();
    for item in &query.select {
        match item {
            SelectItem::Expr { expr, .. } | SelectItem::StructWildcard(expr) => exprs.push(expr),
            SelectItem::QualifiedWildcard(q) => wildcards.push((q.value.as_str(), q.pos)),
            SelectItem::Wildcard(_) => {}
        }
    }
    exprs.extend(query.from.joins.iter().map(|j| &j.on));
    exprs.extend(&query.where_clause);
    exprs.extend(&query.group_by);
    exprs.extend(&query.partition_by);
    exprs.extend(&query.having);
    (exprs, wildcards)
}

/// The column references of an expression, lambda parameters left out: `(qualifier, name,
/// position)`.
fn column_refs(e: &Expr) -> Vec<(Option<String>, String, Pos)> {
    // ksqlDB refuses lambda parameters named like columns, so a name that is a parameter
    // anywhere in the expression is never a column.
    let mut params: Vec<String> = Vec::new();
    visit(e, &mut |x| {
        if let ExprKind::Lambda { params: p, .. } = &x.kind {
            params.extend(p.iter().cloned());
        }
    });
    let mut out = Vec::new();
    visit(e, &mut |x| {
        if let ExprKind::Column { source, name } = &x.kind
            && (source.is_some() || !params.contains(name))
        {
            out.push((source.clone(), name.clone(), x.pos));
        }
    });
    out
}

/// Every qualifier names a source of the query (by name or alias).
pub fn check_qualifiers(query: &Query) -> Result<()> {
    let mut known: Vec<&str> = vec![query.from.source.name.value.as_str()];
    known.extend(query.from.source.alias.as_ref().map(|a| a.value.as_str()));
    for j in &query.from.joins {
        known.push(j.source.name.value.as_str());
        known.extend(j.source.alias.as_ref().map(|a| a.value.as_str()));
    }
    let unknown = |q: &str| {
        SqlError::semantic(format!(
            "Failed to prepare statement: '{q}' is not a valid stream/table name or alias."
        ))
    };
    let (exprs, wildcards) = expressions(query);
    for (q, _) in wildcards {
        if !known.contains(&q) {
            return Err(unknown(q));
        }
    }
    for e in exprs {
        for (q, _, _) in column_refs(e) {
            if let Some(q) = q
                && !known.contains(&q.as_str())
            {
                return Err(unknown(&q));
            }
        }
    }
    Ok(())
}

/// Whether a source has a column that an unqualified reference may mean (ksqlDB's
/// `DataSourceExtractor.hasColumn`: pseudo columns are in every source, window bounds in
/// windowed ones).
fn has_column(source: &DataSource, name: &str) -> bool {
    [ROWTIME, ROWPARTITION, ROWOFFSET].contains(&name)
        || (source.window.is_some() && (name == WINDOWSTART || name == WINDOWEND))
        || source.schema.find(name).is_some()
}

/// In a join, no unqualified column reference may belong to more than one source.
pub fn check_ambiguous_columns(query: &Query, sources: &[(&str, &DataSource)]) -> Result<()> {
    let (exprs, _) = expressions(query);
    for e in exprs {
        for (q, name, pos) in column_refs(e) {
            if q.is_some() {
                continue;
            }
            let mut owners: Vec<String> = sources
                .iter()
                .filter(|(_, s)| has_column(s, &name))
                .map(|(alias, _)| format!("{alias}.{name}"))
                .collect();
            if owners.len() > 1 {
                owners.sort();
                let at = if pos.is_known() {
                    format!("Line: {}, Col: {}: ", pos.line, pos.column)
                } else {
                    String::new()
                };
                return Err(SqlError::semantic(format!(
                    "Exception while preparing statement: {at}Column '{name}' is ambiguous. Could be {}.",
                    super::stream::join_grammatical(&owners, "or")
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::plan::tests::{catalog, error, plan};

    const DDL: &str =
        "CREATE TABLE L (ID BIGINT PRIMARY KEY, F1 BIGINT) WITH (kafka_topic='l', format='JSON');
         CREATE TABLE R (ID BIGINT PRIMARY KEY, F2 BIGINT) WITH (kafka_topic='r', format='JSON');";

    #[test]
    fn unknown_qualifiers_come_before_ambiguous_columns() {
        let m = catalog(DDL);
        let e = error(
            &m,
            "CREATE TABLE O AS SELECT F1, F2 FROM L JOIN R ON ID = UNKNOWN.ID;",
        );
        assert!(
            e.contains(
                "Failed to prepare statement: 'UNKNOWN' is not a valid stream/table name or alias."
            ),
            "{e}"
        );
        let e = error(
            &m,
            "CREATE TABLE O AS SELECT X.ID FROM L JOIN R ON L.ID = R.ID;",
        );
        assert!(
            e.contains("'X' is not a valid stream/table name or alias."),
            "{e}"
        );
    }

    #[test]
    fn ambiguous_columns_of_joins() {
        let m = catalog(DDL);
        let e = error(
            &m,
            "CREATE TABLE O AS SELECT F1, F2 FROM L JOIN R ON ID = ID;",
        );
        assert!(
            e.contains("Exception while preparing statement: Line: 1, Col: 50: Column 'ID' is ambiguous. Could be L.ID or R.ID."),
            "{e}"
        );
        // Pseudo columns are in every source.
        let e = error(
            &m,
            "CREATE TABLE O AS SELECT L.ID, ROWTIME AS T FROM L JOIN R ON L.ID = R.ID;",
        );
        assert!(
            e.contains("Column 'ROWTIME' is ambiguous. Could be L.ROWTIME or R.ROWTIME."),
            "{e}"
        );
        // Lambda parameters are not columns.
        let m = catalog(
            "CREATE TABLE L (ID BIGINT PRIMARY KEY, A ARRAY<INT>) WITH (kafka_topic='l', format='JSON');
             CREATE TABLE R (ID BIGINT PRIMARY KEY, X INT) WITH (kafka_topic='r', format='JSON');",
        );
        let sql = "CREATE TABLE O AS SELECT L.ID, TRANSFORM(A, V => V + 1) AS B FROM L JOIN R ON L.ID = R.ID;";
        assert!(plan(&m, sql).is_ok());
    }
}
