//! Running one conformance run as ksqlDB's `TestExecutor` does: topics created up front,
//! statements executed by a real engine, inputs written to the stub Kafka, then every
//! persistent query, in statement order, run in a `TopologyTestDriver` fed the inputs for
//! its source topics and whatever earlier queries wrote to its other source topics; the
//! outputs checked per topic, in order, with exact counts, keys, values, windows,
//! timestamps and headers; `post` conditions checked against the catalog.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use eddy_streams::TopologyTestDriver;
use eddy_streams::topology::TopicName;

use super::compare::{Actual, matches};
use super::model::{ExpectedException, TestRecord, TestRun};
use super::stub::{RecordingRunner, StubKafka, StubRecord};
use crate::catalog::{DataSource, MetaStore, WindowType};
use crate::engine::{Config, Engine};
use crate::error::{ErrorKind, SqlError};
use crate::parser::ast::Statement;
use crate::serde::Format;
use crate::serde::json_text::{Json, parse_json};
use crate::types::SqlType;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It did what ksqlDB does.
    Pass,
    /// It did not.
    Fail,
    /// It needs something Eddy does not have (a schema registry format).
    Unsupported,
}

impl Status {
    /// The word the runner prints.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Unsupported => "UNSUPPORTED",
        }
    }
}

/// A run's outcome and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status.
    pub status: Status,
    /// Why (empty for passes).
    pub reason: String,
}

impl Outcome {
    fn pass() -> Self {
        Self {
            status: Status::Pass,
            reason: String::new(),
        }
    }

    fn fail(reason: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            reason: reason.into(),
        }
    }

    fn unsupported(reason: impl Into<String>) -> Self {
        Self {
            status: Status::Unsupported,
            reason: reason.into(),
        }
    }
}

/// Formats Eddy does not support yet, and that make a run unsupported.
const REGISTRY_FORMATS: &[&str] = &["AVRO", "PROTOBUF_NOSR", "PROTOBUF", "JSON_SR"];

/// Whether an unsupported run's reason is a schema-registry format.
pub fn needs_registry(reason: &str) -> bool {
    reason.ends_with("format needs a schema registry")
}

fn registry_format(run: &TestRun) -> Option<&'static str> {
    let upper: Vec<String> = run
        .statements
        .iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    REGISTRY_FORMATS.iter().copied().find(|f| {
        upper
            .iter()
            .any(|s| s.contains(&format!("'{f}'")) || s.contains(&format!("\"{f}\"")))
    })
}

/// Functions ksqlDB's test runner loads from its own test sources (they are not part of
/// ksqlDB): cases calling them test the runner's fixtures, not the engine.
const TEST_ONLY_FUNCTIONS: &[&str] = &[
    "BAD_UDF",
    "GENERIC_VAR_ARG",
    "MID_VAR_ARG",
    "NEXPLODE",
    "OBJ_COL_ARG",
    "TEST_UDAF",
    "TEST_UDF",
    "TEST_UDTF",
    "THROWING_UDTF",
    "VAR_ARG",
    "WHENCONDITION",
    "WHENRESULT",
];

fn test_only_function(run: &TestRun) -> Option<&'static str> {
    let calls = |s: &str, f: &str| {
        let upper = s.to_ascii_uppercase();
        upper.match_indices(f).any(|(i, _)| {
            let before = upper[..i].chars().next_back();
            let after = upper[i + f.len()..].trim_start().starts_with('(');
            after && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    TEST_ONLY_FUNCTIONS
        .iter()
        .copied()
        .find(|f| run.statements.iter().any(|s| calls(s, f)))
}

/// Runs one conformance run on a thread of its own with a large stack (deeply nested
/// expressions recurse deeply, more so in debug builds).
pub fn run_in_thread(test: &TestRun) -> Outcome {
    let test = test.clone();
    std::thread::Builder::new()
        .name("qtt-run".into())
        .stack_size(256 * 1024 * 1024)
        .spawn(move || run(&test))
        .and_then(|h| {
            h.join()
                .map_err(|_| std::io::Error::other("the run's thread panicked"))
        })
        .unwrap_or_else(|e| Outcome::fail(format!("could not run: {e}")))
}

/// Runs one conformance run; never panics (a panic is a failure).
pub fn run(test: &TestRun) -> Outcome {
    if let Some(f) = registry_format(test) {
        return Outcome::unsupported(format!("the {f} format needs a schema registry"));
    }
    if let Some(f) = test_only_function(test) {
        return Outcome::unsupported(format!(
            "calls {f}, a function of ksqlDB's test sources rather than of ksqlDB"
        ));
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_inner(test))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::fail(format!("panicked: {message}"))
        }
    }
}

