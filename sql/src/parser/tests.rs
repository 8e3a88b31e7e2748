//! Parser tests: statements, expressions, names and positions.

use super::ast::*;
use super::parse_one;

fn query(sql: &str) -> Query {
    match parse_one(sql).unwrap().statement {
        Statement::Query(q) => *q,
        Statement::CreateAsSelect(c) => *c.query,
        other => panic!("not a query: {other:?}"),
    }
}

fn select_expr(sql: &str) -> ExprKind {
    let q = query(&format!("SELECT {sql} FROM s;"));
    match &q.select[0] {
        SelectItem::Expr { expr, .. } => expr.kind.clone(),
        other => panic!("{other:?}"),
    }
}

fn col(name: &str) -> ExprKind {
    ExprKind::Column {
        source: None,
        name: name.into(),
    }
}

#[test]
fn create_stream_with_keys_and_properties() {
    let s = parse_one(
        "CREATE OR REPLACE STREAM IF NOT EXISTS pv (id INT KEY, `Page` VARCHAR, \
         h BYTES HEADER('a'), hs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS) \
         WITH (kafka_topic='pv', value_format='json', partitions=3);",
    )
    .unwrap();
    let Statement::CreateSource(c) = s.statement else {
        panic!()
    };
    assert!(c.or_replace && c.if_not_exists && !c.is_source);
    assert_eq!(c.name.value, "PV");
    assert_eq!(c.elements[0].constraint, ColumnConstraint::Key);
    assert_eq!(c.elements[1].name.value, "Page");
    assert_eq!(c.elements[1].ty, AstType::String);
    assert_eq!(
        c.elements[2].constraint,
        ColumnConstraint::Header("a".into())
    );
    assert_eq!(c.elements[3].constraint, ColumnConstraint::Headers);
    assert_eq!(c.properties.get("KAFKA_TOPIC").as_deref(), Some("pv"));
    assert_eq!(c.properties.get("PARTITIONS").as_deref(), Some("3"));
    assert_eq!(s.text.chars().last(), Some(')'));
}

#[test]
fn nested_generic_types() {
    let s = parse_one(
        "CREATE TABLE t (k STRING PRIMARY KEY, a ARRAY<ARRAY<INT>>, m MAP<STRING, ARRAY<DECIMAL(4, 2)>>, \
         s STRUCT<a STRUCT<b INT>>) WITH (kafka_topic='t', format='JSON');",
    )
    .unwrap();
    let Statement::CreateSource(c) = s.statement else {
        panic!()
    };
    assert_eq!(
        c.elements[1].ty,
        AstType::Array(Box::new(AstType::Array(Box::new(AstType::Int))))
    );
    assert_eq!(
        c.elements[2].ty,
        AstType::Map(
            Box::new(AstType::String),
            Box::new(AstType::Array(Box::new(AstType::Decimal(4, 2))))
        )
    );
    assert_eq!(
        c.elements[3].ty,
        AstType::Struct(vec![(
            "A".into(),
            AstType::Struct(vec![("B".into(), AstType::Int)])
        )])
    );
}

#[test]
fn full_query_clauses() {
    let q = query(
        "SELECT a.id, COUNT(*) AS cnt, windowstart FROM s a JOIN t b WITHIN (1 HOUR, 2 MINUTES) \
         GRACE PERIOD 5 SECONDS ON a.id = b.id WINDOW TUMBLING (SIZE 30 SECONDS, GRACE PERIOD 1 SECOND) \
         WHERE a.x > 1 GROUP BY a.id HAVING COUNT(*) > 2 EMIT CHANGES LIMIT 10;",
    );
    assert_eq!(q.from.source.alias_or_name(), "A");
    let join = &q.from.joins[0];
    assert_eq!(join.kind, JoinKind::Inner);
    let within = join.within.unwrap();
    assert_eq!(within.before.as_millis(), 3_600_000);
    assert_eq!(within.after.as_millis(), 120_000);
    assert_eq!(within.grace.unwrap().as_millis(), 5_000);
    assert!(matches!(
        q.window,
        Some(WindowExpr::Tumbling { size, grace: Some(g), .. }) if size.as_secs() == 30 && g.as_secs() == 1
    ));
    assert_eq!(q.group_by.len(), 1);
    assert!(q.having.is_some());
    assert_eq!(q.refinement, Some(Refinement::Changes));
    assert_eq!(q.limit, Some(10));
    let SelectItem::Expr { alias, expr } = &q.select[1] else {
        panic!()
    };
    assert_eq!(alias.as_ref().unwrap().value, "CNT");
    assert!(matches!(&expr.kind, ExprKind::Function { name, star: true, .. } if name == "COUNT"));
}

