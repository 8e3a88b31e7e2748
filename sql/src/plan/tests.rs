//! Planner tests: a catalog made of DDL statements, queries planned against it, and the
//! result's schema or the planner's error checked.

use std::collections::BTreeMap;

use super::{PlanContext, PlannedQuery, Target, plan_query};
use crate::catalog::MetaStore;
use crate::engine::config::Config;
use crate::engine::ddl::source_from_statement;
use crate::error::Result;
use crate::functions::FunctionRegistry;
use crate::parser::ast::Statement;
use crate::parser::parse;

/// A catalog of the sources the DDL statements create.
pub fn catalog(ddl: &str) -> MetaStore {
    let config = Config::with(BTreeMap::new());
    let mut metastore = MetaStore::new();
    for parsed in parse(ddl).expect("DDL parses") {
        let Statement::CreateSource(create) = &parsed.statement else {
            panic!("not a CREATE STREAM|TABLE: {}", parsed.text);
        };
        let source = source_from_statement(create, &parsed.text, &config, metastore.custom_types())
            .expect("DDL is valid");
        metastore.put_source(source);
    }
    metastore
}

/// Plans a `CREATE ... AS SELECT` (or a bare `SELECT`, as a push query) over `metastore`,
/// with partition counts from `partitions` (topic, count).
pub fn plan_with(
    metastore: &MetaStore,
    sql: &str,
    partitions: &[(&str, i32)],
) -> Result<PlannedQuery> {
    let config = Config::with(BTreeMap::new());
    let registry = FunctionRegistry::configured(|_| None);
    let parsed = parse(sql)?.remove(0);
    let (query, target) = match &parsed.statement {
        Statement::CreateAsSelect(c) => (
            (*c.query).clone(),
            Target::Create {
                name: c.name.value.clone(),
                kind: c.kind,
                properties: c.properties.clone(),
                sql: parsed.text.clone(),
            },
        ),
        Statement::Query(q) => ((**q).clone(), Target::Transient),
        other => panic!("not a query: {other:?}"),
    };
    let counts: Vec<(String, i32)> = partitions
        .iter()
        .map(|(t, n)| (t.to_string(), *n))
        .collect();
    let mut ctx = PlanContext::new(metastore, &registry, &config, "CSAS_OUTPUT_0")
        .with_partitions(move |topic| counts.iter().find(|(t, _)| t == topic).map(|(_, n)| *n));
    plan_query(&mut ctx, &query, &target)
}

/// [`plan_with`] without partition counts.
pub fn plan(metastore: &MetaStore, sql: &str) -> Result<PlannedQuery> {
    plan_with(metastore, sql, &[])
}

/// The result's schema as ksqlDB prints it (`A INT KEY, B STRING`).
pub fn schema(planned: &PlannedQuery) -> String {
    planned
        .sink
        .as_ref()
        .map(|s| s.schema.to_string())
        .unwrap_or_default()
}

/// The error message of a query that must fail.
pub fn error(metastore: &MetaStore, sql: &str) -> String {
    match plan(metastore, sql) {
        Ok(_) => panic!("planned: {sql}"),
        Err(e) => e.to_string(),
    }
}
