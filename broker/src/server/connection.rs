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

use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::{FramedRead, FramedWrite};

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
    let (read_half, write_half) = stream.into_split();
    let mut frames_in = FramedRead::new(read_half, kafka_frames(state.config.max_request_bytes));
    let mut frames_out = FramedWrite::new(write_half, kafka_frames(i32::MAX as usize));
    let mut pending = FuturesOrdered::new();
    let max_in_flight = state.config.max_in_flight_per_connection.max(1);
    let mut reading = true;
    loop {
        if !reading && pending.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some(reply) = pending.next(), if !pending.is_empty() => match reply {
                Ok(Some(bytes)) => {
                    if let Err(e) = frames_out.send(bytes).await {
                        tracing::debug!(%peer, error = %e, "client went away while we wrote");
                        break;
                    }
                }
                Ok(None) => {} // acks=0: no response
                Err(reason) => {
                    tracing::error!(%peer, %reason, "cannot answer a request; closing the connection");
                    break;
                }
            },
            frame = frames_in.next(), if reading && pending.len() < max_in_flight => match frame {
                Some(Ok(frame)) => match dispatch::handle(frame.freeze(), &state, peer).await {
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
