//! Producing to Eddy with real clients: the idempotent producer, Kafka's partitioner, and
//! durability across a restart.
//!
//! - An idempotent rdkafka producer writes N records, through a TCP proxy that cuts some
//!   connections right after forwarding a Produce request (so the broker wrote the batch but
//!   the client never hears back and retries it): exactly N records in the log, each once, in
//!   producer order, no delivery errors.
//! - The same at the wire level with `kafka-protocol`: InitProducerId, a Produce batch sent
//!   twice gets the same base offset and is stored once; a sequence gap is refused with
//!   OUT_OF_ORDER_SEQUENCE_NUMBER (45); a retry of an older batch of the last five gets its
//!   original offset back.
//! - Keyed records sent by rdkafka with `partitioner=murmur2_random` land where Kafka's Java
//!   default partitioner puts them (Kafka's murmur2 test vectors, and Eddy's own partitioner
//!   in `src/cli/partitioner.rs` for 2000 more keys).
//! - acks=all records survive stopping the server, a clean broker shutdown and a reopen of the
//!   same data directory; offsets continue after it.

mod support;

use eddy::streams::partitioner;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    InitProducerIdRequest, ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use support::{
    TestServer, WAIT, client_config, delivery_map, idempotent_producer_config, key_of, number_in,
    produce_numbered, produce_numbered_tolerating,
};

// ---------------------------------------------------------------------------------------------
// A TCP proxy that loses Produce responses.

/// Reads one length-prefixed Kafka frame (`None` at a clean end of stream).
fn read_frame(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let size = i32::from_be_bytes(len);
    if !(0..=(64 << 20)).contains(&size) {
        return Err(std::io::Error::other(format!("frame size {size}")));
    }
    let mut frame = Vec::with_capacity(4 + size as usize);
    frame.extend_from_slice(&len);
    frame.resize(4 + size as usize, 0);
    stream.read_exact(&mut frame[4..])?;
    Ok(Some(frame))
}

/// Forwards connections to the broker, but on every `every`-th Produce request (up to
/// `max_cuts` times) it forwards the request, drops every response from then on, and closes
/// both sides: the broker has the batch, the client never learns it and must retry.
struct CuttingProxy {
    addr: SocketAddr,
    cuts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CuttingProxy {
    fn bind() -> Result<(TcpListener, SocketAddr)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    }

