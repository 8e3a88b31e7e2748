//! `eddy sql`: the interactive SQL shell. Without `--server` it runs the engine in this
//! process on an embedded broker (data in `./eddy-data`, statements kept in its command
//! topic, so streams, tables and queries are there the next time); with `--server URL` it
//! talks to `eddy server` (or ksqlDB) over the REST API.
//!
//! Statements run over lines until `;`; history is kept in `~/.eddy_sql_history` (Ctrl-R
//! searches it); Tab completes keywords, names and properties; push queries print rows as
//! they come until their `LIMIT` or Ctrl-C, which ends the query, not the shell. `SET`,
//! `UNSET`, `DEFINE` and `UNDEFINE` apply to the rest of the session (sent with every
//! request, as the ksql CLI does); `RUN SCRIPT 'file'` runs a file's statements. `-e SQL`
//! and `-f FILE` run statements without a prompt, stopping at the first error.

mod helper;
mod render;
mod session;

use std::cell::RefCell;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use eddy::sql::parser::ast::Statement;
use eddy::sql::parser::{parse_one, split_statements, substitute_variables};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};
use serde_json::Value;

use helper::{Names, SqlHelper};
use session::{Local, Remote, Scope, Session};

/// `eddy sql` arguments (the shell).
#[derive(Debug, Clone, clap::Args)]
pub struct ReplArgs {
    /// A server's REST API (`http://HOST:8088`); without it, the engine runs in this
    /// process on the data directory.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The embedded engine's data directory (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./eddy-data")]
    pub data_dir: PathBuf,
    /// Run these statements and exit.
    #[arg(
        short = 'e',
        long = "execute",
        value_name = "SQL",
        conflicts_with = "file"
    )]
    pub execute: Option<String>,
    /// Run this file's statements and exit.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// How results are shown: tables, or the server's JSON (the shell's `output`
    /// command changes it).
    #[arg(long, value_enum, default_value_t = OutputFormat::Tabular)]
    pub output: OutputFormat,
}

/// How the shell shows results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Tables and messages, for people.
    Tabular,
    /// Statements' entities as the REST API's JSON; a query as a header object line
    /// and one JSON array per row (as `/query-stream` sends them), for programs.
    Json,
}

impl OutputFormat {
    fn name(self) -> &'static str {
        match self {
            Self::Tabular => "TABULAR",
            Self::Json => "JSON",
        }
    }
}

const HELP: &str = "\
Statements end with ';' and may span lines. For example:
  CREATE STREAM clicks (user STRING KEY, page STRING)
    WITH (kafka_topic='clicks', partitions=1, value_format='JSON');
  INSERT INTO clicks (user, page) VALUES ('ada', '/home');
  SET 'auto.offset.reset' = 'earliest';
  SELECT * FROM clicks EMIT CHANGES;          -- rows as they come; Ctrl-C ends it
  CREATE TABLE per_user AS SELECT user, COUNT(*) AS n FROM clicks GROUP BY user;
  SELECT * FROM per_user WHERE user = 'ada';  -- a pull query: the rows now
  SHOW STREAMS; SHOW TABLES; SHOW QUERIES; DESCRIBE clicks; TERMINATE ALL;
Shell: help, clear, exit (or Ctrl-D), output [json|tabular]; Tab completes;
  Ctrl-R searches history;
  RUN SCRIPT 'file.sql'; SET/UNSET and DEFINE/UNDEFINE last for the session.";

/// Standard output went away (the reader of a pipe closed it, as `head` or `grep -q` do):
/// the shell stops quietly, as command-line tools do.
#[derive(Debug)]
struct OutputClosed;

impl std::fmt::Display for OutputClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output is closed")
    }
}

impl std::error::Error for OutputClosed {}

/// Writes a line to standard output; a closed output ends the run ([`OutputClosed`]).
fn emit(text: impl std::fmt::Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
        Err(e) => Err(anyhow!("cannot write to standard output: {e}")),
    }
}

