//! `eddy broker start`: opens a data directory and serves the Kafka protocol on it until
//! SIGINT or SIGTERM, then stops accepting, lets in-flight requests finish, flushes and writes
//! the clean-shutdown marker. A second signal during that exits at once, without it.
//!
//! Settings come from an optional TOML file (`--config`) and command-line flags, flags
//! winning; see docs/operations.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use eddy::broker::{BrokerConfig, FlushPolicy, Server, ServerConfig};
use serde::Deserialize;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::oneshot;

use super::{Opened, describe_open, duration, finish, open};

/// The data directory when neither the flag nor the file names one.
const DEFAULT_DATA_DIR: &str = "./eddy-data";

/// `eddy broker start` flags. Each overrides the same setting in the `--config` file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// The data directory (created if missing) [default: ./eddy-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve the Kafka protocol on; port 0 picks a free one
    /// [default: 127.0.0.1:9092].
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<SocketAddr>,
    /// Host name clients are told to connect to [default: the listen address's IP].
    #[arg(long, value_name = "HOST")]
    pub advertised_host: Option<String>,
    /// Port clients are told to connect to [default: the bound port].
    #[arg(long, value_name = "PORT")]
    pub advertised_port: Option<u16>,
    /// Serve Prometheus metrics at http://IP:PORT/metrics [default: off].
    #[arg(long, value_name = "IP:PORT")]
    pub metrics_listen: Option<SocketAddr>,
    /// A TOML file of settings (see docs/operations.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// When appends are fsynced (`flush` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FlushMode {
    /// fsync before acknowledging `acks=all` produces, shared by concurrent appends.
    GroupCommit,
    /// Never fsync on the append path, only every `flush_interval_ms`.
    Interval,
}

/// The `--config` file. Every key is optional; unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// Relative paths are relative to the file's directory.
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    advertised_host: Option<String>,
    advertised_port: Option<u16>,
    metrics_listen: Option<SocketAddr>,
    auto_create_topics: Option<bool>,
    default_partitions: Option<i32>,
    max_connections: Option<usize>,
    max_request_bytes: Option<usize>,
    fetch_max_bytes: Option<usize>,
    /// `fetch_memory_budget_bytes`: its name when it covered fetch responses only.
    #[serde(alias = "fetch_memory_budget_bytes")]
    memory_budget_bytes: Option<usize>,
    connections_max_idle_ms: Option<u64>,
    frame_read_timeout_ms: Option<u64>,
    max_connections_per_ip: Option<usize>,
    flush: Option<FlushMode>,
    flush_interval_ms: Option<u64>,
    min_session_timeout_ms: Option<u64>,
    max_session_timeout_ms: Option<u64>,
    initial_rebalance_delay_ms: Option<u64>,
    max_partitions_per_topic: Option<i32>,
    max_partitions: Option<usize>,
    offsets_retention_minutes: Option<u64>,
    producer_id_expiration_ms: Option<i64>,
    transaction_max_timeout_ms: Option<i32>,
    transactional_id_expiration_ms: Option<i64>,
    max_transactional_ids: Option<usize>,
    compaction_map_max_bytes: Option<usize>,
}

/// Reads and parses a config file.
fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow!("invalid config file {}: {e}", path.display()))
}

