//! eddy-broker: Eddy's built-in broker.
//!
//! Two layers:
//! - the durable, partitioned log, with an async in-process API ([`Broker`]): topics with N
//!   partitions stored in Kafka's log design (segments of RecordBatch v2 bytes named by base
//!   offset, sparse offset and time indexes, CRC-checked recovery, retention, compaction),
//!   long-polling fetches, idempotent-producer sequence checks, and durable consumer group
//!   offsets;
//! - the Kafka wire-protocol [`server`], which lets real Kafka clients and tools use it.
//!
//! ```no_run
//! # async fn demo() -> eddy_broker::Result<()> {
//! use std::time::Duration;
//! use eddy_broker::{Broker, BrokerConfig, Durability, NewRecord, TopicConfig};
//!
//! let broker = Broker::open(BrokerConfig::new("/tmp/eddy-data")).await?;
//! broker.create_topic("orders", TopicConfig { partitions: 3, ..TopicConfig::default() }).await?;
//! let appended = broker
//!     .produce("orders", 0, &[NewRecord::new("k", "v")], Durability::Durable)
//!     .await?;
//! let fetched = broker
//!     .fetch("orders", 0, appended.base_offset, 1 << 20, Duration::from_millis(100))
//!     .await?;
//! let records = eddy_broker::decode_records(&fetched.records)?;
//! assert_eq!(records[0].value.as_deref(), Some(&b"v"[..]));
//! broker.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod batch;
mod broker;
pub mod config;
mod error;
mod group_offsets;
mod log;
mod partition;
pub mod server;
mod txn;

pub use batch::{NewRecord, Record, decode_records, encode_batch};
pub use broker::{
    Broker, BrokerConfig, GroupHold, OffsetSpec, OpenReport, PartitionDescription,
    TopicDescription, is_internal_topic, now_ms,
};
pub use config::{CleanupPolicy, TopicConfig, validate_topic_name};
pub use error::{Error, Result};
pub use group_offsets::{CommittedOffset, OFFSETS_TOPIC};
pub use kafka_protocol::records::Compression;
pub use log::compaction::CompactionStats;
pub use log::{AppendInfo, LogRecovery, SegmentRecovery};
pub use partition::Isolation;
pub use partition::{Durability, FetchResult, FlushPolicy};
pub use server::{Server, ServerConfig};
pub use txn::coordinator::{PendingOffset, TxnMetadata, TxnStatus};
pub use txn::state_log::TRANSACTION_STATE_TOPIC;
pub use txn::{AbortedTxn, Outcome};