/// The shell's state.
struct Shell {
    session: Box<dyn Session>,
    scope: Scope,
    names: Rc<RefCell<Names>>,
    /// Set by Ctrl-C while a query runs.
    interrupted: Arc<AtomicBool>,
    /// Whether the last statements included a query Ctrl-C ended.
    interrupted_query: bool,
    color: bool,
    output: OutputFormat,
}

/// Runs `eddy sql` (the shell).
pub fn run(args: ReplArgs) -> Result<()> {
    let handle = tokio::runtime::Handle::current();
    let interrupted = Arc::new(AtomicBool::new(false));
    let session: Box<dyn Session> = match &args.server {
        Some(url) => {
            let (remote, version) = Remote::connect(url, handle.clone())?;
            if args.execute.is_none() && args.file.is_none() {
                emit(format!("Connected to {url} (server version {version})."))?;
            }
            Box::new(remote)
        }
        None => Box::new(Local::open(&args.data_dir, handle)?),
    };
    let color = std::io::stdout().is_terminal();
    let mut shell = Shell {
        session,
        scope: Scope::default(),
        names: Rc::new(RefCell::new(Names::default())),
        interrupted,
        interrupted_query: false,
        color,
        output: args.output,
    };
    let result = match (&args.execute, &args.file) {
        (Some(sql), _) => shell.watch_ctrl_c().and_then(|()| shell.script(sql, true)),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            shell
                .watch_ctrl_c()
                .and_then(|()| shell.script(&text, true))
        }
        (None, None) => shell.interactive(),
    };
    // The local session owns the broker: shut it down cleanly, whatever happened.
    let finished = shell.session.finish();
    let result = match result {
        Err(e) if e.is::<OutputClosed>() => Ok(()),
        other => other,
    };
    result.and(finished)
}

fn history_path() -> Option<PathBuf> {
    std::env::var_os("EDDY_SQL_HISTORY")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".eddy_sql_history")))
}

impl Shell {
    /// Ctrl-C (SIGINT) sets the flag a running query watches. In the interactive shell
    /// this is registered after the line editor exists: rustyline installs a SIGINT
    /// handler of its own for its lifetime, and signal-hook chains to it, so both see it.
    /// (rustyline's `signal-hook` feature would leave SIGINT alone, but with it rustyline
    /// stalls on input that arrives in one burst, a paste.)
    fn watch_ctrl_c(&self) -> Result<()> {
        signal_hook::flag::register(signal_hook::consts::SIGINT, self.interrupted.clone())
            .context("cannot handle Ctrl-C")?;
        Ok(())
    }

    fn interactive(&mut self) -> Result<()> {
        let config = Config::builder()
            .history_ignore_dups(true)?
            .max_history_size(10_000)?
            .auto_add_history(false)
            // Like a shell: Tab completes what all candidates share, a second Tab lists them.
            .completion_type(CompletionType::List)
            .build();
        let mut editor: Editor<SqlHelper, FileHistory> = Editor::with_config(config)?;
        editor.set_helper(Some(SqlHelper {
            names: self.names.clone(),
            color: self.color,
        }));
        self.watch_ctrl_c()?;
        // The Ctrl-C that ended a query also reached rustyline's handler, which answers the
        // next prompt with an interruption: that one is not the user's.
        let mut stale_interrupt = false;
        let history = history_path();
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        emit(format!(
            "eddy sql {} on {}. Statements end with ';'; 'help' for help, 'exit' to leave.",
            env!("CARGO_PKG_VERSION"),
            self.session.describe()
        ))?;
        self.refresh_names();
        loop {
            match editor.readline("eddy> ") {
                Ok(input) => {
                    stale_interrupt = false;
                    let trimmed = input.trim();
                    if trimmed.is_empty() {
                        continue;
                    }
                    let _ = editor.add_history_entry(trimmed);
                    if let Some(path) = &history {
                        let _ = editor.append_history(path);
                    }
                    match trimmed.to_ascii_lowercase().trim_end_matches(';') {
                        "exit" | "quit" => break,
                        "help" => emit(HELP)?,
                        "clear" => {
                            let _ = editor.clear_screen();
                        }
                        command if command.split_whitespace().next() == Some("output") => {
                            self.output_command(command)?;
                        }
                        _ => {
                            match self.script(&input, false) {
                                Err(e) if e.is::<OutputClosed>() => return Err(e),
                                Err(e) => self.print_error(&e.to_string()),
                                Ok(()) => {}
                            }
                            stale_interrupt = self.interrupted_query;
                            self.interrupted_query = false;
                        }
                    }
                }
                Err(ReadlineError::Interrupted) if stale_interrupt => {
                    stale_interrupt = false;
                    continue;
                }
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(anyhow!("reading input failed: {e}")),
            }
        }
        Ok(())
    }

