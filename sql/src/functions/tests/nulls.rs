//! Tests of COALESCE, IFNULL and NULLIF.

use super::*;

#[test]
fn coalesce_ifnull_nullif() {
    assert_eq!(v("COALESCE(NULL, 2, 3)"), Value::Int(2));
    // ksqlDB's COALESCE is generic (`T coalesce(T, T...)`): the types must be equal.
    assert!(
        plan_error("COALESCE(CAST(NULL AS INT), CAST(5 AS BIGINT))")
            .contains("does not accept parameters (INTEGER, BIGINT)")
    );
    assert_eq!(
        v("COALESCE(CAST(NULL AS BIGINT), CAST(5 AS BIGINT))"),
        Value::BigInt(5)
    );
    assert_eq!(v("COALESCE(CAST(NULL AS STRING))"), Value::Null);
    assert_eq!(v("IFNULL(CAST(NULL AS STRING), 'x')"), s("x"));
    assert_eq!(v("IFNULL('a', 'x')"), s("a"));
    assert_eq!(v("NULLIF(1, 1)"), Value::Null);
    assert_eq!(v("NULLIF(1, 2)"), Value::Int(1));
    assert_eq!(v("NULLIF(CAST(NULL AS INT), 2)"), Value::Null);
    assert!(plan_error("IFNULL(1, 2.5)").contains("does not accept parameters"));
    assert_eq!(ty("IFNULL(1.5, 2.5)"), SqlType::decimal(2, 1).unwrap());
    assert!(plan_error("COALESCE(1, 'a')").contains("does not accept parameters"));
    // Vectorised over any type: the first that is not NULL, NULL when none is.
    assert_eq!(
        v("COALESCE(CAST(NULL AS ARRAY<INT>), ARRAY[1, 2], ARRAY[3])"),
        Value::Array(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(
        v("COALESCE(CAST(NULL AS STRING), CAST(NULL AS STRING), 'c')"),
        s("c")
    );
    assert!(plan_error("COALESCE(NULL, NULL)").contains("infer a type of null"));
}
