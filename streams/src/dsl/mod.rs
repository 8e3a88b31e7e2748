//! The typed DSL: [`StreamsBuilder`], [`KStream`], [`KTable`], grouped streams and tables,
//! windows. Each operator adds nodes to the builder's graph; [`StreamsBuilder::build`]
//! checks it and returns the [`Topology`](crate::Topology).
//!
//! Stores are always named by the caller: their names become changelog topic names
//! (`<application id>-<store>-changelog`) and repartition topic names
//! (`<application id>-<store>-repartition`), and stable names are what let an application be
//! changed and restarted without losing state (Kafka Streams recommends the same).

mod builder;
mod grouped;
mod kstream;
mod ktable;
mod windows;

use std::sync::Arc;

pub use builder::StreamsBuilder;
pub use grouped::{KGroupedStream, KGroupedTable, SessionWindowedKStream, TimeWindowedKStream};
pub use kstream::{BranchedKStream, KStream};
pub use ktable::KTable;
pub use windows::{EmitStrategy, JoinWindows, SessionWindows, TimeWindows};

/// What records carry: cloneable (a stream read by two operators is cloned for each), and
/// movable between threads.
pub trait Data: Clone + Send + 'static {}
impl<T: Clone + Send + 'static> Data for T {}

/// A record predicate.
pub type Predicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;