    /// `output` shows the output format; `output json|tabular` changes it.
    fn output_command(&mut self, command: &str) -> Result<()> {
        match command.split_whitespace().nth(1) {
            None => {}
            Some("json") => self.output = OutputFormat::Json,
            Some("tabular") => self.output = OutputFormat::Tabular,
            Some(other) => {
                self.print_error(&format!(
                    "Unknown output format '{other}': use JSON or TABULAR"
                ));
                return Ok(());
            }
        }
        emit(format!("Output format: {}", self.output.name()))
    }

    fn print_error(&self, message: &str) {
        if self.color {
            eprintln!("\x1b[31m{message}\x1b[0m");
        } else {
            eprintln!("{message}");
        }
    }

    /// Runs a script's statements in order; with `stop_at_error`, the first failure ends
    /// it (and is returned), otherwise it is printed and the next statement runs.
    fn script(&mut self, text: &str, stop_at_error: bool) -> Result<()> {
        let statements = split_statements(text).map_err(|e| anyhow!("{e}"))?;
        for (statement, _) in statements {
            match self.statement(&statement) {
                Ok(()) => {}
                Err(e) if stop_at_error || e.is::<OutputClosed>() => return Err(e),
                Err(e) => self.print_error(&e.to_string()),
            }
        }
        Ok(())
    }

