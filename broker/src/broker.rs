//! The broker handle: the topics in a data directory, their partitions, committed group
//! offsets, and the background work (flushing, retention, compaction). This is the async
//! in-process API the rest of the workspace uses; the Kafka protocol server is a front end
//! over it.
//!
//! Data directory layout:
//!
//! ```text
//! <data_dir>/
//!   .lock                     held while a broker has the directory open
//!   .clean-shutdown           present only after a clean shutdown; skips recovery
//!   topics/<topic>/topic.json topic id and config
//!   topics/<topic>/<n>/       partition n: <base>.log, <base>.index, <base>.timeindex
//!                             and <offset>.snapshot (idempotent-producer state),
//!                             recovery-point (segments below it are fsynced)
//!   deleted/                  topics being deleted (emptied at open)
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::config::{TopicConfig, validate_topic_name};
use crate::error::{Error, IoContext, Result};
use crate::group_offsets::{LocalGroups, OFFSETS_TOPIC, OffsetCache};
use crate::log::compaction::CompactionStats;
use crate::log::{Log, LogRecovery, write_atomically};
use crate::partition::{FlushPolicy, Partition};

mod data_dir;
mod data_path;
mod internal_topics;
mod offsets;
mod transactions;

pub use offsets::GroupHold;

const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";
const LOCK_FILE: &str = ".lock";
const TOPIC_FILE: &str = "topic.json";
const PRODUCER_IDS_FILE: &str = "producer-ids";
/// Producer ids are reserved on disk this many at a time.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// How a broker is set up.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where topics live.
    pub data_dir: PathBuf,
    /// When appends are fsynced.
    pub flush_policy: FlushPolicy,
    /// How often retention and compaction run in the background.
    pub maintenance_interval: Duration,
    /// The most partitions one topic may have (at creation and when partitions are added).
    pub max_partitions_per_topic: i32,
    /// The most partitions of all topics together: each holds open files and memory, so a
    /// client creating topics without end cannot exhaust the machine.
    pub max_partitions: usize,
    /// Kafka's `producer.id.expiration.ms`: an idempotent producer that has not appended to a
    /// partition for this long (by the broker's clock) is forgotten there at the next
    /// maintenance pass; its next batch must start a new sequence (UNKNOWN_PRODUCER_ID
    /// otherwise). Must be positive.
    pub producer_id_expiration_ms: i64,
    /// Kafka's `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a
    /// transactional producer may ask for.
    pub transaction_max_timeout_ms: i32,
    /// Kafka's `transactional.id.expiration.ms`: a transactional id with no transaction for
    /// this long is forgotten (its producer must initialise again).
    pub transactional_id_expiration_ms: i64,
    /// The most transactional ids the coordinator keeps: InitProducerId for a new one beyond
    /// it is refused, so that clients cannot grow the coordinator's memory without end.
    pub max_transactional_ids: usize,
    /// Kafka's `log.cleaner.dedupe.buffer.size`: the memory a compaction pass may use for its
    /// map of keys to their latest offsets. A partition with more distinct keys in its
    /// uncleaned segments is compacted over several passes, each cleaning up to where its
    /// map filled (the first uncleaned segment is always taken whole).
    pub compaction_map_max_bytes: usize,
}

/// The default [`BrokerConfig::max_partitions_per_topic`].
pub const DEFAULT_MAX_PARTITIONS_PER_TOPIC: i32 = 1000;
/// The default [`BrokerConfig::max_partitions`] (about what one Kafka broker is sized for).
pub const DEFAULT_MAX_PARTITIONS: usize = 4000;
/// The default [`BrokerConfig::producer_id_expiration_ms`]: one day, as in Kafka.
pub const DEFAULT_PRODUCER_ID_EXPIRATION_MS: i64 = 86_400_000;
/// The default [`BrokerConfig::transaction_max_timeout_ms`]: 15 minutes, as in Kafka.
pub const DEFAULT_TRANSACTION_MAX_TIMEOUT_MS: i32 = 900_000;
/// The default [`BrokerConfig::transactional_id_expiration_ms`]: 7 days, as in Kafka.
pub const DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS: i64 = 604_800_000;
/// The default [`BrokerConfig::max_transactional_ids`].
pub const DEFAULT_MAX_TRANSACTIONAL_IDS: usize = 100_000;
/// The default [`BrokerConfig::compaction_map_max_bytes`]: 128 MiB, as Kafka's.
pub const DEFAULT_COMPACTION_MAP_MAX_BYTES: usize = 128 << 20;

