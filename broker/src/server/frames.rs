//! Reading request frames: Kafka frames every request with a 4-byte big-endian length.
//!
//! Hand-written rather than tokio-util's length-delimited codec because a frame's memory
//! must come out of the process-wide [`MemoryBudget`] before its body is read: the reader
//! takes the length, checks it against `max_request_bytes` (a frame claiming gigabytes costs
//! nothing), reserves that many bytes, and only then allocates and reads the body. At the
//! budget the reservation waits, so the connection stops reading from its socket and TCP
//! pushes back on the client (backpressure, not growth).
//!
//! The same reader enforces the deadline for a frame that has started arriving: part of a
//! frame that sits unfinished for `frame_read_timeout` while we are reading is an error
//! (a slow or stalled client cannot hold a connection slot). Time spent waiting for budget,
//! or while the connection is not reading (too many requests in flight), does not count.

use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::{Instant, timeout_at};

use super::memory_budget::{MemoryBudget, Reservation};

/// Spare room kept in the read buffer while no frame length is known yet: enough for the
/// small requests that make up most traffic, read several at a time.
const READ_CHUNK: usize = 8 << 10;
const LENGTH_PREFIX: usize = 4;

/// One request frame, without its length prefix, and the budget it holds.
pub(crate) struct RequestFrame {
    pub bytes: Bytes,
    /// Given back when dropped: once the request has been handled.
    pub reservation: Reservation,
}

/// Why no frame could be read; each one closes the connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("a frame of {len} bytes is larger than max_request_bytes ({max})")]
    TooLarge { len: usize, max: usize },
    #[error("the client closed the connection in the middle of a frame")]
    Truncated,
    #[error("a frame did not finish arriving within {0:?}")]
    Slow(Duration),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The frame being read: its length, and its share of the budget once granted.
struct Incoming {
    len: usize,
    reservation: Option<Reservation>,
}

/// Reads frames from one connection. [`FrameReader::next`] is cancel safe: everything it
/// has read or reserved is kept here, so a `select!` may drop it and call it again.
pub(crate) struct FrameReader<R> {
    reader: R,
    buf: BytesMut,
    max_frame: usize,
    frame_timeout: Duration,
    incoming: Option<Incoming>,
    /// Since when the unfinished frame in `buf` has been waited for.
    partial_since: Option<Instant>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(reader: R, max_frame: usize, frame_timeout: Duration) -> Self {
        Self {
            reader,
            buf: BytesMut::new(),
            max_frame,
            frame_timeout,
            incoming: None,
            partial_since: None,
        }
    }

