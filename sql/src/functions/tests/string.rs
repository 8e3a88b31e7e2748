//! Tests of the string functions.

use super::*;

#[test]
fn case_length_trim() {
    assert_eq!(v("UCASE('straße')"), s("STRASSE"));
    assert_eq!(v("LCASE('ÀB')"), s("àb"));
    // Java counts UTF-16 code units.
    assert_eq!(v("LEN('a😀')"), Value::Int(3));
    assert_eq!(v("LEN(TO_BYTES('AB01', 'hex'))"), Value::Int(2));
    assert_eq!(v("LEN(CAST(NULL AS STRING))"), Value::Null);
    assert_eq!(v("TRIM('\t x y \n')"), s("x y"));
    assert!(plan_error("LENGTH('a')").contains("Can't find any functions with the name 'LENGTH'"));
}

#[test]
fn concat_skips_nulls() {
    assert_eq!(v("CONCAT('a', CAST(NULL AS STRING), 'b')"), s("ab"));
    assert_eq!(v("CONCAT(CAST(NULL AS STRING))"), s(""));
    assert_eq!(
        v("CONCAT(TO_BYTES('01', 'hex'), TO_BYTES('02', 'hex'))"),
        Value::Bytes(vec![1, 2])
    );
    assert_eq!(v("CONCAT_WS('-', 'a', NULL, 'b')"), s("a-b"));
    assert_eq!(v("CONCAT_WS(CAST(NULL AS STRING), 'a', 'b')"), Value::Null);
    assert!(fails("CONCAT_WS('-')").contains("at least two"));
    assert_eq!(
        v("CONCAT_WS(TO_BYTES('00', 'hex'), TO_BYTES('01', 'hex'), TO_BYTES('02', 'hex'))"),
        Value::Bytes(vec![1, 0, 2])
    );
}

#[test]
fn substring_positions() {
    assert_eq!(v("SUBSTRING('hello', 2)"), s("ello"));
    assert_eq!(v("SUBSTRING('hello', 2, 3)"), s("ell"));
    assert_eq!(v("SUBSTRING('hello', -3)"), s("llo"));
    assert_eq!(v("SUBSTRING('hello', -3, 2)"), s("ll"));
    assert_eq!(v("SUBSTRING('hello', 0)"), s("hello"));
    assert_eq!(v("SUBSTRING('hello', 10)"), s(""));
    assert_eq!(v("SUBSTRING('hello', -10, 2)"), s("he"));
    assert_eq!(v("SUBSTRING('hello', 2, -1)"), s(""));
    assert_eq!(v("SUBSTRING('hello', NULL)"), Value::Null);
    assert_eq!(
        v("SUBSTRING(TO_BYTES('010203', 'hex'), 2)"),
        Value::Bytes(vec![2, 3])
    );
    assert_eq!(ty("SUBSTRING(TO_BYTES('01', 'hex'), 1, 1)"), SqlType::Bytes);
    assert!(
        plan_error("SUBSTRING(1, 2)").contains("does not accept parameters (INTEGER, INTEGER)")
    );
}

#[test]
fn instr_occurrences() {
    assert_eq!(v("INSTR('CORPORATE FLOOR', 'OR')"), Value::Int(2));
    assert_eq!(v("INSTR('CORPORATE FLOOR', 'OR', 3)"), Value::Int(5));
    assert_eq!(v("INSTR('CORPORATE FLOOR', 'OR', 3, 2)"), Value::Int(14));
    assert_eq!(v("INSTR('CORPORATE FLOOR', 'OR', -3, 2)"), Value::Int(2));
    assert_eq!(v("INSTR('CORPORATE FLOOR', 'MISSING')"), Value::Int(0));
    assert_eq!(v("INSTR('abc', 'b', 10)"), Value::Int(0));
    // NULL strings are not found.
    assert_eq!(v("INSTR(CAST(NULL AS STRING), 'a')"), Value::Int(0));
    assert_eq!(v("INSTR('aaa', 'aa', 1, 2)"), Value::Int(2));
}