impl BrokerConfig {
    /// Defaults for a data directory: group-commit durability, maintenance every 30 seconds,
    /// at most 1000 partitions per topic and 4000 in all, idempotent producers forgotten after
    /// a day of silence, transactions of at most 15 minutes, transactional ids forgotten
    /// after 7 days without a transaction (at most 100,000 of them).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            flush_policy: FlushPolicy::default(),
            maintenance_interval: Duration::from_secs(30),
            max_partitions_per_topic: DEFAULT_MAX_PARTITIONS_PER_TOPIC,
            max_partitions: DEFAULT_MAX_PARTITIONS,
            producer_id_expiration_ms: DEFAULT_PRODUCER_ID_EXPIRATION_MS,
            transaction_max_timeout_ms: DEFAULT_TRANSACTION_MAX_TIMEOUT_MS,
            transactional_id_expiration_ms: DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS,
            max_transactional_ids: DEFAULT_MAX_TRANSACTIONAL_IDS,
            compaction_map_max_bytes: DEFAULT_COMPACTION_MAP_MAX_BYTES,
        }
    }
}

/// Which offset to look up in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (the next offset to be written).
    Latest,
    /// The last stable offset: what `read_committed` readers see as the end (below every
    /// open transaction).
    LastStable,
    /// The first offset whose record timestamp is at or after this time.
    Timestamp(i64),
}

/// A partition's state, as `describe` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    /// Partition index.
    pub partition: i32,
    /// First offset still in the log.
    pub log_start_offset: i64,
    /// Next offset to be written.
    pub log_end_offset: i64,
    /// Bytes on disk (segments only).
    pub size_bytes: u64,
    /// Number of segment files.
    pub segments: usize,
}

/// A topic's identity, config and partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Topic id (Kafka's topic UUID).
    pub id: Uuid,
    /// Whether the broker owns it (`__consumer_offsets`).
    pub internal: bool,
    /// The full config.
    pub config: TopicConfig,
    /// Per-partition state.
    pub partitions: Vec<PartitionDescription>,
}

/// What opening the broker found and repaired.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Whether the previous shutdown was clean (recovery was skipped).
    pub clean_shutdown: bool,
    /// Recovery results of partitions that needed repair, by topic and partition.
    pub repaired: BTreeMap<(String, i32), LogRecovery>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TopicFile {
    id: Uuid,
    config: TopicConfig,
}

struct Topic {
    id: Uuid,
    config: RwLock<TopicConfig>,
    /// Grows (never shrinks) through [`Broker::create_partitions`].
    partitions: RwLock<Vec<Arc<Partition>>>,
}

struct Inner {
    config: BrokerConfig,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    offsets: OffsetCache,
    /// The transaction coordinator's state, by transactional id.
    transactions: transactions::Coordinator,
    local_groups: LocalGroups,
    /// Serialises topic creation and deletion (disk work, then the map).
    admin: tokio::sync::Mutex<()>,
    shutdown: watch::Sender<bool>,
    tasks: parking_lot::Mutex<Vec<JoinHandle<()>>>,
    /// Set by `shutdown`: reads and writes are refused from then on.
    closed: std::sync::atomic::AtomicBool,
    /// Partition maintenance passes that failed (`run_maintenance`).
    maintenance_failures: std::sync::atomic::AtomicU64,
    /// (next producer id to hand out, end of the block reserved on disk).
    producer_ids: tokio::sync::Mutex<(i64, i64)>,
    _lock: fs::File,
}

/// A handle on an open broker. Cheap to clone; every clone is the same broker.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("data_dir", &self.inner.config.data_dir)
            .finish_non_exhaustive()
    }
}

