//! An in-process SQL server for the REST tests: a broker in a temporary directory, the
//! service over it, and the REST API on a port the OS picks.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use eddy_broker::{Broker, BrokerConfig};
use eddy_server::{KsqlService, ServiceConfig};
use eddy_sql::engine::{AppRunner, BrokerCluster, Config};
use eddy_streams::EmbeddedBackend;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The REST API's base URL and what stops it.
pub struct TestServer {
    pub base: String,
    pub service: Arc<KsqlService>,
    pub broker: Broker,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<eddy_server::Result<()>>>,
}

/// The engine's properties in the tests: topics read from the start, quick commits.
pub fn engine_config() -> Config {
    Config::with(BTreeMap::from([
        ("auto.offset.reset".to_string(), "earliest".to_string()),
        ("commit.interval.ms".to_string(), "100".to_string()),
    ]))
}

/// Opens the broker in `dir` (data in `dir/data`, query state in `dir/state`).
pub async fn open_broker(dir: &TempDir) -> Result<Broker> {
    Ok(Broker::open(BrokerConfig::new(dir.path().join("data"))).await?)
}

/// Opens the service on `broker` (replaying its command topic).
pub async fn open_service(
    broker: &Broker,
    dir: &TempDir,
    config: ServiceConfig,
) -> Result<(KsqlService, eddy_server::service::ReplayReport)> {
    let handle = tokio::runtime::Handle::current();
    let backend = Arc::new(EmbeddedBackend::new(broker.clone(), handle.clone()));
    let cluster = Arc::new(BrokerCluster::new(broker.clone(), handle));
    let state = dir.path().join("state");
    let opened = tokio::task::spawn_blocking(move || {
        KsqlService::open(
            engine_config(),
            cluster,
            Box::new(AppRunner::new(backend, state)),
            config,
        )
    })
    .await??;
    Ok(opened)
}

impl TestServer {
    /// Starts a server on a new broker in `dir`.
    pub async fn start(dir: &TempDir, config: ServiceConfig) -> Result<Self> {
        let broker = open_broker(dir).await?;
        let (service, _) = open_service(&broker, dir, config).await?;
        let service = Arc::new(service);
        eddy_server::follower::spawn(service.clone())?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(eddy_server::rest::serve(
            listener,
            service.clone(),
            64 * 1024,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            base,
            service,
            broker,
            stop: Some(stop),
            served: Some(served),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /ksql`: the status and the JSON answer.
    pub async fn ksql(&self, client: &reqwest::Client, ksql: &str) -> Result<(u16, Value)> {
        let response = client
            .post(self.url("/ksql"))
            .header("Accept", "application/vnd.ksql.v1+json")
            .body(serde_json::json!({ "ksql": ksql }).to_string())
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?;
        Ok((status, json))
    }

    /// Stops the REST API and the queries, then the broker.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            tokio::time::timeout(Duration::from_secs(30), served)
                .await
                .context("the REST API did not stop")???;
        }
        let service = self.service.clone();
        tokio::task::spawn_blocking(move || service.shutdown()).await?;
        self.broker.shutdown().await?;
        Ok(())
    }
}

/// An HTTP/1.1 client.
pub fn http1() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}

/// An HTTP/2 client speaking cleartext with prior knowledge, as ksqlDB's clients do.
pub fn h2c() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}