/// The configuration ksqlDB's test executor runs with, plus the case's properties.
fn config(test: &TestRun) -> Config {
    let mut values = BTreeMap::new();
    values.insert(
        "ksql.service.id".to_string(),
        "some.ksql.service.id".to_string(),
    );
    values.insert("auto.offset.reset".to_string(), "earliest".to_string());
    values.insert("cache.max.bytes.buffering".to_string(), "0".to_string());
    for (k, v) in &test.properties {
        values.insert(k.clone(), v.clone());
    }
    Config::with(values)
}

/// The partitions of a topic the test does not size (ksqlDB's `Topic.DEFAULT_PARTITIONS`).
/// The stub keeps one log per topic whatever the count; the count matters to the
/// planner's co-partitioning checks.
const DEFAULT_PARTITIONS: i32 = 4;

/// Topics the run needs before its statements run (ksqlDB's `getAllTopics`).
fn create_topics(test: &TestRun, kafka: &StubKafka) {
    for (name, partitions) in &test.topics {
        kafka.ensure(name, partitions.unwrap_or(DEFAULT_PARTITIONS));
    }
    for sql in &test.statements {
        let Ok(statements) = crate::parser::parse(sql) else {
            continue;
        };
        for s in statements {
            if let Statement::CreateSource(c) = &s.statement
                && let Some(topic) = c.properties.get("KAFKA_TOPIC")
            {
                let partitions = c
                    .properties
                    .get("PARTITIONS")
                    .and_then(|p| p.trim().parse().ok())
                    .unwrap_or(DEFAULT_PARTITIONS);
                kafka.ensure(&topic, partitions);
            }
        }
    }
    for r in test.inputs.iter().chain(&test.outputs) {
        kafka.ensure(&r.topic, DEFAULT_PARTITIONS);
    }
}

/// Whether an error is what the case expects.
fn exception_matches(expected: &ExpectedException, error: &SqlError, runtime: bool) -> bool {
    let class_ok = match expected.class.as_deref() {
        None => true,
        Some(c) if c.ends_with("ParseFailedException") => error.kind() == ErrorKind::Parse,
        Some(c) if c.ends_with("KsqlStatementException") => {
            matches!(error.kind(), ErrorKind::Parse | ErrorKind::Statement)
        }
        Some(c) if c.ends_with("StreamsException") => runtime,
        Some(_) => true,
    };
    let message_ok = match &expected.message {
        None => true,
        Some(m) => {
            let wanted = normalise_message(m);
            let actual = normalise_message(&error.to_string());
            wanted.is_empty() || actual.contains(&wanted)
        }
    };
    class_ok && message_ok
}

/// Drops what ksqlDB adds around messages that Eddy does not: a `line L:C: ` prefix, a
/// `Failed to prepare statement: ` prefix and a trailing `Statement: ...`.
fn normalise_message(m: &str) -> String {
    let mut m = m.trim();
    if let Some(i) = m.find("\nStatement:") {
        m = &m[..i];
    }
    let re = regex::Regex::new(r"^line \d+:\d+: ").ok();
    let mut out = m.to_string();
    for _ in 0..2 {
        if let Some(re) = &re {
            out = re.replace(&out, "").to_string();
        }
        out = out
            .strip_prefix("Failed to prepare statement: ")
            .map(str::to_string)
            .unwrap_or(out);
    }
    out.trim().to_string()
}

/// The source whose topic is `topic` (the first defined).
fn source_for<'a>(metastore: &'a MetaStore, topic: &str) -> Option<&'a DataSource> {
    metastore.sources().find(|s| s.topic == topic)
}

fn kafka_bytes(json: &Json, ty: &SqlType) -> Result<Option<Vec<u8>>, String> {
    if json.is_null() {
        return Ok(None);
    }
    let number = |j: &Json| match j {
        Json::Number(n) | Json::String(n) => Some(n.clone()),
        _ => None,
    };
    Ok(Some(match ty {
        SqlType::Int => number(json)
            .and_then(|n| n.parse::<i32>().ok())
            .ok_or_else(|| format!("cannot serialize {} as INT", json.to_text()))?
            .to_be_bytes()
            .to_vec(),
        SqlType::BigInt => number(json)
            .and_then(|n| {
                n.parse::<f64>()
                    .ok()
                    .map(|f| n.parse::<i64>().unwrap_or(f as i64))
            })
            .ok_or_else(|| format!("cannot serialize {} as BIGINT", json.to_text()))?
            .to_be_bytes()
            .to_vec(),
        SqlType::Double => number(json)
            .and_then(|n| n.parse::<f64>().ok())
            .ok_or_else(|| format!("cannot serialize {} as DOUBLE", json.to_text()))?
            .to_be_bytes()
            .to_vec(),
        SqlType::Bytes => match json {
            Json::String(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| e.to_string())?,
            _ => return Err(format!("cannot serialize {} as BYTES", json.to_text())),
        },
        _ => match json {
            Json::String(s) => s.as_bytes().to_vec(),
            other => other.to_text().into_bytes(),
        },
    }))
}

