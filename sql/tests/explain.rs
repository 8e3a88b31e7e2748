//! `EXPLAIN` output, snapshot-tested with insta: the execution steps, the topology (as
//! Kafka Streams describes one) and the vectorised stages' DataFusion plans of the main
//! kinds of query. A planner change that alters a plan shows up here as a diff to review
//! (`cargo insta review`), not as silently different topologies.

#[macro_use]
mod common;

use common::TestEngine;
use eddy_sql::engine::StatementResult;
use eddy_sql::engine::describe::QueryDescription;

const SOURCES: &str = "
    CREATE STREAM pageviews (user_id STRING KEY, page STRING, region STRING, ms BIGINT)
      WITH (kafka_topic='pageviews', value_format='JSON', partitions=2);
    CREATE TABLE users (id STRING PRIMARY KEY, name STRING, region STRING)
      WITH (kafka_topic='users', value_format='JSON', partitions=2);
";

fn explain(sql: &str) -> QueryDescription {
    let dir = tempfile::tempdir().unwrap();
    let mut t = TestEngine::embedded(dir.path());
    t.run(SOURCES);
    let results = t.engine.execute(&format!("EXPLAIN {sql}")).unwrap();
    match results.into_iter().next() {
        Some(StatementResult::Query(q)) => *q,
        other => panic!("EXPLAIN gave {other:?}"),
    }
}

fn render(q: &QueryDescription) -> String {
    let mut out = String::new();
    out.push_str(&format!("sources: {:?}\nsinks: {:?}\n", q.sources, q.sinks));
    out.push_str("fields:\n");
    for f in &q.fields {
        out.push_str(&format!(
            "  {} {}{}\n",
            f.name,
            f.ty,
            f.kind
                .as_deref()
                .map(|k| format!(" {k}"))
                .unwrap_or_default()
        ));
    }
    out.push_str("execution plan:\n");
    for s in &q.execution_plan {
        out.push_str(&format!("  {s}\n"));
    }
    out.push_str("stages:\n");
    for (name, plan) in &q.stages {
        out.push_str(&format!("  {name}:\n"));
        for line in plan.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out.push_str("topology:\n");
    out.push_str(&q.topology);
    out
}

#[test]
fn projection_and_filter() {
    let q = explain(
        "CREATE STREAM eu AS SELECT user_id, UCASE(page) AS page FROM pageviews WHERE region = 'eu';",
    );
    insta::assert_snapshot!(render(&q));
}

#[test]
fn windowed_aggregation() {
    let q = explain(
        "CREATE TABLE per_minute AS SELECT region, COUNT(*) AS views FROM pageviews \
         WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region EMIT CHANGES;",
    );
    insta::assert_snapshot!(render(&q));
}

#[test]
fn stream_table_join() {
    let q = explain(
        "CREATE STREAM enriched AS SELECT p.user_id, p.page, u.name FROM pageviews p \
         JOIN users u ON p.user_id = u.id;",
    );
    insta::assert_snapshot!(render(&q));
}

#[test]
fn push_query_with_partition_by() {
    let q = explain("SELECT region, page FROM pageviews PARTITION BY region EMIT CHANGES;");
    insta::assert_snapshot!(render(&q));
}
