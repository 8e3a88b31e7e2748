//! `eddy topics list|describe|create|alter|delete`: topic administration against any
//! Kafka-protocol broker, through librdkafka's admin client (Metadata, CreateTopics,
//! DeleteTopics, CreatePartitions, DescribeConfigs) and, for config changes,
//! IncrementalAlterConfigs ([`super::alter_configs`]).

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use eddy::broker::validate_topic_name;
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigEntry, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::{Metadata, MetadataTopic};

use super::alter_configs::{Change, alter_topic};
use super::{CliContext, ClientArgs, key_value};

/// How long an admin operation may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long the first metadata request may take: it is also the check that a broker answers.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// The `eddy topics` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List topic names, one per line (internal topics included).
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show topics' partitions (leader, replicas, in-sync replicas) and configs; every topic
    /// when none is named.
    Describe {
        /// Topics to describe.
        topics: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create a topic.
    Create {
        /// The topic name (ASCII letters, digits, '.', '_' and '-').
        topic: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1,
              value_parser = clap::value_parser!(i32).range(1..))]
        partitions: i32,
        /// Replication factor; -1 takes the broker's default.
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        replication_factor: i32,
        /// A topic config, Kafka's key and value (repeatable), e.g.
        /// `--config retention.ms=3600000`.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Change a topic's configs or add partitions.
    Alter {
        /// The topic.
        topic: String,
        /// Set a config on the topic (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Remove the topic's value of a config, so the default applies again (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
        /// Grow the topic to this many partitions (partitions cannot be removed).
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        partitions: Option<i32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete topics and all their records.
    Delete {
        /// The topics.
        #[arg(required = true)]
        topics: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Runs an `eddy topics` subcommand.
pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::List { client } => list(&client).await,
        Command::Describe { topics, client } => describe(&client, &topics).await,
        Command::Create {
            topic,
            partitions,
            replication_factor,
            configs,
            client,
        } => create(&client, &topic, partitions, replication_factor, &configs).await,
        Command::Alter {
            topic,
            set,
            delete,
            partitions,
            client,
        } => alter(&client, &topic, &set, &delete, partitions).await,
        Command::Delete { topics, client } => delete_topics(&client, &topics).await,
    }
}

/// An admin client and the address it bootstraps from, for messages.
struct Admin {
    client: AdminClient<CliContext>,
    bootstrap: String,
    options: AdminOptions,
}

impl Admin {
    fn new(args: &ClientArgs) -> Result<Self> {
        // Admin clients are producers to librdkafka, and producers' metadata requests
        // auto-create missing topics by default: `describe typo` must not create `typo`.
        let client = args
            .client_config()
            .set("allow.auto.create.topics", "false")
            .create_with_context(CliContext)
            .context("cannot create a Kafka admin client")?;
        Ok(Self {
            client,
            bootstrap: args.bootstrap_server.clone(),
            options: AdminOptions::new()
                .request_timeout(Some(TIMEOUT))
                .operation_timeout(Some(TIMEOUT)),
        })
    }

    /// Cluster metadata, for one topic or all. This is also the check that a broker answers.
    fn metadata(&self, topic: Option<&str>) -> Result<Metadata> {
        tokio::task::block_in_place(|| self.client.inner().fetch_metadata(topic, METADATA_TIMEOUT))
            .with_context(|| {
                format!(
                    "cannot get metadata from {} (is a broker running there?)",
                    self.bootstrap
                )
            })
    }

    /// Fails unless `topic` exists.
    fn require_topic(&self, topic: &str) -> Result<Metadata> {
        let metadata = self.metadata(Some(topic))?;
        match metadata.topics().iter().find(|t| t.name() == topic) {
            Some(t) => match t.error().map(RDKafkaErrorCode::from) {
                None => Ok(metadata),
                Some(RDKafkaErrorCode::UnknownTopicOrPartition) => bail!(
                    "no topic named {topic:?} at {}; `eddy topics list` shows the topics",
                    self.bootstrap
                ),
                Some(code) => bail!("topic {topic:?}: {code}"),
            },
            None => bail!("no topic named {topic:?} at {}", self.bootstrap),
        }
    }
}

async fn list(args: &ClientArgs) -> Result<()> {
    let admin = Admin::new(args)?;
    let metadata = admin.metadata(None)?;
    let mut names: Vec<&str> = metadata.topics().iter().map(MetadataTopic::name).collect();
    names.sort_unstable();
    for name in names {
        println!("{name}");
    }
    Ok(())
}

