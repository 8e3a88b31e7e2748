//! ksqlDB's query-validation test files: cases, their records and expectations, and the
//! expansion into runs (one per `format` entry times `config` entry, as ksqlDB's
//! `TestCaseBuilder` does; disabled cases make no runs).

use std::path::Path;

use crate::error::{Result, SqlError};
use crate::serde::json_text::{Json, parse_json_with_comments};

/// A record of a case's inputs or outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRecord {
    /// The topic.
    pub topic: String,
    /// The key (a logical JSON value), `Json::Null` when absent.
    pub key: Json,
    /// The value (`Json::Null` is a tombstone).
    pub value: Json,
    /// The timestamp, if given.
    pub timestamp: Option<i64>,
    /// The window of a windowed key: start, end and whether it is a session.
    pub window: Option<(i64, i64, bool)>,
    /// Headers, if given: key and base64 value.
    pub headers: Option<Vec<(String, Option<String>)>>,
}

/// What an expected exception must look like.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedException {
    /// The Java exception class.
    pub class: Option<String>,
    /// A substring of the message.
    pub message: Option<String>,
}

/// One run of a case: a format and a config entry applied.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRun {
    /// The file the case is in.
    pub file: String,
    /// The case's name.
    pub case: String,
    /// The format (and config entry) of this run, for the run's name.
    pub variant: Option<String>,
    /// The statements.
    pub statements: Vec<String>,
    /// Properties.
    pub properties: Vec<(String, String)>,
    /// Input records.
    pub inputs: Vec<TestRecord>,
    /// Expected output records.
    pub outputs: Vec<TestRecord>,
    /// The expected exception, instead of outputs.
    pub expected_exception: Option<ExpectedException>,
    /// Declared topics: name and partitions.
    pub topics: Vec<(String, Option<i32>)>,
    /// The `post` conditions, as JSON.
    pub post: Option<Json>,
}

fn text(json: &Json) -> Option<String> {
    match json {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.clone()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn record(json: &Json) -> Result<TestRecord> {
    let topic = json
        .get("topic")
        .and_then(Json::as_str)
        .ok_or_else(|| SqlError::semantic("a test record has no topic"))?
        .to_string();
    let window = match json.get("window") {
        Some(w @ Json::Object(_)) => Some((
            w.get("start").and_then(Json::as_i64).unwrap_or(0),
            w.get("end").and_then(Json::as_i64).unwrap_or(0),
            w.get("type")
                .and_then(Json::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("session")),
        )),
        _ => None,
    };
    let headers = match json.get("headers") {
        Some(Json::Array(items)) => Some(
            items
                .iter()
                .map(|h| {
                    (
                        h.get("KEY").and_then(text).unwrap_or_default(),
                        h.get("VALUE").and_then(text),
                    )
                })
                .collect(),
        ),
        _ => None,
    };
    Ok(TestRecord {
        topic,
        key: json.get("key").cloned().unwrap_or(Json::Null),
        value: json.get("value").cloned().unwrap_or(Json::Null),
        timestamp: json.get("timestamp").and_then(Json::as_i64),
        window,
        headers,
    })
}

fn records(json: Option<&Json>) -> Result<Vec<TestRecord>> {
    json.and_then(Json::as_array)
        .map(|items| items.iter().map(record).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// Reads a test file into its runs.
pub fn load_file(path: &Path) -> Result<Vec<TestRun>> {
    let bytes = std::fs::read(path)?;
    let json = parse_json_with_comments(&bytes)
        .map_err(|e| SqlError::semantic(format!("{}: {e}", path.display())))?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let Some(tests) = json.get("tests").and_then(Json::as_array) else {
        return Err(SqlError::semantic(format!(
            "{}: no \"tests\" array",
            path.display()
        )));
    };
    let mut runs = Vec::new();
    for test in tests {
        if test.get("enabled") == Some(&Json::Bool(false)) {
            continue;
        }
        runs.extend(expand(&file, test)?);
    }
    Ok(runs)
}

/// The runs of one case.
pub fn expand(file: &str, test: &Json) -> Result<Vec<TestRun>> {
    let name = test
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or("unnamed")
        .to_string();
    let statements: Vec<String> = test
        .get("statements")
        .and_then(Json::as_array)
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let properties: Vec<(String, String)> = match test.get("properties") {
        Some(Json::Object(fields)) => fields
            .iter()
            .map(|(k, v)| (k.clone(), text(v).unwrap_or_else(|| v.to_text())))
            .collect(),
        _ => Vec::new(),
    };
    let formats: Vec<Option<String>> = match test.get("format").and_then(Json::as_array) {
        Some(f) if !f.is_empty() => f.iter().map(|x| x.as_str().map(str::to_string)).collect(),
        _ => vec![None],
    };
    let configs: Vec<Option<String>> = match test.get("config").and_then(Json::as_array) {
        Some(c) if !c.is_empty() => c.iter().map(text).collect(),
        _ => vec![None],
    };
    let expected_exception = test.get("expectedException").map(|e| ExpectedException {
        class: e.get("type").and_then(Json::as_str).map(str::to_string),
        message: e.get("message").and_then(Json::as_str).map(str::to_string),
    });
    let topics: Vec<(String, Option<i32>)> = test
        .get("topics")
        .and_then(Json::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|x| {
                    Some((
                        x.get("name")?.as_str()?.to_string(),
                        x.get("partitions").and_then(Json::as_i64).map(|n| n as i32),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let inputs = records(test.get("inputs"))?;
    let outputs = records(test.get("outputs"))?;
    let mut runs = Vec::new();
    for format in &formats {
        for config in &configs {
            let mut props = properties.clone();
            let mut variant = format.clone();
            if let Some(config) = config
                && let Some(p) = props
                    .iter_mut()
                    .find(|(_, v)| v.eq_ignore_ascii_case("{CONFIG}"))
            {
                p.1 = config.clone();
                let suffix = format!("{}={config}", p.0);
                variant = Some(match variant {
                    Some(v) => format!("{v} - {suffix}"),
                    None => suffix,
                });
            }
            let statements = statements
                .iter()
                .map(|s| match format {
                    Some(f) => s.replace("{FORMAT}", f),
                    None => s.clone(),
                })
                .collect();
            runs.push(TestRun {
                file: file.to_string(),
                case: name.clone(),
                variant,
                statements,
                properties: props,
                inputs: inputs.clone(),
                outputs: outputs.clone(),
                expected_exception: expected_exception.clone(),
                topics: topics.clone(),
                post: test.get("post").cloned(),
            });
        }
    }
    Ok(runs)
}
