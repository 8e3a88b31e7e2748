//! Unit tests of the join planning: the analysis' errors, keys, and plans of each kind of join.

use crate::plan::tests::{catalog, error, plan, plan_with, schema};

const MULTI: &str =
    "CREATE STREAM S1 (ID INT KEY, V0 BIGINT) WITH (kafka_topic='s1', value_format='JSON');
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
    let sql =
        "CREATE STREAM O AS SELECT * FROM S1 JOIN T2 ON S1.ID = T2.ID JOIN T3 ON S1.ID = T3.ID;";
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
        "CREATE TABLE O AS SELECT SUM(T2.TOTAL) AS S FROM T1 JOIN T2 ON T1.ID = T2.ID;",
    );
    assert!(
        e.contains("does not support aggregate function SUM without a GROUP BY clause"),
        "{e}"
    );
    // A column outside the aggregates is the first thing ksqlDB reports.
    let e = error(
        &m,
        "CREATE TABLE O AS SELECT T1.ID, SUM(T2.TOTAL) AS S FROM T1 JOIN T2 ON T1.ID = T2.ID;",
    );
    assert!(
        e.contains("Non-aggregate SELECT expression(s) not part of GROUP BY: ID"),
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
