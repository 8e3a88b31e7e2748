//! kcat (Debian package `kcat`, installed by `scripts/setup.sh`) against an in-process Eddy
//! server: metadata as JSON (`-L -J`), keyed produce (`-P -K:`), consume to the end (`-C -e`),
//! and a consumer group (`-G`) read in two runs of `-c N`, the second resuming exactly where
//! the first one's commits left off. Every kcat run is bounded by a timeout.

mod support;

use eddy::streams::partitioner;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use support::TestServer;

/// Runs kcat with `args`, feeding it `stdin`; fails if it is missing, runs longer than
/// `timeout` (it is killed then) or exits non-zero.
fn kcat(args: &[&str], stdin: &[u8], timeout: Duration) -> Result<Output> {
    let mut child = match Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "kcat is not installed: run scripts/setup.sh (it installs the Debian package kcat)"
            )
        }
        Err(e) => return Err(e).context("starting kcat"),
    };
    let mut input = child.stdin.take().context("kcat's stdin")?;
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut stdout = child.stdout.take().context("kcat's stdout")?;
    let mut stderr = child.stderr.take().context("kcat's stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let output = Output {
        status: status.unwrap_or_else(|| child.wait().expect("reaped")),
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    };
    let show = |o: &Output| {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    ensure!(
        status.is_some(),
        "kcat {args:?} did not finish within {timeout:?}; {}",
        show(&output)
    );
    ensure!(
        output.status.success(),
        "kcat {args:?} failed ({}); {}",
        output.status,
        show(&output)
    );
    Ok(output)
}

/// The options every kcat run gets: the broker, IPv4, quiet.
fn base_args(bootstrap: &str) -> Vec<String> {
    ["-b", bootstrap, "-X", "broker.address.family=v4", "-q"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn run(
    server: &TestServer,
    extra: &[&str],
    stdin: &[u8],
    timeout: Duration,
) -> Result<(String, String)> {
    let bootstrap = server.bootstrap();
    let mut args = base_args(&bootstrap);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = kcat(&args, stdin, timeout)?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // kcat prints librdkafka's errors as "% ERROR: ..." even when it exits 0.
    ensure!(
        !stderr.contains("ERROR"),
        "kcat {args:?} reported errors:\n{stderr}"
    );
    Ok((
        String::from_utf8(output.stdout).context("kcat's output is not UTF-8")?,
        stderr,
    ))
}

/// `partition|offset|key|value` lines, as printed with `-f '%p|%o|%k|%s\n'`.
fn parse_lines(text: &str) -> Result<Vec<(i32, i64, String, String)>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut parts = line.splitn(4, '|');
            let mut next = || {
                parts
                    .next()
                    .with_context(|| format!("malformed line {line:?}"))
            };
            Ok((
                next()?.parse()?,
                next()?.parse()?,
                next()?.to_string(),
                next()?.to_string(),
            ))
        })
        .collect()
}

const FORMAT: &str = "%p|%o|%k|%s\n";
const TIMEOUT: Duration = Duration::from_secs(40);

#[test]
fn kcat_lists_metadata_as_json() -> Result<()> {
    let server = TestServer::start()?;
    server.create_topic("kcat-meta", 3)?;
    let (out, _) = run(&server, &["-L", "-J"], b"", TIMEOUT)?;
    let json: serde_json::Value =
        serde_json::from_str(&out).with_context(|| format!("kcat -L -J printed {out:?}"))?;
    let brokers = json["brokers"].as_array().context("no brokers array")?;
    ensure!(brokers.len() == 1, "brokers: {brokers:?}");
    let broker_id = brokers[0]["id"].as_i64().context("broker id")?;
    let expected_name = format!("127.0.0.1:{}", server.addr().port());
    ensure!(
        brokers[0]["name"].as_str() == Some(expected_name.as_str()),
        "broker advertised as {}, expected {expected_name}",
        brokers[0]["name"]
    );
    let topic = json["topics"]
        .as_array()
        .context("no topics array")?
        .iter()
        .find(|t| t["topic"] == "kcat-meta")
        .with_context(|| format!("topic kcat-meta missing from {out}"))?;
    let partitions = topic["partitions"].as_array().context("partitions")?;
    let ids: BTreeSet<i64> = partitions
        .iter()
        .filter_map(|p| p["partition"].as_i64())
        .collect();
    ensure!(ids == BTreeSet::from([0, 1, 2]), "partitions {ids:?}");
    for p in partitions {
        ensure!(p["leader"].as_i64() == Some(broker_id), "leader of {p}");
        ensure!(
            p["isrs"].as_array().is_some_and(|isrs| isrs.len() == 1),
            "in-sync replicas of {p}"
        );
    }
    Ok(())
}