    fn start(
        listener: TcpListener,
        upstream: SocketAddr,
        every: usize,
        max_cuts: usize,
    ) -> Result<Self> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let cuts = Arc::new(AtomicUsize::new(0));
        let produces = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (cuts, stop) = (Arc::clone(&cuts), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let client = match listener.accept() {
                        Ok((client, _)) => client,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                        Err(_) => continue,
                    };
                    let Ok(broker) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    let _ = client.set_nonblocking(false);
                    let _ = client.set_nodelay(true);
                    let _ = broker.set_nodelay(true);
                    let cutting = Arc::new(AtomicBool::new(false));
                    // Requests: client -> broker, frame by frame.
                    {
                        let (mut from, mut to) = (client.try_clone(), broker.try_clone());
                        let (cuts, produces, cutting) = (
                            Arc::clone(&cuts),
                            Arc::clone(&produces),
                            Arc::clone(&cutting),
                        );
                        std::thread::spawn(move || {
                            let (Ok(from), Ok(to)) = (from.as_mut(), to.as_mut()) else {
                                return;
                            };
                            while let Ok(Some(frame)) = read_frame(from) {
                                let api_key = i16::from_be_bytes([frame[4], frame[5]]);
                                let cut = api_key == 0
                                    && (produces.fetch_add(1, Ordering::SeqCst) + 1)
                                        .is_multiple_of(every)
                                    && cuts.load(Ordering::SeqCst) < max_cuts;
                                if cut {
                                    cutting.store(true, Ordering::SeqCst);
                                }
                                if to.write_all(&frame).is_err() {
                                    break;
                                }
                                if cut {
                                    cuts.fetch_add(1, Ordering::SeqCst);
                                    // Let the broker append it, then hang up on both.
                                    std::thread::sleep(Duration::from_millis(300));
                                    break;
                                }
                            }
                            let _ = from.shutdown(Shutdown::Both);
                            let _ = to.shutdown(Shutdown::Both);
                        });
                    }
                    // Responses: broker -> client, unless the connection is being cut.
                    {
                        let (mut from, mut to) = (broker, client);
                        std::thread::spawn(move || {
                            while let Ok(Some(frame)) = read_frame(&mut from) {
                                if cutting.load(Ordering::SeqCst) || to.write_all(&frame).is_err() {
                                    break;
                                }
                            }
                            let _ = from.shutdown(Shutdown::Both);
                            let _ = to.shutdown(Shutdown::Both);
                        });
                    }
                }
            })
        };
        Ok(Self {
            addr,
            cuts,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Every record of a topic straight from the log: partition -> offset -> record number.
fn log_numbers(
    server: &TestServer,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, BTreeMap<i64, u64>>> {
    let mut all = BTreeMap::new();
    for p in 0..partitions {
        let mut numbers = BTreeMap::new();
        for record in server.log_records(topic, p)? {
            let value = record
                .value
                .as_deref()
                .context("a record without a value")?;
            let n = number_in(value).context("a value the test did not write")?;
            ensure!(
                record.key.as_deref() == Some(key_of(n).as_bytes()),
                "record {n} at {p}/{} has the wrong key",
                record.offset
            );
            numbers.insert(record.offset, n);
        }
        all.insert(p, numbers);
    }
    Ok(all)
}

#[test]
fn idempotent_rdkafka_producer_retries_through_lost_responses_without_duplicates() -> Result<()> {
    const N: u64 = 20_000;
    const PARTITIONS: i32 = 3;
    let (listener, proxy_addr) = CuttingProxy::bind()?;
    let server = TestServer::start_in(tempfile::tempdir()?, |config| {
        // Clients are told to connect to the proxy, so every connection goes through it.
        config.advertised_host = Some("127.0.0.1".into());
        config.advertised_port = Some(proxy_addr.port());
    })?;
    server.create_topic("idempotent", PARTITIONS)?;
    let proxy = CuttingProxy::start(listener, server.addr(), 7, 4)?;

    let started = Instant::now();
    let mut config = idempotent_producer_config(&proxy.addr.to_string());
    // Small batches, so there are many Produce requests to cut.
    config
        .set("linger.ms", "1")
        .set("batch.num.messages", "500");
    // Cut connections make librdkafka report "all brokers are down" until it reconnects.
    let delivered = produce_numbered_tolerating(&config, "idempotent", 0..N, 100, |e| {
        e.contains("AllBrokersDown")
    })
    .context("every record acknowledged despite the lost responses")?;
    let cuts = proxy.cuts.load(Ordering::SeqCst);
    eprintln!(
        "{N} records acknowledged in {:?}, {cuts} connections cut after a Produce request",
        started.elapsed()
    );
    ensure!(
        cuts >= 1,
        "the proxy cut no connection: the retry path was not exercised"
    );

    let acknowledged = delivery_map(&delivered)?;
    let log = log_numbers(&server, "idempotent", PARTITIONS)?;
    let mut seen = vec![0u32; N as usize];
    for (p, records) in &log {
        let mut last = None;
        for (o, n) in records {
            seen[*n as usize] += 1;
            ensure!(
                last.is_none_or(|l| *n > l),
                "partition {p}: record {n} at offset {o} after record {last:?}"
            );
            last = Some(*n);
        }
    }
    let missing = seen.iter().filter(|&&c| c == 0).count();
    let duplicated: Vec<usize> = (0..N as usize).filter(|&i| seen[i] > 1).take(5).collect();
    ensure!(
        duplicated.is_empty() && missing == 0,
        "the log has {} records for {N} produced: {missing} missing, duplicated e.g. {duplicated:?}",
        log.values().map(BTreeMap::len).sum::<usize>()
    );
    ensure!(
        log == acknowledged,
        "the acknowledged offsets differ from the log"
    );
    drop(proxy);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The idempotent producer at the wire level.

/// A blocking Kafka protocol client over one connection.
struct RawClient {
    stream: TcpStream,
    correlation_id: i32,
}

impl RawClient {
    fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            stream,
            correlation_id: 0,
        })
    }

    fn call<R: Request>(&mut self, version: i16, request: &R) -> Result<R::Response> {
        self.correlation_id += 1;
        let mut body = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("eddy-raw-test")))
            .encode(&mut body, R::header_version(version))?;
        request.encode(&mut body, version)?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.put(body);
        self.stream.write_all(&frame)?;
        let response = read_frame(&mut self.stream)
            .context("reading the response (30 s limit)")?
            .context("the server closed the connection instead of answering")?;
        let mut response = Bytes::from(response).split_off(4);
        let header = ResponseHeader::decode(
            &mut response,
            <R::Response as HeaderVersion>::header_version(version),
        )?;
        ensure!(
            header.correlation_id == self.correlation_id,
            "response correlation id {} for request {}",
            header.correlation_id,
            self.correlation_id
        );
        R::Response::decode(&mut response, version)
    }
}

