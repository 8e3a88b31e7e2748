//! `eddy sql ...`: SQL tools. `eddy sql` alone is the interactive shell ([`super::repl`]);
//! `eddy sql run` runs SQL scripts on an embedded broker (see
//! [`super::sql_run`]); `eddy sql qtt` runs ksqlDB's query-validation test files against
//! Eddy's engine; `eddy sql test` runs a `ksql-test-runner` triple (statements, input and
//! output files).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use eddy::sql::qtt::{self, Status};

/// `eddy sql` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run ksqlDB query-validation test files (a file, or a folder of `*.json`): one line per
    /// run (`PASS|FAIL|UNSUPPORTED  <file> / <case> [ - <format>]  <reason>`), then
    /// `qtt: N passed, N failed, N unsupported of N runs`.
    Qtt(QttArgs),
    /// Run a ksql-test-runner test: statements, input records and expected output records.
    Test(TestArgs),
    /// Run SQL scripts on an embedded broker: statements in order, push queries' rows as
    /// they come, then the sources the queries wrote, once they caught up.
    Run(super::sql_run::RunArgs),
}

/// Arguments of `eddy sql qtt`.
#[derive(Debug, clap::Args)]
pub struct QttArgs {
    /// Also write one JSON object per run to this file:
    /// `{"file", "case", "format", "status", "reason"}`.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Fail (exit 1) when fewer runs than this pass.
    #[arg(long, value_name = "N")]
    pub min_pass: Option<usize>,
    /// Test files or folders of them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Arguments of `eddy sql test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The SQL statements.
    #[arg(short = 's', long, value_name = "FILE")]
    pub statements: PathBuf,
    /// Input records: `{"inputs": [...]}` (optional: statements may INSERT them).
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Expected output records: `{"outputs": [...]}`.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Runs `eddy sql ...`: the shell without a subcommand.
pub fn run(command: Option<Command>, repl: super::repl::ReplArgs) -> Result<()> {
    let Some(command) = command else {
        return super::repl::run(repl);
    };
    match command {
        Command::Qtt(args) => qtt_command(args),
        Command::Run(args) => super::sql_run::run(args),
        Command::Test(args) => {
            let outcome = qtt::run_triple(&args.statements, args.input.as_deref(), &args.output)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match outcome.status {
                Status::Pass => {
                    println!("\t >>> Test passed!");
                    Ok(())
                }
                Status::Fail => bail!("Test failed: {}", outcome.reason),
                Status::Unsupported => bail!("Test not supported: {}", outcome.reason),
            }
        }
    }
}

fn qtt_command(args: QttArgs) -> Result<()> {
    let mut json = match &args.json {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut write_error = None;
    let results = qtt::run_paths(&args.paths, |r| {
        let mut out = stdout.lock();
        let _ = writeln!(out, "{}", r.line());
        if let Some(file) = json.as_mut() {
            let line = format!(
                "{{\"file\":{},\"case\":{},\"format\":{},\"status\":{},\"reason\":{}}}",
                json_string(&r.file),
                json_string(&r.case),
                r.variant.as_deref().map_or("null".to_string(), json_string),
                json_string(r.outcome.status.word()),
                json_string(&r.outcome.reason)
            );
            if let Err(e) = writeln!(file, "{line}") {
                write_error.get_or_insert(e);
            }
        }
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(e) = write_error {
        bail!("cannot write the JSON report: {e}");
    }
    if let Some(mut file) = json {
        file.flush()?;
    }
    println!("{}", qtt::pass_rate(&results));
    println!("{}", qtt::summary(&results));
    let passed = results
        .iter()
        .filter(|r| r.outcome.status == Status::Pass)
        .count();
    if let Some(min) = args.min_pass
        && passed < min
    {
        bail!("{passed} runs passed, fewer than the floor of {min}");
    }
    Ok(())
}
