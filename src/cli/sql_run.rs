//! `eddy sql run SCRIPT...`: continuous SQL on an embedded broker. Opens a data directory,
//! runs the script's statements in order (push queries, `SELECT ... EMIT CHANGES`, print
//! their rows as they come; pull queries, `SELECT` without `EMIT`, print theirs once the
//! persistent queries caught up), waits until every persistent query has processed its input,
//! then prints the sources the queries wrote (or those named with `--print`) as tables.
//! With `--follow` the queries keep running until Ctrl-C; otherwise they stop, and their
//! results stay in the topics.
//!
//! Topics are read from the start (`auto.offset.reset=earliest`) unless the script `SET`s
//! otherwise: a script usually writes its input with `INSERT ... VALUES` first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use eddy::sql::engine::scan::Scan;
use eddy::sql::engine::{AppRunner, BrokerCluster, Config, Engine, QueryAnswer, StatementResult};
use eddy::sql::parser::ast::Statement;
use eddy::sql::parser::split_statements;
use eddy::streams::EmbeddedBackend;

/// Arguments of `eddy sql run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The embedded broker's data directory (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./eddy-data")]
    pub data_dir: PathBuf,
    /// Print these streams or tables once the queries have caught up (default: every
    /// stream or table a query of the script writes).
    #[arg(long = "print", value_name = "SOURCE")]
    pub print: Vec<String>,
    /// Keep the persistent queries running after printing, until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// How long to wait for the queries to catch up, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub timeout: u64,
    /// Compare what is printed with this file; exit 1 with the difference if it differs.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// SQL scripts, run in order (`-` reads standard input).
    #[arg(required = true, value_name = "SCRIPT")]
    pub scripts: Vec<PathBuf>,
}

fn read_script(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// What a statement did, in the words of ksqlDB's CLI.
fn describe(result: &StatementResult) -> String {
    match result {
        StatementResult::SourceCreated { kind, name } => format!("Created {kind} {name}"),
        StatementResult::SourceExists { name } => format!("{name} already exists"),
        StatementResult::SourceDropped { name } => format!("Dropped {name}"),
        StatementResult::QueryStarted { id, sink } => {
            format!("Created query with ID {id} (writing {sink})")
        }
        StatementResult::QueryTerminated { id } => format!("Terminated {id}"),
        StatementResult::Inserted => "Inserted a row".into(),
        StatementResult::Done(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

/// Runs `eddy sql run`.
pub fn run(args: RunArgs) -> Result<()> {
    let backend = Arc::new(
        EmbeddedBackend::open(&args.data_dir)
            .with_context(|| format!("cannot open {}", args.data_dir.display()))?,
    );
    let cluster = Arc::new(BrokerCluster::new(
        backend.broker().clone(),
        backend.handle().clone(),
    ));
    let runner = AppRunner::new(backend.clone(), args.data_dir.join("query-state"));
    let mut config = BTreeMap::new();
    config.insert("auto.offset.reset".to_string(), "earliest".to_string());
    config.insert("commit.interval.ms".to_string(), "100".to_string());
    let mut engine = Engine::new(Config::with(config), cluster, Box::new(runner));
    let mut sinks: Vec<String> = Vec::new();
    for path in &args.scripts {
        let script = read_script(path)?;
        let statements =
            split_statements(&script).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for (text, _) in statements {
            if text.trim_start().to_ascii_uppercase().starts_with("SELECT") {
                select(&mut engine, &text, Duration::from_secs(args.timeout))?;
                continue;
            }
            let results = engine
                .execute(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}\n  in: {}", path.display(), text.trim()))?;
            for result in &results {
                if let StatementResult::QueryStarted { sink, .. } = result
                    && !sinks.contains(sink)
                {
                    sinks.push(sink.clone());
                }
                println!("{}", describe(result));
            }
        }
    }
    if !engine.wait_until_settled(Duration::from_secs(args.timeout)) {
        bail!(
            "the queries did not catch up with their input within {} s",
            args.timeout
        );
    }
    let names = if args.print.is_empty() {
        sinks
    } else {
        args.print.clone()
    };
    let mut printed = String::new();
    for name in &names {
        let scan = engine
            .scan(&name.to_ascii_uppercase(), 1_000_000)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(
            printed,
            "{} ({} rows)",
            name.to_ascii_uppercase(),
            scan.rows.len()
        )?;
        writeln!(printed, "{}", table(&scan))?;
    }
    print!("{printed}");
    if let Some(expected) = &args.expect {
        let want = std::fs::read_to_string(expected)
            .with_context(|| format!("cannot read {}", expected.display()))?;
        if want.trim_end() != printed.trim_end() {
            bail!(
                "the output differs from {}:\n--- expected\n{}\n--- got\n{}",
                expected.display(),
                want.trim_end(),
                printed.trim_end()
            );
        }
        println!("matches {}", expected.display());
    }
    if args.follow {
        println!("Queries running; Ctrl-C to stop.");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    let _ = tokio::signal::ctrl_c().await;
                });
            }
            let _ = tx.send(());
        });
        let _ = rx.recv();
    }
    engine
        .execute("TERMINATE ALL;")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Runs a `SELECT`. A pull query waits for the persistent queries to catch up, then
/// prints its rows; a push query prints its rows until its LIMIT, or until nothing came for
/// a while after every persistent query caught up.
fn select(engine: &mut Engine, sql: &str, timeout: Duration) -> Result<()> {
    let in_statement = |e: eddy::sql::SqlError| anyhow::anyhow!("{e}\n  in: {}", sql.trim());
    let parsed = eddy::sql::parser::parse_one(sql).map_err(in_statement)?;
    let is_pull = matches!(&parsed.statement, Statement::Query(q) if q.refinement.is_none());
    if is_pull && !engine.wait_until_settled(timeout) {
        bail!(
            "the queries did not catch up with their input within {} s",
            timeout.as_secs()
        );
    }
    let mut query = match engine.query(sql).map_err(in_statement)? {
        QueryAnswer::Pull(result) => {
            let header: Vec<&str> = result.columns.iter().map(|(n, _)| n.as_str()).collect();
            println!("{}", header.join(" | "));
            for row in &result.rows {
                println!("{}", cells(row, &result.columns).join(" | "));
            }
            return Ok(());
        }
        QueryAnswer::Push(query) => query,
    };
    let header: Vec<&str> = query.columns().iter().map(|(n, _)| n.as_str()).collect();
    println!("{}", header.join(" | "));
    let deadline = Instant::now() + timeout;
    let mut quiet = 0;
    while !query.is_complete() && Instant::now() < deadline && quiet < 10 {
        match query
            .next_row(Duration::from_millis(200))
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            Some(row) => {
                quiet = 0;
                println!("{}", cells(&row.values, query.columns()).join(" | "));
            }
            None => quiet += 1,
        }
    }
    query.close().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// A row's values as text.
fn cells(
    values: &[eddy::sql::value::Value],
    columns: &[(String, eddy::sql::SqlType)],
) -> Vec<String> {
    values
        .iter()
        .zip(columns)
        .map(|(v, (_, t))| v.display(Some(t)))
        .collect()
}

/// A scanned source as a table: key columns, window bounds, values, ROWTIME.
fn table(scan: &Scan) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_FULL_CONDENSED);
    let (header, rows) = scan.display_rows();
    table.set_header(header);
    for row in rows {
        table.add_row(row);
    }
    table
}
