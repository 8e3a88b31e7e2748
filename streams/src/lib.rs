//! eddy-streams: typed stream processing on Eddy's broker or any Kafka cluster (the Kafka
//! Streams analogue).
//!
//! - [`dsl`]: [`StreamsBuilder`], [`KStream`], [`KTable`], grouping, windows and joins,
//!   which build a [`Topology`];
//! - [`topology`]: the graph of sources, processors, stores and sinks, split into
//!   sub-topologies, and its `describe()`; [`TopologyBuilder`], the untyped way to build
//!   it node by node, which the DSL builds on too (for front ends with their own batch
//!   types, such as SQL);
//! - [`processor`]: the batch-at-a-time node interface the runtime executes (typed closures
//!   for the DSL; vectorised operators for SQL) and the typed [`Processor`] API;
//! - [`driver`]: [`TopologyTestDriver`], which runs a topology deterministically in memory;
//! - [`runtime`]: [`App`], stream threads, tasks, commits, and the [`Backend`]s it runs on
//!   (the embedded broker, or Kafka through rdkafka);
//! - [`serdes`], [`record`], [`partitioner`]: serdes, record types, Kafka's partitioner;
//! - [`changelog`]: [`BrokerChangelog`], a store's changelog on the embedded broker.
//!
//! See `docs/streams.md` for the guide.

pub mod changelog;
pub mod driver;
pub mod dsl;
mod error;
mod ops;
pub mod partitioner;
pub mod processor;
pub mod record;
pub mod runtime;
pub mod serdes;
mod task;
pub mod topology;
mod topology_builder;

pub use changelog::BrokerChangelog;
pub use driver::TopologyTestDriver;
pub use dsl::{
    BranchedKStream, Data, EmitStrategy, GlobalKTable, JoinWindows, KGroupedStream, KGroupedTable,
    KStream, KTable, SessionWindowedKStream, SessionWindows, SlidingWindowedKStream,
    SlidingWindows, StreamsBuilder, TimeWindowedKStream, TimeWindows,
};
pub use error::{Error, Result};
pub use processor::{Forwarder, InitContext, Processor, PunctuationType};
pub use record::{Change, RawRecord, Record, Window, Windowed};
pub use runtime::{App, AppConfig, Backend, EmbeddedBackend};
pub use task::TaskId;
pub use topology::{StoreKind, StoreSpec, TopicName, Topology, TopologyBuilder};
