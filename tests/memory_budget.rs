//! The broker's memory under hostile load, `eddy broker start` (the built binary, a child
//! process) measured from /proc/<pid>/status (VmRSS sampled, and the VmHWM peak):
//!
//! - Many greedy consumers: `fetch_max_bytes` 8 MiB and `memory_budget_bytes` 32 MiB, one
//!   partition of 64 MiB, and 16 raw-protocol consumers each reading all of it from offset 0
//!   with fetches asking for 2^31-1 bytes (as the kafka-python consumers of the original
//!   finding did). Every consumer must get every batch, in order, while the broker's
//!   resident memory stays under the budget plus a margin.
//! - A produce flood: 32 connections each pipelining 2 MiB produce requests (256 MiB in
//!   all) at a broker with an 8 MiB budget. The broker stops reading at the budget
//!   (backpressure) instead of buffering every connection's frame; every acknowledged
//!   record is then read back. Measured once by hand (debug build, 2 cores,
//!   `EDDY_MEMORY_BUDGET_COMPARE=1` also runs it with `memory_budget_bytes = 0`): peak RSS
//!   +36 MiB with the 8 MiB budget, +235 MiB without; the bound below is 48 MiB.
//!
//! Fetches:
//! Measured once by hand on a 2-core machine (debug build, `EDDY_MEMORY_BUDGET_COMPARE=1`
//! also runs the broker without a budget), peak RSS above the idle broker (33 MiB): with the
//! 32 MiB budget +49 MiB; with `memory_budget_bytes = 0` (only the 8 MiB response cap)
//! +145 MiB, so the assertion below (< 80 MiB) fails without the budget. Without the fixed
//! glibc mmap threshold set below: +113 MiB with the budget, +318 MiB without.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use eddy_broker::{Broker, BrokerConfig, Durability, NewRecord, TopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, RequestHeader,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

const EDDY: &str = env!("CARGO_BIN_EXE_eddy");
const MIB: u64 = 1 << 20;
const TOPIC: &str = "big";
const VERSION: i16 = 12;
const BUDGET: u64 = 32 * MIB;
const FETCH_MAX: u64 = 8 * MIB;
const CONSUMERS: usize = 16;
/// 256 batches of 16 records of 16 KiB: 64 MiB.
const BATCHES: u64 = 256;
const PER_BATCH: u64 = 16;
const RECORD: usize = 16 << 10;

/// Writes the topic with the library, before the broker process opens the directory.
fn fill(dir: &Path) -> i64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let broker = Broker::open(BrokerConfig::new(dir)).await.unwrap();
        broker
            .create_topic(TOPIC, TopicConfig::default())
            .await
            .unwrap();
        let mut id = 0u64;
        for _ in 0..BATCHES {
            let records: Vec<_> = (0..PER_BATCH)
                .map(|_| {
                    let mut value = vec![(id % 251) as u8; RECORD];
                    value[..8].copy_from_slice(&id.to_be_bytes());
                    id += 1;
                    NewRecord {
                        key: None,
                        value: Some(Bytes::from(value)),
                        headers: Vec::new(),
                        timestamp: None,
                    }
                })
                .collect();
            broker
                .produce(TOPIC, 0, &records, Durability::Written)
                .await
                .unwrap();
        }
        broker.shutdown().await.unwrap();
        id as i64
    })
}

struct BrokerChild(Child);

