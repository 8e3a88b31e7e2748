//! Decoding a request frame, routing it to its API module, and encoding the response.
//!
//! A frame whose API key is unknown, whose version is not implemented (except ApiVersions,
//! which answers with UNSUPPORTED_VERSION as clients expect), or whose body does not decode,
//! closes the connection, as Kafka does: there is no well-formed way to answer it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, FetchResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::sync::oneshot;

use super::ServerState;
use super::apis;
use super::memory_budget::FetchHold;

/// A response still being worked out: `None` means no response is sent (acks=0).
pub(crate) type Pending = Pin<Box<dyn Future<Output = Option<ResponseKind>> + Send>>;

/// The encoded response frame, once ready; an error closes the connection.
pub(crate) type Reply = Pin<Box<dyn Future<Output = Result<Option<Frame>, String>> + Send>>;

/// An encoded response, length prefix included, ready to be written as is.
pub(crate) struct Frame {
    pub bytes: Bytes,
    /// For a fetch: its share of the fetch memory budget, given back once the frame has
    /// been written (dropped), and the signal that lets the connection's next fetch start.
    pub _hold: Option<FetchHold>,
}

/// What dispatch keeps per connection.
#[derive(Default)]
pub(crate) struct ConnectionState {
    /// Fires (its sender is dropped) when the connection's latest fetch has been written or
    /// given up: the next fetch starts after it.
    last_fetch: Option<oneshot::Receiver<()>>,
}

/// A response that is already known.
pub(crate) fn ready(response: impl Into<ResponseKind>) -> Pending {
    Box::pin(std::future::ready(Some(response.into())))
}

/// What a handler needs to know about the request it is answering.
#[derive(Clone)]
pub(crate) struct RequestContext {
    pub state: Arc<ServerState>,
    pub version: i16,
    pub header: RequestHeader,
    /// The client's address (for group member descriptions and logs).
    pub peer: SocketAddr,
}

/// A request decoded from a frame.
#[derive(Debug)]
pub enum Decoded {
    /// A request this server implements, at a version it implements.
    Request {
        /// The API.
        key: ApiKey,
        /// The version.
        version: i16,
        /// The request header.
        header: RequestHeader,
        /// The request body (boxed: request types differ widely in size).
        request: Box<RequestKind>,
    },
    /// An ApiVersions request newer than this server: answered with UNSUPPORTED_VERSION.
    ApiVersionsTooNew {
        /// To echo back.
        correlation_id: i32,
    },
}

/// Decodes one request frame (without its length prefix). Every way a frame can be unusable
/// is an `Err` with a reason for the log, never a panic; this is the function the fuzz target
/// drives.
pub fn decode_request(mut frame: Bytes) -> Result<Decoded, String> {
    if frame.len() < 8 {
        return Err(format!(
            "a {}-byte frame is too short for a request header",
            frame.len()
        ));
    }
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown API key {api_key}"))?;
    let Some(range) = apis::supported_versions(key) else {
        return Err(format!("API {key:?} is not implemented"));
    };
    if version < range.0 || version > range.1 {
        if key == ApiKey::ApiVersions {
            return Ok(Decoded::ApiVersionsTooNew { correlation_id });
        }
        return Err(format!(
            "{key:?} version {version} is not supported (supported: {}..={})",
            range.0, range.1
        ));
    }
    let header = RequestHeader::decode(&mut frame, key.request_header_version(version))
        .map_err(|e| format!("cannot decode the {key:?} v{version} request header: {e}"))?;
    let request = RequestKind::decode(key, &mut frame, version)
        .map_err(|e| format!("cannot decode {key:?} v{version}: {e}"))?;
    Ok(Decoded::Request {
        key,
        version,
        header,
        request: Box::new(request),
    })
}

/// Decodes one frame and starts handling it. The ordered part of the work is done when this
/// returns; the returned future finishes the rest and yields the encoded response.
pub(crate) async fn handle(
    frame: Bytes,
    state: &Arc<ServerState>,
    peer: SocketAddr,
    conn: &mut ConnectionState,
) -> Result<Reply, String> {
    let (key, version, header, request) = match decode_request(frame)? {
        Decoded::ApiVersionsTooNew { correlation_id } => {
            let body = apis::api_versions::unsupported_version();
            return Ok(encoded(ApiKey::ApiVersions, 0, correlation_id, ready(body)));
        }
        Decoded::Request {
            key,
            version,
            header,
            request,
        } => (key, version, header, request),
    };
    let correlation_id = header.correlation_id;
    let ctx = RequestContext {
        state: Arc::clone(state),
        version,
        header,
        peer,
    };
    let started = Instant::now();
    let metrics = Arc::clone(&state.metrics);
    let request = match *request {
        RequestKind::Fetch(r) => {
            let (done, next) = oneshot::channel();
            let previous = conn.last_fetch.replace(next);
            return Ok(Box::pin(async move {
                if let Some(previous) = previous {
                    let _ = previous.await; // Err: written (sender dropped); that is the signal
                }
                let (body, reservation) = apis::fetch::handle(&ctx, r).await;
                metrics.observe_request(api_name(key), started.elapsed());
                let bytes = encode_fetch(version, correlation_id, &body)?;
                drop(body);
                Ok(Some(Frame {
                    bytes,
                    _hold: Some(FetchHold::new(reservation, done)),
                }))
            }));
        }
        other => other,
    };
    let pending = route(ctx, request)
        .await
        .ok_or_else(|| format!("{key:?} passed the version check but has no handler"))?;
    let timed: Pending = Box::pin(async move {
        let response = pending.await;
        metrics.observe_request(api_name(key), started.elapsed());
        response
    });
    Ok(encoded(key, version, correlation_id, timed))
}