/// One RecordBatch v2 of `count` records from an idempotent producer.
fn idempotent_batch(
    producer_id: i64,
    epoch: i16,
    base_sequence: i32,
    count: i32,
    label: &str,
) -> Result<Bytes> {
    let now = eddy_broker::now_ms();
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: base_sequence + i,
            timestamp: now,
            key: Some(Bytes::from(format!("{label}-{i}"))),
            value: Some(Bytes::from(format!("seq-{}", base_sequence + i))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )?;
    Ok(buf.freeze())
}

/// Sends one batch to `topic`/0 with acks=all (Produce v9); returns (error code, base offset).
fn produce_raw(client: &mut RawClient, topic: &str, batch: Bytes) -> Result<(i16, i64)> {
    const VERSION: i16 = 9;
    let request = ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch)),
                ]),
        ]);
    let response: ProduceResponse = client.call(VERSION, &request)?;
    let partition = response
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
        .context("a Produce response without the partition")?;
    Ok((partition.error_code, partition.base_offset))
}

#[test]
fn wire_level_produce_retries_are_deduplicated_and_sequence_gaps_refused() -> Result<()> {
    let server = TestServer::start()?;
    server.create_topic("raw", 1)?;
    let mut client = RawClient::connect(server.addr())?;

    let init = client.call(
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000),
    )?;
    ensure!(
        init.error_code == 0,
        "InitProducerId v4: error {}",
        init.error_code
    );
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    ensure!(pid >= 0 && epoch >= 0, "InitProducerId gave {pid}/{epoch}");

    // Sequence 0..5, sent twice: the retry gets the same base offset, nothing new is written.
    let first = idempotent_batch(pid, epoch, 0, 5, "a")?;
    let (code, base) = produce_raw(&mut client, "raw", first.clone())?;
    ensure!(code == 0, "Produce v9 seq 0-4: error {code}");
    let (code, retry_base) = produce_raw(&mut client, "raw", first.clone())?;
    ensure!(
        code == 0,
        "Produce v9 retry of seq 0-4: error {code} (Kafka answers 0)"
    );
    ensure!(
        retry_base == base,
        "the retried batch got base offset {retry_base}, the original {base}"
    );
    ensure!(
        server.end_offsets("raw", 1)? == vec![5],
        "one copy of 5 records"
    );

    // A gap (sequence 10 where 5 is next): OUT_OF_ORDER_SEQUENCE_NUMBER, nothing written.
    let gap = idempotent_batch(pid, epoch, 10, 5, "gap")?;
    let (code, _) = produce_raw(&mut client, "raw", gap)?;
    ensure!(
        code == 45,
        "Produce v9 with a sequence gap: error {code}, expected OUT_OF_ORDER_SEQUENCE_NUMBER (45)"
    );
    ensure!(
        server.end_offsets("raw", 1)? == vec![5],
        "nothing written for the gap"
    );

    // The next batch in sequence is accepted; then a late retry of the first batch (one of
    // the last five) still gets its original offset and writes nothing.
    let (code, next_base) =
        produce_raw(&mut client, "raw", idempotent_batch(pid, epoch, 5, 5, "b")?)?;
    ensure!(
        code == 0 && next_base == 5,
        "seq 5-9: error {code}, base {next_base}"
    );
    let (code, late_base) = produce_raw(&mut client, "raw", first)?;
    ensure!(
        code == 0 && late_base == base,
        "late retry of seq 0-4: error {code}, base {late_base}, expected 0 and {base}"
    );

    let records = server.log_records("raw", 0)?;
    let values: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    let want: Vec<String> = (0..10).map(|s| format!("seq-{s}")).collect();
    ensure!(
        values == want,
        "the log holds {values:?}, expected each sequence once: {want:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Kafka's default partitioner.

/// Kafka's `UtilsTest.testMurmur2` vectors: key -> murmur2.
const KAFKA_MURMUR2: [(&str, i32); 6] = [
    ("21", -973_932_308),
    ("foobar", -790_332_482),
    ("a-little-bit-long-string", -985_981_536),
    ("a-little-bit-longer-string", -1_486_304_829),
    (
        "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
        -58_897_971,
    ),
    ("abc", 479_470_107),
];

/// The partitions Kafka's Java producer picks for those keys, `toPositive(murmur2) % n`,
/// worked out by hand for 7 and 12 partitions.
const KAFKA_PARTITIONS: [(&str, i32, i32); 6] = [
    ("21", 3, 0),
    ("foobar", 0, 6),
    ("a-little-bit-long-string", 1, 8),
    ("a-little-bit-longer-string", 0, 11),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 3, 5),
    ("abc", 4, 3),
];

