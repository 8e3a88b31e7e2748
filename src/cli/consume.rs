//! `eddy consume`: prints a topic's records, one per line, like `kcat -C`.
//!
//! Without `--group` it reads the partitions directly (all of them, or `--partition P`),
//! starting where `--from` says; nothing is committed. With `--group G` it joins the
//! consumer group, reads the partitions the group assigns, starts from the group's committed
//! offsets (or, for partitions without one, from the beginning or the end, per `--from`) and
//! commits what it printed. It stops after `--count N` records, at the end of every
//! partition with `--exit-at-end`, or on SIGINT/SIGTERM (committing first, in a group).
//!
//! `--format text` prints the value (`KEY SEP VALUE` with `--key-separator SEP`) as raw
//! bytes; `--format json` prints one JSON object per record, see [`JsonRecord`].

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{BufWriter, ErrorKind, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};

use super::{CliContext, ClientArgs};

/// How long offset look-ups may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long the first metadata request may take: it is also the check that a broker answers.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// `eddy consume` options.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The topic to read.
    #[arg(long, short = 't')]
    pub topic: String,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Where to start: `beginning`, `end`, `offset:N` or `timestamp:MS` (the first record at
    /// or after MS milliseconds since the epoch). With --group: where to start in partitions
    /// the group has no committed offset for (`beginning` or `end`).
    #[arg(long, value_name = "WHERE", default_value = "beginning", value_parser = parse_start)]
    pub from: Start,
    /// Read only this partition [default: all].
    #[arg(long, short = 'p', conflicts_with = "group",
          value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Option<i32>,
    /// Read as a member of this consumer group, and commit the offsets read.
    #[arg(long, short = 'g', value_name = "GROUP")]
    pub group: Option<String>,
    /// Exit after printing N records.
    #[arg(long, short = 'c', value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Exit on reaching the end of every partition read.
    #[arg(long, short = 'e')]
    pub exit_at_end: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Text format: print the key, SEP, then the value.
    #[arg(long, short = 'K', value_name = "SEP")]
    pub key_separator: Option<String>,
}

/// How records are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The value (or key, separator, value), raw bytes, one record per line.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where to start reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The first record still in each partition.
    Beginning,
    /// After the last record: only new records.
    End,
    /// This offset in every partition read.
    Offset(i64),
    /// The first record at or after this time (ms since the epoch).
    Timestamp(i64),
}

fn parse_start(text: &str) -> Result<Start, String> {
    let number = |rest: &str, what: &str| {
        rest.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("{what} {rest:?} is not a non-negative integer"))
    };
    match text {
        "beginning" => Ok(Start::Beginning),
        "end" => Ok(Start::End),
        _ => match text.split_once(':') {
            Some(("offset", n)) => Ok(Start::Offset(number(n, "offset")?)),
            Some(("timestamp", ms)) => Ok(Start::Timestamp(number(ms, "timestamp")?)),
            _ => Err("expected beginning, end, offset:N or timestamp:MS".to_string()),
        },
    }
}

/// A record as `--format json` prints it, one object per line. A key, value or header value
/// that is valid UTF-8 is a JSON string with encoding `"utf8"`; any other bytes are base64
/// with encoding `"base64"`; an absent (null) one is `null` with encoding `null`.
#[derive(Debug, Serialize)]
pub struct JsonRecord<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    /// Milliseconds since the epoch.
    timestamp: Option<i64>,
    /// `create_time` or `log_append_time`.
    timestamp_type: Option<&'static str>,
    key: Option<Cow<'a, str>>,
    key_encoding: Option<&'static str>,
    value: Option<Cow<'a, str>>,
    value_encoding: Option<&'static str>,
    headers: Vec<JsonHeader<'a>>,
}

/// A record header in [`JsonRecord`].
#[derive(Debug, Serialize)]
pub struct JsonHeader<'a> {
    key: &'a str,
    value: Option<Cow<'a, str>>,
    value_encoding: Option<&'static str>,
}

/// Bytes as JSON: text if they are UTF-8, base64 otherwise, and which one.
fn encode(bytes: Option<&[u8]>) -> (Option<Cow<'_, str>>, Option<&'static str>) {
    match bytes {
        None => (None, None),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => (Some(Cow::Borrowed(text)), Some("utf8")),
            Err(_) => (Some(Cow::Owned(BASE64.encode(bytes))), Some("base64")),
        },
    }
}