/// The broker's and the server's settings: defaults, then the file, then the flags.
fn resolve(args: &Args) -> Result<(BrokerConfig, ServerConfig)> {
    let (file, file_dir) = match &args.config {
        Some(path) => (
            read_file(path)?,
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ),
        None => (FileConfig::default(), PathBuf::new()),
    };
    let data_dir = match (&args.data_dir, &file.data_dir) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => file_dir.join(dir),
        (None, None) => PathBuf::from(DEFAULT_DATA_DIR),
    };
    let mut broker = BrokerConfig::new(data_dir);
    let defaults = match broker.flush_policy {
        FlushPolicy::GroupCommit { interval } | FlushPolicy::Interval { interval } => interval,
    };
    let interval = match file.flush_interval_ms {
        Some(ms) => {
            ensure!(ms > 0, "flush_interval_ms must be at least 1");
            Duration::from_millis(ms)
        }
        None => defaults,
    };
    broker.flush_policy = match file.flush.unwrap_or(FlushMode::GroupCommit) {
        FlushMode::GroupCommit => FlushPolicy::GroupCommit { interval },
        FlushMode::Interval => FlushPolicy::Interval { interval },
    };
    if let Some(max) = file.max_partitions_per_topic {
        ensure!(max >= 1, "max_partitions_per_topic must be at least 1");
        broker.max_partitions_per_topic = max;
    }
    if let Some(max) = file.max_partitions {
        ensure!(max >= 1, "max_partitions must be at least 1");
        broker.max_partitions = max;
    }
    if let Some(ms) = file.producer_id_expiration_ms {
        ensure!(
            ms >= 1,
            "producer_id_expiration_ms must be at least 1 (Kafka's default is 86400000)"
        );
        broker.producer_id_expiration_ms = ms;
    }
    if let Some(ms) = file.transaction_max_timeout_ms {
        ensure!(
            ms >= 1,
            "transaction_max_timeout_ms must be at least 1 (Kafka's default is 900000)"
        );
        broker.transaction_max_timeout_ms = ms;
    }
    if let Some(ms) = file.transactional_id_expiration_ms {
        ensure!(
            ms >= 1,
            "transactional_id_expiration_ms must be at least 1 (Kafka's default is 604800000)"
        );
        broker.transactional_id_expiration_ms = ms;
    }
    if let Some(max) = file.max_transactional_ids {
        ensure!(max >= 1, "max_transactional_ids must be at least 1");
        broker.max_transactional_ids = max;
    }
    if let Some(bytes) = file.compaction_map_max_bytes {
        ensure!(
            bytes >= 1 << 10,
            "compaction_map_max_bytes must be at least 1024 (Kafka's default is 134217728)"
        );
        broker.compaction_map_max_bytes = bytes;
    }

    let mut server = ServerConfig::default();
    if let Some(listen) = args.listen.or(file.listen) {
        server.listen = listen;
    }
    server.advertised_host = args.advertised_host.clone().or(file.advertised_host);
    server.advertised_port = args.advertised_port.or(file.advertised_port);
    server.metrics_listen = args.metrics_listen.or(file.metrics_listen);
    if let Some(auto) = file.auto_create_topics {
        server.auto_create_topics = auto;
    }
    if let Some(partitions) = file.default_partitions {
        ensure!(partitions >= 1, "default_partitions must be at least 1");
        server.default_partitions = partitions;
    }
    if let Some(max) = file.max_connections {
        ensure!(max >= 1, "max_connections must be at least 1");
        server.max_connections = max;
    }
    if let Some(max) = file.max_request_bytes {
        ensure!(
            max >= 1024,
            "max_request_bytes must be at least 1024 (Kafka's default is 104857600)"
        );
        server.max_request_bytes = max;
    }
    if let Some(max) = file.fetch_max_bytes {
        ensure!(
            max >= 1024,
            "fetch_max_bytes must be at least 1024 (Kafka's default is 57671680)"
        );
        server.fetch_max_bytes = max;
    }
    if let Some(budget) = file.memory_budget_bytes {
        ensure!(
            budget == 0 || budget >= 1 << 20,
            "memory_budget_bytes must be 0 (no budget) or at least 1048576"
        );
        server.memory_budget_bytes = budget;
    }
    if let Some(ms) = file.connections_max_idle_ms {
        ensure!(
            ms >= 1000,
            "connections_max_idle_ms must be at least 1000 (Kafka's default is 600000)"
        );
        server.connections_max_idle = Duration::from_millis(ms);
    }
    if let Some(ms) = file.frame_read_timeout_ms {
        ensure!(ms >= 100, "frame_read_timeout_ms must be at least 100");
        server.frame_read_timeout = Duration::from_millis(ms);
    }
    if let Some(max) = file.max_connections_per_ip {
        ensure!(max >= 1, "max_connections_per_ip must be at least 1");
        server.max_connections_per_ip = max;
    }
    let groups = &mut server.groups;
    let ms = Duration::from_millis;
    if let Some(v) = file.min_session_timeout_ms {
        groups.min_session_timeout = ms(v);
    }
    if let Some(v) = file.max_session_timeout_ms {
        groups.max_session_timeout = ms(v);
    }
    if let Some(minutes) = file.offsets_retention_minutes {
        ensure!(minutes >= 1, "offsets_retention_minutes must be at least 1");
        groups.offsets_retention = Duration::from_secs(minutes * 60);
    }
    if let Some(v) = file.initial_rebalance_delay_ms {
        groups.initial_rebalance_delay = ms(v);
    }
    ensure!(
        groups.min_session_timeout <= groups.max_session_timeout,
        "min_session_timeout_ms ({}) is above max_session_timeout_ms ({})",
        groups.min_session_timeout.as_millis(),
        groups.max_session_timeout.as_millis()
    );
    Ok((broker, server))
}

