//! Tests of the array and map functions.

use super::*;

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (s(k), v.clone())).collect())
}

#[test]
fn concat_contains_length() {
    assert_eq!(v("ARRAY_CONCAT(ARRAY[1, 2], ARRAY[3])"), ints(&[1, 2, 3]));
    assert_eq!(
        v("ARRAY_CONCAT(ARRAY[1], CAST(NULL AS ARRAY<INT>))"),
        ints(&[1])
    );
    assert_eq!(
        v("ARRAY_CONCAT(CAST(NULL AS ARRAY<INT>), CAST(NULL AS ARRAY<INT>))"),
        Value::Null
    );
    assert_eq!(v("ARRAY_CONTAINS(ARRAY[1, 2], 2)"), Value::Boolean(true));
    assert_eq!(
        v("ARRAY_CONTAINS(ARRAY[1, NULL], NULL)"),
        Value::Boolean(true)
    );
    assert_eq!(
        v("ARRAY_CONTAINS(CAST(NULL AS ARRAY<INT>), 1)"),
        Value::Boolean(false)
    );
    assert_eq!(v("ARRAY_LENGTH(ARRAY['a', 'b'])"), Value::Int(2));
    assert_eq!(v("ARRAY_LENGTH(CAST(NULL AS ARRAY<INT>))"), Value::Null);
}

#[test]
fn set_operations_keep_first_occurrence_order() {
    assert_eq!(
        v("ARRAY_DISTINCT(ARRAY[3, 1, 3, NULL, 1, NULL])"),
        Value::Array(vec![Value::Int(3), Value::Int(1), Value::Null])
    );
    assert_eq!(
        v("ARRAY_EXCEPT(ARRAY[1, 2, 2, 3], ARRAY[3])"),
        ints(&[1, 2])
    );
    assert_eq!(
        v("ARRAY_INTERSECT(ARRAY[3, 1, 2, 1], ARRAY[1, 3])"),
        ints(&[3, 1])
    );
    assert_eq!(
        v("ARRAY_UNION(ARRAY[1, 2], ARRAY[2, 4, 1])"),
        ints(&[1, 2, 4])
    );
    assert_eq!(
        v("ARRAY_UNION(ARRAY[1], CAST(NULL AS ARRAY<INT>))"),
        Value::Null
    );
    // Java's Double.equals tells 0.0 from -0.0.
    assert_eq!(
        v("ARRAY_DISTINCT(ARRAY[0.0E0, -0.0E0])"),
        Value::Array(vec![Value::Double(0.0), Value::Double(-0.0)])
    );
}

#[test]
fn join_prints_java_to_string() {
    assert_eq!(v("ARRAY_JOIN(ARRAY[1, NULL, 3])"), s("1,null,3"));
    assert_eq!(v("ARRAY_JOIN(ARRAY[1.5E0, 1E7], '|')"), s("1.5|1.0E7"));
    assert_eq!(
        v("ARRAY_JOIN(ARRAY[true], CAST(NULL AS STRING))"),
        s("true")
    );
    assert_eq!(v("ARRAY_JOIN(ARRAY['a', 'b'], '')"), s("ab"));
    assert_eq!(v("ARRAY_JOIN(ARRAY[1.50, 2])"), s("1.50,2.00"));
    assert!(fails("ARRAY_JOIN(ARRAY[ARRAY[1]])").contains("not supported"));
}

#[test]
fn max_min_sort_remove() {
    assert_eq!(v("ARRAY_MAX(ARRAY[1, NULL, 7, 3])"), Value::Int(7));
    assert_eq!(v("ARRAY_MIN(ARRAY['b', 'a'])"), s("a"));
    assert_eq!(v("ARRAY_MAX(ARRAY[CAST(NULL AS INT)])"), Value::Null);
    assert_eq!(
        v("ARRAY_SORT(ARRAY[3, NULL, 1, 2])"),
        Value::Array(vec![
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
            Value::Null
        ])
    );
    assert_eq!(
        v("ARRAY_SORT(ARRAY[3, NULL, 1], 'desc')"),
        Value::Array(vec![Value::Int(3), Value::Int(1), Value::Null])
    );
    assert_eq!(v("ARRAY_SORT(ARRAY[1], 'sideways')"), Value::Null);
    assert_eq!(v("ARRAY_SORT(ARRAY[1], CAST(NULL AS STRING))"), Value::Null);
    assert_eq!(
        v("ARRAY_REMOVE(ARRAY[1, NULL, 2, 1], 1)"),
        Value::Array(vec![Value::Null, Value::Int(2)])
    );
    assert_eq!(v("ARRAY_REMOVE(ARRAY[1, NULL], NULL)"), ints(&[1]));
    assert!(fails("ARRAY_SORT(ARRAY[ARRAY[2], ARRAY[1]])").contains("not comparable"));
}