/// Whether a topic is one the broker keeps for itself (`__consumer_offsets`,
/// `__transaction_state`): it cannot be deleted, grown, reconfigured or truncated by clients.
pub fn is_internal_topic(name: &str) -> bool {
    name == OFFSETS_TOPIC || name == crate::txn::state_log::TRANSACTION_STATE_TOPIC
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|join_error| std::panic::resume_unwind(join_error.into_panic()))
}

fn topics_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("topics")
}

impl Broker {
    /// Opens the broker in `config.data_dir` (creating it if needed), recovering every
    /// partition if the last shutdown was not clean, and starts the background tasks. Must be
    /// called inside a tokio runtime.
    pub async fn open(config: BrokerConfig) -> Result<Self> {
        Ok(Self::open_with_report(config).await?.0)
    }

    /// Like [`Broker::open`], also saying what recovery did.
    pub async fn open_with_report(config: BrokerConfig) -> Result<(Self, OpenReport)> {
        let policy = config.flush_policy;
        let data_dir = config.data_dir.clone();
        let ids_path = config.data_dir.join(PRODUCER_IDS_FILE);
        let (lock, loaded, report) = blocking(move || data_dir::load(&data_dir, policy)).await?;
        // Ids below the reserved mark may have been handed out before a crash: start above it.
        let reserved = match tokio::fs::read_to_string(&ids_path).await {
            Ok(text) => text.trim().parse::<i64>().unwrap_or(0),
            Err(_) => 0,
        };
        let (shutdown, _) = watch::channel(false);
        let broker = Self {
            inner: Arc::new(Inner {
                config,
                topics: RwLock::new(loaded),
                offsets: OffsetCache::default(),
                transactions: transactions::Coordinator::default(),
                local_groups: LocalGroups::default(),
                admin: tokio::sync::Mutex::new(()),
                shutdown,
                tasks: parking_lot::Mutex::new(Vec::new()),
                producer_ids: tokio::sync::Mutex::new((reserved, reserved)),
                closed: std::sync::atomic::AtomicBool::new(false),
                maintenance_failures: std::sync::atomic::AtomicU64::new(0),
                _lock: lock,
            }),
        };
        broker.load_offsets().await?;
        broker.load_transactions().await?;
        broker.start_background_tasks();
        Ok((broker, report))
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.config.data_dir
    }

