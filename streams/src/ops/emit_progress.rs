//! How far an on-close windowed aggregation (time, sliding or session windows) has emitted
//! its final results: the close time of its last emission (Kafka Streams'
//! `lastEmitWindowCloseTime`), kept in a small changelogged key-value store (`<store>-emit`)
//! so that a restart neither repeats nor loses a final result.

use std::sync::Arc;

use eddy_state::KeyValueStore;

use crate::error::Result;
use crate::processor::InitContext;

/// The key under which the progress is kept.
const EMITTED_KEY: &[u8] = b"emitted-until";

pub(crate) struct EmitProgress {
    store_name: String,
    store: Option<Arc<dyn KeyValueStore>>,
    /// The close time of the last emission, `None` before the first one.
    pub last: Option<i64>,
}

impl EmitProgress {
    /// Progress kept in store `store_name`, nothing emitted yet.
    pub fn new(store_name: String) -> Self {
        Self {
            store_name,
            store: None,
            last: None,
        }
    }

    /// Opens the store and loads the saved progress; returns it if there was one.
    pub fn init(&mut self, ctx: &InitContext<'_>) -> Result<Option<i64>> {
        let store = ctx.kv_store(&self.store_name)?;
        let saved = store
            .get(EMITTED_KEY)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(i64::from_be_bytes);
        if saved.is_some() {
            self.last = saved;
        }
        self.store = Some(store);
        Ok(saved)
    }

    /// Whether an emission at close time `close` may find anything new: there was none
    /// yet, or the close time has advanced since the last one (Kafka Streams'
    /// `shouldEmitFinal`, with its wall-clock throttle left out).
    pub fn advanced_to(&self, close: i64) -> bool {
        self.last.is_none_or(|last| last < close)
    }

    /// Records an emission at close time `close`.
    pub fn advance(&mut self, close: i64) -> Result<()> {
        self.last = Some(close);
        if let Some(store) = &self.store {
            store.put(EMITTED_KEY, &close.to_be_bytes())?;
        }
        Ok(())
    }
}
