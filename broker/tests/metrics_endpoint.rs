//! The Prometheus endpoint: request counters move when requests are answered, and consumer lag
//! and log end offsets are read from the broker at scrape time.

use anyhow::{Context, Result};
use bytes::{BufMut, BytesMut};
use eddy_broker::{
    Broker, BrokerConfig, CommittedOffset, Durability, NewRecord, Server, ServerConfig, TopicConfig,
};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn scrape(addr: std::net::SocketAddr) -> Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: eddy\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("an HTTP response")?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "unexpected response: {head}"
    );
    Ok(body.to_string())
}

/// The value of the first sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_requests_log_offsets_and_consumer_lag() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = Broker::open(BrokerConfig::new(dir.path())).await?;
    broker
        .create_topic("orders", TopicConfig::default())
        .await?;
    let records: Vec<_> = (0..10)
        .map(|i| NewRecord::new(format!("k{i}"), "v"))
        .collect();
    broker
        .produce("orders", 0, &records, Durability::Durable)
        .await?;
    broker
        .commit_offsets(
            "billing",
            &[(
                "orders".to_string(),
                0,
                CommittedOffset {
                    offset: 4,
                    leader_epoch: -1,
                    metadata: String::new(),
                    // Now: a commit from 1970 would be expired by the server's first
                    // offsets-retention pass, racing the scrape below.
                    commit_timestamp: eddy_broker::now_ms(),
                },
            )],
        )
        .await?;
    let server = Server::bind(
        broker.clone(),
        ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            metrics_listen: Some("127.0.0.1:0".parse()?),
            ..ServerConfig::default()
        },
    )
    .await?;
    let kafka = server.local_addr();
    let metrics = server.metrics_addr().context("metrics are on")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let before = scrape(metrics).await?;
    assert_eq!(
        sample(
            &before,
            r#"eddy_log_end_offset{topic="orders",partition="0"}"#
        ),
        Some(10.0),
        "{before}"
    );
    assert_eq!(
        sample(
            &before,
            r#"eddy_consumer_lag{group="billing",topic="orders",partition="0"}"#
        ),
        Some(6.0),
        "{before}"
    );
    assert_eq!(
        sample(&before, r#"eddy_requests_total{api="ApiVersions"}"#),
        None
    );

    // One ApiVersions request over the wire.
    let mut body = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(ApiKey::ApiVersions as i16)
        .with_request_api_version(3)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("metrics-test")))
        .encode(&mut body, 2)?;
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("t"))
        .with_client_software_version(StrBytes::from_static_str("1"))
        .encode(&mut body, 3)?;
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.put(body);
    let mut client = TcpStream::connect(kafka).await?;
    client.write_all(&frame).await?;
    let mut len = [0u8; 4];
    client.read_exact(&mut len).await?;
    let mut response = vec![0u8; i32::from_be_bytes(len) as usize];
    client.read_exact(&mut response).await?;

    let after = scrape(metrics).await?;
    assert_eq!(
        sample(&after, r#"eddy_requests_total{api="ApiVersions"}"#),
        Some(1.0),
        "{after}"
    );
    assert!(
        sample(
            &after,
            r#"eddy_request_duration_seconds_count{api="ApiVersions"}"#
        ) == Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "eddy_connections_accepted_total"),
        Some(1.0),
        "{after}"
    );

    drop(client);
    let _ = stop.send(());
    task.await??;
    broker.shutdown().await?;
    Ok(())
}
