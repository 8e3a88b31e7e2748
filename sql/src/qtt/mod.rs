//! The conformance runner: ksqlDB's query-validation test files ([`model`]) run against
//! Eddy's engine as ksqlDB's own `TestExecutor` runs them ([`execute`]), with its record
//! comparison ([`compare`]) and post conditions ([`post`]); also the standalone
//! `ksql-test-runner` triples (statements, input, output files).

pub mod compare;
pub mod execute;
pub mod model;
pub mod post;
pub mod stub;

use std::path::{Path, PathBuf};

pub use execute::{Outcome, Status};
pub use model::TestRun;

use crate::error::{Result, SqlError};
use crate::serde::json_text::{Json, parse_json_with_comments};

/// The result of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// The file.
    pub file: String,
    /// The case.
    pub case: String,
    /// The format (and config entry), if the case has several.
    pub variant: Option<String>,
    /// What happened.
    pub outcome: Outcome,
}

impl RunResult {
    /// The runner's line: `PASS|FAIL|UNSUPPORTED  <file> / <case> [ - <format>]  <reason>`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{}  {} / {}",
            self.outcome.status.word(),
            self.file,
            self.case
        );
        if let Some(v) = &self.variant {
            line.push_str(" - ");
            line.push_str(v);
        }
        if !self.outcome.reason.is_empty() {
            line.push_str("  ");
            line.push_str(&self.outcome.reason.replace('\n', " | "));
        }
        line
    }
}

/// The `*.json` files of a path (a file, or a folder's files sorted by name).
pub fn test_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        Ok(files)
    } else if path.exists() {
        Ok(vec![path.to_path_buf()])
    } else {
        Err(SqlError::semantic(format!(
            "{} does not exist",
            path.display()
        )))
    }
}

/// Runs every case of every file, calling `each` with each result as it finishes.
pub fn run_paths(paths: &[PathBuf], mut each: impl FnMut(&RunResult)) -> Result<Vec<RunResult>> {
    let mut results = Vec::new();
    for path in paths {
        for file in test_files(path)? {
            let runs = model::load_file(&file)?;
            for run in runs {
                let outcome = execute::run_in_thread(&run);
                let result = RunResult {
                    file: run.file.clone(),
                    case: run.case.clone(),
                    variant: run.variant.clone(),
                    outcome,
                };
                each(&result);
                results.push(result);
            }
        }
    }
    Ok(results)
}

/// The runner's last line.
pub fn summary(results: &[RunResult]) -> String {
    let count = |s: Status| results.iter().filter(|r| r.outcome.status == s).count();
    format!(
        "qtt: {} passed, {} failed, {} unsupported of {} runs",
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Unsupported),
        results.len()
    )
}

/// The pass rate over the runs that use only formats Eddy has (KAFKA, JSON, DELIMITED,
/// NONE): every run but those needing a schema registry.
pub fn pass_rate(results: &[RunResult]) -> String {
    let counted: Vec<&RunResult> = results
        .iter()
        .filter(|r| {
            !(r.outcome.status == Status::Unsupported && execute::needs_registry(&r.outcome.reason))
        })
        .collect();
    let passed = counted
        .iter()
        .filter(|r| r.outcome.status == Status::Pass)
        .count();
    let rate = if counted.is_empty() {
        0.0
    } else {
        100.0 * passed as f64 / counted.len() as f64
    };
    format!(
        "qtt: pass rate {rate:.1}% ({passed} of the {} runs using only the KAFKA, JSON, DELIMITED and NONE formats)",
        counted.len()
    )
}

/// Runs a `ksql-test-runner` triple: a statements file and input and output files of
/// records (`{"inputs": [...]}`, `{"outputs": [...]}`).
pub fn run_triple(statements: &Path, input: Option<&Path>, output: &Path) -> Result<Outcome> {
    let sql = std::fs::read_to_string(statements)?;
    let read = |p: &Path, field: &str| -> Result<Json> {
        let bytes = std::fs::read(p)?;
        let json = parse_json_with_comments(&bytes)
            .map_err(|e| SqlError::semantic(format!("{}: invalid JSON: {e}", p.display())))?;
        match json.get(field) {
            Some(records @ Json::Array(_)) => Ok(records.clone()),
            _ => Err(SqlError::semantic(format!(
                "{}: expected a \"{field}\" array of records",
                p.display()
            ))),
        }
    };
    let inputs = match input {
        Some(p) => read(p, "inputs")?,
        None => Json::Array(Vec::new()),
    };
    let outputs = read(output, "outputs")?;
    let case = Json::Object(vec![
        ("name".to_string(), Json::String("test".to_string())),
        (
            "statements".to_string(),
            Json::Array(vec![Json::String(sql)]),
        ),
        ("inputs".to_string(), inputs),
        ("outputs".to_string(), outputs),
    ]);
    let mut runs = model::expand(
        &statements
            .parent()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default(),
        &case,
    )?;
    Ok(execute::run(&runs.remove(0)))
}