fn json_record<'a>(message: &'a BorrowedMessage<'a>) -> JsonRecord<'a> {
    let (timestamp, timestamp_type) = match message.timestamp() {
        Timestamp::NotAvailable => (None, None),
        Timestamp::CreateTime(ms) => (Some(ms), Some("create_time")),
        Timestamp::LogAppendTime(ms) => (Some(ms), Some("log_append_time")),
    };
    let (key, key_encoding) = encode(message.key());
    let (value, value_encoding) = encode(message.payload());
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    let (value, value_encoding) = encode(h.value);
                    JsonHeader {
                        key: h.key,
                        value,
                        value_encoding,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    JsonRecord {
        topic: message.topic(),
        partition: message.partition(),
        offset: message.offset(),
        timestamp,
        timestamp_type,
        key,
        key_encoding,
        value,
        value_encoding,
        headers,
    }
}

fn write_record(out: &mut impl Write, message: &BorrowedMessage<'_>, args: &Args) -> Result<()> {
    match args.format {
        Format::Text => {
            if let Some(sep) = &args.key_separator {
                out.write_all(message.key().unwrap_or_default())?;
                out.write_all(sep.as_bytes())?;
            }
            out.write_all(message.payload().unwrap_or_default())?;
        }
        Format::Json => serde_json::to_writer(&mut *out, &json_record(message))?,
    }
    out.write_all(b"\n")?;
    Ok(())
}

/// Runs `eddy consume` until it is done or a signal stops it.
pub async fn run(args: Args) -> Result<()> {
    if args.group.is_some() && matches!(args.from, Start::Offset(_) | Start::Timestamp(_)) {
        bail!(
            "--from offset:N and timestamp:MS need partitions read directly: with --group the \
             group's committed offsets say where to start (use --from beginning or end for \
             partitions without one)"
        );
    }
    let mut sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut task = tokio::task::spawn_blocking({
        let stop = Arc::clone(&stop);
        move || consume(&args, &stop)
    });
    tokio::select! {
        result = &mut task => return result.context("the consumer failed")?,
        _ = sigterm.recv() => {}
        _ = sigint.recv() => {}
    }
    // Stop after the record being printed (and commit, in a group); a second signal does
    // not wait for that.
    stop.store(true, Ordering::Relaxed);
    tokio::select! {
        result = &mut task => result.context("the consumer failed")?,
        _ = sigterm.recv() => std::process::exit(130),
        _ = sigint.recv() => std::process::exit(130),
    }
}

/// Partitions at their end, for `--exit-at-end`.
#[derive(Default)]
struct Ends(BTreeSet<i32>);

impl Ends {
    /// Whether every partition in `assigned` is at its end.
    fn all(&self, assigned: &[i32]) -> bool {
        !assigned.is_empty() && assigned.iter().all(|p| self.0.contains(p))
    }
}

fn consume(args: &Args, stop: &AtomicBool) -> Result<()> {
    let mut config = args.client.client_config();
    config
        .set("enable.partition.eof", args.exit_at_end.to_string())
        .set("allow.auto.create.topics", "false");
    match &args.group {
        Some(group) => {
            let reset = if args.from == Start::End {
                "latest"
            } else {
                "earliest"
            };
            // Offsets are stored for commit only once their record is printed: rdkafka's
            // consumer close serves (and would otherwise store) records still buffered.
            config
                .set("group.id", group)
                .set("enable.auto.commit", "true")
                .set("enable.auto.offset.store", "false")
                .set("auto.offset.reset", reset);
        }
        None => {
            // librdkafka's assign() needs a group id, though this never joins the group nor
            // commits. An offset no longer (or not yet) in the log is an error, not a silent
            // jump.
            config
                .set("group.id", "eddy-consume")
                .set("enable.auto.commit", "false")
                .set("enable.auto.offset.store", "false")
                .set("auto.offset.reset", "error");
        }
    }
    let consumer: BaseConsumer<CliContext> = config
        .create_with_context(CliContext)
        .context("cannot create a Kafka consumer")?;
    let partitions = topic_partitions(&consumer, args)?;
    let mut assigned: Vec<i32> = match &args.group {
        Some(_) => {
            consumer.subscribe(&[&args.topic])?;
            Vec::new()
        }
        None => {
            let wanted = match args.partition {
                Some(p) if !partitions.contains(&p) => bail!(
                    "topic {:?} has no partition {p} (it has {})",
                    args.topic,
                    partitions.len()
                ),
                Some(p) => vec![p],
                None => partitions,
            };
            consumer.assign(&start_offsets(&consumer, args, &wanted)?)?;
            wanted
        }
    };

    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut ends = Ends::default();
    let mut printed = 0u64;
    let result = loop {
        if stop.load(Ordering::Relaxed) || args.count.is_some_and(|n| printed >= n) {
            break Ok(());
        }
        // Print what is ready without waiting; flush before waiting for more.
        let polled = match consumer.poll(Duration::ZERO) {
            Some(polled) => Some(polled),
            None => {
                if let Err(e) = out.flush() {
                    break Err(e.into());
                }
                consumer.poll(Duration::from_millis(200))
            }
        };
        match polled {
            None => {}
            Some(Ok(message)) => {
                ends.0.remove(&message.partition());
                if let Err(e) = write_record(&mut out, &message, args) {
                    break Err(e);
                }
                printed += 1;
                if args.group.is_some()
                    && let Err(e) = consumer.store_offset_from_message(&message)
                {
                    break Err(e).context("cannot store the offset for commit");
                }
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                ends.0.insert(partition);
                if args.group.is_some() {
                    assigned = consumer
                        .assignment()?
                        .elements()
                        .iter()
                        .map(|e| e.partition())
                        .collect();
                }
                if args.exit_at_end && ends.all(&assigned) {
                    break Ok(());
                }
            }
            Some(Err(KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset))) => {
                break Err(anyhow::anyhow!(
                    "the start offset is out of range in a partition (before its first record or past its end)"
                ));
            }
            Some(Err(KafkaError::MessageConsumption(
                code @ (RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic),
            ))) => break Err(anyhow::anyhow!("topic {:?}: {code}", args.topic)),
            // The context has shown it, with librdkafka's explanation; librdkafka retries.
            Some(Err(_)) => {}
        }
    };
    let result = result.and_then(|()| Ok(out.flush()?));
    if args.group.is_some() && printed > 0 {
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => eprintln!("eddy: warning: cannot commit the offsets read: {e}"),
        }
    }
    match result {
        // `eddy consume | head` closing the pipe is a normal way to stop.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// The topic's partition ids; fails clearly if the topic or the broker is not there.
fn topic_partitions(consumer: &BaseConsumer<CliContext>, args: &Args) -> Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(&args.topic), METADATA_TIMEOUT)
        .with_context(|| {
            format!(
                "cannot get metadata from {} (is a broker running there?)",
                args.client.bootstrap_server
            )
        })?;
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == args.topic)
        .with_context(|| format!("no topic named {:?}", args.topic))?;
    match topic.error().map(RDKafkaErrorCode::from) {
        None => {}
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => bail!(
            "no topic named {:?} at {}",
            args.topic,
            args.client.bootstrap_server
        ),
        Some(code) => bail!("topic {:?}: {code}", args.topic),
    }
    let mut ids: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Where each partition starts, per `--from`.
