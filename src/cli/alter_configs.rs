//! IncrementalAlterConfigs (KIP-339) for `eddy topics alter`, sent with the `kafka-protocol`
//! codec over one plain TCP connection to a bootstrap server.
//!
//! rdkafka 0.39 wraps only the legacy AlterConfigs, which replaces a resource's whole config
//! (every key not sent reverts to its default) and which Kafka deprecated; librdkafka's
//! incremental call is not wrapped. Any broker may take a topic config change (Kafka forwards
//! it to the controller), so the first bootstrap server that answers gets the request.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ParseResponseErrorCode;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, IncrementalAlterConfigsRequest, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Kafka's `ConfigResource.Type.TOPIC`.
const TOPIC_RESOURCE: i8 = 2;
/// Largest response accepted: these are small.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// How long connecting and each request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One change to a topic's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set the key on the topic.
    Set(String, String),
    /// Remove the topic's own value: the key goes back to its default.
    Delete(String),
}

/// Applies `changes` to `topic`'s config through the first of `bootstrap` (comma-separated
/// `host:port`) that accepts a connection.
pub async fn alter_topic(bootstrap: &str, topic: &str, changes: &[Change]) -> Result<()> {
    let mut conn = connect(bootstrap).await?;
    let versions = conn
        .call(0, &ApiVersionsRequest::default())
        .await
        .context("ApiVersions failed")?;
    let Some(max) = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::IncrementalAlterConfigs as i16)
        .map(|k| k.max_version)
    else {
        bail!(
            "the broker at {} does not support IncrementalAlterConfigs (Kafka 2.3 and later do)",
            conn.addr
        );
    };
    let configs = changes
        .iter()
        .map(|change| {
            let (name, operation, value) = match change {
                Change::Set(key, value) => (key, 0, Some(value)),
                Change::Delete(key) => (key, 1, None),
            };
            AlterableConfig::default()
                .with_name(StrBytes::from_string(name.clone()))
                .with_config_operation(operation)
                .with_value(value.map(|v| StrBytes::from_string(v.clone())))
        })
        .collect();
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(StrBytes::from_string(topic.to_string()))
            .with_configs(configs),
    ]);
    let response = conn
        .call(max.min(1), &request)
        .await
        .context("IncrementalAlterConfigs failed")?;
    for result in &response.responses {
        if let Some(error) = result.error_code.err() {
            match &result.error_message {
                Some(message) if !message.is_empty() => bail!("{error}: {}", message.as_str()),
                _ => bail!("{error}"),
            }
        }
    }
    Ok(())
}

/// A connection to one broker.
struct Connection {
    stream: TcpStream,
    addr: String,
    correlation_id: i32,
}

async fn connect(bootstrap: &str) -> Result<Connection> {
    let mut failures = Vec::new();
    for addr in bootstrap
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        match tokio::time::timeout(TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                return Ok(Connection {
                    stream,
                    addr: addr.to_string(),
                    correlation_id: 0,
                });
            }
            Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
            Err(_) => failures.push(format!("{addr}: no connection within {TIMEOUT:?}")),
        }
    }
    if failures.is_empty() {
        bail!("no bootstrap server given");
    }
    bail!("cannot connect to a broker ({})", failures.join("; "))
}

impl Connection {
    /// Sends one request and decodes its response.
    async fn call<R: Request>(&mut self, version: i16, request: &R) -> Result<R::Response> {
        self.correlation_id += 1;
        let mut body = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("eddy-cli")))
            .encode(&mut body, R::header_version(version))?;
        request.encode(&mut body, version)?;
        let mut frame = BytesMut::with_capacity(4 + body.len());
        frame.put_i32(i32::try_from(body.len()).context("request too large")?);
        frame.put(body);
        let mut response = tokio::time::timeout(TIMEOUT, async {
            self.stream.write_all(&frame).await?;
            let len = self.stream.read_i32().await?;
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= MAX_RESPONSE_BYTES)
                .with_context(|| format!("response length {len} out of range"))?;
            let mut buf = vec![0; len];
            self.stream.read_exact(&mut buf).await?;
            anyhow::Ok(Bytes::from(buf))
        })
        .await
        .with_context(|| format!("no answer from {} within {TIMEOUT:?}", self.addr))?
        .with_context(|| format!("connection to {} failed", self.addr))?;
        let header = ResponseHeader::decode(&mut response, R::Response::header_version(version))?;
        if header.correlation_id != self.correlation_id {
            bail!(
                "response to request {} arrived for request {}",
                header.correlation_id,
                self.correlation_id
            );
        }
        let decoded = R::Response::decode(&mut response, version)?;
        if response.has_remaining() {
            tracing::debug!(left = response.remaining(), "bytes left after the response");
        }
        Ok(decoded)
    }
}