/// Bytes of a logical value as ksqlDB's test serdes write them in `format`.
fn serialize(
    json: &Json,
    format: Format,
    columns: &[(String, SqlType)],
) -> Result<Option<Vec<u8>>, String> {
    if json.is_null() {
        return Ok(None);
    }
    match format {
        Format::Json => Ok(Some(json.to_text().into_bytes())),
        Format::Delimited => Ok(Some(match json {
            Json::String(s) => s.as_bytes().to_vec(),
            other => other.to_text().into_bytes(),
        })),
        Format::Kafka => match columns {
            [] => Ok(Some(match json {
                Json::String(s) => s.as_bytes().to_vec(),
                other => other.to_text().into_bytes(),
            })),
            [(_, ty)] => kafka_bytes(json, ty),
            _ => Err("KAFKA format with several columns".into()),
        },
        Format::None => Ok(None),
    }
}

/// Reads bytes as ksqlDB's test serdes do for `format`.
fn deserialize(
    bytes: Option<&[u8]>,
    format: Format,
    columns: &[(String, SqlType)],
) -> Result<Actual, String> {
    let Some(bytes) = bytes else {
        return Ok(Actual::Null);
    };
    match format {
        Format::Json => parse_json(bytes)
            .map(|j| Actual::from_json(&j))
            .map_err(|e| format!("bad JSON {:?}: {e}", String::from_utf8_lossy(bytes))),
        Format::Delimited => Ok(Actual::String(String::from_utf8_lossy(bytes).to_string())),
        Format::None => Ok(Actual::Null),
        Format::Kafka => {
            let ty = match columns {
                [] => return Ok(Actual::String(String::from_utf8_lossy(bytes).to_string())),
                [(_, ty)] => ty,
                _ => return Err("KAFKA format with several columns".into()),
            };
            let fixed = |n: usize| -> Result<&[u8], String> {
                (bytes.len() == n)
                    .then_some(bytes)
                    .ok_or_else(|| format!("expected {n} bytes for {ty}, got {}", bytes.len()))
            };
            Ok(match ty {
                SqlType::Int => {
                    Actual::Int(i32::from_be_bytes(fixed(4)?.try_into().unwrap_or([0; 4])))
                }
                SqlType::BigInt => {
                    Actual::Long(i64::from_be_bytes(fixed(8)?.try_into().unwrap_or([0; 8])))
                }
                SqlType::Double => {
                    Actual::Double(f64::from_be_bytes(fixed(8)?.try_into().unwrap_or([0; 8])))
                }
                SqlType::Bytes => Actual::Bytes(bytes.to_vec()),
                _ => Actual::String(String::from_utf8_lossy(bytes).to_string()),
            })
        }
    }
}

/// The key bytes of a windowed key: the inner key, then the window in Kafka Streams' layout.
fn window_bytes(inner: Option<Vec<u8>>, window: (i64, i64, bool)) -> Vec<u8> {
    let mut bytes = inner.unwrap_or_default();
    let (start, end, session) = window;
    if session {
        bytes.extend_from_slice(&end.to_be_bytes());
    }
    bytes.extend_from_slice(&start.to_be_bytes());
    bytes
}

fn stub_record(record: &TestRecord, metastore: &MetaStore) -> Result<StubRecord, String> {
    let source = source_for(metastore, &record.topic);
    let (key, value) = match source {
        Some(s) => {
            let key = serialize(&record.key, s.key_format.format, &s.key_columns())?;
            let key = match (record.window, &s.window) {
                (Some(w), _) => Some(window_bytes(key, w)),
                (None, Some(_)) => key,
                (None, None) => key,
            };
            (
                key,
                serialize(&record.value, s.value_format.format, &s.value_columns())?,
            )
        }
        None => (
            serialize(&record.key, Format::Json, &[])?,
            serialize(&record.value, Format::Json, &[])?,
        ),
    };
    let headers = record
        .headers
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .map(|b| {
                    base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .unwrap_or_default()
                })
                .map(Bytes::from);
            (k, v)
        })
        .collect();
    Ok(StubRecord {
        key: key.map(Bytes::from),
        value: value.map(Bytes::from),
        timestamp: record.timestamp.unwrap_or(0),
        headers,
    })
}

