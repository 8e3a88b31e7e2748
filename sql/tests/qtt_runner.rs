//! The conformance runner judges, not just runs: a case written here (not one of ksqlDB's)
//! passes with its true expected output, and every way of getting the expectation wrong
//! (a value, a key, a timestamp, a header, a window, the order, a record too many or too
//! few, the topic, the exception, a post condition) makes it fail with a reason naming what
//! differed. The `ksql-test-runner` triples are checked the same way.

use std::path::{Path, PathBuf};

use eddy_sql::qtt::{self, RunResult, Status};
use serde_json::{Value, json};

/// A stream, a filter and a projection: three inputs, two outputs.
fn base_case() -> Value {
    json!({
        "name": "filter and upper-case",
        "statements": [
            "CREATE STREAM INPUT (ID INT KEY, NAME STRING) WITH (kafka_topic='input', value_format='JSON');",
            "CREATE STREAM OUTPUT AS SELECT ID, UCASE(NAME) AS N FROM INPUT WHERE ID > 0;"
        ],
        "inputs": [
            {"topic": "input", "key": 1, "value": {"NAME": "ada"}, "timestamp": 10},
            {"topic": "input", "key": 0, "value": {"NAME": "bob"}, "timestamp": 11},
            {"topic": "input", "key": 2, "value": {"NAME": "cy"}, "timestamp": 12}
        ],
        "outputs": [
            {"topic": "OUTPUT", "key": 1, "value": {"N": "ADA"}, "timestamp": 10},
            {"topic": "OUTPUT", "key": 2, "value": {"N": "CY"}, "timestamp": 12}
        ],
        "post": {
            "sources": [
                {"name": "OUTPUT", "type": "stream", "schema": "ID INT KEY, N STRING"}
            ]
        }
    })
}

/// A tumbling count: windowed keys in the outputs.
fn windowed_case() -> Value {
    json!({
        "name": "tumbling count",
        "statements": [
            "CREATE STREAM INPUT (ID INT KEY, NAME STRING) WITH (kafka_topic='input', value_format='JSON');",
            "CREATE TABLE COUNTS AS SELECT ID, COUNT(*) AS C FROM INPUT WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY ID;"
        ],
        "inputs": [
            {"topic": "input", "key": 1, "value": {"NAME": "a"}, "timestamp": 100},
            {"topic": "input", "key": 1, "value": {"NAME": "b"}, "timestamp": 1100}
        ],
        "outputs": [
            {"topic": "COUNTS", "key": 1, "value": {"C": 1}, "timestamp": 100,
             "window": {"start": 0, "end": 1000, "type": "time"}},
            {"topic": "COUNTS", "key": 1, "value": {"C": 1}, "timestamp": 1100,
             "window": {"start": 1000, "end": 2000, "type": "time"}}
        ]
    })
}

/// A header column copied into the value, and the headers the output record keeps.
fn headers_case() -> Value {
    json!({
        "name": "headers",
        "statements": [
            "CREATE STREAM INPUT (ID INT KEY, H BYTES HEADER('h')) WITH (kafka_topic='input', value_format='JSON');",
            "CREATE STREAM OUTPUT AS SELECT ID, FROM_BYTES(H, 'utf8') AS S FROM INPUT;"
        ],
        "inputs": [
            {"topic": "input", "key": 1, "value": {}, "timestamp": 5,
             "headers": [{"KEY": "h", "VALUE": "aGk="}]}
        ],
        "outputs": [
            {"topic": "OUTPUT", "key": 1, "value": {"S": "hi"}, "timestamp": 5,
             "headers": [{"KEY": "h", "VALUE": "aGk="}]}
        ]
    })
}

/// A statement ksqlDB refuses, with its exception.
fn exception_case() -> Value {
    json!({
        "name": "unknown column",
        "statements": [
            "CREATE STREAM INPUT (ID INT KEY, NAME STRING) WITH (kafka_topic='input', value_format='JSON');",
            "CREATE STREAM OUTPUT AS SELECT ID, NOPE FROM INPUT;"
        ],
        "expectedException": {
            "type": "io.confluent.ksql.util.KsqlStatementException",
            "message": "SELECT column 'NOPE' cannot be resolved."
        }
    })
}

/// Runs one case from a fresh file; returns its single run.
fn run(case: &Value) -> RunResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("runner-test.json");
    std::fs::write(&file, json!({"tests": [case]}).to_string()).expect("write case");
    let results = qtt::run_paths(&[file], |_| {}).expect("the file loads");
    assert_eq!(results.len(), 1, "one run: {results:?}");
    results.into_iter().next().unwrap()
}

fn assert_passes(case: &Value) {
    let r = run(case);
    assert_eq!(r.outcome.status, Status::Pass, "{}", r.line());
}

/// The case must fail, with a reason containing `why`.
fn assert_fails(case: &Value, why: &str) {
    let r = run(case);
    assert_eq!(r.outcome.status, Status::Fail, "must fail: {}", r.line());
    assert!(
        r.outcome.reason.contains(why),
        "the reason should contain {why:?}: {}",
        r.line()
    );
}

/// `case` with `f` applied to a copy.
fn with(case: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut c = case.clone();
    f(&mut c);
    c
}

#[test]
fn true_expectations_pass() {
    assert_passes(&base_case());
    assert_passes(&windowed_case());
    assert_passes(&headers_case());
    assert_passes(&exception_case());
}

