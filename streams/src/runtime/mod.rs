//! The runtime: [`App`] runs a topology's tasks on stream threads over a [`Backend`].

mod app;
pub mod backend;
mod embedded;
pub(crate) mod embedded_txn;
mod kafka;
mod task_input;

pub use app::{
    App, AppConfig, MetricsSnapshot, ProcessingGuarantee, RunningApp, StoreEngine, changelog_topic,
};
pub use backend::{Backend, OffsetReset, TopicKind, WINDOWED_CHANGELOG_ADDITIONAL_RETENTION_MS};
pub use embedded::EmbeddedBackend;
pub use kafka::{KafkaBackend, KafkaChangelog};
