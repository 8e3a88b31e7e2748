//! The SQL guide's examples, run: `docs/sql.md` is read, every ```` ```sql ```` block is run
//! as a script on a fresh embedded broker, the way `eddy sql run` runs one
//! (`src/cli/sql_run.rs`, whose printing this file mirrors), and what it printed is compared
//! with the blocks that follow it. The conventions, also described in the guide:
//!
//! - ```` ```sql ````: a script. It must run without error.
//! - ```` ```text ```` after it (before the next `sql` block): what it prints, less the
//!   one-line acknowledgements of statements (`Created STREAM ...`, `Inserted a row`): the
//!   rows of its push queries and the tables `eddy sql run` prints at the end.
//! - ```` ```console ````: the whole session, `$ eddy sql run FILE` and every line printed.
//! - ```` ```error ````: the script fails, with this message (the first failing statement's).
//! - ```` ```log ````: the processing-log entries the script's queries wrote, in query-id
//!   order.
//!
//! Other blocks (no language, `rust`, `sh`) are not run, except that the `rust` blocks must
//! be the code of the `doc_example_*` modules below, which are compiled (and the embedded
//! one run) here. The reference's function tables must list exactly the functions the
//! registry has (`SHOW FUNCTIONS`) plus the special forms the planner handles itself.
//!
//! `EDDY_BLESS_DOCS=1 cargo nextest run -p eddy-sql --test docs` rewrites the expected blocks
//! with what the examples printed: review the diff.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_sql::engine::scan::Scan;
use eddy_sql::engine::{AppRunner, BrokerCluster, Config, Engine, StatementResult};
use eddy_sql::functions::FunctionRegistry;
use eddy_sql::parser::split_statements;
use eddy_streams::EmbeddedBackend;

/// Functions the planner handles itself, which `SHOW FUNCTIONS` does not list.
const SPECIAL_FORMS: &[&str] = &["AS_VALUE", "FILTER", "REDUCE", "TRANSFORM"];

/// How long an example's queries may take to catch up.
const SETTLE: Duration = Duration::from_secs(60);

/// How many examples run at once (they mostly wait for their queries).
const PARALLEL: usize = 6;

fn doc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/sql.md")
}

/// A fenced block of the guide.
#[derive(Debug, Clone)]
struct Block {
    /// The info string's first word (`sql`, `text`, ...).
    lang: String,
    /// The line of the opening fence (1-based).
    line: usize,
    /// The lines between the fences (0-based indexes into the document's lines).
    body: std::ops::Range<usize>,
    /// The content.
    text: String,
}

/// A script and the blocks that say what it prints.
#[derive(Debug, Clone)]
struct Example {
    script: Block,
    expected: Vec<Block>,
}

fn blocks(doc: &str) -> Vec<Block> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let lang = info.split_whitespace().next().unwrap_or("").to_string();
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && !lines[end].starts_with("```") {
            end += 1;
        }
        assert!(
            end < lines.len(),
            "docs/sql.md:{}: unclosed code block",
            i + 1
        );
        let mut text = lines[start..end].join("\n");
        text.push('\n');
        out.push(Block {
            lang,
            line: i + 1,
            body: start..end,
            text,
        });
        i = end + 1;
    }
    out
}

fn examples(blocks: &[Block]) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    for b in blocks {
        match b.lang.as_str() {
            "sql" => out.push(Example {
                script: b.clone(),
                expected: Vec::new(),
            }),
            "text" | "console" | "error" | "log" => match out.last_mut() {
                Some(example) => example.expected.push(b.clone()),
                None => panic!(
                    "docs/sql.md:{}: a `{}` block before any sql block",
                    b.line, b.lang
                ),
            },
            _ => {}
        }
    }
    out
}

/// What a script printed, as `eddy sql run` prints it.
#[derive(Debug, Default, Clone)]
struct Outcome {
    /// Every line: acknowledgements, push-query rows, the final tables.
    full: String,
    /// Push-query rows and the final tables.
    results: String,
    /// The first failing statement's message.
    error: Option<String>,
    /// The queries' processing-log entries, in query-id order.
    log: String,
}

impl Outcome {
    fn ack(&mut self, line: &str) {
        self.full.push_str(line);
        self.full.push('\n');
    }

