//! The process-wide budget for request and response memory in flight (`memory_budget_bytes`).
//!
//! A request frame reserves its length before its body is read (see [`super::frames`]) and
//! holds it until the request has been handled; at the budget, connections stop reading
//! from their sockets. A fetch reserves the bytes it is about to read before reading them, trims the reservation
//! to what it actually read, and holds it until its response has been written to the socket
//! (the reservation travels with the encoded frame, see [`super::dispatch::Frame`]). At the
//! budget, fetches wait for earlier ones to be written instead of allocating: backpressure,
//! not growth. A fetch asks once, for its whole response, and never while holding part of the
//! budget, so fetches cannot deadlock one another; it holds nothing while it long-polls. A request
//! frame's holder never waits for more budget, so requests and fetches cannot deadlock
//! each other either.
//!
//! Permits are KiB (a tokio semaphore acquires at most `u32::MAX` permits at once).

use std::sync::Arc;

use tokio::sync::{Semaphore, oneshot};

const UNIT: usize = 1024;

/// The shared budget; `None` inside when it is turned off (budget 0).
pub(crate) struct MemoryBudget {
    semaphore: Option<Arc<Semaphore>>,
    budget_units: u32,
}

impl MemoryBudget {
    /// A budget of `bytes` (rounded down to whole KiB, at least 1 KiB); 0 turns it off.
    pub(crate) fn new(bytes: usize) -> Self {
        if bytes == 0 {
            return Self {
                semaphore: None,
                budget_units: 0,
            };
        }
        let units = (bytes / UNIT).clamp(1, u32::MAX as usize) as u32;
        Self {
            semaphore: Some(Arc::new(Semaphore::new(units as usize))),
            budget_units: units,
        }
    }

    /// Reserves `bytes` (rounded up to whole KiB; more than the whole budget is clamped to
    /// the budget), waiting while the budget is spent. Returns at once when it is off.
    pub(crate) async fn reserve(&self, bytes: usize) -> Reservation {
        let Some(semaphore) = &self.semaphore else {
            return Reservation::unlimited();
        };
        let units = bytes.div_ceil(UNIT).min(self.budget_units as usize) as u32;
        if units == 0 {
            return Reservation::empty(semaphore);
        }
        match Arc::clone(semaphore).acquire_many_owned(units).await {
            Ok(permit) => {
                permit.forget();
                Reservation {
                    semaphore: Some(Arc::clone(semaphore)),
                    units,
                }
            }
            // The semaphore is never closed; if it were, serve without accounting.
            Err(_) => Reservation::unlimited(),
        }
    }

    /// Bytes reserved at the moment (for tests and metrics).
    #[allow(dead_code)]
    pub(crate) fn reserved_bytes(&self) -> usize {
        match &self.semaphore {
            Some(s) => (self.budget_units as usize - s.available_permits()) * UNIT,
            None => 0,
        }
    }
}

/// Bytes of the budget held by one request frame or fetch response; given back when dropped.
pub(crate) struct Reservation {
    /// `None`: no budget is configured, anything may be read.
    semaphore: Option<Arc<Semaphore>>,
    units: u32,
}

impl Reservation {
    fn unlimited() -> Self {
        Self {
            semaphore: None,
            units: 0,
        }
    }

    fn empty(semaphore: &Arc<Semaphore>) -> Self {
        Self {
            semaphore: Some(Arc::clone(semaphore)),
            units: 0,
        }
    }

    /// How many bytes the holder may read: unlimited without a budget.
    pub(crate) fn bytes(&self) -> usize {
        match self.semaphore {
            Some(_) => self.units as usize * UNIT,
            None => usize::MAX,
        }
    }

    /// Gives back everything above `bytes` (rounded up to whole KiB).
    pub(crate) fn shrink_to(&mut self, bytes: usize) {
        let Some(semaphore) = &self.semaphore else {
            return;
        };
        let keep = bytes.div_ceil(UNIT).min(self.units as usize) as u32;
        semaphore.add_permits((self.units - keep) as usize);
        self.units = keep;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(semaphore) = &self.semaphore
            && self.units > 0
        {
            semaphore.add_permits(self.units as usize);
        }
    }
}

/// What an encoded fetch response keeps alive until it has been written: its share of the
/// budget, and the signal that lets the connection's next fetch start (a connection's fetches
/// run one after another, as Kafka runs a connection's requests, so a later fetch can never
/// hold budget that an earlier one, whose response must be written first, is waiting for).
pub(crate) struct FetchHold {
    _reservation: Reservation,
    _done: oneshot::Sender<()>,
}

impl FetchHold {
    pub(crate) fn new(reservation: Reservation, done: oneshot::Sender<()>) -> Self {
        Self {
            _reservation: reservation,
            _done: done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_at_the_budget_and_are_given_back() {
        let memory = MemoryBudget::new(4 * UNIT);
        let mut a = memory.reserve(3 * UNIT).await;
        assert_eq!(a.bytes(), 3 * UNIT);
        a.shrink_to(10); // one KiB kept
        assert_eq!(memory.reserved_bytes(), UNIT);
        let b = memory.reserve(3 * UNIT).await;
        assert_eq!(memory.reserved_bytes(), 4 * UNIT);
        // Larger than the whole budget: clamped to it, so it waits for `a` and `b`.
        let big = memory.reserve(100 * UNIT);
        tokio::pin!(big);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), &mut big)
                .await
                .is_err()
        );
        drop(a);
        drop(b);
        let big = big.await;
        assert_eq!(big.bytes(), 4 * UNIT);
        drop(big);
        assert_eq!(memory.reserved_bytes(), 0);
        let none = memory.reserve(0).await;
        assert_eq!(none.bytes(), 0);
    }

    #[tokio::test]
    async fn no_budget_means_no_limit() {
        let memory = MemoryBudget::new(0);
        assert_eq!(memory.reserve(1 << 40).await.bytes(), usize::MAX);
    }
}