/// Runs `eddy broker start`.
pub async fn run(args: Args) -> Result<()> {
    let (broker_config, server_config) = resolve(&args)?;
    // Install the handlers before anything is announced, so a signal sent as soon as the
    // listening line appears is not lost.
    let sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let sigint = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let opened = open(broker_config).await?;
    let broker = opened.broker.clone();
    let result = serve(&opened, server_config, sigterm, sigint).await;
    let (received, shutdown) = finish(&broker, result).await?;
    eprintln!(
        "eddy: {received}: stopped serving, flushed and shut down cleanly in {}",
        duration(shutdown)
    );
    Ok(())
}

/// Serves until the first signal and says which one it was.
async fn serve(
    opened: &Opened,
    config: ServerConfig,
    mut sigterm: Signal,
    mut sigint: Signal,
) -> Result<&'static str> {
    if !opened.new_dir && !opened.report.clean_shutdown {
        eprintln!("eddy: opened {}", describe_open(opened));
    }
    if config.listen.ip().is_unspecified() && config.advertised_host.is_none() {
        eprintln!(
            "eddy: warning: listening on all interfaces without --advertised-host: clients \
             will be told to connect to {}, which they cannot; set --advertised-host",
            config.listen.ip()
        );
    }
    let listen = config.listen;
    let server = Server::bind(opened.broker.clone(), config)
        .await
        .with_context(|| format!("cannot start the server on {listen}"))?;
    let metrics = match server.metrics_addr() {
        Some(addr) => format!("metrics http://{addr}/metrics"),
        None => "metrics off".to_string(),
    };
    println!(
        "eddy broker listening on {} (data dir {}, {metrics})",
        server.local_addr(),
        opened.shown_dir.display()
    );

    let (first_tx, first_rx) = oneshot::channel();
    tokio::spawn(async move {
        let first = next_signal(&mut sigterm, &mut sigint).await;
        eprintln!("eddy: {first}: shutting down (finishing in-flight requests)");
        let _ = first_tx.send(first);
        let second = next_signal(&mut sigterm, &mut sigint).await;
        eprintln!("eddy: {second} again: exiting now, without a clean shutdown");
        std::process::exit(1);
    });
    let mut received = "stopped";
    server
        .run(async {
            if let Ok(name) = first_rx.await {
                received = name;
            }
        })
        .await
        .context("the protocol server failed")?;
    Ok(received)
}

