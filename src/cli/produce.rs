//! `eddy produce`: one record per input line to a topic, like `kcat -P`.
//!
//! A line is `[TIMESTAMP TSEP][KEY KSEP]VALUE`: with `--timestamp-separator TSEP` each line
//! starts with its timestamp (milliseconds since the Unix epoch) and TSEP; with
//! `--key-separator KSEP` the rest is split at the first KSEP into key and value. A line
//! missing a separator it should have, or with a timestamp that is not a number, stops the
//! load with an error naming the line (what was read before it is still delivered). Lines
//! are bytes, not necessarily UTF-8; the line end (`\n` or `\r\n`) is not part of the value,
//! and empty lines are skipped. `--header KEY=VALUE` adds headers to every record and
//! `--timestamp MS` gives every record one timestamp.
//!
//! Delivery is librdkafka's: batched, compressed as asked, retried, each record counted as
//! delivered or failed by its delivery report. Progress goes to stderr every second when
//! stderr is a terminal (or with `--progress`), then a summary; any failed record makes the
//! exit status non-zero, with the errors named.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::builder::NonEmptyStringValueParser;
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use super::{
    ClientArgs, bytes, duration, key_value, log_client_message, rate, report_client_error,
};

/// `eddy produce` options.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The topic to write to.
    #[arg(long, short = 't')]
    pub topic: String,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Read lines from this file instead of standard input.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Split each line at the first SEP into key and value (every line must contain it).
    #[arg(long, short = 'K', value_name = "SEP", value_parser = NonEmptyStringValueParser::new())]
    pub key_separator: Option<String>,
    /// A header for every record (repeatable).
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Give every record this timestamp, in milliseconds since the Unix epoch [default: the
    /// time it is sent].
    #[arg(long, value_name = "MS", conflicts_with = "timestamp_separator")]
    pub timestamp: Option<i64>,
    /// Each line starts with its timestamp in milliseconds since the Unix epoch, then SEP.
    #[arg(long, value_name = "SEP", value_parser = NonEmptyStringValueParser::new())]
    pub timestamp_separator: Option<String>,
    /// Write every record to this partition [default: by key, with Kafka's murmur2
    /// partitioner, like the Java client; records without a key are spread].
    #[arg(long, short = 'p', value_parser = clap::value_parser!(i32).range(0..))]
    pub partition: Option<i32>,
    /// Acknowledgements to wait for: all (every in-sync replica), 1 (the leader) or 0 (none).
    #[arg(long, default_value = "all", value_parser = ["all", "-1", "1", "0"])]
    pub acks: String,
    /// Compression of record batches.
    #[arg(long, default_value = "none",
          value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: String,
    /// Report progress on stderr every second even when stderr is not a terminal.
    #[arg(long)]
    pub progress: bool,
    /// Give up on a record not acknowledged within this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub delivery_timeout_ms: u64,
}

/// Delivery reports, counted. Also the producer's librdkafka context.
#[derive(Default)]
struct Deliveries {
    delivered: AtomicU64,
    delivered_bytes: AtomicU64,
    failed: AtomicU64,
    /// Failure counts by error.
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Deliveries {
    fn fail(&self, error: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        *errors.entry(error).or_default() += 1;
    }

    fn done(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_client_message(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        report_client_error(&error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                let size = message.key_len() + message.payload_len();
                self.delivered.fetch_add(1, Ordering::Relaxed);
                self.delivered_bytes
                    .fetch_add(size as u64, Ordering::Relaxed);
            }
            Err((error, _)) => self.fail(error.to_string()),
        }
    }
}

/// One input line, split.
#[derive(Debug, PartialEq, Eq)]
struct Line<'a> {
    timestamp: Option<i64>,
    key: Option<&'a [u8]>,
    value: &'a [u8],
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(line: &'a [u8], sep: &str, what: &str) -> Result<(&'a [u8], &'a [u8])> {
    match find(line, sep.as_bytes()) {
        Some(at) => Ok((&line[..at], &line[at + sep.len()..])),
        None => bail!("no {what} separator {sep:?} in the line"),
    }
}

/// Splits a line (without its line end) into timestamp, key and value.
fn parse_line<'a>(
    line: &'a [u8],
    timestamp_separator: Option<&str>,
    key_separator: Option<&str>,
) -> Result<Line<'a>> {
    let (timestamp, rest) = match timestamp_separator {
        Some(sep) => {
            let (timestamp, rest) = split(line, sep, "timestamp")?;
            let text = String::from_utf8_lossy(timestamp);
            let ms = text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|ms| *ms >= 0)
                .with_context(|| {
                    format!("timestamp {text:?} is not a number of milliseconds since the epoch")
                })?;
            (Some(ms), rest)
        }
        None => (None, line),
    };
    let (key, value) = match key_separator {
        Some(sep) => {
            let (key, value) = split(rest, sep, "key")?;
            (Some(key), value)
        }
        None => (None, rest),
    };
    Ok(Line {
        timestamp,
        key,
        value,
    })
}