fn run_inner(test: &TestRun) -> Outcome {
    let kafka = StubKafka::new();
    create_topics(test, &kafka);
    let runner = RecordingRunner::default();
    let mut engine = Engine::new(
        config(test),
        Arc::new(kafka.clone()),
        Box::new(runner.clone()),
    )
    .with_clock(|| 0);
    // ksqlDB's runner parses the statements as one script (so positions count lines
    // across them), then runs them in order.
    let script = test.statements.join("\n");
    if let Err(e) = engine.execute(&script) {
        return match &test.expected_exception {
            Some(expected) if exception_matches(expected, &e, false) => Outcome::pass(),
            Some(expected) => Outcome::fail(format!(
                "expected {} \"{}\", got: {e}",
                expected.class.as_deref().unwrap_or("an exception"),
                expected.message.as_deref().unwrap_or("")
            )),
            None => Outcome::fail(format!("a statement failed: {e}")),
        };
    }
    // Inputs go to the stub Kafka first, serialised with their topics' formats.
    let mut inputs = Vec::with_capacity(test.inputs.len());
    for record in &test.inputs {
        match stub_record(record, engine.metastore()) {
            Ok(r) => {
                kafka.write(&record.topic, r.clone());
                inputs.push((record.topic.clone(), r));
            }
            Err(e) => return Outcome::fail(format!("cannot serialize input: {e}")),
        }
    }
    let input_topics: BTreeSet<&str> = test.inputs.iter().map(|r| r.topic.as_str()).collect();
    let queries = runner.take();
    let mut internal_topics = Vec::new();
    for (query, topology) in queries {
        internal_topics.extend(
            topology
                .internal_topics()
                .iter()
                .map(|t| format!("{}-{}", query.application_id, t.suffix)),
        );
        let sources: Vec<String> = topology
            .subtopologies()
            .iter()
            .flat_map(|s| s.source_topics.iter())
            .filter_map(|t| match t {
                TopicName::External(name) => Some(name.clone()),
                TopicName::Internal(_) => None,
            })
            .collect();
        let driver = match TopologyTestDriver::new(topology) {
            Ok(d) => d,
            Err(e) => {
                return runtime_failure(test, format!("query {} did not start: {e}", query.id));
            }
        };
        let pipe = |topic: &str, r: &StubRecord| -> Result<(), String> {
            driver
                .pipe_raw_with_headers(
                    topic,
                    r.key.as_ref().map(|b| b.to_vec()),
                    r.value.as_ref().map(|b| b.to_vec()),
                    r.timestamp,
                    r.headers.clone(),
                )
                .map_err(|e| e.to_string())?;
            for out_topic in driver.output_topic_names() {
                for out in driver.read_output_raw(&out_topic) {
                    kafka.write(
                        &out_topic,
                        StubRecord {
                            key: out.key,
                            value: out.value,
                            timestamp: out.timestamp,
                            headers: out.headers,
                        },
                    );
                }
            }
            Ok(())
        };
        let from_input: Vec<&String> = sources
            .iter()
            .filter(|t| input_topics.contains(t.as_str()))
            .collect();
        if !from_input.is_empty() {
            for (topic, r) in &inputs {
                if sources.contains(topic)
                    && let Err(e) = pipe(topic, r)
                {
                    return runtime_failure(test, format!("query {} failed: {e}", query.id));
                }
            }
        }
        for topic in sources
            .iter()
            .filter(|t| !input_topics.contains(t.as_str()))
        {
            for r in kafka.read(topic) {
                if let Err(e) = pipe(topic, &r) {
                    return runtime_failure(test, format!("query {} failed: {e}", query.id));
                }
            }
        }
    }
    if let Some(expected) = &test.expected_exception {
        return Outcome::fail(format!(
            "expected {} \"{}\", but the statements and queries succeeded",
            expected.class.as_deref().unwrap_or("an exception"),
            expected.message.as_deref().unwrap_or("")
        ));
    }
    if let Err(reason) = verify_outputs(test, &kafka, engine.metastore()) {
        return Outcome::fail(reason);
    }
    if let Some(post) = &test.post
        && let Err(reason) = super::post::verify(post, engine.metastore(), &internal_topics)
    {
        return Outcome::fail(reason);
    }
    Outcome::pass()
}

