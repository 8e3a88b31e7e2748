//! `eddy server start`: the SQL server. One process runs the broker (the Kafka protocol, as
//! `eddy broker start`), the SQL engine and ksqlDB's REST API; with `--bootstrap-servers`
//! the engine runs on an external Kafka cluster instead and no broker starts. Statements
//! are kept in the command topic and replayed at start, so persistent queries survive
//! restarts (SIGKILL included). SIGINT or SIGTERM stops it cleanly.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use eddy::broker::{Broker, BrokerConfig, Server, ServerConfig};
use eddy::server::rest::DEFAULT_MAX_REQUEST_BYTES;
use eddy::server::service::ReplayReport;
use eddy::server::{KsqlService, ServiceConfig};
use eddy::sql::engine::{AppRunner, BrokerCluster, Cluster, Config, KafkaCluster};
use eddy::streams::EmbeddedBackend;
use eddy::streams::runtime::{Backend, KafkaBackend};
use serde::Deserialize;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use super::{describe_open, finish, open};

/// `eddy server start` flags; each overrides the same setting of the `--config` file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// The data directory: the broker's topics and the queries' local state
    /// [default: ./eddy-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve the Kafka protocol on [default: 127.0.0.1:9092].
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<SocketAddr>,
    /// Address to serve ksqlDB's REST API on [default: 127.0.0.1:8088].
    #[arg(long, value_name = "IP:PORT")]
    pub http_listen: Option<SocketAddr>,
    /// The service id: servers with the same one share their queries (ksqlDB's
    /// `ksql.service.id`) [default: default_].
    #[arg(long, value_name = "ID")]
    pub service_id: Option<String>,
    /// Run on this Kafka cluster (`HOST:PORT,...`) instead of a built-in broker.
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_servers: Option<String>,
    /// A TOML file of settings (see docs/sql.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The `--config` file. Every key is optional; unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// Relative paths are relative to the file's directory.
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    service_id: Option<String>,
    bootstrap_servers: Option<String>,
    max_push_queries: Option<usize>,
    max_request_bytes: Option<usize>,
    /// Engine and streams properties (`auto.offset.reset`, `commit.interval.ms`, ...).
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

/// Everything resolved: defaults, then the file, then the flags.
struct Settings {
    data_dir: PathBuf,
    listen: SocketAddr,
    http_listen: SocketAddr,
    bootstrap_servers: Option<String>,
    engine: Config,
    service: ServiceConfig,
    max_request_bytes: usize,
}

fn resolve(args: &Args) -> Result<Settings> {
    let (file, file_dir) = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            let file: FileConfig = toml::from_str(&text)
                .map_err(|e| anyhow!("invalid config file {}: {e}", path.display()))?;
            (
                file,
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            )
        }
        None => (FileConfig::default(), PathBuf::new()),
    };
    let data_dir = match (&args.data_dir, &file.data_dir) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => file_dir.join(dir),
        (None, None) => PathBuf::from("./eddy-data"),
    };
    // ksqlDB's server commits every 2 s (Kafka Streams' default is 30 s).
    let mut properties = BTreeMap::from([("commit.interval.ms".to_string(), "2000".to_string())]);
    properties.extend(file.properties);
    if let Some(id) = args.service_id.clone().or(file.service_id) {
        properties.insert("ksql.service.id".into(), id);
    }
    let mut service = ServiceConfig::default();
    if let Some(max) = file.max_push_queries {
        service.max_push_queries = max;
    }
    Ok(Settings {
        data_dir,
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9092))),
        http_listen: args
            .http_listen
            .or(file.http_listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8088))),
        bootstrap_servers: args.bootstrap_servers.clone().or(file.bootstrap_servers),
        engine: Config::with(properties),
        service,
        max_request_bytes: file.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
    })
}