/// Progress lines on stderr, at most one a second.
struct Progress {
    enabled: bool,
    terminal: bool,
    started: Instant,
    last: Instant,
    last_done: u64,
    printed: bool,
}

impl Progress {
    fn new(forced: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let now = Instant::now();
        Self {
            enabled: forced || terminal,
            terminal,
            started: now,
            last: now,
            last_done: 0,
            printed: false,
        }
    }

    fn tick(&mut self, sent: u64, deliveries: &Deliveries) {
        if !self.enabled || self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        let done = deliveries.done();
        let line = format!(
            "{} s: {sent} records sent, {} delivered ({} records/s), {} failed",
            self.started.elapsed().as_secs(),
            deliveries.delivered.load(Ordering::Relaxed),
            rate(done - self.last_done, self.last.elapsed()),
            deliveries.failed.load(Ordering::Relaxed)
        );
        if self.terminal {
            eprint!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
        let _ = std::io::stderr().flush();
        self.printed = true;
        self.last = Instant::now();
        self.last_done = done;
    }

    /// Clears the progress line before the summary.
    fn finish(&self) {
        if self.terminal && self.printed {
            eprint!("\r\x1b[K");
        }
    }
}

/// Runs `eddy produce` (blocking: call it off the async runtime's threads).
pub fn run(args: Args) -> Result<()> {
    let mut headers = OwnedHeaders::new_with_capacity(args.headers.len());
    for header in &args.headers {
        let (key, value) = key_value(header, "--header")?;
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    let input: Box<dyn BufRead> = match &args.file {
        Some(path) => Box::new(BufReader::new(
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let source = match &args.file {
        Some(path) => path.display().to_string(),
        None => "standard input".to_string(),
    };
    let producer: BaseProducer<Deliveries> = args
        .client
        .client_config()
        .set("acks", &args.acks)
        .set("compression.type", &args.compression)
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", args.delivery_timeout_ms.to_string())
        .set("linger.ms", "5")
        .create_with_context(Deliveries::default())
        .context("cannot create a Kafka producer")?;
    let deliveries = producer.context().clone();

    let started = Instant::now();
    let mut progress = Progress::new(args.progress);
    let mut sent = 0u64;
    let mut stopped = None;
    let mut buf = Vec::new();
    let mut line_number = 0u64;
    let mut input = input;
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                stopped = Some(format!("cannot read {source}: {e}"));
                break;
            }
        }
        line_number += 1;
        let mut line = buf.as_slice();
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let parsed = match parse_line(
            line,
            args.timestamp_separator.as_deref(),
            args.key_separator.as_deref(),
        ) {
            Ok(parsed) => parsed,
            Err(e) => {
                stopped = Some(format!("{source} line {line_number}: {e:#}"));
                break;
            }
        };
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&args.topic)
            .payload(parsed.value)
            .headers(headers.clone());
        if let Some(key) = parsed.key {
            record = record.key(key);
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        if let Some(ms) = parsed.timestamp.or(args.timestamp) {
            record = record.timestamp(ms);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's queue is full: serve delivery reports until there is room.
                    record = back;
                    producer.poll(Duration::from_millis(50));
                    progress.tick(sent, &deliveries);
                }
                Err((error, _)) => {
                    deliveries.fail(error.to_string());
                    break;
                }
            }
        }
        sent += 1;
        producer.poll(Duration::ZERO);
        progress.tick(sent, &deliveries);
    }

