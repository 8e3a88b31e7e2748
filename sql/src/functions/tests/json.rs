//! Tests of the JSON functions.

use super::*;

#[test]
fn extract_json_field() {
    let doc = r#"'{"a": {"b": [10, {"c": "x"}], "d": null, "e": 1.50, "f": 1e5}, "q.r": true}'"#;
    let get = |path: &str| v(&format!("EXTRACTJSONFIELD({doc}, '{path}')"));
    assert_eq!(get("$.a.b[1].c"), s("x"));
    assert_eq!(get("$.a.b[0]"), s("10"));
    assert_eq!(get("$.a.b"), s(r#"[10,{"c":"x"}]"#));
    assert_eq!(get("$.a.d"), s("null"));
    assert_eq!(get("$.a.e"), s("1.50"));
    // JsonNode.toString() prints BigDecimal.toString().
    assert_eq!(get("$.a.f"), s("1E+5"));
    assert_eq!(get(r#"$["q.r"]"#), s("true"));
    assert_eq!(get("$.missing"), Value::Null);
    assert_eq!(get("$.a.b[5]"), Value::Null);
    assert_eq!(get("$.a.b.x"), Value::Null);
    assert!(fails("EXTRACTJSONFIELD('{}', 'a')").contains("Invalid JSON path"));
    assert!(fails("EXTRACTJSONFIELD('{', '$.a')").contains("Invalid JSON format"));
    assert_eq!(v("EXTRACTJSONFIELD('', '$.a')"), Value::Null);
}

#[test]
fn json_predicates_and_sizes() {
    assert_eq!(v("IS_JSON_STRING('[1, 2]')"), Value::Boolean(true));
    assert_eq!(v("IS_JSON_STRING('\"abc\"')"), Value::Boolean(true));
    assert_eq!(v("IS_JSON_STRING('abc')"), Value::Boolean(false));
    assert_eq!(v("IS_JSON_STRING('')"), Value::Boolean(false));
    assert_eq!(
        v("IS_JSON_STRING(CAST(NULL AS STRING))"),
        Value::Boolean(false)
    );
    assert_eq!(v("JSON_ARRAY_LENGTH('[1, [2, 3]]')"), Value::Int(2));
    assert_eq!(v("JSON_ARRAY_LENGTH('{}')"), Value::Null);
    assert!(fails("JSON_ARRAY_LENGTH('[1,')").contains("Invalid JSON format"));
    assert_eq!(v("JSON_KEYS('{\"b\": 1, \"a\": 2}')"), strings(&["b", "a"]));
    assert_eq!(v("JSON_KEYS('[1]')"), Value::Null);
}

#[test]
fn json_array_contains_streams_like_jackson() {
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[1, 2, 3]', 2)"),
        Value::Boolean(true)
    );
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[1, 2, 3]', 5)"),
        Value::Boolean(false)
    );
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[\"a\", null]', 'a')"),
        Value::Boolean(true)
    );
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[1.5]', 1.5E0)"),
        Value::Boolean(true)
    );
    // An integer token never equals a DOUBLE.
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[1]', 1.0E0)"),
        Value::Boolean(false)
    );
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[true]', true)"),
        Value::Boolean(true)
    );
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[1, null]', CAST(NULL AS INT))"),
        Value::Boolean(true)
    );
    // Elements are compared as they are read: a later syntax error does not matter.
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[1, 2, oops]', 1)"),
        Value::Boolean(true)
    );
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[2, oops, 1]', 1)"),
        Value::Boolean(false)
    );
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('{\"a\": 1}', 1)"),
        Value::Boolean(false)
    );
    assert_eq!(
        v("JSON_ARRAY_CONTAINS('[[1], 2]', 1)"),
        Value::Boolean(false)
    );
}

#[test]
fn json_concat_records_items() {
    assert_eq!(
        v(r#"JSON_CONCAT('{"a": 1}', '{"b": 2, "a": 3}')"#),
        s(r#"{"a":3,"b":2}"#)
    );
    assert_eq!(v("JSON_CONCAT('[1, 2]', '3')"), s("[1,2,3]"));
    assert_eq!(v(r#"JSON_CONCAT('{"a": 1}', '[2]')"#), s(r#"[{"a":1},2]"#));
    // writeValueAsString prints decimals plainly.
    assert_eq!(v("JSON_CONCAT('[1e2]', '[]')"), s("[100]"));
    assert_eq!(v("JSON_CONCAT('[1]', CAST(NULL AS STRING))"), Value::Null);
    assert_eq!(
        v(r#"JSON_RECORDS('{"b": "x", "a": {"c": 1}}')"#),
        Value::Map(vec![(s("a"), s(r#"{"c":1}"#)), (s("b"), s("x"))])
    );
    assert_eq!(v("JSON_RECORDS('[]')"), Value::Null);
    assert_eq!(
        v(r#"JSON_ITEMS('[{"a": 1}, "x", 2]')"#),
        strings(&[r#"{"a":1}"#, "\"x\"", "2"])
    );
    assert!(!fails("JSON_ITEMS('{}')").is_empty());
}

#[test]
fn to_json_string_of_every_type() {
    let out = run(
        &[
            (
                "S",
                SqlType::structure([("Z", SqlType::Int), ("A", SqlType::array(SqlType::Double))]),
            ),
            ("M", SqlType::map(SqlType::String, SqlType::Timestamp)),
            ("D", SqlType::decimal(4, 2).unwrap()),
        ],
        vec![
            vec![
                Value::Struct(vec![
                    Value::Int(1),
                    Value::Array(vec![Value::Double(1.0), Value::Double(f64::NAN)]),
                ]),
                Value::Map(vec![(s("b"), Value::Timestamp(0)), (s("a"), Value::Null)]),
                Value::Decimal(150, 2),
            ],
            vec![Value::Null, Value::Null, Value::Null],
        ],
        "TO_JSON_STRING(S), TO_JSON_STRING(M), TO_JSON_STRING(D)",
    )
    .unwrap();
    assert_eq!(
        out.rows[0],
        vec![
            s(r#"{"A":[1.0,"NaN"],"Z":1}"#),
            s(r#"{"a":null,"b":"1970-01-01T00:00:00.000"}"#),
            s("1.50"),
        ]
    );
    assert_eq!(out.rows[1], vec![s("null"), s("null"), s("null")]);
    assert_eq!(v("TO_JSON_STRING('a\"b')"), s(r#""a\"b""#));
    assert_eq!(
        v("TO_JSON_STRING(PARSE_TIME('16:43:40.5', 'HH:mm:ss.S'))"),
        s("\"16:43:40\"")
    );
    assert_eq!(v("TO_JSON_STRING(FROM_DAYS(1000))"), s("\"1972-09-27\""));
    assert_eq!(v("TO_JSON_STRING(TO_BYTES('!', 'utf8'))"), s("\"IQ==\""));
    assert_eq!(v("TO_JSON_STRING(ARRAY[1, NULL])"), s("[1,null]"));
}

#[test]
fn json_concat_refuses_huge_plain_scales() {
    assert!(fails("JSON_CONCAT('[1e10000]', '[]')").contains("illegal scale"));
    assert_eq!(v("JSON_ITEMS('[1e10000]')"), strings(&["1E+10000"]));
}