    fn start_background_tasks(&self) {
        let flush_every = self.inner.config.flush_policy.interval();
        let maintain_every = self.inner.config.maintenance_interval;
        let weak = Arc::downgrade(&self.inner);
        let mut stop = self.inner.shutdown.subscribe();
        let flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(flush_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                for partition in (Broker { inner }).all_partitions() {
                    if let Err(e) = partition.flush_if_dirty().await {
                        tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "background flush failed");
                    }
                }
            }
        });
        let weak = Arc::downgrade(&self.inner);
        let mut stop = self.inner.shutdown.subscribe();
        let maintainer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(maintain_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // not right at start-up
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = (Broker { inner }).run_maintenance(now_ms()).await {
                    tracing::error!(error = %e, "log maintenance failed");
                }
            }
        });
        self.inner.tasks.lock().extend([flusher, maintainer]);
    }

    fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.inner
            .topics
            .read()
            .values()
            .flat_map(|t| t.partitions.read().clone())
            .collect()
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        self.inner
            .topics
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownTopicOrPartition {
                topic: name.to_string(),
                partition: -1,
            })
    }

    pub(crate) fn partition(&self, topic: &str, partition: i32) -> Result<Arc<Partition>> {
        if self.inner.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::ShutDown);
        }
        let t = self.topic(topic)?;
        usize::try_from(partition)
            .ok()
            .and_then(|p| t.partitions.read().get(p).cloned())
            .ok_or_else(|| Error::UnknownTopicOrPartition {
                topic: topic.to_string(),
                partition,
            })
    }

    /// Creates a topic with `config` (validated: name, partitions, every value).
    pub async fn create_topic(&self, name: &str, config: TopicConfig) -> Result<TopicDescription> {
        validate_topic_name(name)?;
        // Re-validate values that may have been set directly on the struct.
        let config = TopicConfig::from_overrides(
            config.partitions,
            config.entries().iter().map(|(k, v)| (*k, v.as_str())),
        )?;
        let _admin = self.inner.admin.lock().await;
        if self.inner.topics.read().contains_key(name) {
            return Err(Error::TopicAlreadyExists(name.to_string()));
        }
        self.check_partition_caps(name, config.partitions, 0)?;
        let dir = topics_dir(&self.inner.config.data_dir).join(name);
        let policy = self.inner.config.flush_policy;
        let topic_name = name.to_string();
        let topic = blocking(move || {
            if dir.exists() {
                // Leftover of a creation that crashed before its topic.json was written.
                fs::remove_dir_all(&dir).with_path(&dir)?;
            }
            fs::create_dir_all(&dir).with_path(&dir)?;
            let id = Uuid::new_v4();
            let mut partitions = Vec::new();
            for p in 0..config.partitions {
                let (log, _) = Log::open(&dir.join(p.to_string()), config.clone(), false)?;
                partitions.push(Arc::new(Partition::new(&topic_name, p, log, policy)));
            }
            // The topic exists once topic.json is durably in place.
            let file = TopicFile {
                id,
                config: config.clone(),
            };
            write_atomically(
                &dir.join(TOPIC_FILE),
                &serde_json::to_vec_pretty(&file).expect("topic file serialises"),
            )?;
            crate::log::sync_dir(dir.parent().expect("topics dir"))?;
            Ok(Arc::new(Topic {
                id,
                config: RwLock::new(config),
                partitions: RwLock::new(partitions),
            }))
        })
        .await?;
        self.inner.topics.write().insert(name.to_string(), topic);
        tracing::info!(topic = name, "created topic");
        self.describe_topic(name)
    }

    /// Deletes a topic and its data. Internal topics ([`is_internal_topic`]) cannot be deleted.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        if is_internal_topic(name) {
            return Err(Error::InvalidConfig {
                key: "topic".into(),
                value: name.into(),
                reason: format!("{name} is an internal topic and cannot be deleted"),
            });
        }
        let _admin = self.inner.admin.lock().await;
        self.topic(name)?;
        let data_dir = self.inner.config.data_dir.clone();
        let topic_name = name.to_string();
        let graveyard_entry = blocking(move || {
            let from = topics_dir(&data_dir).join(&topic_name);
            let graveyard = data_dir.join("deleted");
            fs::create_dir_all(&graveyard).with_path(&graveyard)?;
            let to = graveyard.join(format!("{topic_name}-{}", Uuid::new_v4().simple()));
            // One rename makes the deletion durable and atomic; the files go after.
            fs::rename(&from, &to).with_path(&from)?;
            crate::log::sync_dir(&topics_dir(&data_dir))?;
            Ok(to)
        })
        .await?;
        // The rename made the deletion durable: forget the topic before removing its files,
        // which the next open finishes if this fails.
        self.inner.topics.write().remove(name);
        if let Err(e) = tokio::fs::remove_dir_all(&graveyard_entry).await {
            tracing::warn!(topic = name, error = %e, "deleted topic's files remain until the next open");
        }
        let stale = self.inner.offsets.keys_where(|(_, t, _)| t == name);
        self.write_offset_records(stale.iter().map(|k| (k.clone(), None)).collect())
            .await?;
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    /// The name of the topic with this id, if there is one.
    pub fn topic_name_by_id(&self, id: Uuid) -> Option<String> {
        self.inner
            .topics
            .read()
            .iter()
            .find(|(_, t)| t.id == id)
            .map(|(name, _)| name.clone())
    }

    /// A producer id never handed out before, for an idempotent producer. Ids are reserved on
    /// disk a block at a time, so none is reused after a restart.
    pub async fn allocate_producer_id(&self) -> Result<i64> {
        let mut ids = self.inner.producer_ids.lock().await;
        if ids.0 >= ids.1 {
            let end = ids.0 + PRODUCER_ID_BLOCK;
            let path = self.inner.config.data_dir.join(PRODUCER_IDS_FILE);
            blocking(move || write_atomically(&path, end.to_string().as_bytes())).await?;
            ids.1 = end;
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    /// Names of all topics, sorted (the internal offsets topic included).
    pub fn list_topics(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.topics.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// A topic's id, config and per-partition offsets and sizes.
    pub fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        let topic = self.topic(name)?;
        let partitions = topic
            .partitions
            .read()
            .iter()
            .map(|p| PartitionDescription {
                partition: p.index,
                log_start_offset: p.log_start_offset(),
                log_end_offset: p.log_end_offset(),
                size_bytes: p.size_bytes(),
                segments: p.segment_count(),
            })
            .collect();
        Ok(TopicDescription {
            name: name.to_string(),
            id: topic.id,
            internal: is_internal_topic(name),
            config: topic.config.read().clone(),
            partitions,
        })
    }

    /// Changes a topic's config (Kafka keys and values, checked). The partition count cannot
    /// change here.
    pub async fn alter_topic_config<'a>(
        &self,
        name: &str,
        changes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<TopicConfig> {
        let _admin = self.inner.admin.lock().await;
        let topic = self.topic(name)?;
        let mut config = topic.config.read().clone();
        for (key, value) in changes {
            config.set(key, value)?;
        }
        let file = TopicFile {
            id: topic.id,
            config: config.clone(),
        };
        let path = topics_dir(&self.inner.config.data_dir)
            .join(name)
            .join(TOPIC_FILE);
        blocking(move || {
            write_atomically(
                &path,
                &serde_json::to_vec_pretty(&file).expect("serialises"),
            )
        })
        .await?;
        let partitions = topic.partitions.read().clone();
        for partition in partitions {
            partition.set_config(config.clone()).await?;
        }
        *topic.config.write() = config.clone();
        Ok(config)
    }

    /// Refuses topic `name` going from `current` to `total` partitions past the caps
    /// ([`BrokerConfig::max_partitions_per_topic`], [`BrokerConfig::max_partitions`]).
    pub fn check_partition_caps(&self, name: &str, total: i32, current: i32) -> Result<()> {
        let config = &self.inner.config;
        let refuse = |reason: String| {
            Err(Error::InvalidPartitions {
                topic: name.to_string(),
                reason,
            })
        };
        if total > config.max_partitions_per_topic {
            return refuse(format!(
                "{total} partitions is more than the broker allows per topic ({}, \
                 `max_partitions_per_topic`)",
                config.max_partitions_per_topic
            ));
        }
        let existing: usize = self
            .inner
            .topics
            .read()
            .values()
            .map(|t| t.config.read().partitions.max(0) as usize)
            .sum();
        let after = existing + (total - current).max(0) as usize;
        if after > config.max_partitions {
            return refuse(format!(
                "the broker holds {existing} partitions and allows {} in all \
                 (`max_partitions`); {} more do not fit",
                config.max_partitions,
                total - current
            ));
        }
        Ok(())
    }

    /// Grows a topic to `new_total` partitions; the new ones start empty. The count can only
    /// grow, within the partition caps, and the internal offsets topic keeps its single partition.
    pub async fn create_partitions(&self, name: &str, new_total: i32) -> Result<TopicDescription> {
        let _admin = self.inner.admin.lock().await;
        let topic = self.topic(name)?;
        let current = topic.config.read().partitions;
        let refuse = |reason: String| {
            Err(Error::InvalidPartitions {
                topic: name.to_string(),
                reason,
            })
        };
        if is_internal_topic(name) {
            return refuse("an internal topic's partition count is fixed".into());
        }
        if new_total <= current {
            return refuse(format!(
                "the topic has {current} partitions; the new count ({new_total}) must be larger"
            ));
        }
        self.check_partition_caps(name, new_total, current)?;
        let mut config = topic.config.read().clone();
        config.partitions = new_total;
        let dir = topics_dir(&self.inner.config.data_dir).join(name);
        let policy = self.inner.config.flush_policy;
        let topic_name = name.to_string();
        let file = TopicFile {
            id: topic.id,
            config: config.clone(),
        };
        let log_config = config.clone();
        let added = blocking(move || {
            let mut added = Vec::new();
            for p in current..new_total {
                let partition_dir = dir.join(p.to_string());
                if partition_dir.exists() {
                    // Leftover of a growth that crashed before topic.json was rewritten.
                    fs::remove_dir_all(&partition_dir).with_path(&partition_dir)?;
                }
                let (log, _) = Log::open(&partition_dir, log_config.clone(), false)?;
                added.push(Arc::new(Partition::new(&topic_name, p, log, policy)));
            }
            crate::log::sync_dir(&dir)?;
            // The partitions exist once topic.json durably records the new count.
            write_atomically(
                &dir.join(TOPIC_FILE),
                &serde_json::to_vec_pretty(&file).expect("topic file serialises"),
            )?;
            Ok(added)
        })
        .await?;
        topic.partitions.write().extend(added);
        *topic.config.write() = config;
        tracing::info!(
            topic = name,
            from = current,
            to = new_total,
            "added partitions"
        );
        self.describe_topic(name)
    }

    /// Runs retention and compaction on every partition now, as of `now_ms`, and forgets the
    /// idempotent producers silent for [`BrokerConfig::producer_id_expiration_ms`] before it.
    /// The background task calls this every `maintenance_interval`; tests call it with a
    /// chosen clock.
    ///
    /// A partition whose retention or compaction fails (a full or unwritable disk, a
    /// corrupt segment) is logged, counted in [`Broker::maintenance_failures`] and
    /// [`CompactionStats::partitions_failed`], and left for the next pass: the other
    /// partitions are maintained all the same. Fails only when the broker is closed.
    pub async fn run_maintenance(&self, now_ms: i64) -> Result<CompactionStats> {
        if self.inner.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::ShutDown);
        }
        self.expire_transactions(now_ms).await;
        let mut total = CompactionStats::default();
        let expiration_ms = self.inner.config.producer_id_expiration_ms;
        for partition in self.all_partitions() {
            let expired = partition.expire_producers(now_ms, expiration_ms).await?;
            if expired > 0 {
                tracing::debug!(topic = %partition.topic, partition = partition.index, expired,
                    "forgot idempotent producers silent for producer_id_expiration_ms");
            }
            let done = match partition.apply_retention(now_ms).await {
                Ok(_) => {
                    partition
                        .compact(now_ms, self.inner.config.compaction_map_max_bytes)
                        .await
                }
                Err(e) => Err(e),
            };
            match done {
                Ok(stats) => {
                    total.segments_cleaned += stats.segments_cleaned;
                    total.records_removed += stats.records_removed;
                    total.markers_removed += stats.markers_removed;
                }
                Err(e) => {
                    tracing::error!(topic = %partition.topic, partition = partition.index,
                        error = %e, "log maintenance of a partition failed; the others go on");
                    total.partitions_failed += 1;
                    self.inner
                        .maintenance_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        Ok(total)
    }

    /// Partition maintenance passes that failed since the broker opened.
    pub fn maintenance_failures(&self) -> u64 {
        self.inner
            .maintenance_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Refuses further reads and writes, stops the background tasks, flushes every partition
    /// and writes the clean-shutdown marker, so the next open skips recovery. The data
    /// directory stays locked until the last clone of this handle is dropped.
    pub async fn shutdown(&self) -> Result<()> {
        self.inner
            .closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.shutdown.send_replace(true);
        let tasks: Vec<_> = self.inner.tasks.lock().drain(..).collect();
        for task in tasks {
            let _ = task.await;
        }
        for partition in self.all_partitions() {
            partition.close().await?;
        }
        let marker = self.inner.config.data_dir.join(CLEAN_SHUTDOWN_FILE);
        blocking(move || write_atomically(&marker, b"")).await?;
        tracing::info!(data_dir = %self.inner.config.data_dir.display(), "broker shut down cleanly");
        Ok(())
    }
}