#[test]
fn ksql_expression_extensions() {
    assert!(matches!(
        select_expr("s->f->g"),
        ExprKind::Deref { field, .. } if field == "G"
    ));
    assert!(matches!(select_expr("STRUCT(a := 1, b := 'x')"), ExprKind::Struct(f) if f.len() == 2));
    assert!(matches!(select_expr("MAP('a' := 1)"), ExprKind::Map(e) if e.len() == 1));
    assert!(matches!(select_expr("ARRAY[1, 2]"), ExprKind::Array(e) if e.len() == 2));
    let ExprKind::Function { args, .. } = select_expr("TRANSFORM(arr, x => x + 1)") else {
        panic!()
    };
    assert!(matches!(&args[1].kind, ExprKind::Lambda { params, .. } if params == &["X"]));
    let ExprKind::Function { args, .. } = select_expr("REDUCE(m, 0, (s, k, v) => s + v)") else {
        panic!()
    };
    assert!(matches!(&args[2].kind, ExprKind::Lambda { params, .. } if params.len() == 3));
    assert!(matches!(
        select_expr("CAST(x AS ARRAY<MAP<STRING, MyType>>)"),
        ExprKind::Cast {
            ty: AstType::Array(_),
            ..
        }
    ));
    assert!(matches!(select_expr("arr[1]"), ExprKind::Subscript { .. }));
    let ExprKind::Function { args, .. } = select_expr("TIMESTAMPADD(MINUTES, 5, ts)") else {
        panic!()
    };
    assert_eq!(args[0].kind, ExprKind::TimeUnit("MINUTES".into()));
    let q = query("SELECT s->* FROM x;");
    assert!(matches!(q.select[0], SelectItem::StructWildcard(_)));
}

#[test]
fn literals_and_case() {
    assert_eq!(select_expr("1"), ExprKind::Literal(Literal::Int(1)));
    assert_eq!(
        select_expr("3000000000"),
        ExprKind::Literal(Literal::BigInt(3_000_000_000))
    );
    assert_eq!(
        select_expr("-2147483648"),
        ExprKind::Literal(Literal::Int(i32::MIN))
    );
    assert_eq!(
        select_expr("1.50"),
        ExprKind::Literal(Literal::Decimal("1.50".into()))
    );
    assert_eq!(
        select_expr("1.5E1"),
        ExprKind::Literal(Literal::Double(15.0))
    );
    assert_eq!(
        select_expr("'it''s'"),
        ExprKind::Literal(Literal::String("it's".into()))
    );
    assert_eq!(select_expr("abc"), col("ABC"));
    assert_eq!(select_expr("\"abc\""), col("abc"));
    assert_eq!(select_expr("`aBc`"), col("aBc"));
    let err = parse_one("SELECT 9223372036854775808 FROM s;").unwrap_err();
    assert!(
        err.to_string()
            .contains("Invalid numeric literal: 9223372036854775808"),
        "{err}"
    );
}

#[test]
fn syntax_errors_name_line_and_column() {
    let err = parse_one("CREATE STREAM s (a INT KEY, b) WITH (kafka_topic='x');").unwrap_err();
    assert!(
        err.to_string().starts_with("line 1:30: Syntax Error"),
        "{err}"
    );
    let err = parse_one("SELECT *\nFROM s\nWHERE;").unwrap_err();
    assert!(err.to_string().starts_with("line 3:"), "{err}");
    let err = parse_one("RUN SCRIPTS 'x';").unwrap_err();
    assert!(err.to_string().contains("Syntax Error"), "{err}");
    let err = parse_one("FOO BAR;").unwrap_err();
    assert!(err.to_string().contains("Unknown statement 'FOO'"), "{err}");
    assert!(parse_one("SELECT * FROM s WHERE id IN ( );").is_err());
    assert!(parse_one("CREATE STREAM s (c0 NULL) WITH (kafka_topic='x');").is_err());
}

#[test]
fn scripts_split_at_semicolons_outside_strings() {
    let statements = super::parse(
        "SET 'auto.offset.reset'='earliest';\n-- a comment; with a semicolon\n\
         INSERT INTO s (a, b) VALUES ('x;y', 2);\nDROP STREAM IF EXISTS s DELETE TOPIC;",
    )
    .unwrap();
    assert_eq!(statements.len(), 3);
    assert!(
        matches!(&statements[1].statement, Statement::InsertValues { values, .. } if values.len() == 2)
    );
    assert_eq!(statements[1].pos.line, 3);
    assert!(matches!(
        statements[2].statement,
        Statement::DropSource {
            if_exists: true,
            delete_topic: true,
            ..
        }
    ));
}

#[test]
fn variables_are_substituted() {
    let mut vars = std::collections::BTreeMap::new();
    vars.insert("TOPIC".to_string(), "pageviews".to_string());
    let sql = super::substitute_variables("PRINT '${topic}';", &vars).unwrap();
    assert_eq!(sql, "PRINT 'pageviews';");
    assert!(super::substitute_variables("PRINT '${other}';", &vars).is_err());
}
