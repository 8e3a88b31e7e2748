//! The runtime: [`App`] runs a topology's tasks on stream threads over a [`Backend`].

mod app;
pub mod backend;
mod config;
mod embedded;
pub(crate) mod embedded_txn;
mod kafka;
mod metrics;
mod plan;
mod restoring;
mod stream_thread;
mod task_input;

pub use app::{App, RunningApp, clean_up_local_state};
pub use backend::{Backend, OffsetReset, TopicKind, WINDOWED_CHANGELOG_ADDITIONAL_RETENTION_MS};
pub use config::{AppConfig, ProcessingGuarantee, StoreEngine};
pub use embedded::EmbeddedBackend;
pub use kafka::{KafkaBackend, KafkaChangelog};
pub use metrics::MetricsSnapshot;
pub use plan::changelog_topic;