    /// Runs one statement: the shell's own (`SET`, `DEFINE`, `RUN SCRIPT`), a query, or
    /// one for the session.
    fn statement(&mut self, sql: &str) -> Result<()> {
        let substituted =
            substitute_variables(sql, &self.scope.variables).map_err(|e| anyhow!("{e}"))?;
        let parsed = parse_one(&substituted).ok();
        match parsed.as_ref().map(|p| &p.statement) {
            Some(Statement::Set { name, value }) => {
                self.scope.properties.insert(name.clone(), value.clone());
                emit(format!(
                    "Successfully changed local property '{name}' to '{value}'."
                ))?;
                return Ok(());
            }
            Some(Statement::Unset(name)) => {
                self.scope.properties.remove(name);
                emit(format!("Successfully unset local property '{name}'."))?;
                return Ok(());
            }
            Some(Statement::Define { name, value }) => {
                self.scope.variables.insert(name.clone(), value.clone());
                return Ok(());
            }
            Some(Statement::Undefine(name)) => {
                self.scope.variables.remove(name);
                return Ok(());
            }
            Some(Statement::RunScript(path)) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
                return self.script(&text, true);
            }
            Some(Statement::Print { .. }) => return self.print(sql),
            Some(Statement::Query(_)) => return self.query(sql),
            _ => {}
        }
        let entities = match self.session.ksql(sql, &self.scope)? {
            Ok(entities) => entities,
            Err(error) => bail!("{}", render::error_in(&error, sql)),
        };
        let changed = entities.iter().any(|e| e["@type"] == "currentStatus");
        match self.output {
            OutputFormat::Json => emit(serde_json::to_string_pretty(&entities)?)?,
            OutputFormat::Tabular => {
                for entity in &entities {
                    emit(render::entity(entity))?;
                }
            }
        }
        if changed {
            self.refresh_names();
        }
        Ok(())
    }

    /// Runs a query, printing rows until it ends or Ctrl-C.
    fn query(&mut self, sql: &str) -> Result<()> {
        let mut rows = match self.session.query(sql, &self.scope)? {
            Ok(rows) => rows,
            Err(error) => bail!("{}", render::error_in(&error, sql)),
        };
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(120);
        let json = self.output == OutputFormat::Json;
        let printer = render::RowPrinter::new(&rows.names, width);
        emit(if json {
            serde_json::json!({"queryId": rows.id, "columnNames": rows.names}).to_string()
        } else {
            printer.header(&rows.names)
        })?;
        self.interrupted.store(false, Ordering::Release);
        let mut count = 0u64;
        let outcome = loop {
            if self.interrupted.swap(false, Ordering::AcqRel) {
                self.interrupted_query = true;
                break "Query terminated";
            }
            match rows.next(Duration::from_millis(100)) {
                Ok(Some(row)) => {
                    count += 1;
                    let line = if json {
                        row.to_string()
                    } else {
                        printer.row(&row)
                    };
                    if let Err(e) = emit(line) {
                        self.session.close(rows)?;
                        return Err(e);
                    }
                }
                Ok(None) if rows.ended() => break "",
                Ok(None) => {}
                Err(e) => {
                    self.session.close(rows)?;
                    if !json {
                        emit(printer.footer())?;
                    }
                    return Err(e);
                }
            }
        };
        self.session.close(rows)?;
        if json {
            return Ok(());
        }
        emit(printer.footer())?;
        match outcome {
            "" => emit(format!("{count} row(s)")),
            message => emit(format!("{message} ({count} row(s))")),
        }
    }

    /// Runs a `PRINT`, showing its lines until its LIMIT or Ctrl-C.
    fn print(&mut self, sql: &str) -> Result<()> {
        let mut rows = match self.session.query(sql, &self.scope)? {
            Ok(rows) => rows,
            Err(error) => bail!("{}", render::error_in(&error, sql)),
        };
        self.interrupted.store(false, Ordering::Release);
        let mut count = 0u64;
        let result = loop {
            if self.interrupted.swap(false, Ordering::AcqRel) {
                self.interrupted_query = true;
                break Ok(());
            }
            match rows.next(Duration::from_millis(100)) {
                Ok(Some(Value::String(line))) => {
                    if line.starts_with("rowtime:") {
                        count += 1;
                    }
                    if let Err(e) = emit(line) {
                        break Err(e);
                    }
                }
                Ok(Some(other)) => break Err(anyhow!("{}", render::error(&other))),
                Ok(None) if rows.ended() => break Ok(()),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
        };
        self.session.close(rows)?;
        result?;
        emit(format!("{count} record(s)"))
    }

    /// Asks the session what it has, for completion.
    fn refresh_names(&mut self) {
        let asked = self.session.ksql(
            "SHOW TOPICS; SHOW FUNCTIONS; SHOW PROPERTIES; DESCRIBE STREAMS; DESCRIBE TABLES;",
            &self.scope,
        );
        let Ok(Ok(entities)) = asked else {
            return;
        };
        let mut names = Names::default();
        let strings = |e: &Value, list: &str, field: &str| -> Vec<String> {
            e[list]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i[field].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        for e in &entities {
            match e["@type"].as_str() {
                Some("kafka_topics") => names.topics.extend(strings(e, "topics", "name")),
                Some("function_names") => names.functions.extend(strings(e, "functions", "name")),
                Some("properties") => names.properties.extend(strings(e, "properties", "name")),
                Some("source_descriptions") => {
                    for d in e["sourceDescriptions"].as_array().into_iter().flatten() {
                        if let Some(name) = d["name"].as_str() {
                            names.sources.insert(name.to_string());
                        }
                        names.columns.extend(strings(d, "fields", "name"));
                    }
                }
                _ => {}
            }
        }
        names.properties.extend(
            [
                "auto.offset.reset",
                "commit.interval.ms",
                "cache.max.bytes.buffering",
            ]
            .map(String::from),
        );
        *self.names.borrow_mut() = names;
    }
}