fn encoded(key: ApiKey, version: i16, correlation_id: i32, pending: Pending) -> Reply {
    Box::pin(async move {
        let Some(body) = pending.await else {
            return Ok(None);
        };
        let mut buf = BytesMut::new();
        buf.put_u32(0); // the length, filled in below
        ResponseHeader::default()
            .with_correlation_id(correlation_id)
            .encode(&mut buf, key.response_header_version(version))
            .map_err(|e| format!("cannot encode the {key:?} response header: {e}"))?;
        body.encode(&mut buf, version)
            .map_err(|e| format!("cannot encode the {key:?} v{version} response: {e}"))?;
        Ok(Some(Frame {
            bytes: with_length(buf, key)?,
            _hold: None,
        }))
    })
}

/// Encodes a fetch response into one buffer of exactly its size (no growth by doubling: a
/// response is up to `fetch.max.bytes` of records).
fn encode_fetch(version: i16, correlation_id: i32, body: &FetchResponse) -> Result<Bytes, String> {
    let key = ApiKey::Fetch;
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = key.response_header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| Ok(h + body.compute_size(version)?))
        .map_err(|e| format!("cannot size the Fetch v{version} response: {e}"))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_u32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| format!("cannot encode the Fetch response header: {e}"))?;
    body.encode(&mut buf, version)
        .map_err(|e| format!("cannot encode the Fetch v{version} response: {e}"))?;
    with_length(buf, key)
}

/// Fills in the 4-byte length prefix reserved at the start of `buf`.
fn with_length(mut buf: BytesMut, key: ApiKey) -> Result<Bytes, String> {
    let len = i32::try_from(buf.len() - 4).map_err(|_| {
        format!(
            "a {key:?} response of {} bytes is too large to send",
            buf.len()
        )
    })?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Runs the ordered part of a request. `None` only if an API is listed in
/// [`apis::supported_versions`] without a route here (a bug; the connection is closed).
async fn route(ctx: RequestContext, request: RequestKind) -> Option<Pending> {
    use apis::*;
    Some(match request {
        RequestKind::ApiVersions(r) => ready(api_versions::handle(&ctx, r)),
        RequestKind::Metadata(r) => ready(metadata::handle(&ctx, r).await),
        RequestKind::Produce(r) => produce::handle(ctx, r).await,
        RequestKind::ListOffsets(r) => ready(list_offsets::handle(&ctx, r).await),
        RequestKind::OffsetForLeaderEpoch(r) => {
            ready(list_offsets::offset_for_leader_epoch(&ctx, r))
        }
        RequestKind::FindCoordinator(r) => ready(offsets::find_coordinator(&ctx, r)),
        RequestKind::OffsetCommit(r) => ready(offsets::commit(&ctx, r).await),
        RequestKind::OffsetFetch(r) => ready(offsets::fetch(&ctx, r)),
        RequestKind::InitProducerId(r) => ready(transactions::init_producer_id(&ctx, r).await),
        RequestKind::AddPartitionsToTxn(r) => ready(transactions::add_partitions(&ctx, r).await),
        RequestKind::AddOffsetsToTxn(r) => ready(transactions::add_offsets(&ctx, r).await),
        RequestKind::TxnOffsetCommit(r) => ready(transactions::txn_offset_commit(&ctx, r).await),
        RequestKind::EndTxn(r) => ready(transactions::end_txn(&ctx, r).await),
        RequestKind::DescribeTransactions(r) => ready(transactions::describe(&ctx, r).await),
        RequestKind::ListTransactions(r) => ready(transactions::list(&ctx, r).await),
        RequestKind::JoinGroup(r) => {
            let joined = ctx.state.groups.join(&ctx, r);
            Box::pin(async move { Some(joined.await.into()) })
        }
        RequestKind::SyncGroup(r) => {
            let synced = ctx.state.groups.sync(&ctx, r);
            Box::pin(async move { Some(synced.await.into()) })
        }
        RequestKind::Heartbeat(r) => ready(ctx.state.groups.heartbeat(&ctx, r)),
        RequestKind::LeaveGroup(r) => ready(ctx.state.groups.leave(&ctx, r)),
        RequestKind::DescribeGroups(r) => ready(ctx.state.groups.describe(&ctx, r)),
        RequestKind::ListGroups(r) => ready(ctx.state.groups.list(&ctx, r)),
        RequestKind::DeleteGroups(r) => ready(ctx.state.groups.delete(&ctx, r).await),
        RequestKind::CreateTopics(r) => ready(admin::create_topics(&ctx, r).await),
        RequestKind::DeleteTopics(r) => ready(admin::delete_topics(&ctx, r).await),
        RequestKind::CreatePartitions(r) => ready(admin::create_partitions(&ctx, r).await),
        RequestKind::DescribeConfigs(r) => ready(admin::describe_configs(&ctx, r)),
        RequestKind::IncrementalAlterConfigs(r) => {
            ready(admin::incremental_alter_configs(&ctx, r).await)
        }
        RequestKind::DeleteRecords(r) => ready(admin::delete_records(&ctx, r).await),
        _ => return None,
    })
}

/// The metric label for an API: its name as Kafka spells it.
fn api_name(key: ApiKey) -> &'static str {
    apis::SUPPORTED_NAMES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("Other", |(_, name)| name)
}