    fn result(&mut self, line: &str) {
        self.ack(line);
        self.results.push_str(line);
        self.results.push('\n');
    }
}

/// What a statement did, in the words `eddy sql run` uses.
fn acknowledgement(result: &StatementResult) -> String {
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

/// Runs a script on a fresh embedded broker in `dir`, as `eddy sql run` does.
fn run_script(dir: &Path, script: &str) -> Outcome {
    let mut out = Outcome::default();
    let backend = Arc::new(EmbeddedBackend::open(dir).expect("open the embedded broker"));
    let cluster = Arc::new(BrokerCluster::new(
        backend.broker().clone(),
        backend.handle().clone(),
    ));
    let runner = AppRunner::new(backend.clone(), dir.join("query-state"));
    let mut config = BTreeMap::new();
    config.insert("auto.offset.reset".to_string(), "earliest".to_string());
    config.insert("commit.interval.ms".to_string(), "100".to_string());
    let mut engine = Engine::new(Config::with(config), cluster, Box::new(runner));
    let statements = match split_statements(script) {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let mut sinks: Vec<String> = Vec::new();
    for (text, _) in statements {
        if text.trim_start().to_ascii_uppercase().starts_with("SELECT") {
            if let Err(e) = push_query(&mut engine, &text, &mut out) {
                out.error = Some(e);
                break;
            }
            continue;
        }
        match engine.execute(&text) {
            Ok(results) => {
                for result in &results {
                    if let StatementResult::QueryStarted { sink, .. } = result
                        && !sinks.contains(sink)
                    {
                        sinks.push(sink.clone());
                    }
                    out.ack(&acknowledgement(result));
                }
            }
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        }
    }
    if out.error.is_none() {
        if !engine.wait_until_settled(SETTLE) {
            out.error = Some(format!("the queries did not catch up within {SETTLE:?}"));
        } else {
            for name in &sinks {
                match engine.scan(&name.to_ascii_uppercase(), 1_000_000) {
                    Ok(scan) => {
                        out.result(&format!(
                            "{} ({} rows)",
                            name.to_ascii_uppercase(),
                            scan.rows.len()
                        ));
                        out.result(&table(&scan));
                    }
                    Err(e) => out.error = Some(e.to_string()),
                }
            }
        }
    }
    for query in engine.queries().values() {
        for entry in query.log.recent() {
            out.log.push_str(&entry);
            out.log.push('\n');
        }
    }
    let _ = engine.execute("TERMINATE ALL;");
    out
}

/// Runs a `SELECT` as `eddy sql run` does, printing its header and rows: a pull query
/// once the queries caught up, a push query's rows as they come. Examples give their push
/// queries a LIMIT: without one, `eddy sql run` waits two quiet seconds.
fn push_query(engine: &mut Engine, sql: &str, out: &mut Outcome) -> Result<(), String> {
    let is_pull = !sql.to_ascii_uppercase().contains("EMIT ");
    if is_pull {
        if !engine.wait_until_settled(SETTLE) {
            return Err("the queries did not catch up before a pull query".into());
        }
        let result = engine.pull_query(sql).map_err(|e| e.to_string())?;
        let header: Vec<&str> = result.columns.iter().map(|(n, _)| n.as_str()).collect();
        out.result(&header.join(" | "));
        for row in &result.rows {
            out.result(&cells(row, &result.columns).join(" | "));
        }
        return Ok(());
    }
    if !sql.to_ascii_uppercase().contains("LIMIT") {
        return Err(format!(
            "a push query in the guide needs a LIMIT: {}",
            sql.trim()
        ));
    }
    let mut query = engine.push_query(sql).map_err(|e| e.to_string())?;
    let header: Vec<&str> = query.columns().iter().map(|(n, _)| n.as_str()).collect();
    out.result(&header.join(" | "));
    let deadline = Instant::now() + SETTLE;
    let mut quiet = 0;
    while !query.is_complete() && Instant::now() < deadline && quiet < 10 {
        match query
            .next_row(Duration::from_millis(200))
            .map_err(|e| e.to_string())?
        {
            Some(row) => {
                quiet = 0;
                out.result(&cells(&row.values, query.columns()).join(" | "));
            }
            None => quiet += 1,
        }
    }
    query.close().map_err(|e| e.to_string())
}

/// A row's values as `eddy sql run` prints them.
fn cells(
    values: &[eddy_sql::value::Value],
    columns: &[(String, eddy_sql::SqlType)],
) -> Vec<String> {
    values
        .iter()
        .zip(columns)
        .map(|(v, (_, t))| v.display(Some(t)))
        .collect()
}

/// A scanned source as `eddy sql run` prints it: comfy-table's ASCII_FULL_CONDENSED preset,
/// streams in event-time order, tables in key order.
fn table(scan: &Scan) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_FULL_CONDENSED);
    let (header, rows) = scan.display_rows();
    table.set_header(header);
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

/// Trailing whitespace and blank lines at the end do not count.
fn normalize(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_string()
}

/// The text an expected block would hold for this outcome, or why the outcome cannot
/// match a block of this kind.
fn actual_for(block: &Block, outcome: &Outcome, script: &Block) -> Result<String, String> {
    match block.lang.as_str() {
        "error" => outcome
            .error
            .clone()
            .ok_or_else(|| "the script ran without error, but an error was expected".to_string()),
        _ if outcome.error.is_some() => Err(format!(
            "the script failed: {}",
            outcome.error.as_deref().unwrap_or_default()
        )),
        "text" => Ok(outcome.results.clone()),
        "log" => Ok(outcome.log.clone()),
        "console" => {
            let first = block.text.lines().next().unwrap_or_default();
            if !first.starts_with("$ eddy sql run ") {
                return Err(format!(
                    "a console block starts with `$ eddy sql run FILE` (the sql block at line {})",
                    script.line
                ));
            }
            Ok(format!("{first}\n{}", outcome.full))
        }
        other => Err(format!("unknown block kind {other}")),
    }
}

/// Checks an example's outcome against its expected blocks; the differences, described.
fn check(example: &Example, outcome: &Outcome) -> Result<(), String> {
    let mut problems = Vec::new();
    if example.expected.iter().all(|b| b.lang != "error")
        && let Some(error) = &outcome.error
    {
        problems.push(format!("the script failed: {error}"));
    }
    for block in &example.expected {
        match actual_for(block, outcome, &example.script) {
            Ok(actual) => {
                if normalize(&actual) != normalize(&block.text) {
                    problems.push(format!(
                        "the `{}` block at line {} differs:\n--- expected\n{}\n--- actual\n{}",
                        block.lang,
                        block.line,
                        normalize(&block.text),
                        normalize(&actual)
                    ));
                }
            }
            Err(why) => {
                if !problems.contains(&why) {
                    problems.push(why);
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Runs the examples `PARALLEL` at a time; their outcomes, in order.
fn run_all(examples: &[Example]) -> Vec<Outcome> {
    let next = Mutex::new(0usize);
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; examples.len()]);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(examples.len()) {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    if i >= examples.len() {
                        break;
                    }
                    let dir = tempfile::tempdir().unwrap();
                    let outcome = run_script(dir.path(), &examples[i].script.text);
                    outcomes.lock().unwrap()[i] = Some(outcome);
                }
            });
        }
    });
    outcomes
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|o| o.expect("every example ran"))
        .collect()
}

