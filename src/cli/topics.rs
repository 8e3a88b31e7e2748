//! `eddy topics list|describe|create|delete`: topic administration directly on a data
//! directory. There is no network server yet, so each command opens the broker in the
//! directory, does its work and shuts it down cleanly; it fails if another Eddy process has
//! the directory open. These become requests to a running broker once the Kafka protocol
//! server exists.

use std::path::Path;

use anyhow::{Context, Result, bail};
use eddy::broker::{Broker, OFFSETS_TOPIC, TopicConfig, TopicDescription, validate_topic_name};

use super::{Mode, bytes, finish, open};

/// Opens `data_dir`, runs `f` on the broker, then shuts the broker down cleanly.
async fn with_broker<T>(
    data_dir: &Path,
    mode: Mode,
    f: impl AsyncFnOnce(&Broker) -> Result<T>,
) -> Result<T> {
    let opened = open(data_dir, mode).await?;
    let result = f(&opened.broker).await;
    Ok(finish(&opened.broker, result).await?.0)
}

fn require_topic(broker: &Broker, topic: &str) -> Result<()> {
    if !broker.list_topics().iter().any(|t| t == topic) {
        bail!(
            "no topic named {topic:?} in {}; `eddy topics list` shows the topics there",
            broker.data_dir().display()
        );
    }
    Ok(())
}

pub async fn list(data_dir: &Path) -> Result<()> {
    let names = with_broker(data_dir, Mode::MustExist, async |broker| {
        Ok(broker.list_topics())
    })
    .await?;
    for name in names {
        println!("{name}");
    }
    Ok(())
}

pub async fn describe(data_dir: &Path, topic: Option<&str>) -> Result<()> {
    let descriptions = with_broker(data_dir, Mode::MustExist, async |broker| {
        let names = match topic {
            Some(name) => {
                require_topic(broker, name)?;
                vec![name.to_string()]
            }
            None => broker.list_topics(),
        };
        names
            .iter()
            .map(|name| Ok(broker.describe_topic(name)?))
            .collect::<Result<Vec<_>>>()
    })
    .await?;
    for (i, description) in descriptions.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_description(description);
    }
    Ok(())
}

fn print_description(d: &TopicDescription) {
    let internal = if d.internal { " (internal)" } else { "" };
    println!("topic {}{internal}", d.name);
    println!("  id          {}", d.id);
    println!("  partitions  {}", d.partitions.len());
    println!("  config");
    for (key, value) in d.config.entries() {
        println!("    {key}={value}");
    }
    println!(
        "  {:<9}  {:>9}  {:>9}  {:>10}  {:>8}",
        "partition", "log start", "log end", "size", "segments"
    );
    for p in &d.partitions {
        println!(
            "  {:<9}  {:>9}  {:>9}  {:>10}  {:>8}",
            p.partition,
            p.log_start_offset,
            p.log_end_offset,
            bytes(p.size_bytes),
            p.segments
        );
    }
}

/// Splits `key=value` config arguments.
fn parse_configs(configs: &[String]) -> Result<Vec<(&str, &str)>> {
    configs
        .iter()
        .map(|c| {
            c.split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .with_context(|| format!("--config {c:?}: expected KEY=VALUE"))
        })
        .collect()
}

pub async fn create(
    data_dir: &Path,
    topic: &str,
    partitions: i32,
    configs: &[String],
) -> Result<()> {
    // Check the name and config before touching the data directory.
    validate_topic_name(topic)?;
    let overrides = parse_configs(configs)?;
    let config = TopicConfig::from_overrides(partitions, overrides.iter().copied())?;
    let description = with_broker(data_dir, Mode::CreateIfMissing, async |broker| {
        if broker.list_topics().iter().any(|t| t == topic) {
            bail!(
                "topic {topic:?} already exists in {}",
                broker.data_dir().display()
            );
        }
        Ok(broker.create_topic(topic, config).await?)
    })
    .await?;
    println!(
        "created topic {} with {} partition(s) in {}",
        description.name,
        description.partitions.len(),
        data_dir.display()
    );
    Ok(())
}

pub async fn delete(data_dir: &Path, topic: &str) -> Result<()> {
    if topic == OFFSETS_TOPIC {
        bail!(
            "{OFFSETS_TOPIC} is the broker's internal topic of committed offsets; it cannot be deleted"
        );
    }
    with_broker(data_dir, Mode::MustExist, async |broker| {
        require_topic(broker, topic)?;
        Ok(broker.delete_topic(topic).await?)
    })
    .await?;
    println!("deleted topic {topic} from {}", data_dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_arguments_are_split_at_the_first_equals_sign() {
        let args = vec![
            "retention.ms=10".to_string(),
            "cleanup.policy = compact".to_string(),
        ];
        assert_eq!(
            parse_configs(&args).unwrap(),
            vec![("retention.ms", "10"), ("cleanup.policy", "compact")]
        );
        let err = parse_configs(&["retention.ms".to_string()]).unwrap_err();
        assert!(err.to_string().contains("KEY=VALUE"), "{err}");
    }
}
