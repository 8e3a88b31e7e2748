//! Runs the built `eddy` binary on temporary data directories: the demo (twice, to see the
//! topic reused and offsets continue), the topic commands, and the error messages a person
//! gets for a locked or missing data directory.

use std::path::Path;
use std::process::{Command, Output};

const EDDY: &str = env!("CARGO_BIN_EXE_eddy");

fn eddy(args: &[&str]) -> Output {
    Command::new(EDDY)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the eddy binary runs")
}

/// Runs eddy, asserts success, returns stdout.
fn eddy_ok(args: &[&str]) -> String {
    let out = eddy(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "eddy {args:?} failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// Runs eddy, asserts failure, returns stderr.
fn eddy_err(args: &[&str]) -> String {
    let out = eddy(args);
    assert!(
        !out.status.success(),
        "eddy {args:?} should have failed; stdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// One row of the demo's partition table.
#[derive(Debug)]
struct Row {
    partition: i32,
    records: i64,
    /// First and last offset written by this run, if any.
    offsets: Option<(i64, i64)>,
    log_start: i64,
    log_end: i64,
}

fn table(stdout: &str) -> Vec<Row> {
    stdout
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let partition = cols.first()?.parse().ok()?;
            let offsets = match cols[2] {
                "-" => None,
                range => {
                    let (a, b) = range.split_once('-').expect("first-last");
                    Some((a.parse().unwrap(), b.parse().unwrap()))
                }
            };
            Some(Row {
                partition,
                records: cols[1].parse().unwrap(),
                offsets,
                log_start: cols[3].parse().unwrap(),
                log_end: cols[4].parse().unwrap(),
            })
        })
        .collect()
}

#[test]
fn demo_writes_reads_back_and_reuses_the_topic() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dir = path_arg(&data);

    let first = eddy_ok(&["demo", "--data-dir", dir]);
    assert!(first.contains("new data directory"), "{first}");
    assert!(
        first.contains("topic       demo: created with 3 partitions"),
        "{first}"
    );
    assert!(first.contains("wrote       1000 records"), "{first}");
    assert!(first.contains("read back   1000 records"), "{first}");
    assert!(
        first.contains("every key, value and offset as written"),
        "{first}"
    );
    assert!(first.contains("shut down   cleanly"), "{first}");
    let canonical = std::fs::canonicalize(&data).unwrap();
    assert!(
        first.contains(&format!("data dir    {}", canonical.display())),
        "{first}"
    );
    let rows = table(&first);
    assert_eq!(
        rows.iter().map(|r| r.partition).collect::<Vec<_>>(),
        [0, 1, 2],
        "{first}"
    );
    assert_eq!(rows.iter().map(|r| r.records).sum::<i64>(), 1000);
    for row in &rows {
        // 1000 keys hash over 3 partitions: every partition gets some.
        assert!(row.records > 0, "{first}");
        assert_eq!(row.offsets, Some((0, row.records - 1)), "{first}");
        assert_eq!((row.log_start, row.log_end), (0, row.records), "{first}");
    }
    assert!(data.join(".clean-shutdown").exists());

    let second = eddy_ok(&[
        "demo",
        "--data-dir",
        dir,
        "--records",
        "500",
        "--batch-size",
        "7",
    ]);
    assert!(second.contains("previous shutdown was clean"), "{second}");
    assert!(
        second.contains("already exists with 3 partitions, reused"),
        "{second}"
    );
    assert!(second.contains("wrote       500 records"), "{second}");
    assert!(second.contains("read back   500 records"), "{second}");
    let again = table(&second);
    assert_eq!(again.len(), 3, "{second}");
    for (before, after) in rows.iter().zip(&again) {
        // This run's offsets continue where the first run's ended.
        if let Some((first_offset, last_offset)) = after.offsets {
            assert_eq!(first_offset, before.log_end, "{second}");
            assert_eq!(last_offset, before.log_end + after.records - 1, "{second}");
        }
        assert_eq!(after.log_end, before.log_end + after.records, "{second}");
    }
    assert_eq!(again.iter().map(|r| r.log_end).sum::<i64>(), 1500);
    assert!(second.contains("1500 records in the topic"), "{second}");

    // Both topics are there: the internal offsets topic and the demo.
    let listed = eddy_ok(&["topics", "list", "--data-dir", dir]);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["__consumer_offsets", "demo"]
    );
}