fn runtime_failure(test: &TestRun, message: String) -> Outcome {
    match &test.expected_exception {
        Some(expected) if exception_matches(expected, &SqlError::eval(message.clone()), true) => {
            Outcome::pass()
        }
        _ => Outcome::fail(message),
    }
}

fn show_record(key: &Actual, value: &Actual, timestamp: i64, window: Option<(i64, i64)>) -> String {
    format!(
        "<{}, {}> with timestamp={timestamp}{}",
        key.show(),
        value.show(),
        window
            .map(|(s, e)| format!(" window=[{s},{e})"))
            .unwrap_or_default()
    )
}

fn verify_outputs(test: &TestRun, kafka: &StubKafka, metastore: &MetaStore) -> Result<(), String> {
    let ran_with_inserts = test.inputs.is_empty();
    let mut by_topic: BTreeMap<&str, Vec<&TestRecord>> = BTreeMap::new();
    for r in &test.outputs {
        by_topic.entry(r.topic.as_str()).or_default().push(r);
    }
    for (topic, expected) in by_topic {
        let source = source_for(metastore, topic)
            .ok_or_else(|| format!("No information found for topic: {topic}"))?;
        let actual = kafka.read(topic);
        let mut decoded = Vec::with_capacity(actual.len());
        for r in &actual {
            let (key_bytes, window) = match (&source.window, &r.key) {
                (Some(w), Some(k)) => {
                    let tail = if w.kind == WindowType::Session { 16 } else { 8 };
                    if k.len() < tail {
                        return Err(format!("Topic {topic}: windowed key is too short"));
                    }
                    let n = k.len() - tail;
                    let time = |b: &[u8]| i64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
                    let window = if w.kind == WindowType::Session {
                        (time(&k[n + 8..]), time(&k[n..n + 8]))
                    } else {
                        let start = time(&k[n..]);
                        (start, start + w.size_ms.unwrap_or(0))
                    };
                    (Some(k[..n].to_vec()), Some(window))
                }
                (_, k) => (k.as_ref().map(|b| b.to_vec()), None),
            };
            let key = deserialize(
                key_bytes.as_deref(),
                source.key_format.format,
                &source.key_columns(),
            )
            .map_err(|e| format!("Topic {topic}: failed to deserialize key: {e}"))?;
            let value = deserialize(
                r.value.as_deref(),
                source.value_format.format,
                &source.value_columns(),
            )
            .map_err(|e| format!("Topic {topic}: failed to deserialize value: {e}"))?;
            decoded.push((key, value, r.timestamp, window, &r.headers));
        }
        let listing = || {
            decoded
                .iter()
                .map(|(k, v, t, w, _)| show_record(k, v, *t, *w))
                .collect::<Vec<_>>()
                .join("\n  ")
        };
        if decoded.len() != expected.len() {
            return Err(format!(
                "Topic {topic}. Expected <{}> records but it was <{}>\n  {}",
                expected.len(),
                decoded.len(),
                listing()
            ));
        }
        for (i, (e, (key, value, timestamp, window, headers))) in
            expected.iter().zip(&decoded).enumerate()
        {
            let expected_ts = e.timestamp.unwrap_or(*timestamp);
            let mismatch = || {
                format!(
                    "Topic '{topic}', message {i}: Expected <{}, {}> with timestamp={expected_ts}{} but was {}",
                    e.key.to_text(),
                    e.value.to_text(),
                    e.window
                        .map(|(s, end, _)| format!(" window=[{s},{end})"))
                        .unwrap_or_default(),
                    show_record(key, value, *timestamp, *window)
                )
            };
            // A windowed output's key is its key and window (ksqlDB compares `Windowed`
            // keys): an expected record with no window does not match a windowed one.
            if e.window.map(|(start, end, _)| (start, end)) != *window {
                return Err(mismatch());
            }
            if !matches(key, &e.key) || !matches(value, &e.value) {
                return Err(mismatch());
            }
            let expected_headers: Vec<(String, Option<Vec<u8>>)> = e
                .headers
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.map(|b| {
                            base64::engine::general_purpose::STANDARD
                                .decode(b)
                                .unwrap_or_default()
                        }),
                    )
                })
                .collect();
            let actual_headers: Vec<(String, Option<Vec<u8>>)> = headers
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|b| b.to_vec())))
                .collect();
            if expected_headers != actual_headers {
                return Err(format!(
                    "{} (headers differ: expected {expected_headers:?}, got {actual_headers:?})",
                    mismatch()
                ));
            }
            if *timestamp != expected_ts && (!ran_with_inserts || expected_ts != 0) {
                return Err(mismatch());
            }
        }
    }
    Ok(())
}
