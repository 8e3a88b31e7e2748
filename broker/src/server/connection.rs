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
use tokio::time::{Instant, sleep_until};

use super::ServerState;
use super::dispatch;
use super::frames::{FrameError, FrameReader};

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
    let mut frames_in = FrameReader::new(
        read_half,
        state.config.max_request_bytes,
        state.config.frame_read_timeout,
    );
    let mut conn = dispatch::ConnectionState::default();
    let mut pending: FuturesOrdered<dispatch::Reply> = FuturesOrdered::new();
    let max_in_flight = state.config.max_in_flight_per_connection.max(1);
    let idle_limit = state.config.connections_max_idle;
    let mut reading = true;
    // The last time a request arrived or a response went out, for the idle timeout.
    let mut last_active = Instant::now();
    loop {
        if !reading && pending.is_empty() {
            break;
        }
        let waiting_for_frame = reading && pending.len() < max_in_flight;
        if !waiting_for_frame {
            frames_in.pause_deadline();
        }
        let idle_deadline = last_active + idle_limit;
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
                    last_active = Instant::now();
                }
                Ok(None) => {} // acks=0: no response
                Err(reason) => {
                    tracing::error!(%peer, %reason, "cannot answer a request; closing the connection");
                    break;
                }
            },
            frame = frames_in.next(&state.memory_budget), if waiting_for_frame => match frame {
                Ok(Some(frame)) => {
                    // The frame's budget is held until its ordered part has run (a
                    // produce's records are in the log), then given back.
                    let handled = dispatch::handle(frame.bytes, &state, peer, &mut conn).await;
                    drop(frame.reservation);
                    match handled {
                        Ok(reply) => {
                            last_active = Instant::now();
                            pending.push_back(reply);
                        }
                        Err(reason) => {
                            tracing::warn!(%peer, %reason, "refusing request; closing the connection");
                            reading = false;
                        }
                    }
                }
                Ok(None) => reading = false,
                Err(e @ FrameError::Slow(_)) => {
                    tracing::warn!(%peer, error = %e, "closing the connection");
                    state.metrics.connections_closed_slow_frame.inc();
                    break;
                }
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "unreadable frame; closing the connection");
                    reading = false;
                }
            },
            _ = stop.changed(), if reading => reading = false,
            _ = sleep_until(idle_deadline), if reading && pending.is_empty() => {
                if frames_in.has_partial_frame() {
                    // A frame is arriving: its own deadline applies, not the idle one.
                    last_active = Instant::now();
                    continue;
                }
                tracing::debug!(%peer, idle_ms = idle_limit.as_millis() as u64, "idle connection; closing");
                state.metrics.connections_closed_idle.inc();
                break;
            }
        }
    }
    state.metrics.connections.dec();
    tracing::debug!(%peer, "connection closed");
}