#[test]
fn slice_and_series() {
    assert_eq!(v("SLICE(ARRAY[1, 2, 3, 4], 2, 3)"), ints(&[2, 3]));
    assert_eq!(v("SLICE(ARRAY[1, 2, 3], NULL, 2)"), ints(&[1, 2]));
    assert_eq!(v("SLICE(ARRAY[1, 2, 3], 2, NULL)"), ints(&[2, 3]));
    assert_eq!(v("SLICE(ARRAY[1, 2, 3], 0, 2)"), Value::Null);
    assert_eq!(v("SLICE(ARRAY[1, 2, 3], 2, 5)"), Value::Null);
    assert_eq!(v("GENERATE_SERIES(1, 4)"), ints(&[1, 2, 3, 4]));
    assert_eq!(v("GENERATE_SERIES(4, 1)"), ints(&[4, 3, 2, 1]));
    assert_eq!(v("GENERATE_SERIES(1, 6, 2)"), ints(&[1, 3, 5]));
    assert_eq!(v("GENERATE_SERIES(2, 2)"), ints(&[2]));
    assert_eq!(
        v("GENERATE_SERIES(CAST(1 AS BIGINT), CAST(3 AS BIGINT))"),
        Value::Array(vec![Value::BigInt(1), Value::BigInt(2), Value::BigInt(3)])
    );
    assert!(fails("GENERATE_SERIES(1, 5, 0)").contains("cannot be zero"));
    assert!(fails("GENERATE_SERIES(1, 5, -1)").contains("wrong sign"));
}

#[test]
fn maps() {
    assert_eq!(
        v("AS_MAP(ARRAY['b', 'a', 'c'], ARRAY[1, 2])"),
        map(&[
            ("a", Value::Int(2)),
            ("b", Value::Int(1)),
            ("c", Value::Null)
        ])
    );
    assert_eq!(
        ty("AS_MAP(ARRAY['a'], ARRAY[1])"),
        SqlType::map(SqlType::String, SqlType::Int)
    );
    assert_eq!(v("MAP_KEYS(MAP('x' := 1, 'y' := 2))"), strings(&["x", "y"]));
    assert_eq!(v("MAP_VALUES(MAP('x' := 1, 'y' := 2))"), ints(&[1, 2]));
    assert_eq!(
        v("MAP_UNION(MAP('b' := 1, 'a' := 2), MAP('a' := 3, 'c' := 4))"),
        map(&[
            ("a", Value::Int(3)),
            ("b", Value::Int(1)),
            ("c", Value::Int(4))
        ])
    );
    assert_eq!(
        v("MAP_UNION(MAP('a' := 1), CAST(NULL AS MAP<STRING, INT>))"),
        map(&[("a", Value::Int(1))])
    );
    assert_eq!(
        v("MAP_UNION(CAST(NULL AS MAP<STRING, INT>), CAST(NULL AS MAP<STRING, INT>))"),
        Value::Null
    );
}

#[test]
fn entries() {
    assert_eq!(
        v("ENTRIES(MAP('b' := 1, 'a' := 2), true)"),
        Value::Array(vec![
            Value::Struct(vec![s("a"), Value::Int(2)]),
            Value::Struct(vec![s("b"), Value::Int(1)]),
        ])
    );
    assert_eq!(
        ty("ENTRIES(MAP('b' := 'x'), false)"),
        SqlType::array(SqlType::structure([
            ("K", SqlType::String),
            ("V", SqlType::String)
        ]))
    );
    assert_eq!(
        v("ENTRIES(CAST(NULL AS MAP<STRING, BOOLEAN>), false)"),
        Value::Null
    );
}

#[test]
fn series_bounds() {
    assert!(fails("GENERATE_SERIES(0, 2000000000)").contains("more than"));
    assert!(!fails(
        "GENERATE_SERIES(CAST(9223372036854775807 AS BIGINT), CAST(-9223372036854775807 AS BIGINT) - 1, -1)"
    )
    .is_empty());
}