impl Drop for BrokerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the broker on `dir`/data with the given config file text; returns it and its
/// address.
fn start_broker(dir: &Path, config_text: &str) -> (BrokerChild, String) {
    let config = dir.join("eddy.toml");
    std::fs::write(&config, config_text).unwrap();
    let mut child = Command::new(EDDY)
        .args(["broker", "start", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        // No MALLOC_MMAP_THRESHOLD_ here: the binary fixes glibc's mmap threshold itself
        // (src/main.rs), without which freed multi-MiB response buffers stay in malloc's
        // arenas (+113 MiB here instead of +49 MiB).
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the eddy binary runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("a listening line").unwrap();
    std::thread::spawn(move || for _ in lines {});
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (BrokerChild(child), addr)
}

/// A `/proc/<pid>/status` field in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .map_or(0, |kb: u64| kb * 1024)
}

fn call(stream: &mut TcpStream, correlation_id: i32, request: &FetchRequest) -> FetchResponse {
    let mut body = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(FetchRequest::KEY)
        .with_request_api_version(VERSION)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("greedy")))
        .encode(&mut body, FetchRequest::header_version(VERSION))
        .unwrap();
    request.encode(&mut body, VERSION).unwrap();
    stream
        .write_all(&(body.len() as u32).to_be_bytes())
        .unwrap();
    stream.write_all(&body).unwrap();
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).unwrap();
    let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut frame).unwrap();
    let mut frame = Bytes::from(frame);
    let header =
        ResponseHeader::decode(&mut frame, FetchResponse::header_version(VERSION)).unwrap();
    assert_eq!(header.correlation_id, correlation_id);
    FetchResponse::decode(&mut frame, VERSION).unwrap()
}

/// Reads the whole partition from offset 0 with fetches asking for 2^31-1 bytes; checks that
/// the batches come in order without gaps and that no response exceeds `fetch_max_bytes`.
/// Returns the records read.
fn consume(addr: &str, end: i64) -> i64 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut next = 0i64;
    let mut correlation_id = 0;
    while next < end {
        correlation_id += 1;
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_bytes(i32::MAX)
            .with_session_epoch(-1)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_static_str(TOPIC)))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(next)
                            .with_current_leader_epoch(-1)
                            .with_log_start_offset(-1)
                            .with_partition_max_bytes(i32::MAX),
                    ]),
            ]);
        let response = call(&mut stream, correlation_id, &request);
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, 0);
        let records = partition.records.clone().unwrap_or_default();
        assert!(
            records.len() as u64 <= FETCH_MAX,
            "a {}-byte response with fetch_max_bytes {FETCH_MAX}",
            records.len()
        );
        // Walk the batch headers: base offset, length, last offset delta.
        let mut at = 0;
        while at < records.len() {
            let base = i64::from_be_bytes(records[at..at + 8].try_into().unwrap());
            let len = u32::from_be_bytes(records[at + 8..at + 12].try_into().unwrap()) as usize;
            let delta = i32::from_be_bytes(records[at + 23..at + 27].try_into().unwrap());
            assert_eq!(base, next, "batches in order, no gaps");
            let first_value_id = &records[at..at + 12 + len];
            assert!(first_value_id.len() == 12 + len, "whole batches only");
            next = base + i64::from(delta) + 1;
            at += 12 + len;
        }
    }
    next
}

/// Runs the 16 consumers against a broker with `budget`; returns (idle RSS, peak RSS) of the
/// broker process in bytes and how long the reading took.
fn run(budget: u64) -> (u64, u64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let end = fill(&dir.path().join("data"));
    assert_eq!(end as u64, BATCHES * PER_BATCH);
    let (child, addr) = start_broker(
        dir.path(),
        &format!("fetch_max_bytes = {FETCH_MAX}\nmemory_budget_bytes = {budget}\n"),
    );
    let sampler = PeakSampler::start(child.0.id());
    let started = Instant::now();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || consume(&addr, end))
        })
        .collect();
    for consumer in consumers {
        assert_eq!(consumer.join().unwrap(), end, "every record read");
    }
    let took = started.elapsed();
    let (idle, peak) = sampler.stop();
    drop(child);
    (idle, peak, took)
}