#[test]
fn keyed_records_land_where_kafkas_default_partitioner_puts_them() -> Result<()> {
    // The expectations first: they follow from Kafka's vectors, and Eddy's partitioner agrees.
    for ((key, hash), (key2, p7, p12)) in KAFKA_MURMUR2.iter().zip(KAFKA_PARTITIONS) {
        assert_eq!(*key, key2);
        assert_eq!((hash & 0x7fff_ffff) % 7, p7, "{key}");
        assert_eq!((hash & 0x7fff_ffff) % 12, p12, "{key}");
        assert_eq!(partitioner::murmur2(key.as_bytes()), *hash, "{key}");
    }

    let server = TestServer::start()?;
    for (topic, partitions) in [("keyed-7", 7), ("keyed-12", 12)] {
        server.create_topic(topic, partitions)?;
        let producer: rdkafka::producer::BaseProducer =
            idempotent_producer_config(&server.bootstrap())
                .create()
                .context("creating the producer")?;
        let mut keys: Vec<String> = KAFKA_MURMUR2.iter().map(|(k, _)| k.to_string()).collect();
        keys.extend((0..2000).map(|i| format!("customer-{i}")));
        for key in &keys {
            let record = rdkafka::producer::BaseRecord::to(topic)
                .key(key.as_str())
                .payload(key.as_str());
            producer
                .send(record)
                .map_err(|(e, _)| anyhow::anyhow!("send: {e}"))?;
            producer.poll(Duration::ZERO);
        }
        rdkafka::producer::Producer::flush(&producer, WAIT)?;

        let mut found: BTreeMap<String, i32> = BTreeMap::new();
        for p in 0..partitions {
            for record in server.log_records(topic, p)? {
                let key = String::from_utf8(record.key.unwrap_or_default().to_vec())?;
                if let Some(other) = found.insert(key.clone(), p) {
                    bail!("key {key} is on partitions {other} and {p}");
                }
            }
        }
        ensure!(
            found.len() == keys.len(),
            "{} of {} keys in the log",
            found.len(),
            keys.len()
        );
        for (key, _, _) in KAFKA_PARTITIONS {
            let want = if partitions == 7 {
                KAFKA_PARTITIONS.iter().find(|k| k.0 == key).unwrap().1
            } else {
                KAFKA_PARTITIONS.iter().find(|k| k.0 == key).unwrap().2
            };
            ensure!(
                found[key] == want,
                "{topic}: key {key:?} went to partition {}, Kafka's partitioner picks {want}",
                found[key]
            );
        }
        for key in &keys {
            let want = partitioner::partition_for_key(key.as_bytes(), partitions);
            ensure!(
                found[key] == want,
                "{topic}: key {key:?} went to partition {}, murmur2 picks {want}",
                found[key]
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Restart.

/// Reads every record of `topic` from the beginning with an rdkafka consumer that assigns
/// itself the partitions (librdkafka wants a `group.id` even then; nothing is committed)
/// until `count` arrived: partition -> offset -> record number.
fn consume_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    count: usize,
) -> Result<BTreeMap<i32, BTreeMap<i64, u64>>> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "eddy-test-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut got: BTreeMap<i32, BTreeMap<i64, u64>> = BTreeMap::new();
    let mut total = 0;
    let deadline = Instant::now() + WAIT;
    while total < count {
        ensure!(
            Instant::now() < deadline,
            "read {total} of {count} records within {WAIT:?}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let n = number_in(m.payload().unwrap_or_default()).context("a foreign value")?;
                ensure!(
                    m.key() == Some(key_of(n).as_bytes()),
                    "record {n}: wrong key"
                );
                if got
                    .entry(m.partition())
                    .or_default()
                    .insert(m.offset(), n)
                    .is_none()
                {
                    total += 1;
                }
            }
            Some(Err(e)) => bail!("consumer error: {e}"),
            None => {}
        }
    }
    Ok(got)
}

#[test]
fn acknowledged_records_survive_a_server_and_broker_restart() -> Result<()> {
    const PARTITIONS: i32 = 4;
    let server = TestServer::start()?;
    server.create_topic("durable", PARTITIONS)?;
    let delivered = produce_numbered(
        &idempotent_producer_config(&server.bootstrap()),
        "durable",
        0..20_000,
        100,
    )?;
    let acknowledged = delivery_map(&delivered)?;

    // Stop the server and shut the broker down; reopen the same directory.
    let dir = server.stop().context("stopping the first server")?;
    let server = TestServer::start_in(dir, |_| {}).context("reopening the data directory")?;
    let ends = server.end_offsets("durable", PARTITIONS)?;
    for p in 0..PARTITIONS {
        let acked = acknowledged.get(&p).map_or(0, BTreeMap::len) as i64;
        ensure!(
            ends[p as usize] == acked,
            "partition {p}: log end {} after the restart, {acked} records acknowledged",
            ends[p as usize]
        );
    }
    let consumed = consume_all(&server.bootstrap(), "durable", PARTITIONS, delivered.len())?;
    ensure!(
        consumed == acknowledged,
        "the records read after the restart differ from those acknowledged"
    );

    // Writing goes on where it stopped, with a new producer id.
    let more = produce_numbered(
        &idempotent_producer_config(&server.bootstrap()),
        "durable",
        20_000..21_000,
        100,
    )?;
    for d in &more {
        ensure!(
            d.offset >= ends[d.partition as usize],
            "record {} got offset {} on partition {}, below the end {} before the restart",
            d.number,
            d.offset,
            d.partition,
            ends[d.partition as usize]
        );
    }
    let all = consume_all(&server.bootstrap(), "durable", PARTITIONS, 21_000)?;
    ensure!(all.values().map(BTreeMap::len).sum::<usize>() == 21_000);
    Ok(())
}