/// Runs `eddy server start`.
pub async fn run(args: Args) -> Result<()> {
    let settings = resolve(&args)?;
    let mut sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = sigint.recv() => "SIGINT",
        };
        eprintln!("eddy: {name}: shutting down");
        let _ = stop_tx.send(true);
        tokio::select! {
            _ = sigterm.recv() => {},
            _ = sigint.recv() => {},
        }
        eprintln!("eddy: signal again: exiting now, without a clean shutdown");
        std::process::exit(1);
    });
    match settings.bootstrap_servers.clone() {
        Some(bootstrap) => run_on_kafka(settings, &bootstrap, stop_rx).await,
        None => run_embedded(settings, stop_rx).await,
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn run_embedded(settings: Settings, stop: watch::Receiver<bool>) -> Result<()> {
    let opened = open(BrokerConfig::new(&settings.data_dir)).await?;
    if !opened.new_dir && !opened.report.clean_shutdown {
        eprintln!("eddy: opened {}", describe_open(&opened));
    }
    let broker = opened.broker.clone();
    let result = serve_embedded(&broker, &settings, stop).await;
    finish(&broker, result).await?;
    eprintln!("eddy: stopped cleanly");
    Ok(())
}

async fn serve_embedded(
    broker: &Broker,
    settings: &Settings,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let protocol = Server::bind(
        broker.clone(),
        ServerConfig {
            listen: settings.listen,
            ..ServerConfig::default()
        },
    )
    .await
    .with_context(|| format!("cannot serve the Kafka protocol on {}", settings.listen))?;
    let handle = tokio::runtime::Handle::current();
    let backend: Arc<dyn Backend> = Arc::new(EmbeddedBackend::new(broker.clone(), handle.clone()));
    let cluster: Arc<dyn Cluster> = Arc::new(BrokerCluster::new(broker.clone(), handle));
    let kafka = format!("Kafka protocol on {}", protocol.local_addr());
    let broker_metrics = protocol.metrics_renderer();
    let protocol_stop = stopped(stop.clone());
    let protocol_task = tokio::spawn(async move { protocol.run(protocol_stop).await });
    let served = serve_sql(
        settings,
        backend,
        cluster,
        &kafka,
        Some(broker_metrics),
        stop,
    )
    .await;
    let protocol_result = protocol_task
        .await
        .context("the protocol server's task failed")?
        .context("the protocol server failed");
    served.and(protocol_result)
}

async fn run_on_kafka(
    settings: Settings,
    bootstrap: &str,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let kafka = Arc::new(
        KafkaBackend::new(bootstrap).with_context(|| format!("cannot use Kafka at {bootstrap}"))?,
    );
    let cluster: Arc<dyn Cluster> = Arc::new(KafkaCluster::new(kafka.clone()));
    let backend: Arc<dyn Backend> = kafka;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let described = format!("Kafka at {bootstrap}");
    serve_sql(&settings, backend, cluster, &described, None, stop).await
}

/// Opens the service (replaying the command topic), serves the REST API until stopped,
/// then stops the queries.
async fn serve_sql(
    settings: &Settings,
    backend: Arc<dyn Backend>,
    cluster: Arc<dyn Cluster>,
    kafka: &str,
    broker_metrics: Option<eddy::server::metrics::ExtraMetrics>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let http = tokio::net::TcpListener::bind(settings.http_listen)
        .await
        .with_context(|| format!("cannot serve HTTP on {}", settings.http_listen))?;
    let http_addr = http.local_addr()?;
    let state_dir = settings.data_dir.join("query-state");
    let (engine, service_config) = (settings.engine.clone(), settings.service.clone());
    let (mut service, report) = tokio::task::spawn_blocking(move || {
        let runner = AppRunner::new(backend, state_dir);
        KsqlService::open(engine, cluster, Box::new(runner), service_config)
    })
    .await
    .context("opening the SQL service failed")??;
    if let Some(metrics) = broker_metrics {
        service.set_broker_metrics(metrics);
    }
    let service = Arc::new(service);
    let follower = eddy::server::follower::spawn(service.clone())
        .context("cannot follow the command topic")?;
    println!(
        "eddy server: REST API on http://{http_addr}, {kafka} (service id {}, data dir {}; {})",
        service.service_id(),
        settings.data_dir.display(),
        describe_replay(&report)
    );
    for (what, why) in &report.failures {
        eprintln!("eddy: warning: {what} failed on replay: {why}");
    }
    let served = eddy::server::rest::serve(
        http,
        service.clone(),
        settings.max_request_bytes,
        stopped(stop),
    )
    .await;
    tokio::task::spawn_blocking(move || {
        service.shutdown();
        let _ = follower.join();
    })
    .await
    .context("stopping the queries failed")?;
    served.context("the REST API failed")
}

fn describe_replay(report: &ReplayReport) -> String {
    match report.commands {
        0 => "no statements recorded yet".to_string(),
        n => format!(
            "replayed {n} statement(s), {} persistent quer{} running",
            report.queries,
            if report.queries == 1 { "y" } else { "ies" }
        ),
    }
}
