//! The typed DSL: [`StreamsBuilder`], [`KStream`], [`KTable`], [`GlobalKTable`], grouped
//! streams and tables, windows. Each operator adds nodes to the builder's graph; [`StreamsBuilder::build`]
//! checks it and returns the [`Topology`](crate::Topology).
//!
//! Stores are named by the caller: their names become changelog topic names
//! (`<application id>-<store>-changelog`) and repartition topic names
//! (`<application id>-<store>-repartition`), and stable names are what let an application be
//! changed and restarted without losing state (Kafka Streams recommends the same). The
//! exceptions have named variants: stream-stream joins generate their stores' names unless
//! given one ([`KStream::join_named`] and its left and outer variants), and joins of a table
//! without a store materialise it in a generated one unless it is
//! [materialised](KTable::materialize) first.

mod builder;
mod grouped;
mod kstream;
mod ktable;
mod windows;

use std::sync::Arc;

pub use builder::StreamsBuilder;
pub use grouped::{
    KGroupedStream, KGroupedTable, SessionWindowedKStream, SlidingWindowedKStream,
    TimeWindowedKStream,
};
pub use kstream::{BranchedKStream, KStream};
pub use ktable::KTable;

/// A global table, made by [`StreamsBuilder::global_table`]: joined by
/// [`KStream::join_global`] and [`KStream::left_join_global`].
pub struct GlobalKTable<K, V> {
    pub(crate) store: String,
    pub(crate) key_serde: crate::serdes::SerdeRef<K>,
    pub(crate) value_serde: crate::serdes::SerdeRef<V>,
}

impl<K, V> std::fmt::Debug for GlobalKTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalKTable")
            .field("store", &self.store)
            .finish()
    }
}
pub use windows::{EmitStrategy, JoinWindows, SessionWindows, SlidingWindows, TimeWindows};

/// What records carry: cloneable (a stream read by two operators is cloned for each), and
/// movable between threads.
pub trait Data: Clone + Send + 'static {}
impl<T: Clone + Send + 'static> Data for T {}

/// A record predicate.
pub type Predicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;