#[test]
fn a_wrong_record_fails_the_case() {
    let base = base_case();
    let wrong_value = with(&base, |c| c["outputs"][1]["value"]["N"] = json!("CX"));
    assert_fails(&wrong_value, "CX");
    let wrong_key = with(&base, |c| c["outputs"][0]["key"] = json!(7));
    assert_fails(&wrong_key, "7");
    let wrong_timestamp = with(&base, |c| c["outputs"][1]["timestamp"] = json!(13));
    assert_fails(&wrong_timestamp, "13");
    let extra_field = with(&base, |c| c["outputs"][0]["value"]["EXTRA"] = json!(1));
    assert_fails(&extra_field, "EXTRA");
    let wrong_type = with(&base, |c| c["outputs"][0]["value"]["N"] = json!(1));
    assert_fails(&wrong_type, "OUTPUT");
    let null_value = with(&base, |c| c["outputs"][0]["value"] = Value::Null);
    assert_fails(&null_value, "OUTPUT");
}

#[test]
fn order_counts_and_topics_are_checked() {
    let base = base_case();
    let swapped = with(&base, |c| {
        c["outputs"].as_array_mut().unwrap().swap(0, 1);
    });
    assert_fails(&swapped, "OUTPUT");
    let one_too_few = with(&base, |c| {
        c["outputs"].as_array_mut().unwrap().pop();
    });
    assert_fails(&one_too_few, "OUTPUT");
    let one_too_many = with(&base, |c| {
        let extra = json!({"topic": "OUTPUT", "key": 3, "value": {"N": "DEE"}, "timestamp": 14});
        c["outputs"].as_array_mut().unwrap().push(extra);
    });
    assert_fails(&one_too_many, "OUTPUT");
    let other_topic = with(&base, |c| c["outputs"][1]["topic"] = json!("ELSEWHERE"));
    assert_fails(&other_topic, "ELSEWHERE");
}

#[test]
fn windows_and_headers_are_checked() {
    let windowed = windowed_case();
    let wrong_start = with(&windowed, |c| c["outputs"][1]["window"]["start"] = json!(0));
    assert_fails(&wrong_start, "COUNTS");
    let no_window = with(&windowed, |c| {
        c["outputs"][0].as_object_mut().unwrap().remove("window");
    });
    assert_fails(&no_window, "COUNTS");

    let headers = headers_case();
    let wrong_header = with(&headers, |c| {
        c["outputs"][0]["headers"][0]["VALUE"] = json!("aG8=")
    });
    assert_fails(&wrong_header, "OUTPUT");
    let no_headers = with(&headers, |c| c["outputs"][0]["headers"] = json!([]));
    assert_fails(&no_headers, "OUTPUT");
}

#[test]
fn exceptions_are_checked_by_type_and_message() {
    let case = exception_case();
    let wrong_message = with(&case, |c| {
        c["expectedException"]["message"] = json!("something else entirely")
    });
    assert_fails(&wrong_message, "something else entirely");
    let wrong_type = with(&case, |c| {
        c["expectedException"]["type"] =
            json!("io.confluent.ksql.parser.exception.ParseFailedException")
    });
    assert_fails(&wrong_type, "ParseFailedException");
    // An exception expected of statements that succeed.
    let expected_but_fine = with(&base_case(), |c| {
        c["expectedException"] = json!({"message": "cannot be resolved"});
    });
    assert_fails(&expected_but_fine, "cannot be resolved");
}

#[test]
fn post_conditions_are_checked() {
    let base = base_case();
    let wrong_schema = with(&base, |c| {
        c["post"]["sources"][0]["schema"] = json!("ID INT KEY, N INT")
    });
    assert_fails(&wrong_schema, "OUTPUT");
    let wrong_kind = with(&base, |c| c["post"]["sources"][0]["type"] = json!("table"));
    assert_fails(&wrong_kind, "OUTPUT");
    let missing_source = with(&base, |c| c["post"]["sources"][0]["name"] = json!("GHOST"));
    assert_fails(&missing_source, "GHOST");
}

/// Writes a `ksql-test-runner` triple; returns the paths of statements, input and output.
fn triple(dir: &Path, outputs: Value) -> (PathBuf, PathBuf, PathBuf) {
    let statements = dir.join("statements.sql");
    let input = dir.join("input.json");
    let output = dir.join("output.json");
    std::fs::write(
        &statements,
        "CREATE STREAM INPUT (ID INT KEY, NAME STRING) WITH (kafka_topic='input', value_format='JSON');\n\
         CREATE STREAM OUTPUT AS SELECT ID, LCASE(NAME) AS N FROM INPUT;\n",
    )
    .unwrap();
    let inputs = json!({"inputs": [
        {"topic": "input", "key": 1, "value": {"NAME": "ADA"}, "timestamp": 1}
    ]});
    std::fs::write(&input, inputs.to_string()).unwrap();
    std::fs::write(&output, json!({ "outputs": outputs }).to_string()).unwrap();
    (statements, input, output)
}

#[test]
fn test_runner_triples_pass_only_with_the_true_output() {
    let dir = tempfile::tempdir().unwrap();
    let right = json!([{"topic": "OUTPUT", "key": 1, "value": {"N": "ada"}, "timestamp": 1}]);
    let (s, i, o) = triple(dir.path(), right);
    let outcome = qtt::run_triple(&s, Some(&i), &o).unwrap();
    assert_eq!(outcome.status, Status::Pass, "{}", outcome.reason);

    let wrong = json!([{"topic": "OUTPUT", "key": 1, "value": {"N": "ADA"}, "timestamp": 1}]);
    let (s, i, o) = triple(dir.path(), wrong);
    let outcome = qtt::run_triple(&s, Some(&i), &o).unwrap();
    assert_eq!(outcome.status, Status::Fail, "must fail");
    assert!(outcome.reason.contains("ADA"), "{}", outcome.reason);
}
