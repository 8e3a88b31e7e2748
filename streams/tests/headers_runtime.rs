//! Record headers through a running app on both backends (`embedded::` and `kafka::`, see
//! `common`): a topology of the untyped API (a raw source, a processor that copies each
//! record with its headers and adds one, a raw sink that writes to the record's input
//! partition) must deliver keys, values, timestamps and headers as they were, tombstones
//! and unkeyed records included.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Start, TestBroker, wait_for};
use eddy_broker::NewRecord;
use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
use eddy_streams::record::{Headers, RawRecord, SourceRecord};
use eddy_streams::topology::TopicName;
use eddy_streams::{App, AppConfig, Topology, TopologyBuilder};

/// Copies records, headers included, adding `seen: <offset>`, to the task's partition.
struct CopyHeaders;

impl Node for CopyHeaders {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let records = downcast::<Vec<SourceRecord>>(batch, "copy")?;
        let partition = ctx.partition();
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            ctx.observe_time(r.timestamp);
            let mut headers = r.headers;
            headers.push(("seen".to_string(), Some(Bytes::from(r.offset.to_string()))));
            out.push(RawRecord {
                key: r.key,
                value: r.value,
                timestamp: r.timestamp,
                headers,
                partition: Some(partition),
            });
        }
        ctx.forward(out);
        Ok(())
    }
}

fn topology() -> Topology {
    let b = TopologyBuilder::new();
    let source = b.add_source("source", vec![TopicName::External("in".into())]);
    let copy = b.add_processor(
        "copy",
        &[source],
        Vec::new(),
        Arc::new(|| Box::new(CopyHeaders) as Box<dyn Node>),
    );
    b.add_sink("sink", TopicName::External("out".into()), &[copy]);
    b.build().unwrap()
}

fn headers(pairs: &[(&str, Option<&str>)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            )
        })
        .collect()
}

fn record(key: Option<&str>, value: Option<&str>, ts: i64, headers: Headers) -> NewRecord {
    NewRecord {
        key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
        value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        headers,
        timestamp: Some(ts),
    }
}

/// (partition, key, value, timestamp, headers) of a record.
type Seen = (i32, Option<Bytes>, Option<Bytes>, i64, Headers);

fn headers_pass_through_raw_nodes(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker: TestBroker = start(&dir.path().join("broker"));
    broker.create_topic("in", 2, false);
    broker.create_topic("out", 2, false);
    // No key twice: Eddy's broker keeps one value per header key (see `record::Headers`).
    let first = headers(&[
        ("trace", Some("t-1")),
        ("null", None),
        ("empty", Some("")),
        ("bin", Some("\u{0}\u{ff}")),
    ]);
    broker.produce_records(
        "in",
        0,
        &[
            record(Some("k"), Some("v"), 1_000, first.clone()),
            record(Some("k"), None, 1_001, headers(&[("why", Some("deleted"))])),
        ],
    );
    broker.produce_records("in", 1, &[record(None, Some("unkeyed"), 999, Vec::new())]);

    let config = AppConfig {
        commit_interval: Duration::from_millis(50),
        state_dir: dir.path().join("state"),
        ..AppConfig::new("headers", broker.backend.clone())
    };
    let app = App::new(topology(), config).start().unwrap();
    wait_for("three output records", || {
        broker.read_records("out").len() >= 3
    });
    app.stop().unwrap();

    let seen: Vec<Seen> = broker
        .read_records("out")
        .into_iter()
        .map(|(p, r)| (p, r.key, r.value, r.timestamp, r.headers))
        .collect();
    let with_seen = |mut h: Headers, offset: &str| {
        h.push((
            "seen".into(),
            Some(Bytes::copy_from_slice(offset.as_bytes())),
        ));
        h
    };
    let b = |s: &str| Some(Bytes::copy_from_slice(s.as_bytes()));
    assert_eq!(
        seen,
        vec![
            (0, b("k"), b("v"), 1_000, with_seen(first, "0")),
            (
                0,
                b("k"),
                None,
                1_001,
                with_seen(headers(&[("why", Some("deleted"))]), "1")
            ),
            (1, None, b("unkeyed"), 999, with_seen(Vec::new(), "0")),
        ]
    );
}

on_each_backend!(headers_pass_through_raw_nodes);