#[test]
fn kcat_produces_keyed_records_and_consumes_them_to_the_end() -> Result<()> {
    let server = TestServer::start()?;
    server.create_topic("kcat-data", 3)?;
    let records: Vec<(String, String)> = (0..300)
        .map(|i| (format!("user-{i}"), format!("event {i} payload")))
        .collect();
    let input: String = records.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    run(
        &server,
        &[
            "-P",
            "-t",
            "kcat-data",
            "-K:",
            "-X",
            "partitioner=murmur2_random",
            "-X",
            "acks=all",
        ],
        input.as_bytes(),
        TIMEOUT,
    )?;
    // Straight from the log: every record once, on Kafka's murmur2 partition.
    let mut stored = Vec::new();
    for p in 0..3 {
        for r in server.log_records("kcat-data", p)? {
            let key = String::from_utf8(r.key.unwrap_or_default().to_vec())?;
            let value = String::from_utf8(r.value.unwrap_or_default().to_vec())?;
            let want = partitioner::partition_for_key(key.as_bytes(), 3);
            ensure!(
                want == p,
                "key {key} on partition {p}, murmur2 picks {want}"
            );
            stored.push((key, value));
        }
    }
    stored.sort();
    let mut want = records.clone();
    want.sort();
    ensure!(
        stored == want,
        "the log holds {} records, kcat sent {}",
        stored.len(),
        want.len()
    );

    // Consume everything and exit at the end of each partition.
    let (out, err) = run(
        &server,
        &[
            "-C",
            "-t",
            "kcat-data",
            "-o",
            "beginning",
            "-e",
            "-f",
            FORMAT,
        ],
        b"",
        TIMEOUT,
    )?;
    let consumed = parse_lines(&out).with_context(|| format!("stderr: {err}"))?;
    ensure!(
        consumed.len() == records.len(),
        "kcat -C -e printed {} records of {}:\n{out}",
        consumed.len(),
        records.len()
    );
    let mut last_offset = [-1i64; 3];
    let mut got = Vec::new();
    for (p, o, k, v) in consumed {
        ensure!((0..3).contains(&p), "partition {p}");
        ensure!(
            o == last_offset[p as usize] + 1,
            "partition {p}: offset {o} after {}",
            last_offset[p as usize]
        );
        last_offset[p as usize] = o;
        got.push((k, v));
    }
    got.sort();
    ensure!(got == want, "kcat -C read back different records");
    Ok(())
}

#[test]
fn kcat_group_consumer_resumes_from_its_commits() -> Result<()> {
    let server = TestServer::start()?;
    server.create_topic("kcat-group", 1)?;
    let input: String = (0..20).map(|i| format!("k{i}:v{i}\n")).collect();
    run(
        &server,
        &["-P", "-t", "kcat-group", "-K:"],
        input.as_bytes(),
        TIMEOUT,
    )?;

    let group_args = [
        "-G",
        "kcat-readers",
        "kcat-group",
        "-X",
        "auto.offset.reset=earliest",
        "-X",
        "session.timeout.ms=6000",
        "-X",
        "heartbeat.interval.ms=500",
        "-c",
        "10",
        "-f",
        FORMAT,
    ];
    // First run: the first 10 records; kcat commits them when it closes.
    let (out, err) = run(&server, &group_args, b"", TIMEOUT)?;
    let first = parse_lines(&out).with_context(|| format!("stderr: {err}"))?;
    let offsets: Vec<i64> = first.iter().map(|r| r.1).collect();
    ensure!(
        offsets == (0..10).collect::<Vec<_>>(),
        "first kcat -G run read offsets {offsets:?}\nstderr: {err}"
    );
    for (_, o, k, v) in &first {
        ensure!(
            *k == format!("k{o}") && *v == format!("v{o}"),
            "offset {o}: {k}:{v}"
        );
    }
    let committed = server
        .broker()
        .committed_offset("kcat-readers", "kcat-group", 0)
        .map(|c| c.offset);
    ensure!(
        committed == Some(10),
        "after the first run the group's committed offset is {committed:?}, expected 10"
    );

    // Second run, same group: exactly the other 10.
    let (out, err) = run(&server, &group_args, b"", TIMEOUT)?;
    let second = parse_lines(&out).with_context(|| format!("stderr: {err}"))?;
    let offsets: Vec<i64> = second.iter().map(|r| r.1).collect();
    ensure!(
        offsets == (10..20).collect::<Vec<_>>(),
        "second kcat -G run read offsets {offsets:?} (expected 10..20)\nstderr: {err}"
    );
    Ok(())
}