#[test]
fn topic_commands_work_on_a_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dir = path_arg(&data);

    let created = eddy_ok(&[
        "topics",
        "create",
        "orders",
        "--partitions",
        "4",
        "--config",
        "retention.ms=3600000",
        "--config",
        "cleanup.policy=compact",
        "--data-dir",
        dir,
    ]);
    assert!(
        created.contains("created topic orders with 4 partition(s)"),
        "{created}"
    );

    let listed = eddy_ok(&["topics", "list", "--data-dir", dir]);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["__consumer_offsets", "orders"]
    );

    let described = eddy_ok(&["topics", "describe", "orders", "--data-dir", dir]);
    assert!(described.contains("topic orders"), "{described}");
    assert!(described.contains("partitions  4"), "{described}");
    assert!(described.contains("retention.ms=3600000"), "{described}");
    assert!(described.contains("cleanup.policy=compact"), "{described}");

    let all = eddy_ok(&["topics", "describe", "--data-dir", dir]);
    assert!(all.contains("topic __consumer_offsets (internal)"), "{all}");
    assert!(all.contains("topic orders"), "{all}");

    let err = eddy_err(&["topics", "create", "orders", "--data-dir", dir]);
    assert!(err.contains("already exists"), "{err}");
    let err = eddy_err(&["topics", "create", "bad name", "--data-dir", dir]);
    assert!(err.contains("invalid topic name"), "{err}");
    let err = eddy_err(&[
        "topics",
        "create",
        "x",
        "--config",
        "retention.mss=1",
        "--data-dir",
        dir,
    ]);
    assert!(err.contains("unknown config key"), "{err}");
    let err = eddy_err(&["topics", "describe", "nope", "--data-dir", dir]);
    assert!(err.contains("no topic named \"nope\""), "{err}");
    let err = eddy_err(&["topics", "delete", "__consumer_offsets", "--data-dir", dir]);
    assert!(err.contains("cannot be deleted"), "{err}");

    let deleted = eddy_ok(&["topics", "delete", "orders", "--data-dir", dir]);
    assert!(deleted.contains("deleted topic orders"), "{deleted}");
    let listed = eddy_ok(&["topics", "list", "--data-dir", dir]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["__consumer_offsets"]);
}

#[test]
fn a_data_directory_in_use_is_refused_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let broker = runtime
        .block_on(eddy::broker::Broker::open(eddy::broker::BrokerConfig::new(
            &data,
        )))
        .unwrap();

    for args in [
        &["demo", "--data-dir", path_arg(&data)][..],
        &["topics", "list", "--data-dir", path_arg(&data)][..],
    ] {
        let err = eddy_err(args);
        assert!(err.contains("is in use by another Eddy process"), "{err}");
        assert!(err.contains(".lock"), "{err}");
    }

    runtime.block_on(broker.shutdown()).unwrap();
    drop(broker);
    // Once the other broker is gone, the directory opens again.
    eddy_ok(&["topics", "list", "--data-dir", path_arg(&data)]);
}

#[test]
fn missing_or_foreign_data_directories_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let err = eddy_err(&["topics", "list", "--data-dir", path_arg(&missing)]);
    assert!(err.contains("no data directory at"), "{err}");
    assert!(!missing.exists(), "listing must not create the directory");

    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let err = eddy_err(&["demo", "--data-dir", path_arg(&foreign)]);
    assert!(err.contains("is not an Eddy data directory"), "{err}");
    assert!(!foreign.join("topics").exists());

    let err = eddy_err(&["demo", "--records", "0", "--data-dir", path_arg(&missing)]);
    assert!(err.contains("--records"), "{err}");
}
