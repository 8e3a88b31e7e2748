//! Tests of the mathematical functions.

use super::*;

fn d(x: f64) -> Value {
    Value::Double(x)
}

fn dec(unscaled: i128, scale: u8) -> Value {
    Value::Decimal(unscaled, scale)
}

#[test]
fn abs_ceil_floor_keep_types() {
    assert_eq!(v("ABS(-3)"), Value::Int(3));
    assert_eq!(v("ABS(CAST(-2147483648 AS INT))"), Value::Int(i32::MIN));
    assert_eq!(v("ABS(-1.50)"), dec(150, 2));
    assert_eq!(ty("ABS(-1.50)"), SqlType::decimal(3, 2).unwrap());
    assert_eq!(v("ABS(-2.5E0)"), d(2.5));
    assert_eq!(v("CEIL(3)"), Value::Int(3));
    assert_eq!(v("CEIL(1.21)"), dec(200, 2));
    assert_eq!(v("FLOOR(-1.21)"), dec(-200, 2));
    assert_eq!(v("CEIL(-1.5E0)"), d(-1.0));
    assert_eq!(v("FLOOR(1.5E0)"), d(1.0));
}

#[test]
fn round_is_half_up_towards_positive_infinity() {
    assert_eq!(v("ROUND(2.5E0)"), Value::BigInt(3));
    assert_eq!(v("ROUND(-2.5E0)"), Value::BigInt(-2));
    assert_eq!(v("ROUND(-2.6E0)"), Value::BigInt(-3));
    assert_eq!(ty("ROUND(5)"), SqlType::BigInt);
    // BigDecimal.valueOf(1.005) is 1.005, so it rounds up, unlike the binary double.
    assert_eq!(v("ROUND(1.005E0, 2)"), d(1.01));
    assert_eq!(v("ROUND(123.456E0, -1)"), d(120.0));
    assert_eq!(v("ROUND(-1.5)"), dec(-1, 0));
    assert_eq!(ty("ROUND(-1.55)"), SqlType::decimal(1, 0).unwrap());
    assert_eq!(v("ROUND(-1.55, 1)"), dec(-150, 2));
    assert_eq!(ty("ROUND(-1.55, 1)"), SqlType::decimal(3, 2).unwrap());
    assert_eq!(v("ROUND(123.45, -1)"), dec(12000, 2));
    assert_eq!(v("ROUND(CAST(NULL AS DOUBLE))"), Value::Null);
    assert!(fails("ROUND(SQRT(-1), 2)").contains("neither a decimal digit"));
}

#[test]
fn trunc_rounds_down() {
    assert_eq!(v("TRUNC(-2.7E0)"), Value::BigInt(-2));
    assert_eq!(v("TRUNC(1.239E0, 2)"), d(1.23));
    assert_eq!(v("TRUNC(-1.239, 2)"), dec(-1230, 3));
    assert_eq!(v("TRUNC(-1.9)"), dec(-1, 0));
}

