//! One client connection: read request frames, hand each to [`super::dispatch`], and write
//! the responses back in request order.
//!
//! Requests are read ahead (up to `max_in_flight_per_connection`) while earlier ones finish:
//! each request's ordered part (for a produce, the append itself) runs before the next
//! request is read, so a client's writes land in the order it sent them; what is left (for
//! a produce with `acks=all`, the wait for the shared fsync) completes concurrently, and an
//! ordered queue releases responses in request order.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::FramedRead;

use super::ServerState;
use super::codec::kafka_frames;
use super::dispatch;

/// Serves one connection until the client closes it, it sends something unusable, or the
/// server shuts down (then requests already read are still answered).
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<ServerState>,
    mut stop: watch::Receiver<bool>,
) {
    tracing::debug!(%peer, "connection opened");
    state.metrics.connections.inc();
    let (read_half, mut write_half) = stream.into_split();
    let mut frames_in = FramedRead::new(read_half, kafka_frames(state.config.max_request_bytes));
    let mut conn = dispatch::ConnectionState::default();
    let mut pending: FuturesOrdered<dispatch::Reply> = FuturesOrdered::new();
    let max_in_flight = state.config.max_in_flight_per_connection.max(1);
    let mut reading = true;
    loop {
        if !reading && pending.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some(reply) = pending.next(), if !pending.is_empty() => match reply {
                Ok(Some(frame)) => {
                    // Written straight from the encoded frame (no copy into a write buffer
                    // that would keep a connection's largest response allocated); a fetch's
                    // share of the memory budget is given back when `frame` is dropped here.
                    if let Err(e) = write_half.write_all(&frame.bytes).await {
                        tracing::debug!(%peer, error = %e, "client went away while we wrote");
                        break;
                    }
                    drop(frame);
                }
                Ok(None) => {} // acks=0: no response
                Err(reason) => {
                    tracing::error!(%peer, %reason, "cannot answer a request; closing the connection");
                    break;
                }
            },
            frame = frames_in.next(), if reading && pending.len() < max_in_flight => match frame {
                Some(Ok(frame)) => match dispatch::handle(frame.freeze(), &state, peer, &mut conn).await {
                    Ok(reply) => pending.push_back(reply),
                    Err(reason) => {
                        tracing::warn!(%peer, %reason, "refusing request; closing the connection");
                        reading = false;
                    }
                },
                Some(Err(e)) => {
                    tracing::warn!(%peer, error = %e, "unreadable frame; closing the connection");
                    reading = false;
                }
                None => reading = false,
            },
            _ = stop.changed(), if reading => reading = false,
        }
    }
    state.metrics.connections.dec();
    tracing::debug!(%peer, "connection closed");
}