/// Samples a process's resident memory until stopped.
struct PeakSampler {
    pid: u32,
    idle: u64,
    done: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakSampler {
    fn start(pid: u32) -> Self {
        let idle = status_bytes(pid, "VmRSS:");
        let done = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(idle));
        let thread = {
            let (done, peak) = (Arc::clone(&done), Arc::clone(&peak));
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(status_bytes(pid, "VmRSS:"), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        Self {
            pid,
            idle,
            done,
            peak,
            thread,
        }
    }

    /// (resident memory at the start, peak since) in bytes.
    fn stop(self) -> (u64, u64) {
        self.done.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        let hwm = status_bytes(self.pid, "VmHWM:");
        (self.idle, self.peak.load(Ordering::Relaxed).max(hwm))
    }
}

/// Runs `measure` with `budget` (and with no budget too under `EDDY_MEMORY_BUDGET_COMPARE`),
/// prints the figures, and checks that the broker grew by less than `bound`.
fn check_growth(
    budget: u64,
    bound: u64,
    what: &str,
    measure: impl Fn(u64) -> (u64, u64, Duration),
) {
    let (idle, peak, took) = measure(budget);
    let grown = peak.saturating_sub(idle);
    eprintln!(
        "budget {} MiB: idle RSS {} MiB, peak {} MiB (+{} MiB), {what} in {took:?}",
        budget / MIB,
        idle / MIB,
        peak / MIB,
        grown / MIB
    );
    if std::env::var_os("EDDY_MEMORY_BUDGET_COMPARE").is_some() {
        let (idle, peak, took) = measure(0);
        eprintln!(
            "no budget: idle RSS {} MiB, peak {} MiB (+{} MiB) in {took:?}",
            idle / MIB,
            peak / MIB,
            peak.saturating_sub(idle) / MIB
        );
    }
    assert!(
        grown < bound,
        "the broker grew by {} MiB with a {} MiB memory budget (bound {} MiB)",
        grown / MIB,
        budget / MIB,
        bound / MIB
    );
}

#[test]
fn many_greedy_consumers_stay_within_the_fetch_memory_budget() {
    // The budget bounds the record bytes held; a response is briefly held twice while it is
    // encoded, and the allocator keeps some freed memory: allow the budget again as margin.
    check_growth(
        BUDGET,
        2 * BUDGET + 16 * MIB,
        &format!("{CONSUMERS} consumers read 64 MiB each"),
        run,
    );
}

// The produce flood.

const FLOOD_TOPIC: &str = "flood";
const FLOOD_BUDGET: u64 = 8 * MIB;
const PRODUCERS: usize = 32;
const REQUESTS_PER_PRODUCER: usize = 4;
const FLOOD_RECORD: usize = 2 << 20;
const PRODUCE_VERSION: i16 = 9;

/// A produce request (acks=all) of one batch holding one record whose value starts with `id`.
fn produce_frame(correlation_id: i32, id: u64) -> Vec<u8> {
    let mut value = vec![(id % 251) as u8; FLOOD_RECORD];
    value[..8].copy_from_slice(&id.to_be_bytes());
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: eddy_broker::now_ms(),
        key: None,
        value: Some(Bytes::from(value)),
        headers: Default::default(),
    };
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        &[record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(60_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(FLOOD_TOPIC)))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch.freeze())),
                ]),
        ]);
    let mut body = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(ProduceRequest::KEY)
        .with_request_api_version(PRODUCE_VERSION)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("flood")))
        .encode(&mut body, ProduceRequest::header_version(PRODUCE_VERSION))
        .unwrap();
    request.encode(&mut body, PRODUCE_VERSION).unwrap();
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// One producer connection: writes all its requests back to back (the broker reads ahead),
/// then reads the responses; returns the ids of the records acknowledged.
fn flood_producer(addr: &str, producer: usize) -> Vec<u64> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let ids: Vec<u64> = (0..REQUESTS_PER_PRODUCER)
        .map(|i| (producer * REQUESTS_PER_PRODUCER + i) as u64)
        .collect();
    for (i, &id) in ids.iter().enumerate() {
        stream.write_all(&produce_frame(i as i32, id)).unwrap();
    }
    let mut acknowledged = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).unwrap();
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        stream.read_exact(&mut frame).unwrap();
        let mut frame = Bytes::from(frame);
        let header =
            ResponseHeader::decode(&mut frame, ProduceResponse::header_version(PRODUCE_VERSION))
                .unwrap();
        assert_eq!(
            header.correlation_id, i as i32,
            "responses in request order"
        );
        let response = ProduceResponse::decode(&mut frame, PRODUCE_VERSION).unwrap();
        let partition = &response.responses[0].partition_responses[0];
        assert_eq!(partition.error_code, 0, "produce of record {id} refused");
        acknowledged.push(id);
    }
    acknowledged
}