/// Rewrites the expected blocks with the outcomes (`EDDY_BLESS_DOCS=1`).
fn bless(doc: &str, examples: &[Example], outcomes: &[Outcome]) -> String {
    let mut lines: Vec<String> = doc.lines().map(str::to_string).collect();
    let mut replacements: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for (example, outcome) in examples.iter().zip(outcomes) {
        for block in &example.expected {
            if let Ok(actual) = actual_for(block, outcome, &example.script) {
                replacements.push((block.body.clone(), normalize(&actual)));
            }
        }
    }
    replacements.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    for (range, text) in replacements {
        let new: Vec<String> = if text.is_empty() {
            Vec::new()
        } else {
            text.lines().map(str::to_string).collect()
        };
        lines.splice(range, new);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[test]
fn the_guide_examples_print_what_the_guide_says() {
    let doc = std::fs::read_to_string(doc_path()).expect("read docs/sql.md");
    let blocks = blocks(&doc);
    let examples = examples(&blocks);
    let started = Instant::now();
    let outcomes = run_all(&examples);
    if std::env::var_os("EDDY_BLESS_DOCS").is_some() {
        std::fs::write(doc_path(), bless(&doc, &examples, &outcomes)).unwrap();
    }
    let mut failures = Vec::new();
    for (example, outcome) in examples.iter().zip(&outcomes) {
        if let Err(problem) = check(example, outcome) {
            failures.push(format!(
                "docs/sql.md:{}: the example\n{}\n{problem}",
                example.script.line,
                example.script.text.trim_end()
            ));
        }
    }
    eprintln!("{} examples in {:?}", examples.len(), started.elapsed());
    assert!(
        examples.len() > 10,
        "only {} examples found",
        examples.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} examples differ from the guide (EDDY_BLESS_DOCS=1 rewrites the expected blocks):\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
}

/// A wrong expected block fails, and says where and how.
#[test]
fn a_wrong_expected_block_is_reported() {
    let doc = "Some prose.\n\n```sql\nSELECT 1;\n```\n\nIt prints:\n\n```text\nA\n1\n```\n\n```error\nboom\n```\n";
    let examples = examples(&blocks(doc));
    assert_eq!(examples.len(), 1);
    assert_eq!(examples[0].expected.len(), 2);
    let printed = Outcome {
        full: "Created STREAM S\nA\n1\n".into(),
        results: "A\n1\n".into(),
        error: None,
        log: String::new(),
    };
    let only_text = Example {
        script: examples[0].script.clone(),
        expected: vec![examples[0].expected[0].clone()],
    };
    assert_eq!(check(&only_text, &printed), Ok(()));
    let wrong = Outcome {
        results: "A\n2\n".into(),
        ..printed.clone()
    };
    let problem = check(&only_text, &wrong).unwrap_err();
    assert!(problem.contains("block at line 9 differs"), "{problem}");
    assert!(
        problem.contains("--- expected\nA\n1\n--- actual\nA\n2"),
        "{problem}"
    );
    // An expected error that does not happen, and an error nobody expected.
    let problem = check(&examples[0], &printed).unwrap_err();
    assert!(problem.contains("ran without error"), "{problem}");
    let failed = Outcome {
        error: Some("Line: 1, Col: 8: nope".into()),
        ..Outcome::default()
    };
    let problem = check(&only_text, &failed).unwrap_err();
    assert!(
        problem.contains("the script failed: Line: 1, Col: 8: nope"),
        "{problem}"
    );
}

/// The function reference lists every function of the registry, and no other (apart from
/// the special forms), each once.
#[test]
fn the_function_reference_lists_every_function() {
    let doc = std::fs::read_to_string(doc_path()).expect("read docs/sql.md");
    let start = doc
        .find("<!-- functions:begin -->")
        .expect("docs/sql.md has a <!-- functions:begin --> marker");
    let end = doc
        .find("<!-- functions:end -->")
        .expect("docs/sql.md has a <!-- functions:end --> marker");
    let mut listed: BTreeMap<String, usize> = BTreeMap::new();
    for line in doc[start..end].lines() {
        // Table rows: | `NAME(args)` | ... |
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        *listed.entry(name).or_default() += 1;
    }
    let registry = FunctionRegistry::builtin();
    let known: BTreeMap<String, String> = registry
        .list()
        .into_iter()
        .map(|(name, kind, description)| (name, format!("{kind:?}: {description}")))
        .collect();
    let missing: Vec<String> = known
        .iter()
        .filter(|(name, _)| !listed.contains_key(*name))
        .map(|(name, what)| format!("{name} ({})", what.lines().next().unwrap_or_default()))
        .collect();
    let special: BTreeSet<&str> = SPECIAL_FORMS.iter().copied().collect();
    let unknown: Vec<&String> = listed
        .keys()
        .filter(|name| !known.contains_key(*name) && !special.contains(name.as_str()))
        .collect();
    let twice: Vec<&String> = listed
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty() && twice.is_empty(),
        "docs/sql.md's function tables are out of date:\nnot listed: {missing:#?}\nnot functions: {unknown:?}\nlisted twice: {twice:?}"
    );
}

/// The `rust` blocks of the guide are the code of these modules, verbatim (the lines
/// between `// guide: begin` and `// guide: end`, unindented).
#[test]
fn the_guide_rust_examples_are_compiled_here() {
    let doc = std::fs::read_to_string(doc_path()).expect("read docs/sql.md");
    let source = include_str!("docs.rs");
    let mut ours = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "// guide: begin" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let mut code = String::new();
        for l in lines.by_ref() {
            if l.trim() == "// guide: end" {
                break;
            }
            code.push_str(l.get(indent..).unwrap_or(l.trim_start()));
            code.push('\n');
        }
        ours.push(code);
    }
    let theirs: Vec<String> = blocks(&doc)
        .into_iter()
        .filter(|b| b.lang == "rust")
        .map(|b| b.text)
        .collect();
    assert_eq!(ours.len(), 2, "two guide examples in docs.rs");
    assert_eq!(
        theirs, ours,
        "docs/sql.md's rust blocks differ from docs.rs's guide examples"
    );
}