fn start_offsets(
    consumer: &BaseConsumer<CliContext>,
    args: &Args,
    partitions: &[i32],
) -> Result<TopicPartitionList> {
    let offset = match args.from {
        Start::Beginning => Offset::Beginning,
        Start::End => Offset::End,
        Start::Offset(n) => Offset::Offset(n),
        // offsets_for_times takes the timestamp where the offset goes.
        Start::Timestamp(ms) => Offset::Offset(ms),
    };
    let mut list = TopicPartitionList::new();
    for &p in partitions {
        list.add_partition_offset(&args.topic, p, offset)?;
    }
    if let Start::Timestamp(ms) = args.from {
        // A partition with no record at or after the time starts at its end.
        list = consumer
            .offsets_for_times(list, TIMEOUT)
            .with_context(|| format!("cannot look up the offsets of timestamp {ms}"))?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions_parse() {
        assert_eq!(parse_start("beginning"), Ok(Start::Beginning));
        assert_eq!(parse_start("end"), Ok(Start::End));
        assert_eq!(parse_start("offset:42"), Ok(Start::Offset(42)));
        assert_eq!(
            parse_start("timestamp:1700000000000"),
            Ok(Start::Timestamp(1_700_000_000_000))
        );
        assert!(
            parse_start("offset:-1")
                .unwrap_err()
                .contains("offset \"-1\"")
        );
        assert!(parse_start("timestamp:soon").is_err());
        assert!(parse_start("middle").unwrap_err().contains("offset:N"));
    }

    #[test]
    fn bytes_are_text_when_utf8_and_base64_otherwise() {
        assert_eq!(encode(None), (None, None));
        assert_eq!(
            encode(Some("héllo".as_bytes())),
            (Some(Cow::Borrowed("héllo")), Some("utf8"))
        );
        assert_eq!(
            encode(Some(&[0xff, 0x00, 0x01])),
            (Some(Cow::Owned("/wAB".to_string())), Some("base64"))
        );
    }

    #[test]
    fn every_assigned_partition_must_be_at_its_end() {
        let mut ends = Ends::default();
        assert!(!ends.all(&[]), "no assignment yet is not the end");
        ends.0.insert(0);
        assert!(ends.all(&[0]));
        assert!(!ends.all(&[0, 1]));
    }
}