#[test]
fn transcendental_functions_are_vectorised_datafusion() {
    // INT and BIGINT overloads cast to DOUBLE first.
    assert_eq!(v("EXP(0)"), d(1.0));
    assert_eq!(v("LN(1)"), d(0.0));
    assert_eq!(v("LN(0)"), d(f64::NEG_INFINITY));
    // LOG with one argument is the natural logarithm, as in ksqlDB.
    assert_eq!(v("LOG(100)"), v("LN(100)"));
    assert_eq!(v("LOG(2, 8)"), d(3.0));
    assert!(matches!(v("LOG(1, 8)"), Value::Double(x) if x.is_nan()));
    assert_eq!(v("DEGREES(1)"), d(57.29577951308232));
    assert_eq!(v("RADIANS(180)"), d(std::f64::consts::PI));
    assert_eq!(v("CBRT(27)"), d(3.0));
    assert_eq!(v("COT(1)"), d(0.6420926159343306));
    assert_eq!(v("ATAN2(1, 1)"), d(std::f64::consts::FRAC_PI_4));
    assert_eq!(v("SIN(CAST(NULL AS INT))"), Value::Null);
    assert!(matches!(v("ACOS(2)"), Value::Double(x) if x.is_nan()));
    assert_eq!(v("PI()"), d(std::f64::consts::PI));
    let Value::Double(r) = v("RANDOM()") else {
        panic!()
    };
    assert!((0.0..1.0).contains(&r));
    let out = run(
        &[("X", SqlType::BigInt)],
        vec![vec![Value::BigInt(0)], vec![Value::Null]],
        "SIN(X), RANDOM()",
    )
    .unwrap();
    assert_eq!(out.rows[0][0], d(0.0));
    assert_eq!(out.rows[1][0], Value::Null);
    assert_ne!(out.rows[0][1], out.rows[1][1]);
}

#[test]
fn sqrt_and_power_follow_java() {
    assert_eq!(v("SQRT(16)"), d(4.0));
    // Java gives NaN for a negative number (DataFusion's SQRT fails the batch).
    assert!(matches!(v("SQRT(-1)"), Value::Double(x) if x.is_nan()));
    assert_eq!(v("POWER(2, 10)"), d(1024.0));
    assert!(matches!(v("POWER(1, SQRT(-1))"), Value::Double(x) if x.is_nan()));
    assert_eq!(v("POWER(SQRT(-1), 0)"), d(1.0));
}

#[test]
fn sign() {
    assert_eq!(v("SIGN(-5)"), Value::Int(-1));
    assert_eq!(v("SIGN(CAST(7 AS BIGINT))"), Value::Int(1));
    assert_eq!(v("SIGN(-0.0E0)"), Value::Int(0));
    assert_eq!(v("SIGN(SQRT(-1))"), Value::Int(0));
    assert_eq!(v("SIGN(-2.5)"), Value::Int(-1));
}

#[test]
fn greatest_and_least_have_ksqldbs_overloads() {
    assert_eq!(v("GREATEST(1, 5, 3)"), Value::Int(5));
    // INT and BIGINT fit the BIGINT, DECIMAL and DOUBLE overloads alike: ksqlDB refuses.
    assert!(
        plan_error("GREATEST(1, CAST(5 AS BIGINT))")
            .contains("cannot be resolved due to ambiguous method parameters (INTEGER, BIGINT)")
    );
    assert_eq!(
        v("GREATEST(CAST(1 AS BIGINT), CAST(5 AS BIGINT))"),
        Value::BigInt(5)
    );
    assert_eq!(v("GREATEST(1, 2.5E0)"), d(2.5));
    assert_eq!(v("LEAST(1.5, 1.25)"), dec(125, 2));
    assert_eq!(ty("LEAST(1.5, 1.25)"), SqlType::decimal(3, 2).unwrap());
    assert_eq!(v("GREATEST(NULL, 2, NULL)"), Value::Int(2));
    assert_eq!(v("LEAST('b', 'a', 'c')"), s("a"));
    assert_eq!(v("GREATEST(CAST(NULL AS INT), NULL)"), Value::Null);
    assert_eq!(v("LEAST(7)"), Value::Int(7));
    assert!(plan_error("GREATEST(1, 'a')").contains("does not accept parameters"));
    assert!(
        plan_error("GREATEST(true, false)")
            .contains("does not accept parameters (BOOLEAN, BOOLEAN)")
    );
}

#[test]
fn huge_rounding_places_are_bounded() {
    assert_eq!(v("ROUND(1.5E0, 2147483647)"), Value::Double(1.5));
    assert_eq!(v("ROUND(1.5E0, -2147483647)"), Value::Double(0.0));
    assert_eq!(v("ROUND(1.55, 2147483647)"), Value::Decimal(155, 2));
}
