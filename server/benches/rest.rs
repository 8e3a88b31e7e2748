//! The SQL server's REST API, measured in-process over loopback with an HTTP/2 client (the
//! way ksqlDB's clients talk to it), each figure beside a baseline from the same run:
//!
//! - `/inserts-stream`: rows/s of one request streaming `--rows` rows, acknowledged as
//!   written; beside the broker's own durable produce of the same records (no HTTP, no SQL).
//! - pull-query key lookups (`SELECT * FROM t WHERE k = '...'`) on a table of `--keys`
//!   keys: the most per second with 4 clients, then p50/p99 at a fixed `--rate`; beside a
//!   raw RocksDB state-store get of the same keys.
//! - push-query latency: rows produced at `--push-rate` rows/s (durably, to the broker),
//!   from the produce call to the row parsed by the client of a `/query-stream` push query,
//!   p50/p99/max.
//!
//! `cargo bench -p eddy-server --bench rest [-- --keys N --rows N --rate N --push-rate N]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use eddy_broker::{Broker, BrokerConfig, Durability, NewRecord};
use eddy_server::{KsqlService, ServiceConfig};
use eddy_sql::engine::{AppRunner, BrokerCluster, Config};
use eddy_state::{RocksConfig, RocksEnv};
use eddy_streams::EmbeddedBackend;
use serde_json::{Value, json};

struct Args {
    keys: usize,
    rows: usize,
    rate: u64,
    push_rate: u64,
    seconds: u64,
}