#[test]
fn the_embedded_rust_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    doc_example_embedded::orders_per_customer(dir.path()).unwrap();
}

mod doc_example_embedded {
    // guide: begin
    use std::error::Error;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use eddy_sql::engine::{AppRunner, BrokerCluster, Config, Engine};
    use eddy_streams::EmbeddedBackend;

    pub fn orders_per_customer(data_dir: &Path) -> Result<(), Box<dyn Error>> {
        // The broker, in process; the engine creates topics and inserts rows through the
        // cluster, and runs each persistent query as an application on the backend.
        let backend = Arc::new(EmbeddedBackend::open(data_dir.join("broker"))?);
        let cluster = Arc::new(BrokerCluster::new(
            backend.broker().clone(),
            backend.handle().clone(),
        ));
        let runner = AppRunner::new(backend.clone(), data_dir.join("query-state"));
        let mut config = Config::new();
        config.set("auto.offset.reset", "earliest");
        let mut engine = Engine::new(config, cluster, Box::new(runner));

        engine.execute(
            "CREATE STREAM orders (order_id INT KEY, customer STRING, amount DOUBLE)
               WITH (kafka_topic='orders', value_format='JSON', partitions=1);
             INSERT INTO orders (order_id, customer, amount) VALUES (1, 'ada', 20.0);
             INSERT INTO orders (order_id, customer, amount) VALUES (2, 'grace', 5.0);
             INSERT INTO orders (order_id, customer, amount) VALUES (3, 'ada', 7.5);
             CREATE TABLE spend AS
               SELECT customer, SUM(amount) AS total FROM orders GROUP BY customer;",
        )?;

        // A push query: rows as they come, until its LIMIT.
        let mut big =
            engine.push_query("SELECT * FROM orders WHERE amount > 6 EMIT CHANGES LIMIT 2;")?;
        while !big.is_complete() {
            if let Some(row) = big.next_row(Duration::from_secs(10))? {
                println!("{:?}", row.values);
            }
        }

        // Wait for the persistent query to catch up, then read its table.
        assert!(engine.wait_until_settled(Duration::from_secs(30)));
        let spend = engine.scan("SPEND", 1000)?;
        for row in &spend.rows {
            println!("{:?} => {:?}", row.key, row.value);
        }
        assert_eq!(spend.rows.len(), 2);

        engine.execute("TERMINATE ALL;")?;
        Ok(())
    }
    // guide: end
}

#[allow(dead_code)]
mod doc_example_kafka {
    // guide: begin
    use std::error::Error;
    use std::sync::Arc;

    use eddy_sql::engine::{AppRunner, Config, Engine, KafkaCluster};
    use eddy_streams::runtime::{Backend, KafkaBackend};

    pub fn on_kafka(bootstrap_servers: &str) -> Result<Engine, Box<dyn Error>> {
        // librdkafka clients for Kafka (or `eddy broker start`): topics and inserts go
        // through the admin client and a producer, queries run as consumer-group members.
        let backend = Arc::new(KafkaBackend::new(bootstrap_servers)?);
        let cluster = Arc::new(KafkaCluster::new(backend.clone()));
        let runner = AppRunner::new(backend as Arc<dyn Backend>, "/var/lib/eddy/query-state");
        let mut config = Config::new();
        config.set("ksql.service.id", "orders_app_");
        Ok(Engine::new(config, cluster, Box::new(runner)))
    }
    // guide: end
}