async fn next_signal(sigterm: &mut Signal, sigint: &mut Signal) -> &'static str {
    tokio::select! {
        _ = sigterm.recv() => "SIGTERM",
        _ = sigint.recv() => "SIGINT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig> {
        toml::from_str(text).map_err(|e| anyhow!("{e}"))
    }

    #[test]
    fn a_full_config_file_parses_and_flags_override_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eddy.toml");
        std::fs::write(
            &path,
            r#"
            data_dir = "data"
            listen = "127.0.0.1:19092"
            advertised_host = "kafka.internal"
            advertised_port = 29092
            metrics_listen = "127.0.0.1:9100"
            auto_create_topics = false
            default_partitions = 3
            max_connections = 10
            max_request_bytes = 1048576
            fetch_max_bytes = 8388608
            memory_budget_bytes = 33554432
            connections_max_idle_ms = 5000
            frame_read_timeout_ms = 2000
            max_connections_per_ip = 7
            flush = "interval"
            flush_interval_ms = 250
            min_session_timeout_ms = 1000
            max_session_timeout_ms = 60000
            initial_rebalance_delay_ms = 0
            max_partitions_per_topic = 64
            max_partitions = 256
            offsets_retention_minutes = 90
            producer_id_expiration_ms = 3600000
            "#,
        )
        .unwrap();
        let args = Args {
            config: Some(path.clone()),
            ..Args::default()
        };
        let (broker, server) = resolve(&args).unwrap();
        assert_eq!(broker.data_dir, dir.path().join("data"));
        assert_eq!(
            (broker.max_partitions_per_topic, broker.max_partitions),
            (64, 256)
        );
        assert_eq!(broker.producer_id_expiration_ms, 3_600_000);
        assert_eq!(
            server.groups.offsets_retention,
            Duration::from_secs(90 * 60)
        );
        assert_eq!(
            broker.flush_policy,
            FlushPolicy::Interval {
                interval: Duration::from_millis(250)
            }
        );
        assert_eq!(server.listen, "127.0.0.1:19092".parse().unwrap());
        assert_eq!(server.advertised_host.as_deref(), Some("kafka.internal"));
        assert_eq!(server.advertised_port, Some(29092));
        assert_eq!(
            server.metrics_listen,
            Some("127.0.0.1:9100".parse().unwrap())
        );
        assert!(!server.auto_create_topics);
        assert_eq!(server.default_partitions, 3);
        assert_eq!(server.max_connections, 10);
        assert_eq!(server.max_request_bytes, 1 << 20);
        assert_eq!(server.fetch_max_bytes, 8 << 20);
        assert_eq!(server.memory_budget_bytes, 32 << 20);
        assert_eq!(server.connections_max_idle, Duration::from_secs(5));
        assert_eq!(server.frame_read_timeout, Duration::from_secs(2));
        assert_eq!(server.max_connections_per_ip, 7);
        assert_eq!(server.groups.min_session_timeout, Duration::from_secs(1));
        assert_eq!(server.groups.max_session_timeout, Duration::from_secs(60));
        assert_eq!(server.groups.initial_rebalance_delay, Duration::ZERO);

        let args = Args {
            config: Some(path),
            data_dir: Some("/elsewhere".into()),
            listen: Some("127.0.0.1:0".parse().unwrap()),
            advertised_host: Some("other".into()),
            ..Args::default()
        };
        let (broker, server) = resolve(&args).unwrap();
        assert_eq!(broker.data_dir, PathBuf::from("/elsewhere"));
        assert_eq!(server.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(server.advertised_host.as_deref(), Some("other"));
        assert_eq!(server.default_partitions, 3, "the file still applies");
    }

    #[test]
    fn without_a_file_the_defaults_are_loopback_and_group_commit() {
        let (broker, server) = resolve(&Args::default()).unwrap();
        assert_eq!(broker.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(broker.flush_policy, FlushPolicy::default());
        assert!(server.listen.ip().is_loopback());
        assert_eq!(server.listen.port(), 9092);
        assert_eq!(server.metrics_listen, None);
        assert_eq!(server.fetch_max_bytes, 57671680, "Kafka's fetch.max.bytes");
        assert_eq!(server.memory_budget_bytes, 256 << 20);
        assert_eq!(server.connections_max_idle, Duration::from_secs(600));
        assert_eq!(server.max_connections_per_ip, usize::MAX);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = parse("listen = \"127.0.0.1:1\"\nretention_ms = 5\n").unwrap_err();
        assert!(err.to_string().contains("retention_ms"), "{err}");
        let err = parse("flush = \"sometimes\"").unwrap_err();
        assert!(err.to_string().contains("sometimes"), "{err}");
        let err = parse("listen = \"localhost\"").unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eddy.toml");
        for (text, expected) in [
            ("default_partitions = 0", "default_partitions"),
            ("flush_interval_ms = 0", "flush_interval_ms"),
            (
                "min_session_timeout_ms = 10\nmax_session_timeout_ms = 5",
                "min_session_timeout_ms",
            ),
            ("max_request_bytes = 10", "max_request_bytes"),
            ("fetch_max_bytes = 10", "fetch_max_bytes"),
            ("connections_max_idle_ms = 10", "connections_max_idle_ms"),
            ("frame_read_timeout_ms = 0", "frame_read_timeout_ms"),
            ("max_connections_per_ip = 0", "max_connections_per_ip"),
            ("memory_budget_bytes = 10", "memory_budget_bytes"),
            // The old name still applies.
            ("fetch_memory_budget_bytes = 10", "memory_budget_bytes"),
            ("producer_id_expiration_ms = 0", "producer_id_expiration_ms"),
        ] {
            std::fs::write(&path, text).unwrap();
            let args = Args {
                config: Some(path.clone()),
                ..Args::default()
            };
            let err = resolve(&args).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        let args = Args {
            config: Some(dir.path().join("missing.toml")),
            ..Args::default()
        };
        let err = format!("{:#}", resolve(&args).unwrap_err());
        assert!(err.contains("cannot read config file"), "{err}");
    }
}