    // Wait for the delivery report of every record sent.
    let deadline = Instant::now() + Duration::from_millis(args.delivery_timeout_ms + 5_000);
    while producer.in_flight_count() > 0 && Instant::now() < deadline {
        producer.poll(Duration::from_millis(100));
        progress.tick(sent, &deliveries);
    }
    producer.poll(Duration::ZERO);
    progress.finish();
    let elapsed = started.elapsed();
    let delivered = deliveries.delivered.load(Ordering::Relaxed);
    let failed = deliveries.failed.load(Ordering::Relaxed);
    let unreported = sent.saturating_sub(delivered + failed);
    eprintln!(
        "produced {delivered} records ({} of keys and values) to topic {} in {}, {} records/s",
        bytes(deliveries.delivered_bytes.load(Ordering::Relaxed)),
        args.topic,
        duration(elapsed),
        rate(delivered, elapsed)
    );
    let mut problems = Vec::new();
    if failed > 0 {
        let errors = deliveries.errors.lock().unwrap_or_else(|e| e.into_inner());
        let named: Vec<String> = errors
            .iter()
            .map(|(error, count)| format!("{error} ({count})"))
            .collect();
        problems.push(format!(
            "{failed} of {sent} records failed: {}",
            named.join("; ")
        ));
        if delivered == 0 && errors.keys().any(|e| e.contains("MessageTimedOut")) {
            problems.push(format!(
                "nothing was delivered: is a broker running at {}?",
                args.client.bootstrap_server
            ));
        }
    }
    if unreported > 0 {
        problems.push(format!(
            "{unreported} records still unacknowledged after {}",
            duration(deadline - started)
        ));
    }
    if let Some(reason) = stopped {
        problems.push(format!("stopped reading: {reason}"));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_into_timestamp_key_and_value() {
        let plain = parse_line(b"a:b", None, None).unwrap();
        assert_eq!(
            plain,
            Line {
                timestamp: None,
                key: None,
                value: b"a:b"
            }
        );
        let keyed = parse_line(b"k1::v:1", None, Some("::")).unwrap();
        assert_eq!((keyed.key, keyed.value), (Some(&b"k1"[..]), &b"v:1"[..]));
        let empty_key = parse_line(b":v", None, Some(":")).unwrap();
        assert_eq!(
            (empty_key.key, empty_key.value),
            (Some(&b""[..]), &b"v"[..])
        );
        let all = parse_line(b"1700000000000\tk\tv\t2", Some("\t"), Some("\t")).unwrap();
        assert_eq!(
            all,
            Line {
                timestamp: Some(1_700_000_000_000),
                key: Some(b"k"),
                value: b"v\t2"
            }
        );
        let binary = parse_line(b"\xff\xfe=\x00", None, Some("=")).unwrap();
        assert_eq!(binary.key, Some(&b"\xff\xfe"[..]));
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        let err = parse_line(b"no separator", None, Some(":")).unwrap_err();
        assert!(err.to_string().contains("no key separator \":\""), "{err}");
        let err = parse_line(b"soon|v", Some("|"), None).unwrap_err();
        assert!(
            err.to_string().contains("\"soon\" is not a number"),
            "{err}"
        );
        let err = parse_line(b"-5|v", Some("|"), None).unwrap_err();
        assert!(err.to_string().contains("not a number"), "{err}");
        let err = parse_line(b"12 v", Some("|"), None).unwrap_err();
        assert!(err.to_string().contains("no timestamp separator"), "{err}");
    }
}
