//! A raw Kafka protocol client and a broker-plus-server harness for the protocol tests
//! (`admin_protocol`, `groups_protocol`): requests encoded with the `kafka-protocol` codec,
//! sent over a real socket to a server on a free port.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use bytes::{Bytes, BytesMut};
use eddy_broker::{Broker, BrokerConfig, Server, ServerConfig};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A `StrBytes` from a `&str`.
pub fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

/// A minimal Kafka client: one connection; requests may be pipelined with `send`/`recv`.
pub struct Client {
    stream: TcpStream,
    correlation_id: i32,
    client_id: String,
}

impl Client {
    pub async fn connect(addr: SocketAddr, client_id: &str) -> Result<Self> {
        let stream = TcpStream::connect(addr).await.context("connecting")?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            correlation_id: 0,
            client_id: client_id.to_owned(),
        })
    }

    /// Sends `request` at `version`; returns its correlation id.
    pub async fn send<R: Request>(&mut self, version: i16, request: &R) -> Result<i32> {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(s(&self.client_id)));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, R::header_version(version))
            .context("encoding the request header")?;
        request
            .encode(&mut body, version)
            .with_context(|| format!("encoding API {} v{version}", R::KEY))?;
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).await?;
        Ok(self.correlation_id)
    }

    /// Reads the response to request `correlation_id` (the next one on the connection),
    /// checking the correlation id and that the body is consumed exactly.
    pub async fn recv<R: Request>(
        &mut self,
        version: i16,
        correlation_id: i32,
    ) -> Result<R::Response> {
        let read = async {
            let mut len = [0u8; 4];
            self.stream.read_exact(&mut len).await?;
            let mut response = vec![0u8; u32::from_be_bytes(len) as usize];
            self.stream.read_exact(&mut response).await?;
            Ok::<_, std::io::Error>(response)
        };
        let response = tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .context("no response within 20 s")?
            .with_context(|| {
                format!(
                    "reading the API {} v{version} response (connection closed?)",
                    R::KEY
                )
            })?;
        let mut response = Bytes::from(response);
        let header = ResponseHeader::decode(
            &mut response,
            <R::Response as HeaderVersion>::header_version(version),
        )?;
        ensure!(
            header.correlation_id == correlation_id,
            "correlation id {} for request {correlation_id}",
            header.correlation_id
        );
        let decoded = R::Response::decode(&mut response, version)
            .with_context(|| format!("decoding the API {} v{version} response", R::KEY))?;
        ensure!(
            response.is_empty(),
            "{} bytes left after the response",
            response.len()
        );
        Ok(decoded)
    }

    /// Sends `request` and waits for its response.
    pub async fn call<R: Request>(&mut self, version: i16, request: &R) -> Result<R::Response> {
        let id = self.send(version, request).await?;
        self.recv::<R>(version, id).await
    }
}

/// A broker and its protocol server on a free port of 127.0.0.1.
pub struct Harness {
    _dir: TempDir,
    pub broker: Broker,
    pub addr: SocketAddr,
    client_id: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<eddy_broker::Result<()>>>,
}

impl Harness {
    /// Opens a broker in a temporary directory with `broker_config(dir)` and serves it with
    /// `server_config` (its listen address replaced). Clients identify as `client_id`.
    pub async fn start(
        broker_config: impl FnOnce(&Path) -> BrokerConfig,
        server_config: ServerConfig,
        client_id: &str,
    ) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let broker = Broker::open(broker_config(dir.path())).await?;
        let config = ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..server_config
        };
        let server = Server::bind(broker.clone(), config).await?;
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            _dir: dir,
            broker,
            addr,
            client_id: client_id.to_owned(),
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// A new connection to the server.
    pub async fn client(&self) -> Result<Client> {
        Client::connect(self.addr, &self.client_id).await
    }

    /// Tells the server to stop, without waiting for it.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server (finishing in-flight requests) and shuts the broker down.
    pub async fn stop(mut self) -> Result<()> {
        self.signal_stop();
        if let Some(server) = self.server.take() {
            server.await??;
        }
        self.broker.shutdown().await?;
        Ok(())
    }
}