/// Every record id in the flood topic, read with the library after the broker has stopped.
fn flood_ids_on_disk(dir: &Path) -> Vec<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let broker = Broker::open(BrokerConfig::new(dir)).await.unwrap();
        let mut ids = Vec::new();
        let mut offset = 0;
        loop {
            let fetched = broker
                .fetch(FLOOD_TOPIC, 0, offset, 16 << 20, Duration::ZERO)
                .await
                .unwrap();
            let records = eddy_broker::decode_records(&fetched.records).unwrap();
            let Some(last) = records.last() else { break };
            offset = last.offset + 1;
            for record in &records {
                let value = record.value.as_ref().expect("a value");
                assert_eq!(value.len(), FLOOD_RECORD, "whole records");
                ids.push(u64::from_be_bytes(value[..8].try_into().unwrap()));
            }
        }
        broker.shutdown().await.unwrap();
        ids
    })
}

/// Runs the flood against a broker with `budget`; returns (idle RSS, peak RSS) in bytes.
fn flood(budget: u64) -> (u64, u64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let broker = Broker::open(BrokerConfig::new(&data)).await.unwrap();
        let config = TopicConfig {
            max_message_bytes: (FLOOD_RECORD + (64 << 10)) as u32,
            ..TopicConfig::default()
        };
        broker.create_topic(FLOOD_TOPIC, config).await.unwrap();
        broker.shutdown().await.unwrap();
    });
    let (child, addr) = start_broker(
        dir.path(),
        &format!(
            "memory_budget_bytes = {budget}\nmax_request_bytes = {}\n",
            FLOOD_RECORD + (1 << 20)
        ),
    );
    let sampler = PeakSampler::start(child.0.id());
    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let addr = addr.clone();
            std::thread::spawn(move || flood_producer(&addr, p))
        })
        .collect();
    let mut acknowledged: Vec<u64> = producers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    let took = started.elapsed();
    let (idle, peak) = sampler.stop();
    drop(child); // SIGKILL: what was acknowledged with acks=all is on disk
    acknowledged.sort_unstable();
    let mut on_disk = flood_ids_on_disk(&data);
    on_disk.sort_unstable();
    assert_eq!(acknowledged.len(), PRODUCERS * REQUESTS_PER_PRODUCER);
    assert_eq!(on_disk, acknowledged, "every acknowledged record, once");
    (idle, peak, took)
}

#[test]
fn a_produce_flood_larger_than_the_budget_is_read_at_the_budget() {
    let total = (PRODUCERS * REQUESTS_PER_PRODUCER * FLOOD_RECORD) as u64;
    // A frame is copied once on its way into the log (outside the budget, for as long as
    // the append takes), and the blocking threads that append and fsync have their own
    // stacks and malloc arenas: allow for those. Alone this grows by 20-30 MiB; on a loaded
    // machine (CI, tests in parallel on 2 cores) appends take longer, tokio starts more
    // blocking threads, each with an arena, and a run grew by 68 MiB. Without the budget it
    // grows by about 235 MiB.
    check_growth(
        FLOOD_BUDGET,
        8 * FLOOD_BUDGET + 16 * MIB,
        &format!("{PRODUCERS} producers sent {} MiB", total / MIB),
        flood,
    );
}
