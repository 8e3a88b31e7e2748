//! Connections cannot be held for nothing: an idle one is closed after
//! `connections_max_idle` (Kafka's `connections.max.idle.ms`), one whose request frame stops
//! half-way after `frame_read_timeout`, and an address past `max_connections_per_ip` has its
//! extra connections closed on accept; a well-behaved client on another connection is
//! served throughout. Real sockets to a server on a free loopback port.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use eddy_broker::{BrokerConfig, ServerConfig};
use kafka_protocol::messages::ApiVersionsRequest;
use support::protocol::{Client, Harness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(server: ServerConfig) -> Result<Harness> {
    Harness::start(|dir| BrokerConfig::new(dir), server, "connection-limits").await
}

/// How long until the server closes `stream` (reads EOF or a reset), up to `limit`.
async fn closed_after(stream: &mut TcpStream, limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 64];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Ok(started.elapsed()),
        Ok(Ok(n)) => bail!("the server sent {n} bytes instead of closing"),
        Err(_) => bail!("still open after {limit:?}"),
    }
}

/// Whether a real request on a fresh connection is answered.
async fn served(addr: SocketAddr) -> Result<()> {
    let mut client = Client::connect(addr, "well-behaved").await?;
    let response = client.call(3, &ApiVersionsRequest::default()).await?;
    ensure!(
        response.error_code == 0,
        "ApiVersions error {}",
        response.error_code
    );
    Ok(())
}

#[tokio::test]
async fn idle_connections_are_closed_busy_ones_are_not() -> Result<()> {
    let h = start(ServerConfig {
        connections_max_idle: Duration::from_millis(400),
        ..ServerConfig::default()
    })
    .await?;
    let mut idle = TcpStream::connect(h.addr).await?;
    // A client that keeps asking stays connected well past the idle limit.
    let mut busy = Client::connect(h.addr, "busy").await?;
    for _ in 0..8 {
        busy.call(3, &ApiVersionsRequest::default()).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let waited = closed_after(&mut idle, Duration::from_secs(5)).await?;
    ensure!(
        waited < Duration::from_secs(2),
        "closed only after {waited:?}"
    );
    busy.call(3, &ApiVersionsRequest::default()).await?;
    served(h.addr).await
}

/// Thousands of connections that never send anything: the server holds them (its accept
/// loop keeps up and a real client is served while they are open), then closes every one on
/// time, and is still serving afterwards.
#[tokio::test]
async fn thousands_of_idle_connections_are_closed_on_time() -> Result<()> {
    const IDLE: usize = 2000;
    let limit = Duration::from_secs(1);
    let h = start(ServerConfig {
        connections_max_idle: limit,
        max_connections: 2 * IDLE,
        ..ServerConfig::default()
    })
    .await?;
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let stream = TcpStream::connect(h.addr).await.with_context(|| {
            format!("connection {i} (each takes two descriptors here: is `ulimit -n` >= 5000?)")
        })?;
        idle.push(stream);
    }
    let connected = Instant::now();
    served(h.addr).await?;
    for (i, stream) in idle.iter_mut().enumerate() {
        let left =
            (connected + limit + Duration::from_secs(10)).saturating_duration_since(Instant::now());
        closed_after(stream, left)
            .await
            .with_context(|| format!("idle connection {i} of {IDLE}"))?;
    }
    ensure!(
        connected.elapsed() < limit + Duration::from_secs(10),
        "closing them took {:?}",
        connected.elapsed()
    );
    served(h.addr).await
}

#[tokio::test]
async fn a_frame_that_stops_half_way_closes_its_connection() -> Result<()> {
    let h = start(ServerConfig {
        frame_read_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await?;
    let mut slow = TcpStream::connect(h.addr).await?;
    // A frame of 100 bytes, of which 10 arrive.
    slow.write_all(&100u32.to_be_bytes()).await?;
    slow.write_all(&[0u8; 10]).await?;
    let waited = closed_after(&mut slow, Duration::from_secs(5)).await?;
    ensure!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
    ensure!(
        waited < Duration::from_secs(3),
        "closed only after {waited:?}"
    );
    // A frame that arrives whole is answered.
    let mut client = Client::connect(h.addr, "trickle").await?;
    client.call(3, &ApiVersionsRequest::default()).await?;
    served(h.addr).await
}

#[tokio::test]
async fn an_address_past_its_connection_cap_is_refused_on_accept() -> Result<()> {
    let h = start(ServerConfig {
        max_connections_per_ip: 2,
        ..ServerConfig::default()
    })
    .await?;
    let mut first = Client::connect(h.addr, "first").await?;
    let mut second = Client::connect(h.addr, "second").await?;
    first.call(3, &ApiVersionsRequest::default()).await?;
    second.call(3, &ApiVersionsRequest::default()).await?;
    let mut third = TcpStream::connect(h.addr).await?;
    closed_after(&mut third, Duration::from_secs(5)).await?;
    // The first two are still served; once one goes, its slot is free again.
    first.call(3, &ApiVersionsRequest::default()).await?;
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match served(h.addr).await {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => return Err(e.context("the freed slot was not given back")),
        }
    }
    Ok(())
}
