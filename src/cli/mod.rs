//! The subcommands of the `eddy` binary, and what they share: opening a data directory with
//! clear errors, shutting the broker down cleanly whatever happened, the Kafka client options,
//! `KEY=VALUE` arguments, and number formatting.

pub mod alter_configs;
pub mod broker;
pub mod consume;
pub mod demo;
pub mod produce;
pub mod repl;
pub mod server;
pub mod sql;
pub mod sql_run;
pub mod topics;

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use eddy::broker::{Broker, BrokerConfig, Error as BrokerError, OpenReport};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, ClientContext};

/// Where a client command finds the cluster.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The broker(s) to bootstrap from: `HOST:PORT[,HOST:PORT...]`.
    #[arg(
        long,
        short = 'b',
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap_server: String,
}

impl ClientArgs {
    /// A librdkafka configuration pointing at the bootstrap servers.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_server);
        config
    }
}

/// Reports a librdkafka client error as one plain line on stderr (rdkafka's default logs it at
/// ERROR level). Leaves out partition-EOF notices, which `eddy consume` handles itself,
/// "N/M brokers are down" (the connection errors say why), and repeats of the line just
/// shown (rdkafka 0.39 hands producers each error event twice).
pub fn report_client_error(error: &KafkaError, reason: &str) {
    static LAST: Mutex<String> = Mutex::new(String::new());
    if matches!(
        error,
        KafkaError::Global(RDKafkaErrorCode::PartitionEOF | RDKafkaErrorCode::AllBrokersDown)
    ) {
        return;
    }
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if *last != reason {
        eprintln!("eddy: {reason}");
        reason.clone_into(&mut last);
    }
}

/// Routes librdkafka's own log lines to `RUST_LOG=debug`: the errors among them also arrive
/// as error events, which [`report_client_error`] shows.
pub fn log_client_message(level: RDKafkaLogLevel, facility: &str, message: &str) {
    tracing::debug!(?level, facility, "librdkafka: {message}");
}

/// The librdkafka context of the consumer and admin commands.
pub struct CliContext;

impl ClientContext for CliContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_client_message(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        report_client_error(&error, reason);
    }
}

impl ConsumerContext for CliContext {}

/// Splits a `KEY=VALUE` argument at the first `=`; `what` names the option in errors.
pub fn key_value<'a>(arg: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    match arg.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim(), value.trim())),
        _ => bail!("{what} {arg:?}: expected KEY=VALUE"),
    }
}

/// A broker opened on a data directory by a command.
pub struct Opened {
    pub broker: Broker,
    pub report: OpenReport,
    /// The data directory did not exist (or was empty) before.
    pub new_dir: bool,
    /// How long opening took (locking, recovery if needed, loading offsets).
    pub elapsed: Duration,
    /// The data directory as an absolute path, for messages.
    pub shown_dir: PathBuf,
}

/// Opens the broker on `config.data_dir`, creating the directory if it is missing. Refuses a
/// directory that holds other things (so a typo in `--data-dir` does not scatter Eddy's files
/// into, say, a source tree) and turns a held lock into a message that says what to do.
pub async fn open(config: BrokerConfig) -> Result<Opened> {
    let data_dir = config.data_dir.clone();
    let data_dir = data_dir.as_path();
    let is_eddy_dir = data_dir.join("topics").is_dir();
    let exists = data_dir.exists();
    let empty = exists
        && data_dir.is_dir()
        && std::fs::read_dir(data_dir)
            .with_context(|| format!("cannot read {}", data_dir.display()))?
            .next()
            .is_none();
    if exists && !data_dir.is_dir() {
        bail!("{} exists and is not a directory", data_dir.display());
    }
    if exists && !empty && !is_eddy_dir {
        bail!(
            "{} exists, is not empty and is not an Eddy data directory (it has no topics/ \
             inside); choose an empty or new directory with --data-dir",
            data_dir.display()
        );
    }
    let started = Instant::now();
    let (broker, report) = match Broker::open_with_report(config).await {
        Ok(opened) => opened,
        Err(BrokerError::Io { path, source })
            if source.kind() == ErrorKind::WouldBlock
                && path.file_name().is_some_and(|n| n == ".lock") =>
        {
            bail!(
                "data directory {} is in use by another Eddy process (it holds the lock on {}); \
                 stop that process first, or use another --data-dir",
                data_dir.display(),
                path.display()
            );
        }
        Err(e) => {
            return Err(anyhow::Error::new(e))
                .with_context(|| format!("cannot open data directory {}", data_dir.display()));
        }
    };
    let elapsed = started.elapsed();
    let shown_dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    Ok(Opened {
        broker,
        report,
        new_dir: !is_eddy_dir,
        elapsed,
        shown_dir,
    })
}

/// How opening went, for people: how long it took and whether recovery ran.
pub fn describe_open(opened: &Opened) -> String {
    let report = &opened.report;
    let state = if opened.new_dir {
        "new data directory".to_string()
    } else if report.clean_shutdown {
        "previous shutdown was clean, recovery skipped".to_string()
    } else if report.repaired.is_empty() {
        "previous shutdown was not clean: recovered, nothing needed repair".to_string()
    } else {
        let truncated: u64 = report.repaired.values().map(|r| r.truncated_bytes).sum();
        let dropped: usize = report.repaired.values().map(|r| r.dropped_segments).sum();
        let mut state = format!(
            "previous shutdown was not clean: recovered ({} partition(s) re-checked, {} of torn \
             data cut",
            report.repaired.len(),
            bytes(truncated)
        );
        if dropped > 0 {
            state.push_str(&format!(
                ", {dropped} segment(s) after a corrupt batch dropped"
            ));
        }
        state.push(')');
        state
    };
    format!("in {}; {state}", duration(opened.elapsed))
}

/// Shuts the broker down cleanly (flush, clean-shutdown marker) after a command ran, whether
/// or not it succeeded, and reports the command's error first.
pub async fn finish<T>(broker: &Broker, result: Result<T>) -> Result<(T, Duration)> {
    let started = Instant::now();
    let shutdown = broker
        .shutdown()
        .await
        .context("clean shutdown of the broker failed");
    let value = result?;
    shutdown?;
    Ok((value, started.elapsed()))
}

/// `12.3 ms`, or `1.23 s` from a second up.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else {
        format!("{:.1} ms", secs * 1000.0)
    }
}

/// `512 B`, `12.3 KiB`, `4.0 MiB`, `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Records per second, rounded.
pub fn rate(count: u64, d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs <= 0.0 {
        return "n/a".into();
    }
    format!("{:.0}", count as f64 / secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_for_people() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 << 20), "5.0 MiB");
        assert_eq!(duration(Duration::from_micros(1500)), "1.5 ms");
        assert_eq!(duration(Duration::from_millis(2500)), "2.50 s");
        assert_eq!(rate(1000, Duration::from_millis(500)), "2000");
        assert_eq!(rate(1, Duration::ZERO), "n/a");
    }

    #[test]
    fn key_value_arguments_are_split_at_the_first_equals_sign() {
        assert_eq!(key_value("a=b=c", "--x").unwrap(), ("a", "b=c"));
        assert_eq!(
            key_value("cleanup.policy = compact", "--x").unwrap(),
            ("cleanup.policy", "compact")
        );
        assert_eq!(key_value("k=", "--x").unwrap(), ("k", ""));
        for bad in ["novalue", "=v", ""] {
            let err = key_value(bad, "--config").unwrap_err().to_string();
            assert!(
                err.contains("--config") && err.contains("KEY=VALUE"),
                "{err}"
            );
        }
    }
}
