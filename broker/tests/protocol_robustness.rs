//! Bad input on the wire: oversized length prefixes, garbage, unknown APIs, unsupported
//! versions and requests whose array lengths claim billions of elements must each get an
//! error response or a closed connection, and leave the broker serving and its memory flat.

use std::time::Duration;

use anyhow::{Context, Result};
use bytes::{BufMut, Bytes, BytesMut};
use eddy_broker::{Broker, BrokerConfig, Server, ServerConfig};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Running {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Result<Running> {
    let dir = tempfile::tempdir()?;
    let broker = Broker::open(BrokerConfig::new(dir.path())).await?;
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse()?,
        max_request_bytes: 1 << 20,
        ..ServerConfig::default()
    };
    let server = Server::bind(broker.clone(), config).await?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await?;
        broker.shutdown().await?;
        Ok(())
    });
    Ok(Running {
        addr,
        stop,
        task,
        _dir: dir,
    })
}

fn api_versions_frame(version: i16, correlation_id: i32) -> Result<Bytes> {
    let mut body = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(ApiKey::ApiVersions as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("robustness")))
        .encode(
            &mut body,
            ApiKey::ApiVersions.request_header_version(version.min(4)),
        )?;
    if version <= 4 {
        ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("t"))
            .with_client_software_version(StrBytes::from_static_str("1"))
            .encode(&mut body, version)?;
    }
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.put(body);
    Ok(frame.freeze())
}

async fn read_frame(stream: &mut TcpStream) -> Result<Option<Bytes>> {
    let mut len = [0u8; 4];
    match tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut len)).await {
        Err(_) => anyhow::bail!("no response and no close within 10 s (a hang)"),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok(_)) => {}
    }
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await?;
    Ok(Some(Bytes::from(body)))
}

/// The broker still answers a well-formed ApiVersions on a fresh connection.
async fn still_serving(addr: std::net::SocketAddr) -> Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(&api_versions_frame(3, 99)?).await?;
    let mut frame = read_frame(&mut stream)
        .await?
        .context("closed instead of answering")?;
    let header = ResponseHeader::decode(&mut frame, 0)?;
    assert_eq!(header.correlation_id, 99);
    let response = ApiVersionsResponse::decode(&mut frame, 3)?;
    assert_eq!(response.error_code, 0);
    assert!(
        response
            .api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Produce as i16)
    );
    Ok(())
}

/// Sends raw bytes and expects the connection to be closed (with no response).
async fn expect_closed(addr: std::net::SocketAddr, bytes: &[u8]) -> Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(bytes).await?;
    let response = read_frame(&mut stream).await?;
    assert!(
        response.is_none(),
        "expected the connection to close, got a response"
    );
    Ok(())
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_frames_close_the_connection_and_nothing_else() -> Result<()> {
    let running = start().await?;
    let addr = running.addr;
    still_serving(addr).await?;
    let before = resident_kib();

    for _ in 0..20 {
        // A length prefix claiming 2 GiB: refused before any allocation.
        expect_closed(addr, &[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]).await?;
        // A negative length.
        expect_closed(addr, &[0xff, 0xff, 0xff, 0xfe]).await?;
        // A frame too short for a header.
        expect_closed(addr, &[0, 0, 0, 3, 0, 1, 2]).await?;
        // An unknown API key.
        expect_closed(addr, &[0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 1]).await?;
        // Produce v99.
        expect_closed(addr, &[0, 0, 0, 8, 0, 0, 0, 99, 0, 0, 0, 1]).await?;
        // Metadata v1 whose topic array claims 2^31-1 entries in a few bytes: the decoder
        // must fail on the missing bytes, not allocate for the claim.
        let mut frame = BytesMut::new();
        let mut body = BytesMut::new();
        body.put_i16(ApiKey::Metadata as i16);
        body.put_i16(1);
        body.put_i32(7);
        body.put_i16(-1); // null client id
        body.put_i32(i32::MAX); // topics array length
        body.put_slice(b"xx");
        frame.put_i32(body.len() as i32);
        frame.put(body);
        expect_closed(addr, &frame).await?;
        // Random garbage with a plausible length.
        let garbage: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut frame = BytesMut::new();
        frame.put_i32(garbage.len() as i32);
        frame.put_slice(&garbage);
        expect_closed(addr, &frame).await?;
    }
    still_serving(addr).await?;
    let after = resident_kib();
    assert!(
        after < before + 64 * 1024,
        "resident memory grew from {before} KiB to {after} KiB"
    );

    let _ = running.stop.send(());
    running.task.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_too_new_gets_unsupported_version_as_v0() -> Result<()> {
    let running = start().await?;
    let mut stream = TcpStream::connect(running.addr).await?;
    // ApiVersions v100: header v2 layout with an empty body, as a newer client would send.
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::ApiVersions as i16);
    body.put_i16(100);
    body.put_i32(5);
    body.put_i16(-1);
    body.put_u8(0);
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.put(body);
    stream.write_all(&frame).await?;
    let mut response = read_frame(&mut stream).await?.context("no response")?;
    let header = ResponseHeader::decode(&mut response, 0)?;
    assert_eq!(header.correlation_id, 5);
    let versions = ApiVersionsResponse::decode(&mut response, 0)?;
    assert_eq!(versions.error_code, 35, "UNSUPPORTED_VERSION");
    let api_versions = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions as i16)
        .context("ApiVersions listed")?;
    assert_eq!((api_versions.min_version, api_versions.max_version), (0, 4));
    // The connection stays usable for the retry at a supported version.
    stream.write_all(&api_versions_frame(0, 6)?).await?;
    let mut response = read_frame(&mut stream)
        .await?
        .context("no response to retry")?;
    assert_eq!(ResponseHeader::decode(&mut response, 0)?.correlation_id, 6);
    let _ = running.stop.send(());
    running.task.await??;
    Ok(())
}
