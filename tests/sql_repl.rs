//! `eddy sql`, the interactive shell, driven through a pseudo-terminal as a person would:
//! statements over several lines, Tab completion, a push query ended by Ctrl-C without
//! leaving the shell, `SET`, a pull query, history kept in a file, and the catalog there
//! again the next time the shell opens the data directory. Then `-e` and `-f` runs.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use rexpect::session::{PtySession, spawn_command};

const EDDY: &str = env!("CARGO_BIN_EXE_eddy");

fn shell(dir: &Path) -> Result<PtySession> {
    let mut command = Command::new(EDDY);
    command
        .args(["sql", "--data-dir"])
        .arg(dir.join("data"))
        .env("EDDY_SQL_HISTORY", dir.join("history"))
        .env("RUST_LOG", "warn")
        .env("COLUMNS", "100");
    let mut session = spawn_command(command, Some(60_000))?;
    session.exp_string("eddy> ")?;
    Ok(session)
}

#[test]
fn the_shell_through_a_terminal() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut p = shell(dir.path())?;
    // A statement over two lines.
    p.send_line("CREATE STREAM clicks (user STRING KEY, page STRING)")?;
    p.send_line("  WITH (kafka_topic='clicks', partitions=1, value_format='JSON');")?;
    p.exp_string("Stream created")?;
    p.exp_string("eddy> ")?;
    // Tab completes keywords; the listing is a table.
    p.send("SHOW STR")?;
    p.send("\t")?;
    p.send_line(";")?;
    p.exp_string("Stream Name")?;
    p.exp_string("CLICKS")?;
    p.exp_string("eddy> ")?;
    p.send_line("INSERT INTO clicks (user, page) VALUES ('ada', '/home');")?;
    // It prints nothing, and the shell redraws its prompt with every keystroke it echoes:
    // wait for the prompt after the line's newline, or the next line is typed while the
    // insert still runs (and the terminal discards it when the shell reads again).
    p.exp_string("\n")?;
    p.exp_string("eddy> ")?;
    p.send_line("SET 'auto.offset.reset' = 'earliest';")?;
    p.exp_string("Successfully changed local property 'auto.offset.reset' to 'earliest'.")?;
    // A push query prints rows until Ctrl-C, which ends the query and not the shell.
    p.send_line("SELECT * FROM clicks EMIT CHANGES;")?;
    p.exp_string("/home")?;
    p.send_control('c')?;
    p.exp_string("Query terminated (1 row(s))")?;
    p.exp_string("eddy> ")?;
    // A table and a pull query on it.
    p.send_line("CREATE TABLE per_user AS SELECT user, COUNT(*) AS n FROM clicks GROUP BY user;")?;
    p.exp_string("Created query with ID CTAS_PER_USER_0")?;
    p.exp_string("eddy> ")?;
    let mut answered = false;
    for _ in 0..100 {
        p.send_line("SELECT n FROM per_user WHERE user = 'ada';")?;
        let (_, found) = p.exp_regex(r"\|1 +\||0 row\(s\)")?;
        p.exp_string("eddy> ")?;
        if found.starts_with('|') {
            answered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(answered, "the pull query never saw ada's click");
    // A mistake is an error that names where, and the shell goes on.
    p.send_line("SELEC 1;")?;
    p.exp_string("line 1:1: Syntax Error")?;
    p.exp_string("eddy> ")?;
    p.send_line("exit")?;
    p.exp_eof()?;

    let history = std::fs::read_to_string(dir.path().join("history"))?;
    assert!(history.contains("SHOW STREAMS;"), "{history}");

    // The next shell on the data directory has the streams, tables and queries.
    let mut p = shell(dir.path())?;
    p.send_line("SHOW QUERIES;")?;
    p.exp_string("CTAS_PER_USER_0")?;
    p.exp_string("RUNNING")?;
    p.exp_string("eddy> ")?;
    p.send_control('d')?;
    p.exp_eof()?;
    Ok(())
}

#[test]
fn execute_and_file_run_statements_without_a_prompt() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let script = dir.path().join("setup.sql");
    std::fs::write(
        &script,
        "CREATE STREAM s (id INT KEY, v STRING) WITH (kafka_topic='s', partitions=1, value_format='JSON');\n\
         INSERT INTO s (id, v) VALUES (1, 'one');\n",
    )?;
    let run = |args: &[&str]| {
        Command::new(EDDY)
            .arg("sql")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
    };
    let out = run(&["-f", script.to_str().unwrap_or_default()])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Stream created"
    );
    let out = run(&["-e", "SELECT * FROM s;"])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("|1 "), "{stdout}");
    assert!(stdout.contains("|one "), "{stdout}");
    assert!(stdout.contains("1 row(s)"), "{stdout}");
    let out = run(&["--output", "json", "-e", "SELECT * FROM s; SHOW STREAMS;"])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap_or_default())?;
    assert_eq!(
        header["columnNames"],
        serde_json::json!(["ID", "V"]),
        "{stdout}"
    );
    assert_eq!(lines.next(), Some(r#"[1,"one"]"#), "{stdout}");
    let listing: serde_json::Value = serde_json::from_str(&lines.collect::<Vec<_>>().join("\n"))?;
    assert_eq!(listing[0]["@type"], "streams", "{stdout}");
    assert_eq!(listing[0]["streams"][0]["name"], "S", "{stdout}");
    let out = run(&["-e", "PRINT 's' FROM BEGINNING LIMIT 1;"])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..2],
        ["Key format: KAFKA_INT", "Value format: JSON"],
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("rowtime: ")
            && lines[2].ends_with(r#", key: 1, value: {"V":"one"}, partition: 0"#),
        "{stdout}"
    );
    assert_eq!(lines[3..], ["1 record(s)"], "{stdout}");
    // The first failing statement stops the run, with exit status 1.
    let out = run(&["-e", "SHOW STREAMS; DROP STREAM nowhere; SHOW TABLES;"])?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("NOWHERE does not exist"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Table Name"));
    Ok(())
}