    /// Whether part of a frame has arrived and the rest has not.
    pub(crate) fn has_partial_frame(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The connection is not reading for now (too many requests in flight): the frame
    /// deadline starts over when it reads again.
    pub(crate) fn pause_deadline(&mut self) {
        self.partial_since = None;
    }

    /// The next frame; `Ok(None)` when the client closed the connection between frames.
    pub(crate) async fn next(
        &mut self,
        budget: &MemoryBudget,
    ) -> Result<Option<RequestFrame>, FrameError> {
        loop {
            if self.incoming.is_none() && self.buf.len() >= LENGTH_PREFIX {
                let len = u32::from_be_bytes(self.buf[..LENGTH_PREFIX].try_into().expect("4 bytes"))
                    as usize;
                if len > self.max_frame {
                    return Err(FrameError::TooLarge {
                        len,
                        max: self.max_frame,
                    });
                }
                self.incoming = Some(Incoming {
                    len,
                    reservation: None,
                });
            }
            if let Some(incoming) = &mut self.incoming {
                let whole = LENGTH_PREFIX + incoming.len;
                if incoming.reservation.is_none() {
                    // Nothing of this frame beyond what was already buffered is read (nor
                    // allocated) until the budget allows it.
                    let reservation = budget.reserve(whole).await;
                    incoming.reservation = Some(reservation);
                    self.partial_since = None;
                    self.buf.reserve(whole.saturating_sub(self.buf.len()));
                }
                if self.buf.len() >= whole {
                    let mut bytes = self.buf.split_to(whole);
                    bytes.advance(LENGTH_PREFIX);
                    let reservation = self
                        .incoming
                        .take()
                        .and_then(|i| i.reservation)
                        .expect("reserved above");
                    self.partial_since = None;
                    return Ok(Some(RequestFrame {
                        bytes: bytes.freeze(),
                        reservation,
                    }));
                }
            }
            if self.incoming.is_none() && self.buf.capacity() - self.buf.len() < LENGTH_PREFIX {
                self.buf.reserve(READ_CHUNK);
            }
            let read = if self.buf.is_empty() {
                self.reader.read_buf(&mut self.buf).await?
            } else {
                let since = *self.partial_since.get_or_insert_with(Instant::now);
                timeout_at(
                    since + self.frame_timeout,
                    self.reader.read_buf(&mut self.buf),
                )
                .await
                .map_err(|_| FrameError::Slow(self.frame_timeout))??
            };
            if read == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    #[tokio::test]
    async fn frames_split_anywhere_are_reassembled_and_hold_their_size() {
        let (mut client, server) = tokio::io::duplex(64);
        let budget = MemoryBudget::new(1 << 20);
        let mut reader = FrameReader::new(server, 1 << 20, Duration::from_secs(5));
        let mut wire = framed(b"first");
        wire.extend(framed(&[7u8; 3000]));
        tokio::spawn(async move {
            for chunk in wire.chunks(7) {
                client.write_all(chunk).await.unwrap();
            }
        });
        let first = reader.next(&budget).await.unwrap().unwrap();
        assert_eq!(&first.bytes[..], b"first");
        let second = reader.next(&budget).await.unwrap().unwrap();
        assert_eq!(second.bytes.len(), 3000);
        // Both frames still hold their share (rounded up to KiB) until dropped.
        assert_eq!(budget.reserved_bytes(), 1024 + 3 * 1024);
        drop((first, second));
        assert_eq!(budget.reserved_bytes(), 0);
        assert!(reader.next(&budget).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_frame_waits_for_budget_before_its_body_is_read() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let budget = MemoryBudget::new(64 << 10);
        let held = budget.reserve(64 << 10).await;
        let mut reader = FrameReader::new(server, 1 << 20, Duration::from_millis(50));
        // Larger than the read chunk, so its body cannot arrive with its length.
        client.write_all(&framed(&[1u8; 40_000])).await.unwrap();
        // At the budget: no frame, and no deadline either (the wait is ours, not the
        // client's), however long it lasts.
        let waited = tokio::time::timeout(Duration::from_millis(200), reader.next(&budget)).await;
        assert!(waited.is_err(), "a frame was read past the budget");
        assert!(reader.buf.capacity() < 40_000, "the body was allocated");
        drop(held);
        let frame = reader.next(&budget).await.unwrap().unwrap();
        assert_eq!(frame.bytes.len(), 40_000);
    }

    #[tokio::test]
    async fn oversized_truncated_and_stalled_frames_are_errors() {
        let budget = MemoryBudget::new(1 << 20);
        let (mut client, server) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(server, 100, Duration::from_secs(5));
        client.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert!(matches!(
            reader.next(&budget).await,
            Err(FrameError::TooLarge { max: 100, .. })
        ));

        let (mut client, server) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(server, 100, Duration::from_secs(5));
        client.write_all(&framed(b"abc")[..5]).await.unwrap();
        drop(client);
        assert!(matches!(
            reader.next(&budget).await,
            Err(FrameError::Truncated)
        ));

        let (mut client, server) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(server, 100, Duration::from_millis(50));
        client.write_all(&framed(b"abc")[..5]).await.unwrap();
        assert!(matches!(
            reader.next(&budget).await,
            Err(FrameError::Slow(_))
        ));
        drop(client);
    }
}
