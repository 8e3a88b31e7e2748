//! Tests of the URL, bytes-conversion and geography functions.

use super::*;

const URL: &str =
    "'https://docs.confluent.io:8080/current/ksql%20db/index.html?query=a%20b&flag&x=1#anchor%21'";

#[test]
fn url_parts() {
    let f = |function: &str| v(&format!("{function}({URL})"));
    assert_eq!(f("URL_EXTRACT_PROTOCOL"), s("https"));
    assert_eq!(f("URL_EXTRACT_HOST"), s("docs.confluent.io"));
    assert_eq!(f("URL_EXTRACT_PORT"), Value::Int(8080));
    assert_eq!(f("URL_EXTRACT_PATH"), s("/current/ksql db/index.html"));
    assert_eq!(f("URL_EXTRACT_QUERY"), s("query=a b&flag&x=1"));
    assert_eq!(f("URL_EXTRACT_FRAGMENT"), s("anchor!"));
    assert_eq!(
        v(&format!("URL_EXTRACT_PARAMETER({URL}, 'query')")),
        s("a b")
    );
    assert_eq!(v(&format!("URL_EXTRACT_PARAMETER({URL}, 'flag')")), s(""));
    assert_eq!(
        v(&format!("URL_EXTRACT_PARAMETER({URL}, 'none')")),
        Value::Null
    );
    assert_eq!(v("URL_EXTRACT_PORT('http://example.com')"), Value::Null);
    assert_eq!(v("URL_EXTRACT_QUERY('http://example.com')"), Value::Null);
    assert!(fails("URL_EXTRACT_HOST('http://a b')").contains("invalid syntax"));
}

#[test]
fn url_encoding() {
    assert_eq!(
        v("URL_ENCODE_PARAM('a b/c?d=é')"),
        s("a+b%2Fc%3Fd%3D%C3%A9")
    );
    assert_eq!(
        v("URL_DECODE_PARAM('a+b%2Fc%3Fd%3D%C3%A9')"),
        s("a b/c?d=é")
    );
    assert!(fails("URL_DECODE_PARAM('%')").contains("Incomplete trailing escape"));
}

#[test]
fn numbers_from_bytes() {
    assert_eq!(
        v("INT_FROM_BYTES(TO_BYTES('000004D2', 'hex'))"),
        Value::Int(1234)
    );
    assert_eq!(
        v("INT_FROM_BYTES(TO_BYTES('D2040000', 'hex'), 'little_endian')"),
        Value::Int(1234)
    );
    assert_eq!(
        v("BIGINT_FROM_BYTES(TO_BYTES('FFFFFFFFFFFFFFFF', 'hex'))"),
        Value::BigInt(-1)
    );
    assert_eq!(
        v("DOUBLE_FROM_BYTES(TO_BYTES('3FF8000000000000', 'hex'))"),
        Value::Double(1.5)
    );
    assert!(fails("INT_FROM_BYTES(TO_BYTES('00', 'hex'))").contains("must be equal to 4"));
    assert!(fails("INT_FROM_BYTES(TO_BYTES('00000000', 'hex'), 'middle')").contains("Byte order"));
    assert_eq!(v("INT_FROM_BYTES(CAST(NULL AS BYTES))"), Value::Null);
}

#[test]
fn geo_distance() {
    // What ksqlDB's formula gives on JDK 8 (toRadians divides by 180, then multiplies by
    // PI; JDK 17 gives 8634.659796579546).
    let km = 8634.659796579544;
    assert_eq!(
        v("GEO_DISTANCE(37.4439, -122.1663, 51.5257, -0.1122)"),
        Value::Double(km)
    );
    let Value::Double(mi) = v("GEO_DISTANCE(37.4439, -122.1663, 51.5257, -0.1122, 'MI')") else {
        panic!()
    };
    assert!((mi - km * 3959.0 / 6371.0).abs() < 1e-6);
    // INT and DECIMAL arguments widen to DOUBLE.
    assert_eq!(v("GEO_DISTANCE(0, 0, 0, 0)"), Value::Double(0.0));
    assert!(fails("GEO_DISTANCE(91, 0, 0, 0)").contains("latitude"));
    assert!(fails("GEO_DISTANCE(0, 0, 0, 0, 'parsecs')").contains("units parameter"));
    assert!(
        plan_error("GEO_DISTANCE('a', 0, 0, 0)")
            .contains("Function 'geo_distance' does not accept parameters")
    );
}