fn args() -> Result<Args> {
    let mut args = Args {
        keys: 10_000,
        rows: 200_000,
        rate: 1_000,
        push_rate: 10_000,
        seconds: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> Result<u64> {
            it.next()
                .with_context(|| format!("{flag} needs a value"))?
                .parse()
                .with_context(|| format!("{flag} takes a number"))
        };
        match flag.as_str() {
            "--keys" => args.keys = value()? as usize,
            "--rows" => args.rows = value()? as usize,
            "--rate" => args.rate = value()?,
            "--push-rate" => args.push_rate = value()?,
            "--seconds" => args.seconds = value()?,
            "--bench" => {}
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

struct Server {
    base: String,
    broker: Broker,
    service: Arc<KsqlService>,
}

async fn start(dir: &std::path::Path) -> Result<Server> {
    let broker = Broker::open(BrokerConfig::new(dir.join("data"))).await?;
    let handle = tokio::runtime::Handle::current();
    let backend = Arc::new(EmbeddedBackend::new(broker.clone(), handle.clone()));
    let cluster = Arc::new(BrokerCluster::new(broker.clone(), handle));
    let state = dir.join("state");
    let config = Config::with(BTreeMap::from([
        ("auto.offset.reset".to_string(), "earliest".to_string()),
        ("commit.interval.ms".to_string(), "1000".to_string()),
    ]));
    let (service, _) = tokio::task::spawn_blocking(move || {
        KsqlService::open(
            config,
            cluster,
            Box::new(AppRunner::new(backend, state)),
            ServiceConfig::default(),
        )
    })
    .await??;
    let service = Arc::new(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(eddy_server::rest::serve(
        listener,
        service.clone(),
        1 << 20,
        std::future::pending(),
    ));
    Ok(Server {
        base,
        broker,
        service,
    })
}

async fn ksql(client: &reqwest::Client, server: &Server, sql: &str) -> Result<Value> {
    let response = client
        .post(format!("{}/ksql", server.base))
        .body(json!({"ksql": sql}).to_string())
        .send()
        .await?;
    let ok = response.status().is_success();
    let body: Value = response.json().await?;
    ensure!(ok, "{sql}: {body}");
    Ok(body)
}

/// Streams `rows` rows through one `/inserts-stream` request; returns the time to the last ack.
async fn inserts(
    client: &reqwest::Client,
    server: &Server,
    keys: usize,
    rows: usize,
) -> Result<Duration> {
    let mut body = String::from("{\"target\": \"SRC\"}\n");
    for i in 0..rows {
        body.push_str(&format!("{{\"K\": \"k{}\", \"V\": {i}}}\n", i % keys));
    }
    let started = Instant::now();
    let response = client
        .post(format!("{}/inserts-stream", server.base))
        .body(body)
        .send()
        .await?;
    let text = response.text().await?;
    let elapsed = started.elapsed();
    let acks = text.lines().filter(|l| l.contains("\"ok\"")).count();
    ensure!(
        acks == rows,
        "{acks} of {rows} rows acknowledged: {}",
        &text[..text.len().min(300)]
    );
    Ok(elapsed)
}

/// The broker's own durable produce of the same records, batched as the inserts were.
async fn raw_produce(broker: &Broker, keys: usize, rows: usize) -> Result<Duration> {
    broker
        .create_topic("raw", eddy_broker::TopicConfig::default())
        .await?;
    let records: Vec<NewRecord> = (0..rows)
        .map(|i| {
            NewRecord::new(
                Bytes::from(format!("k{}", i % keys)),
                Bytes::from(format!("{{\"V\":{i}}}")),
            )
        })
        .collect();
    let started = Instant::now();
    for chunk in records.chunks(4096) {
        broker.produce("raw", 0, chunk, Durability::Durable).await?;
    }
    Ok(started.elapsed())
}

async fn pull_once(client: &reqwest::Client, base: &str, key: usize) -> Result<Duration> {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/query-stream"))
        .body(json!({"sql": format!("SELECT * FROM t WHERE k = 'k{key}';")}).to_string())
        .send()
        .await?;
    let text = response.text().await?;
    ensure!(text.lines().count() == 2, "key k{key}: {text}");
    Ok(started.elapsed())
}

/// Pull lookups with `clients` concurrent clients for `seconds`: lookups per second.
async fn pull_throughput(
    client: &reqwest::Client,
    base: &str,
    keys: usize,
    seconds: u64,
) -> Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..4usize {
        let (client, base, done) = (client.clone(), base.to_string(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c * 7919;
            while Instant::now() < deadline {
                pull_once(&client, &base, i % keys).await?;
                done.fetch_add(1, Ordering::Relaxed);
                i += 4;
            }
            anyhow::Ok(())
        }));
    }
    let started = Instant::now();
    for t in tasks {
        t.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Pull lookups at a fixed rate (open loop): their latencies, sorted.
async fn pull_at_rate(
    client: &reqwest::Client,
    base: &str,
    keys: usize,
    rate: u64,
    seconds: u64,
) -> Result<Vec<Duration>> {
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, base) = (client.clone(), base.to_string());
        tasks.push(tokio::spawn(async move {
            // Measured from when it was due, so that a stalled server's queueing counts.
            pull_once(&client, &base, (i as usize * 7919) % keys).await?;
            anyhow::Ok(due.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        latencies.push(t.await??);
    }
    latencies.sort();
    Ok(latencies)
}

/// A RocksDB store with the same keys: get latencies, sorted, and gets per second.
fn raw_gets(dir: &std::path::Path, keys: usize) -> Result<(Vec<Duration>, f64)> {
    let env = RocksEnv::new(RocksConfig::default())?;
    let store = env.open_kv(dir, "baseline")?;
    for i in 0..keys {
        store.put(
            format!("k{i}").as_bytes(),
            format!("{{\"V\":{i}}}").as_bytes(),
        )?;
    }
    store.flush()?;
    let mut latencies = Vec::with_capacity(keys);
    let started = Instant::now();
    for i in 0..keys * 10 {
        let t = Instant::now();
        let got = store.get(format!("k{}", (i * 7919) % keys).as_bytes())?;
        latencies.push(t.elapsed());
        ensure!(got.is_some());
    }
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    Ok((latencies, rate))
}

/// Rows produced at `rate` rows/s for `seconds`; latency from produce to the client.
async fn push_latency(
    client: &reqwest::Client,
    server: &Server,
    rate: u64,
    seconds: u64,
) -> Result<Vec<Duration>> {
    ksql(
        client,
        server,
        "CREATE STREAM ticks (id BIGINT KEY, sent BIGINT)
           WITH (kafka_topic='ticks', partitions=1, value_format='JSON');",
    )
    .await?;
    let mut response = client
        .post(format!("{}/query-stream", server.base))
        .body(
            json!({"sql": "SELECT id, sent FROM ticks EMIT CHANGES;",
                     "properties": {"auto.offset.reset": "latest"}})
            .to_string(),
        )
        .send()
        .await?;
    // The header, then a moment for the query's consumer to be assigned.
    let first = response.chunk().await?.context("no header")?;
    ensure!(first.starts_with(b"{"), "{first:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let total = rate * seconds;
    let broker = server.broker.clone();
    let producer = tokio::spawn(async move {
        // Every millisecond, the rows due by then, in one durable produce.
        let started = Instant::now();
        let mut sent = 0u64;
        while sent < total {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
            let batch: Vec<NewRecord> = (sent..due)
                .map(|id| {
                    NewRecord::new(
                        Bytes::from(id.to_be_bytes().to_vec()),
                        Bytes::from(format!("{{\"SENT\":{}}}", now_us())),
                    )
                })
                .collect();
            if !batch.is_empty() {
                broker
                    .produce("ticks", 0, &batch, Durability::Durable)
                    .await?;
            }
            sent = due;
        }
        anyhow::Ok(())
    });
    let mut latencies = Vec::with_capacity(total as usize);
    let mut buffer = String::new();
    let deadline = Instant::now() + Duration::from_secs(seconds + 30);
    while (latencies.len() as u64) < total && Instant::now() < deadline {
        let Ok(chunk) = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await else {
            break;
        };
        let Some(chunk) = chunk? else { break };
        buffer.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let row: Value = serde_json::from_str(&line)?;
            if let Some(sent) = row[1].as_u64() {
                latencies.push(Duration::from_micros(now_us().saturating_sub(sent)));
            }
        }
    }
    producer.await??;
    ensure!(
        latencies.len() as u64 == total,
        "{} of {total} rows arrived",
        latencies.len()
    );
    latencies.sort();
    Ok(latencies)
}

fn main() -> Result<()> {
    let args = args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    runtime.block_on(async {
        let server = start(dir.path()).await?;
        let client = reqwest::Client::builder().http2_prior_knowledge().build()?;
        ksql(
            &client,
            &server,
            "CREATE STREAM src (k STRING KEY, v BIGINT)
               WITH (kafka_topic='src', partitions=2, value_format='JSON');
             CREATE TABLE t AS SELECT k, LATEST_BY_OFFSET(v) AS v FROM src GROUP BY k;",
        )
        .await?;

        let inserted = inserts(&client, &server, args.keys, args.rows).await?;
        let raw = raw_produce(&server.broker, args.keys, args.rows).await?;
        println!("inserts-stream ({} rows, one HTTP/2 request, {} keys):", args.rows, args.keys);
        println!(
            "  REST /inserts-stream  {:>10.0} rows/s   (broker produce, same records: {:.0} rows/s)",
            args.rows as f64 / inserted.as_secs_f64(),
            args.rows as f64 / raw.as_secs_f64()
        );

        // The table must hold every key before lookups are measured.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let response = client
                .post(format!("{}/query-stream", server.base))
                .body(json!({"sql": "SELECT k FROM t;"}).to_string())
                .send()
                .await?;
            let rows = response.text().await?.lines().count().saturating_sub(1);
            if rows == args.keys {
                break;
            }
            ensure!(Instant::now() < deadline, "the table holds {rows} of {} keys", args.keys);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let throughput = pull_throughput(&client, &server.base, args.keys, args.seconds).await?;
        let at_rate = pull_at_rate(&client, &server.base, args.keys, args.rate, args.seconds).await?;
        let (gets, get_rate) = raw_gets(&dir.path().join("rocks"), args.keys)?;
        println!("pull-query key lookups ({} keys):", args.keys);
        println!("  REST, 4 clients       {throughput:>10.0} lookups/s");
        println!(
            "  REST at {} /s        p50 {}  p99 {}  ({} lookups)",
            args.rate,
            us(percentile(&at_rate, 0.5)),
            us(percentile(&at_rate, 0.99)),
            at_rate.len()
        );
        println!(
            "  RocksDB get (raw)     {get_rate:>10.0} gets/s     p50 {}  p99 {}",
            us(percentile(&gets, 0.5)),
            us(percentile(&gets, 0.99))
        );

        let push = push_latency(&client, &server, args.push_rate, args.seconds).await?;
        println!(
            "push query, produce -> row on the client at {} rows/s ({} rows):",
            args.push_rate,
            push.len()
        );
        println!(
            "  p50 {}  p99 {}  max {}",
            us(percentile(&push, 0.5)),
            us(percentile(&push, 0.99)),
            us(push.last().copied().unwrap_or_default())
        );
        let service = server.service.clone();
        tokio::task::spawn_blocking(move || service.shutdown()).await?;
        server.broker.shutdown().await?;
        anyhow::Ok(())
    })
}
