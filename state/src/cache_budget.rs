//! One memory budget for many caches (Kafka Streams' `statestore.cache.max.bytes`, one bound
//! for the whole instance rather than one per store and task).
//!
//! Each cache holds a [`CacheShare`] of a [`CacheBudget`] and reports the bytes it holds
//! after every change. When the budget as a whole is over its bound, the cache that was just
//! written evicts its own oldest entries (as Kafka's `ThreadCache` evicts from the namespace
//! being written), so the total stays within the bound plus the one entry each cache may
//! hold past it. A cache dropped (its task closed) gives its bytes back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A bound in bytes shared by caches, with what they hold now.
#[derive(Debug)]
pub struct CacheBudget {
    max_bytes: usize,
    used: AtomicUsize,
}

/// Budgets are compared by identity: two budgets of the same size are still two budgets.
impl PartialEq for CacheBudget {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for CacheBudget {}

impl CacheBudget {
    /// A budget of `max_bytes`; 0 turns caching off for every cache using it.
    pub fn new(max_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            max_bytes,
            used: AtomicUsize::new(0),
        })
    }

    /// The bound.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Whether caches using it cache at all.
    pub fn is_enabled(&self) -> bool {
        self.max_bytes > 0
    }

    /// Bytes all its caches hold now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether its caches hold more than the bound.
    pub fn is_over(&self) -> bool {
        self.used() > self.max_bytes
    }

    /// What an evicting cache works the total down to: three quarters of the bound, so
    /// that evictions come in batches rather than one entry per write.
    pub fn eviction_target(&self) -> usize {
        self.max_bytes / 4 * 3
    }
}

/// One cache's part of a [`CacheBudget`]; given back when dropped.
#[derive(Debug)]
pub struct CacheShare {
    budget: Arc<CacheBudget>,
    held: usize,
}

impl CacheShare {
    /// A share of `budget`, holding nothing yet.
    pub fn new(budget: Arc<CacheBudget>) -> Self {
        Self { budget, held: 0 }
    }

    /// The budget.
    pub fn budget(&self) -> &Arc<CacheBudget> {
        &self.budget
    }

    /// Records that the cache now holds `bytes`; returns whether the budget is over.
    pub fn set(&mut self, bytes: usize) -> bool {
        if bytes >= self.held {
            self.budget
                .used
                .fetch_add(bytes - self.held, Ordering::Relaxed);
        } else {
            self.budget
                .used
                .fetch_sub(self.held - bytes, Ordering::Relaxed);
        }
        self.held = bytes;
        self.budget.is_over()
    }

    /// What the other caches of the budget hold.
    pub fn others(&self) -> usize {
        self.budget.used().saturating_sub(self.held)
    }
}

impl Drop for CacheShare {
    fn drop(&mut self) {
        self.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_give_back_when_dropped() {
        let budget = CacheBudget::new(100);
        let mut a = CacheShare::new(Arc::clone(&budget));
        let mut b = CacheShare::new(Arc::clone(&budget));
        assert!(!a.set(60));
        assert!(b.set(50), "110 of 100");
        assert_eq!((budget.used(), a.others()), (110, 50));
        assert!(!b.set(10));
        drop(a);
        assert_eq!(budget.used(), 10);
        assert_eq!(budget.eviction_target(), 75);
        assert_ne!(*CacheBudget::new(100), *budget, "compared by identity");
    }
}