#[test]
fn padding() {
    assert_eq!(v("LPAD('ab', 5, 'xy')"), s("xyxab"));
    assert_eq!(v("RPAD('ab', 5, 'xy')"), s("abxyx"));
    assert_eq!(v("LPAD('abcdef', 3, 'x')"), s("abc"));
    assert_eq!(v("RPAD('abcdef', 3, 'x')"), s("abc"));
    assert_eq!(v("LPAD('ab', -1, 'x')"), Value::Null);
    assert_eq!(v("LPAD('ab', 4, '')"), Value::Null);
    assert_eq!(v("LPAD('ab', 4, CAST(NULL AS STRING))"), Value::Null);
    assert_eq!(
        v("LPAD(TO_BYTES('01', 'hex'), 3, TO_BYTES('FF', 'hex'))"),
        Value::Bytes(vec![0xff, 0xff, 1])
    );
    assert_eq!(
        v("RPAD(TO_BYTES('0102', 'hex'), 1, TO_BYTES('FF', 'hex'))"),
        Value::Bytes(vec![1])
    );
}

#[test]
fn regexes_are_java_regexes() {
    assert_eq!(v("REGEXP_EXTRACT('\\d+', 'ab12cd345')"), s("12"));
    assert_eq!(v("REGEXP_EXTRACT('(\\w)(\\d)', 'ab12', 2)"), s("1"));
    assert_eq!(v("REGEXP_EXTRACT('(\\w)', 'ab', 5)"), Value::Null);
    assert_eq!(v("REGEXP_EXTRACT('x', 'ab')"), Value::Null);
    assert_eq!(
        v("REGEXP_EXTRACT_ALL('\\d+', 'a1b22c333')"),
        strings(&["1", "22", "333"])
    );
    assert_eq!(
        v("REGEXP_EXTRACT_ALL('(a)|(b)', 'ab', 2)"),
        Value::Array(vec![Value::Null, s("b")])
    );
    assert_eq!(v("REGEXP_REPLACE('a1b2', '(\\d)', '<$1>')"), s("a<1>b<2>"));
    assert_eq!(v("REGEXP_REPLACE('abc', 'x*', '-')"), s("-a-b-c-"));
    assert!(fails("REGEXP_REPLACE('abc', '(', 'x')").contains("Invalid regular expression"));
    assert_eq!(
        v("REGEXP_SPLIT_TO_ARRAY('a1b22c', '\\d')"),
        strings(&["a", "b", "", "c"])
    );
    assert_eq!(
        v("REGEXP_SPLIT_TO_ARRAY('1a1', '\\d')"),
        strings(&["", "a", ""])
    );
    assert_eq!(
        v("REGEXP_SPLIT_TO_ARRAY('abc', '')"),
        strings(&["a", "b", "c"])
    );
    assert_eq!(
        v("REGEXP_SPLIT_TO_ARRAY('a,b,,', ',*')"),
        strings(&["a", "", "b"])
    );
}

#[test]
fn splitting() {
    assert_eq!(
        v("SPLIT('a.b..c.', '.')"),
        strings(&["a", "b", "", "c", ""])
    );
    assert_eq!(v("SPLIT('abc', '')"), strings(&["a", "b", "c"]));
    assert_eq!(v("SPLIT('', ',')"), strings(&[""]));
    assert_eq!(v("SPLIT('abc', 'x')"), strings(&["abc"]));
    assert_eq!(
        v("SPLIT(TO_BYTES('01000200', 'hex'), TO_BYTES('00', 'hex'))"),
        Value::Array(vec![
            Value::Bytes(vec![1]),
            Value::Bytes(vec![2]),
            Value::Bytes(vec![])
        ])
    );
    assert_eq!(
        ty("SPLIT(TO_BYTES('01', 'hex'), TO_BYTES('00', 'hex'))"),
        SqlType::array(SqlType::Bytes)
    );
    let map = v("SPLIT_TO_MAP('b=2;a=1;;c;a=3=x', ';', '=')");
    assert_eq!(map, Value::Map(vec![(s("a"), s("3")), (s("b"), s("2"))]));
    assert_eq!(v("SPLIT_TO_MAP('a=1', '=', '=')"), Value::Null);
}

#[test]
fn initcap_and_replace() {
    assert_eq!(
        v("INITCAP('  hello wORLD\tagain')"),
        s("Hello World\tAgain")
    );
    assert_eq!(v("REPLACE('aXbXc', 'X', '--')"), s("a--b--c"));
    assert_eq!(v("REPLACE('ab', '', '-')"), s("-a-b-"));
}