async fn describe(args: &ClientArgs, topics: &[String]) -> Result<()> {
    let admin = Admin::new(args)?;
    let metadata = if let [topic] = topics {
        admin.require_topic(topic)?
    } else {
        admin.metadata(None)?
    };
    let mut described: Vec<&MetadataTopic> = if topics.is_empty() {
        metadata.topics().iter().collect()
    } else {
        topics
            .iter()
            .map(|name| {
                metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == name)
                    .with_context(|| format!("no topic named {name:?} at {}", admin.bootstrap))
            })
            .collect::<Result<_>>()?
    };
    described.sort_by_key(|t| t.name());
    let specifiers: Vec<ResourceSpecifier> = described
        .iter()
        .map(|t| ResourceSpecifier::Topic(t.name()))
        .collect();
    let configs = admin
        .client
        .describe_configs(&specifiers, &admin.options)
        .await
        .context("DescribeConfigs failed")?;
    for (i, (topic, config)) in described.iter().zip(configs).enumerate() {
        if i > 0 {
            println!();
        }
        let partitions = topic.partitions();
        let replication = partitions.first().map_or(0, |p| p.replicas().len());
        println!(
            "topic {}: {} partition(s), replication factor {replication}",
            topic.name(),
            partitions.len()
        );
        match config {
            Ok(config) => {
                let mut entries: Vec<&ConfigEntry> = config.entries.iter().collect();
                entries.sort_by(|a, b| a.name.cmp(&b.name));
                println!("  configs");
                for entry in entries {
                    let value = match (&entry.value, entry.is_sensitive) {
                        (_, true) => "(sensitive)",
                        (Some(value), false) => value.as_str(),
                        (None, false) => "(none)",
                    };
                    let pair = format!("{}={value}", entry.name);
                    println!("    {pair:<44} {}", source(&entry.source));
                }
            }
            Err(code) => println!("  configs: not available: {code}"),
        }
        println!("  partition  leader  replicas  in-sync");
        let mut partitions: Vec<_> = partitions.iter().collect();
        partitions.sort_by_key(|p| p.id());
        for p in partitions {
            let join = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
            let error = p
                .error()
                .map(|e| format!("  ({})", RDKafkaErrorCode::from(e)))
                .unwrap_or_default();
            println!(
                "  {:<9}  {:<6}  {:<8}  {}{error}",
                p.id(),
                p.leader(),
                join(p.replicas()),
                join(p.isr())
            );
        }
    }
    Ok(())
}

/// Where a config value comes from, in words.
fn source(source: &ConfigSource) -> &'static str {
    match source {
        ConfigSource::DynamicTopic => "(set on the topic)",
        ConfigSource::DynamicBroker => "(broker, dynamic)",
        ConfigSource::DynamicDefaultBroker => "(cluster default)",
        ConfigSource::StaticBroker => "(broker config)",
        ConfigSource::Default => "(default)",
        ConfigSource::Unknown => "",
    }
}

async fn create(
    args: &ClientArgs,
    topic: &str,
    partitions: i32,
    replication_factor: i32,
    configs: &[String],
) -> Result<()> {
    validate_topic_name(topic)?;
    let configs = configs
        .iter()
        .map(|c| key_value(c, "--config"))
        .collect::<Result<Vec<_>>>()?;
    let admin = Admin::new(args)?;
    admin.metadata(Some(topic))?;
    let mut new_topic = NewTopic::new(
        topic,
        partitions,
        TopicReplication::Fixed(replication_factor),
    );
    for (key, value) in configs {
        new_topic = new_topic.set(key, value);
    }
    let results = admin
        .client
        .create_topics(&[new_topic], &admin.options)
        .await
        .with_context(|| format!("cannot create topic {topic:?}"))?;
    for result in results {
        if let Err((name, code)) = result {
            bail!("cannot create topic {name:?}: {code}");
        }
    }
    println!("created topic {topic} with {partitions} partition(s)");
    Ok(())
}

async fn alter(
    args: &ClientArgs,
    topic: &str,
    set: &[String],
    delete: &[String],
    partitions: Option<i32>,
) -> Result<()> {
    ensure!(
        !set.is_empty() || !delete.is_empty() || partitions.is_some(),
        "nothing to change: give --set KEY=VALUE, --delete KEY or --partitions N"
    );
    let mut changes = Vec::new();
    for arg in set {
        let (key, value) = key_value(arg, "--set")?;
        changes.push(Change::Set(key.to_string(), value.to_string()));
    }
    for key in delete {
        ensure!(!key.trim().is_empty(), "--delete needs a config key");
        changes.push(Change::Delete(key.trim().to_string()));
    }
    let admin = Admin::new(args)?;
    let metadata = admin.require_topic(topic)?;
    if !changes.is_empty() {
        alter_topic(&admin.bootstrap, topic, &changes)
            .await
            .with_context(|| format!("cannot change the configs of topic {topic:?}"))?;
        for change in &changes {
            match change {
                Change::Set(key, value) => println!("topic {topic}: set {key}={value}"),
                Change::Delete(key) => {
                    println!("topic {topic}: deleted {key} (the default applies)")
                }
            }
        }
    }
    if let Some(wanted) = partitions {
        let current = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map_or(0, |t| t.partitions().len());
        if wanted as usize == current {
            println!("topic {topic}: already has {current} partition(s)");
        } else {
            ensure!(
                wanted as usize > current,
                "topic {topic:?} has {current} partitions; partitions can be added, not removed"
            );
            let results = admin
                .client
                .create_partitions(
                    &[NewPartitions::new(topic, wanted as usize)],
                    &admin.options,
                )
                .await
                .with_context(|| format!("cannot add partitions to topic {topic:?}"))?;
            for result in results {
                if let Err((name, code)) = result {
                    bail!("cannot add partitions to topic {name:?}: {code}");
                }
            }
            println!("topic {topic}: now has {wanted} partition(s) (was {current})");
        }
    }
    Ok(())
}

async fn delete_topics(args: &ClientArgs, topics: &[String]) -> Result<()> {
    let admin = Admin::new(args)?;
    admin.metadata(None)?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let results = admin
        .client
        .delete_topics(&names, &admin.options)
        .await
        .context("cannot delete topics")?;
    let mut failed = Vec::new();
    for result in results {
        match result {
            Ok(name) => println!("deleted topic {name}"),
            Err((name, RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                failed.push(format!("no topic named {name:?}"))
            }
            Err((name, code)) => failed.push(format!("cannot delete topic {name:?}: {code}")),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}