#[test]
fn masking() {
    assert_eq!(v("MASK('Ab1-é')"), s("Xxn-x"));
    assert_eq!(v("MASK('Ab1-', '*', NULL, '#', NULL)"), s("*b#-"));
    assert_eq!(v("MASK_KEEP_LEFT('Ab1-cd', 2)"), s("Abn-xx"));
    assert_eq!(v("MASK_KEEP_RIGHT('Ab1-cd', 2)"), s("Xxn-cd"));
    assert_eq!(v("MASK_LEFT('Ab1-cd', 2)"), s("Xx1-cd"));
    assert_eq!(v("MASK_RIGHT('Ab1-cd', 10)"), s("Xxn-xx"));
    assert_eq!(v("MASK_LEFT('Ab', 1, 'U', 'L', 'D', 'O')"), s("Ub"));
    assert!(fails("MASK_LEFT('Ab', -1)").contains("non-negative"));
    assert!(fails("MASK('Ab', 'UU', NULL, NULL, NULL)").contains("single character"));
}

#[test]
fn chr_elt_field() {
    assert_eq!(v("CHR(75)"), s("K"));
    assert_eq!(v("CHR(128512)"), s("😀"));
    assert_eq!(v("CHR(-1)"), Value::Null);
    assert_eq!(v("CHR('\\u004b')"), s("K"));
    assert_eq!(v("CHR('\\ud83d\\ude00')"), s("😀"));
    assert_eq!(v("CHR('004b')"), Value::Null);
    assert_eq!(v("ELT(2, 'a', 'b')"), s("b"));
    assert_eq!(v("ELT(3, 'a', 'b')"), Value::Null);
    assert_eq!(v("ELT(0, 'a')"), Value::Null);
    assert_eq!(v("FIELD('b', 'a', 'b')"), Value::Int(2));
    assert_eq!(v("FIELD('c', 'a', 'b')"), Value::Int(0));
    assert_eq!(v("FIELD(CAST(NULL AS STRING), 'a')"), Value::Int(0));
}

#[test]
fn encodings() {
    assert_eq!(v("ENCODE('4b', 'hex', 'utf8')"), s("K"));
    assert_eq!(v("ENCODE('0x4b', 'hex', 'ascii')"), s("K"));
    assert_eq!(v("ENCODE('X''4b''', 'hex', 'base64')"), s("Sw=="));
    assert_eq!(v("ENCODE('K', 'utf8', 'hex')"), s("4b"));
    assert_eq!(v("ENCODE('S w==', 'base64', 'utf8')"), s("K"));
    assert!(fails("ENCODE('K', 'utf8', 'utf16')").contains("Supported input and output"));
    assert_eq!(
        v("TO_BYTES('SGk=', 'base64')"),
        Value::Bytes(b"Hi".to_vec())
    );
    assert_eq!(v("FROM_BYTES(TO_BYTES('Hi', 'utf8'), 'HEX')"), s("4869"));
    assert_eq!(
        v("FROM_BYTES(TO_BYTES('4869', 'hex'), 'base64')"),
        s("SGk=")
    );
    assert!(fails("TO_BYTES('x', 'utf16')").contains("Unknown encoding type 'utf16'"));
    assert!(fails("TO_BYTES('abc', 'hex')").contains("even-length"));
}

#[test]
fn md5_and_uuid() {
    assert_eq!(v("MD5('')"), s("d41d8cd98f00b204e9800998ecf8427e"));
    assert_eq!(
        v("MD5('The quick brown fox jumps over the lazy dog')"),
        s("9e107d9d372bb6826bd81d3542a419d6")
    );
    let Value::String(id) = v("UUID()") else {
        panic!()
    };
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    assert_ne!(v("UUID()"), v("UUID()"));
    assert_eq!(
        v("UUID(TO_BYTES('00112233445566778899aabbccddeeff', 'hex'))"),
        s("00112233-4455-6677-8899-aabbccddeeff")
    );
    assert_eq!(v("UUID(TO_BYTES('00', 'hex'))"), Value::Null);
}

#[test]
fn function_names_in_errors_are_ksqldb_names() {
    assert!(plan_error("LPAD(1, 2, 3)").contains("Function 'LPad' does not accept"));
}

#[test]
fn padding_is_bounded() {
    assert!(fails("LPAD('a', 2147483647, 'x')").contains("longer than"));
}
