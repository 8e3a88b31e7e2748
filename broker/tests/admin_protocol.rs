//! The admin APIs over a real socket: CreateTopics, DeleteTopics, CreatePartitions,
//! DescribeConfigs, IncrementalAlterConfigs and DeleteRecords. Each test starts a [`Broker`]
//! in a temporary directory and a [`Server`] on a free loopback port, then speaks the Kafka
//! protocol to it with kafka-protocol's own request encoders and response decoders (a tiny
//! client below), checking success and error answers and what the broker then holds.
//!
//! Every advertised version of every admin API is exercised at least once, so a response
//! field set on a version that lacks it (which kafka-protocol refuses to encode, closing the
//! connection) shows up as a failed read here.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use eddy_broker::{
    BrokerConfig, Durability, FlushPolicy, NewRecord, OFFSETS_TOPIC, OffsetSpec, ServerConfig,
    TopicConfig,
};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreateTopicsRequest, DeleteRecordsRequest,
    DeleteTopicsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use support::protocol::{Client, Harness, s};
use uuid::Uuid;

const NODE: i32 = 1;
const DEFAULT_PARTITIONS: i32 = 3;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

fn code(error: ResponseError) -> i16 {
    error.code()
}

fn topic_name(name: &str) -> TopicName {
    TopicName(s(name))
}

/// A broker (group commit every 50 ms) and its protocol server on a free port.
async fn start_harness() -> Result<Harness> {
    Harness::start(
        |dir| BrokerConfig {
            data_dir: dir.to_path_buf(),
            flush_policy: FlushPolicy::GroupCommit {
                interval: Duration::from_millis(50),
            },
            maintenance_interval: Duration::from_secs(3600),
            ..BrokerConfig::new("")
        },
        ServerConfig {
            node_id: NODE,
            default_partitions: DEFAULT_PARTITIONS,
            ..ServerConfig::default()
        },
        "admin-protocol-test",
    )
    .await
}

fn creatable(name: &str, partitions: i32, replication: i16) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(replication)
}

fn with_configs(topic: CreatableTopic, configs: &[(&str, Option<&str>)]) -> CreatableTopic {
    topic.with_configs(
        configs
            .iter()
            .map(|(k, v)| {
                CreatableTopicConfig::default()
                    .with_name(s(k))
                    .with_value(v.map(s))
            })
            .collect(),
    )
}

async fn create_topics(
    client: &mut Client,
    version: i16,
    topics: Vec<CreatableTopic>,
    validate_only: bool,
) -> Result<Vec<CreatableTopicResult>> {
    let request = CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(5000)
        .with_validate_only(validate_only);
    Ok(client.call(version, &request).await?.topics)
}

fn message(m: &Option<StrBytes>) -> String {
    m.as_ref().map(|m| m.to_string()).unwrap_or_default()
}

/// Checks a refused topic: its error code, and that the message mentions `needle`.
fn expect_refused(result: &CreatableTopicResult, error: ResponseError, needle: &str) -> Result<()> {
    ensure!(
        result.error_code == code(error),
        "{}: expected {error:?}, got code {} ({})",
        result.name.0,
        result.error_code,
        message(&result.error_message)
    );
    let text = message(&result.error_message);
    ensure!(
        text.contains(needle),
        "{}: message {text:?} lacks {needle:?}",
        result.name.0
    );
    Ok(())
}

#[tokio::test]
async fn create_topics_v7_reports_the_topic_and_the_broker_has_it() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    let topic = with_configs(
        creatable("orders", 4, -1),
        &[
            ("retention.ms", Some("1000")),
            ("cleanup.policy", Some("compact")),
        ],
    );
    let results = create_topics(
        &mut client,
        7,
        vec![topic, creatable("defaults", -1, 1)],
        false,
    )
    .await?;
    ensure!(results.len() == 2);
    let orders = &results[0];
    ensure!(orders.name.0.as_str() == "orders");
    ensure!(orders.error_code == 0, "{:?}", orders.error_message);
    ensure!(orders.error_message.is_none());
    ensure!(orders.num_partitions == 4 && orders.replication_factor == 1);
    let described = h.broker.describe_topic("orders")?;
    ensure!(orders.topic_id == described.id && !described.id.is_nil());
    ensure!(described.partitions.len() == 4);
    ensure!(described.config.retention_ms == 1000);
    ensure!(described.config.cleanup_policy.compact && !described.config.cleanup_policy.delete);
    let configs = orders.configs.as_ref().context("configs")?;
    let find = |key: &str| configs.iter().find(|c| c.name.as_str() == key);
    let retention = find("retention.ms").context("retention.ms")?;
    ensure!(retention.value.as_deref() == Some("1000"));
    ensure!(retention.config_source == DYNAMIC_TOPIC_CONFIG && !retention.read_only);
    ensure!(!retention.is_sensitive);
    let segment = find("segment.bytes").context("segment.bytes")?;
    ensure!(segment.config_source == DEFAULT_CONFIG);
    ensure!(segment.value.as_deref() == Some(&*TopicConfig::default().segment_bytes.to_string()));
    ensure!(configs.len() == TopicConfig::default().entries().len());

    // num_partitions -1 takes the server's default.
    let defaults = &results[1];
    ensure!(defaults.error_code == 0 && defaults.num_partitions == DEFAULT_PARTITIONS);
    ensure!(h.broker.describe_topic("defaults")?.partitions.len() == DEFAULT_PARTITIONS as usize);
    h.stop().await
}

#[tokio::test]
async fn create_topics_refusals_carry_codes_and_messages() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    h.broker
        .create_topic("taken", TopicConfig::default())
        .await?;
    for version in [2, 5, 7] {
        let results = create_topics(
            &mut client,
            version,
            vec![
                creatable("taken", 1, 1),
                creatable("bad name", 1, 1),
                creatable("three-replicas", 1, 3),
                creatable("zero-replicas", 1, 0),
                creatable("no-partitions", 0, 1),
                with_configs(
                    creatable("bad-value", 1, 1),
                    &[("retention.ms", Some("soon"))],
                ),
                with_configs(creatable("bad-key", 1, 1), &[("retention.mss", Some("1"))]),
                with_configs(creatable("null-value", 1, 1), &[("retention.ms", None)]),
                creatable("twice", 1, 1),
                creatable("twice", 2, 1),
                creatable(OFFSETS_TOPIC, 1, 1),
            ],
            false,
        )
        .await?;
        ensure!(results.len() == 11, "v{version}: {} results", results.len());
        expect_refused(
            &results[0],
            ResponseError::TopicAlreadyExists,
            "already exists",
        )?;
        expect_refused(&results[1], ResponseError::InvalidTopicException, "' '")?;
        expect_refused(
            &results[2],
            ResponseError::InvalidReplicationFactor,
            "single broker",
        )?;
        expect_refused(&results[3], ResponseError::InvalidReplicationFactor, "0")?;
        expect_refused(&results[4], ResponseError::InvalidPartitions, "at least 1")?;
        expect_refused(&results[5], ResponseError::InvalidConfig, "retention.ms")?;
        expect_refused(
            &results[6],
            ResponseError::InvalidConfig,
            "unknown config key",
        )?;
        expect_refused(&results[7], ResponseError::InvalidConfig, "null")?;
        expect_refused(&results[8], ResponseError::InvalidRequest, "more than once")?;
        expect_refused(&results[9], ResponseError::InvalidRequest, "more than once")?;
        expect_refused(
            &results[10],
            ResponseError::TopicAlreadyExists,
            OFFSETS_TOPIC,
        )?;
        if version >= 5 {
            ensure!(results[2].num_partitions == -1 && results[2].replication_factor == -1);
        }
        if version >= 7 {
            ensure!(results[2].topic_id.is_nil());
        }
    }
    let topics = h.broker.list_topics();
    ensure!(topics == [OFFSETS_TOPIC, "taken"], "topics now: {topics:?}");
    h.stop().await
}

#[tokio::test]
async fn create_topics_validate_only_creates_nothing() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    h.broker
        .create_topic("taken", TopicConfig::default())
        .await?;
    let results = create_topics(
        &mut client,
        6,
        vec![
            with_configs(
                creatable("dry-run", 5, -1),
                &[("segment.bytes", Some("4096"))],
            ),
            creatable("taken", 1, 1),
            with_configs(creatable("dry-bad", 5, -1), &[("segment.bytes", Some("1"))]),
        ],
        true,
    )
    .await?;
    ensure!(results[0].error_code == 0, "{:?}", results[0].error_message);
    ensure!(results[0].num_partitions == 5 && results[0].replication_factor == 1);
    let configs = results[0].configs.as_ref().context("configs")?;
    let segment = configs
        .iter()
        .find(|c| c.name.as_str() == "segment.bytes")
        .context("segment.bytes")?;
    ensure!(
        segment.value.as_deref() == Some("4096") && segment.config_source == DYNAMIC_TOPIC_CONFIG
    );
    expect_refused(&results[1], ResponseError::TopicAlreadyExists, "taken")?;
    expect_refused(&results[2], ResponseError::InvalidConfig, "segment.bytes")?;
    ensure!(
        h.broker.describe_topic("dry-run").is_err(),
        "validate_only created the topic"
    );
    h.stop().await
}

#[tokio::test]
async fn create_topics_accepts_only_trivial_replica_assignments() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    let assign = |partition: i32, brokers: &[i32]| {
        CreatableReplicaAssignment::default()
            .with_partition_index(partition)
            .with_broker_ids(brokers.iter().map(|&b| BrokerId(b)).collect())
    };
    let results = create_topics(
        &mut client,
        4,
        vec![
            creatable("manual", -1, -1)
                .with_assignments(vec![assign(1, &[NODE]), assign(0, &[NODE])]),
            creatable("elsewhere", -1, -1).with_assignments(vec![assign(0, &[2])]),
            creatable("replicated", -1, -1).with_assignments(vec![assign(0, &[NODE, 2])]),
            creatable("gap", -1, -1).with_assignments(vec![assign(0, &[NODE]), assign(2, &[NODE])]),
            creatable("repeat", -1, -1)
                .with_assignments(vec![assign(0, &[NODE]), assign(0, &[NODE])]),
            creatable("mixed", 2, -1).with_assignments(vec![assign(0, &[NODE])]),
        ],
        false,
    )
    .await?;
    ensure!(results[0].error_code == 0, "{:?}", results[0].error_message);
    ensure!(h.broker.describe_topic("manual")?.partitions.len() == 2);
    expect_refused(
        &results[1],
        ResponseError::InvalidReplicaAssignment,
        "single broker",
    )?;
    expect_refused(
        &results[2],
        ResponseError::InvalidReplicaAssignment,
        "[1, 2]",
    )?;
    expect_refused(
        &results[3],
        ResponseError::InvalidReplicaAssignment,
        "outside",
    )?;
    expect_refused(
        &results[4],
        ResponseError::InvalidReplicaAssignment,
        "more than once",
    )?;
    expect_refused(&results[5], ResponseError::InvalidRequest, "-1")?;
    for name in ["elsewhere", "replicated", "gap", "repeat", "mixed"] {
        ensure!(h.broker.describe_topic(name).is_err(), "{name} was created");
    }
    h.stop().await
}

#[tokio::test]
async fn delete_topics_by_name_and_by_id() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    for version in 1..=5 {
        let name = format!("gone-v{version}");
        h.broker.create_topic(&name, TopicConfig::default()).await?;
        let request = DeleteTopicsRequest::default()
            .with_topic_names(vec![
                topic_name(&name),
                topic_name("never-was"),
                topic_name(OFFSETS_TOPIC),
            ])
            .with_timeout_ms(5000);
        let response = client.call(version, &request).await?;
        let results = &response.responses;
        ensure!(results.len() == 3);
        ensure!(results[0].name.as_ref().map(|n| n.0.as_str()) == Some(name.as_str()));
        ensure!(
            results[0].error_code == 0,
            "v{version}: {:?}",
            results[0].error_message
        );
        ensure!(results[1].error_code == code(ResponseError::UnknownTopicOrPartition));
        ensure!(results[2].error_code == code(ResponseError::InvalidTopicException));
        if version >= 5 {
            ensure!(results[0].error_message.is_none());
            ensure!(message(&results[2].error_message).contains("cannot be deleted"));
            ensure!(message(&results[1].error_message).contains("never-was"));
        }
        ensure!(
            h.broker.describe_topic(&name).is_err(),
            "v{version} left {name}"
        );
    }
    ensure!(h.broker.describe_topic(OFFSETS_TOPIC).is_ok());

    // v6: by id, by name, and the errors only ids bring.
    let by_id = h
        .broker
        .create_topic("by-id", TopicConfig::default())
        .await?
        .id;
    let by_name = h
        .broker
        .create_topic("by-name", TopicConfig::default())
        .await?
        .id;
    let unknown = Uuid::new_v4();
    let request = DeleteTopicsRequest::default().with_topics(vec![
        DeleteTopicState::default().with_topic_id(by_id),
        DeleteTopicState::default().with_name(Some(topic_name("by-name"))),
        DeleteTopicState::default().with_topic_id(unknown),
        DeleteTopicState::default()
            .with_name(Some(topic_name("by-name")))
            .with_topic_id(by_name),
        DeleteTopicState::default(),
    ]);
    let response = client.call(6, &request).await?;
    let r = &response.responses;
    ensure!(r.len() == 5);
    ensure!(r[0].error_code == 0 && r[0].topic_id == by_id, "{:?}", r[0]);
    ensure!(r[0].name.as_ref().map(|n| n.0.as_str()) == Some("by-id"));
    ensure!(
        r[1].error_code == 0 && r[1].topic_id == by_name,
        "{:?}",
        r[1]
    );
    ensure!(r[2].error_code == code(ResponseError::UnknownTopicId) && r[2].topic_id == unknown);
    ensure!(r[2].name.is_none() && message(&r[2].error_message).contains(&unknown.to_string()));
    ensure!(r[3].error_code == code(ResponseError::InvalidRequest));
    ensure!(r[4].error_code == code(ResponseError::InvalidRequest));
    ensure!(
        h.broker.describe_topic("by-id").is_err() && h.broker.describe_topic("by-name").is_err()
    );

    // A topic named or identified twice in one request is refused every time, and kept.
    let twice = h
        .broker
        .create_topic("twice", TopicConfig::default())
        .await?
        .id;
    let request = DeleteTopicsRequest::default().with_topics(vec![
        DeleteTopicState::default().with_topic_id(twice),
        DeleteTopicState::default().with_topic_id(twice),
    ]);
    let response = client.call(6, &request).await?;
    ensure!(
        response
            .responses
            .iter()
            .all(|r| r.error_code == code(ResponseError::InvalidRequest)),
        "{:?}",
        response.responses
    );
    let request = DeleteTopicsRequest::default()
        .with_topic_names(vec![topic_name("twice"), topic_name("twice")]);
    let response = client.call(1, &request).await?;
    ensure!(
        response
            .responses
            .iter()
            .all(|r| r.error_code == code(ResponseError::InvalidRequest)),
        "{:?}",
        response.responses
    );
    ensure!(h.broker.describe_topic("twice").is_ok());
    h.stop().await
}

async fn create_partitions(
    client: &mut Client,
    version: i16,
    topics: Vec<CreatePartitionsTopic>,
    validate_only: bool,
) -> Result<Vec<(String, i16, String)>> {
    let request = CreatePartitionsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(5000)
        .with_validate_only(validate_only);
    let response = client.call(version, &request).await?;
    Ok(response
        .results
        .into_iter()
        .map(|r| {
            (
                r.name.0.to_string(),
                r.error_code,
                message(&r.error_message),
            )
        })
        .collect())
}

fn grow_to(name: &str, count: i32) -> CreatePartitionsTopic {
    CreatePartitionsTopic::default()
        .with_name(topic_name(name))
        .with_count(count)
        .with_assignments(None)
}

#[tokio::test]
async fn create_partitions_grows_topics() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    h.broker
        .create_topic("grow", TopicConfig::default())
        .await?;
    h.broker
        .produce("grow", 0, &[NewRecord::new("k", "v")], Durability::Durable)
        .await?;
    for (version, count) in [(0, 2), (1, 3), (2, 4), (3, 6)] {
        let results =
            create_partitions(&mut client, version, vec![grow_to("grow", count)], false).await?;
        ensure!(results[0].1 == 0, "v{version}: {results:?}");
        ensure!(h.broker.describe_topic("grow")?.partitions.len() == count as usize);
    }
    let end = |p| h.broker.list_offset("grow", p, OffsetSpec::Latest);
    ensure!(end(0).await?.map(|o| o.0) == Some(1) && end(5).await?.map(|o| o.0) == Some(0));

    // Assignments: only this node, one per new partition.
    let assigned = |ids: &[&[i32]]| {
        Some(
            ids.iter()
                .map(|ids| {
                    CreatePartitionsAssignment::default()
                        .with_broker_ids(ids.iter().map(|&b| BrokerId(b)).collect())
                })
                .collect(),
        )
    };
    let results = create_partitions(
        &mut client,
        3,
        vec![
            grow_to("grow", 8).with_assignments(assigned(&[&[NODE], &[NODE]])),
            grow_to("missing", 2),
            grow_to(OFFSETS_TOPIC, 2),
        ],
        false,
    )
    .await?;
    ensure!(results[0].1 == 0, "{results:?}");
    ensure!(results[1].1 == code(ResponseError::UnknownTopicOrPartition));
    ensure!(
        results[2].1 == code(ResponseError::InvalidPartitions) && results[2].2.contains("internal")
    );
    ensure!(h.broker.describe_topic("grow")?.partitions.len() == 8);

    let results = create_partitions(
        &mut client,
        2,
        vec![
            grow_to("grow", 8),
            grow_to("grow", 9).with_assignments(assigned(&[&[2]])),
        ],
        false,
    )
    .await?;
    ensure!(
        results
            .iter()
            .all(|r| r.1 == code(ResponseError::InvalidRequest)),
        "{results:?}"
    );
    let results = create_partitions(&mut client, 1, vec![grow_to("grow", 8)], false).await?;
    ensure!(
        results[0].1 == code(ResponseError::InvalidPartitions),
        "{results:?}"
    );
    ensure!(results[0].2.contains("8 partitions"), "{results:?}");
    let results = create_partitions(&mut client, 1, vec![grow_to("grow", 3)], false).await?;
    ensure!(results[0].1 == code(ResponseError::InvalidPartitions));
    let results = create_partitions(
        &mut client,
        3,
        vec![grow_to("grow", 10).with_assignments(assigned(&[&[2], &[NODE]]))],
        false,
    )
    .await?;
    ensure!(
        results[0].1 == code(ResponseError::InvalidReplicaAssignment)
            && results[0].2.contains("[2]")
    );
    let results = create_partitions(
        &mut client,
        3,
        vec![grow_to("grow", 10).with_assignments(assigned(&[&[NODE]]))],
        false,
    )
    .await?;
    ensure!(
        results[0].1 == code(ResponseError::InvalidReplicaAssignment),
        "{results:?}"
    );

    // validate_only checks without growing.
    let results = create_partitions(&mut client, 3, vec![grow_to("grow", 12)], true).await?;
    ensure!(results[0].1 == 0 && results[0].2.is_empty(), "{results:?}");
    let results = create_partitions(&mut client, 3, vec![grow_to("grow", 2)], true).await?;
    ensure!(results[0].1 == code(ResponseError::InvalidPartitions));
    ensure!(h.broker.describe_topic("grow")?.partitions.len() == 8);
    h.stop().await
}

async fn describe(
    client: &mut Client,
    version: i16,
    resources: Vec<DescribeConfigsResource>,
    synonyms: bool,
    documentation: bool,
) -> Result<Vec<DescribeConfigsResult>> {
    let mut request = DescribeConfigsRequest::default()
        .with_resources(resources)
        .with_include_synonyms(synonyms);
    if version >= 3 {
        request = request.with_include_documentation(documentation);
    }
    Ok(client.call(version, &request).await?.results)
}

fn resource(resource_type: i8, name: &str, keys: Option<&[&str]>) -> DescribeConfigsResource {
    DescribeConfigsResource::default()
        .with_resource_type(resource_type)
        .with_resource_name(s(name))
        .with_configuration_keys(keys.map(|keys| keys.iter().map(|k| s(k)).collect()))
}

fn entry<'a>(
    result: &'a DescribeConfigsResult,
    key: &str,
) -> Result<&'a DescribeConfigsResourceResult> {
    result
        .configs
        .iter()
        .find(|c| c.name.as_str() == key)
        .with_context(|| format!("{key} missing from {}", result.resource_name))
}

#[tokio::test]
async fn describe_configs_of_topics_and_the_broker() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    let config = TopicConfig::from_overrides(2, [("retention.ms", "5000")])?;
    h.broker.create_topic("described", config).await?;
    let defaults = TopicConfig::default().entries();

    for version in 1..=4 {
        let results = describe(
            &mut client,
            version,
            vec![
                resource(TOPIC, "described", None),
                resource(TOPIC, "described", Some(&["cleanup.policy", "no.such.key"])),
                resource(TOPIC, "missing", None),
                resource(BROKER, &NODE.to_string(), None),
                resource(BROKER, "", Some(&["num.partitions"])),
                resource(BROKER, "7", None),
                resource(99, "x", None),
            ],
            true,
            true,
        )
        .await?;
        ensure!(results.len() == 7);
        let all = &results[0];
        ensure!(
            all.error_code == 0 && all.error_message.is_none(),
            "{:?}",
            all.error_message
        );
        ensure!(all.resource_type == TOPIC && all.resource_name.as_str() == "described");
        ensure!(
            all.configs.len() == defaults.len(),
            "v{version}: {} configs",
            all.configs.len()
        );
        let retention = entry(all, "retention.ms")?;
        ensure!(retention.value.as_deref() == Some("5000"));
        ensure!(retention.config_source == DYNAMIC_TOPIC_CONFIG && !retention.read_only);
        let names: Vec<&str> = retention.synonyms.iter().map(|s| s.name.as_str()).collect();
        ensure!(
            names == ["retention.ms", "log.retention.ms"],
            "synonyms {names:?}"
        );
        ensure!(retention.synonyms[1].source == DEFAULT_CONFIG);
        ensure!(retention.synonyms[1].value.as_deref() == Some(defaults["retention.ms"].as_str()));
        let segment = entry(all, "segment.bytes")?;
        ensure!(segment.config_source == DEFAULT_CONFIG && segment.synonyms.len() == 1);
        for config in &all.configs {
            ensure!(!config.is_sensitive, "{} is sensitive", config.name);
            if version >= 3 {
                ensure!(config.config_type != 0, "{} has no type", config.name);
                ensure!(config.documentation.is_some(), "{} has no doc", config.name);
            }
        }
        if version >= 3 {
            ensure!(
                entry(all, "cleanup.policy")?.config_type == 7,
                "cleanup.policy is a LIST"
            );
            ensure!(
                entry(all, "retention.ms")?.config_type == 5,
                "retention.ms is a LONG"
            );
        }

        let some = &results[1];
        ensure!(some.error_code == 0 && some.configs.len() == 1);
        ensure!(some.configs[0].value.as_deref() == Some("delete"));

        let missing = &results[2];
        ensure!(missing.error_code == code(ResponseError::UnknownTopicOrPartition));
        ensure!(message(&missing.error_message).contains("missing"));

        let node = &results[3];
        ensure!(node.error_code == 0, "{:?}", node.error_message);
        let partitions = entry(node, "num.partitions")?;
        ensure!(partitions.value.as_deref() == Some(&*DEFAULT_PARTITIONS.to_string()));
        ensure!(partitions.read_only && partitions.config_source == STATIC_BROKER_CONFIG);
        ensure!(entry(node, "auto.create.topics.enable")?.value.as_deref() == Some("true"));
        let log_dirs = entry(node, "log.dirs")?.value.clone().unwrap_or_default();
        ensure!(log_dirs.as_str() == h.broker.data_dir().display().to_string());
        let max = entry(node, "message.max.bytes")?;
        ensure!(max.value.as_deref() == Some(defaults["max.message.bytes"].as_str()));
        ensure!(max.config_source == DEFAULT_CONFIG && max.read_only);
        ensure!(node.configs.iter().all(|c| c.read_only));

        ensure!(results[4].error_code == 0 && results[4].configs.len() == 1);
        ensure!(results[5].error_code == code(ResponseError::InvalidRequest));
        ensure!(message(&results[5].error_message).contains("node 1"));
        ensure!(results[6].error_code == code(ResponseError::InvalidRequest));
    }

    // Without synonyms or documentation, neither is sent.
    let results = describe(
        &mut client,
        4,
        vec![resource(TOPIC, "described", None)],
        false,
        false,
    )
    .await?;
    for config in &results[0].configs {
        ensure!(config.synonyms.is_empty() && config.documentation.is_none());
    }
    h.stop().await
}

fn op(name: &str, operation: i8, value: Option<&str>) -> AlterableConfig {
    AlterableConfig::default()
        .with_name(s(name))
        .with_config_operation(operation)
        .with_value(value.map(s))
}

async fn alter(
    client: &mut Client,
    version: i16,
    resources: Vec<(i8, &str, Vec<AlterableConfig>)>,
    validate_only: bool,
) -> Result<Vec<(i16, String)>> {
    let request = IncrementalAlterConfigsRequest::default()
        .with_resources(
            resources
                .into_iter()
                .map(|(t, name, configs)| {
                    AlterConfigsResource::default()
                        .with_resource_type(t)
                        .with_resource_name(s(name))
                        .with_configs(configs)
                })
                .collect(),
        )
        .with_validate_only(validate_only);
    let response = client.call(version, &request).await?;
    Ok(response
        .responses
        .into_iter()
        .map(|r| (r.error_code, message(&r.error_message)))
        .collect())
}

#[tokio::test]
async fn incremental_alter_configs_set_delete_append_subtract() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    h.broker
        .create_topic("tuned", TopicConfig::default())
        .await?;
    let config = || h.broker.describe_topic("tuned").map(|d| d.config);

    let results = alter(
        &mut client,
        0,
        vec![(
            TOPIC,
            "tuned",
            vec![
                op("retention.ms", SET, Some("60000")),
                op("cleanup.policy", APPEND, Some("compact")),
            ],
        )],
        false,
    )
    .await?;
    ensure!(results == [(0, String::new())], "{results:?}");
    let now = config()?;
    ensure!(now.retention_ms == 60_000);
    ensure!(now.cleanup_policy.compact && now.cleanup_policy.delete);

    let results = alter(
        &mut client,
        1,
        vec![(
            TOPIC,
            "tuned",
            vec![
                op("retention.ms", DELETE, None),
                op("cleanup.policy", SUBTRACT, Some("delete")),
            ],
        )],
        false,
    )
    .await?;
    ensure!(results[0].0 == 0, "{results:?}");
    let now = config()?;
    ensure!(now.retention_ms == TopicConfig::default().retention_ms);
    ensure!(now.cleanup_policy.compact && !now.cleanup_policy.delete);

    // The change is visible through DescribeConfigs, too.
    let described = describe(
        &mut client,
        4,
        vec![resource(TOPIC, "tuned", None)],
        false,
        false,
    )
    .await?;
    let policy = entry(&described[0], "cleanup.policy")?;
    ensure!(
        policy.value.as_deref() == Some("compact") && policy.config_source == DYNAMIC_TOPIC_CONFIG
    );
    ensure!(entry(&described[0], "retention.ms")?.config_source == DEFAULT_CONFIG);

    // validate_only changes nothing.
    let results = alter(
        &mut client,
        1,
        vec![(TOPIC, "tuned", vec![op("segment.bytes", SET, Some("4096"))])],
        true,
    )
    .await?;
    ensure!(results[0].0 == 0, "{results:?}");
    ensure!(config()?.segment_bytes == TopicConfig::default().segment_bytes);
    h.stop().await
}

#[tokio::test]
async fn incremental_alter_configs_refusals_change_nothing() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    h.broker
        .create_topic("strict", TopicConfig::default())
        .await?;
    let before = h.broker.describe_topic("strict")?.config;
    let invalid_config = code(ResponseError::InvalidConfig);
    let invalid_request = code(ResponseError::InvalidRequest);
    let cases: Vec<(Vec<AlterableConfig>, i16, &str)> = vec![
        (
            // A good change with a bad one: neither is applied.
            vec![
                op("retention.ms", SET, Some("1234")),
                op("segment.bytes", SET, Some("tiny")),
            ],
            invalid_config,
            "segment.bytes",
        ),
        (
            vec![op("retention.mss", SET, Some("1"))],
            invalid_config,
            "unknown config key",
        ),
        (
            vec![op("retention.mss", DELETE, None)],
            invalid_config,
            "unknown topic config",
        ),
        (
            vec![op("retention.ms", APPEND, Some("5"))],
            invalid_config,
            "not a list",
        ),
        (
            vec![op("cleanup.policy", SUBTRACT, Some("delete"))],
            invalid_config,
            "cleanup.policy",
        ),
        (
            vec![op("cleanup.policy", APPEND, Some("forever"))],
            invalid_config,
            "cleanup.policy",
        ),
        (vec![op("retention.ms", SET, None)], invalid_request, "null"),
        (
            vec![op("retention.ms", 9, Some("1"))],
            invalid_request,
            "operation 9",
        ),
        (
            vec![
                op("retention.ms", SET, Some("1")),
                op("retention.ms", DELETE, None),
            ],
            invalid_request,
            "more than once",
        ),
    ];
    for (ops, expected, needle) in cases {
        let results = alter(&mut client, 1, vec![(TOPIC, "strict", ops)], false).await?;
        ensure!(
            results[0].0 == expected && results[0].1.contains(needle),
            "expected {expected} mentioning {needle:?}, got {results:?}"
        );
    }
    ensure!(
        h.broker.describe_topic("strict")?.config == before,
        "a refused change was applied"
    );

    let results = alter(
        &mut client,
        0,
        vec![
            (TOPIC, "missing", vec![op("retention.ms", SET, Some("1"))]),
            (BROKER, "1", vec![op("num.partitions", SET, Some("2"))]),
            (99, "x", vec![]),
            (
                TOPIC,
                OFFSETS_TOPIC,
                vec![op("retention.ms", SET, Some("1"))],
            ),
            (TOPIC, "strict", vec![]),
            (TOPIC, "strict", vec![]),
        ],
        false,
    )
    .await?;
    ensure!(
        results[0].0 == code(ResponseError::UnknownTopicOrPartition),
        "{results:?}"
    );
    ensure!(results[1].0 == invalid_request && results[1].1.contains("runtime"));
    ensure!(results[2].0 == invalid_request && results[2].1.contains("99"));
    ensure!(results[3].0 == invalid_request && results[3].1.contains("internal"));
    ensure!(results[4].0 == invalid_request && results[5].0 == invalid_request);
    let offsets = h.broker.describe_topic(OFFSETS_TOPIC)?.config;
    ensure!(offsets.retention_ms != 1 && offsets.cleanup_policy.compact);
    h.stop().await
}

async fn delete_records(
    client: &mut Client,
    version: i16,
    topic: &str,
    partitions: &[(i32, i64)],
) -> Result<Vec<(i32, i64, i16)>> {
    let request = DeleteRecordsRequest::default()
        .with_topics(vec![
            DeleteRecordsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&(p, offset)| {
                            DeleteRecordsPartition::default()
                                .with_partition_index(p)
                                .with_offset(offset)
                        })
                        .collect(),
                ),
        ])
        .with_timeout_ms(5000);
    let response = client.call(version, &request).await?;
    let Some(topic_result) = response.topics.first() else {
        bail!("no topic in the response");
    };
    ensure!(topic_result.name.0.as_str() == topic);
    Ok(topic_result
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.low_watermark, p.error_code))
        .collect())
}

#[tokio::test]
async fn delete_records_moves_the_low_watermark() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    h.broker
        .create_topic(
            "trimmed",
            TopicConfig {
                partitions: 2,
                ..TopicConfig::default()
            },
        )
        .await?;
    let records: Vec<NewRecord> = (0..10)
        .map(|i| NewRecord::new(format!("k{i}"), "v"))
        .collect();
    h.broker
        .produce("trimmed", 0, &records, Durability::Durable)
        .await?;
    h.broker
        .produce("trimmed", 1, &records[..4], Durability::Durable)
        .await?;
    let earliest = |p| h.broker.list_offset("trimmed", p, OffsetSpec::Earliest);

    let results = delete_records(&mut client, 0, "trimmed", &[(0, 4), (1, -1)]).await?;
    ensure!(results == [(0, 4, 0), (1, 4, 0)], "{results:?}");
    ensure!(earliest(0).await?.map(|o| o.0) == Some(4));
    ensure!(earliest(1).await?.map(|o| o.0) == Some(4));

    let out_of_range = code(ResponseError::OffsetOutOfRange);
    let unknown = code(ResponseError::UnknownTopicOrPartition);
    let results = delete_records(
        &mut client,
        1,
        "trimmed",
        &[(0, 2), (0, 11), (0, -5), (7, 1), (-1, 1)],
    )
    .await?;
    ensure!(
        results
            == [
                (0, 4, 0),
                (0, -1, out_of_range),
                (0, -1, out_of_range),
                (7, -1, unknown),
                (-1, -1, unknown)
            ],
        "{results:?}"
    );
    let results = delete_records(&mut client, 2, "trimmed", &[(0, -1)]).await?;
    ensure!(results == [(0, 10, 0)], "{results:?}");
    ensure!(earliest(0).await?.map(|o| o.0) == Some(10));

    let results = delete_records(&mut client, 2, "missing", &[(0, 1)]).await?;
    ensure!(results == [(0, -1, unknown)], "{results:?}");
    let results = delete_records(&mut client, 2, OFFSETS_TOPIC, &[(0, -1)]).await?;
    ensure!(
        results == [(0, -1, code(ResponseError::InvalidTopicException))],
        "{results:?}"
    );
    h.stop().await
}

#[tokio::test]
async fn every_advertised_version_round_trips() -> Result<()> {
    let h = start_harness().await?;
    let mut client = h.client().await?;
    for version in 2..=7 {
        let name = format!("round-{version}");
        let results =
            create_topics(&mut client, version, vec![creatable(&name, 1, -1)], false).await?;
        ensure!(
            results[0].error_code == 0,
            "CreateTopics v{version}: {:?}",
            results[0].error_message
        );
        let results =
            create_partitions(&mut client, version.min(3), vec![grow_to(&name, 2)], false).await?;
        ensure!(results[0].1 == 0, "CreatePartitions: {results:?}");
        let results = alter(
            &mut client,
            version % 2,
            vec![(TOPIC, &name, vec![op("retention.ms", SET, Some("1000"))])],
            false,
        )
        .await?;
        ensure!(results[0].0 == 0, "IncrementalAlterConfigs: {results:?}");
        let described = describe(
            &mut client,
            (version - 1).clamp(1, 4),
            vec![resource(TOPIC, &name, Some(&["retention.ms"]))],
            version % 2 == 0,
            true,
        )
        .await?;
        ensure!(described[0].configs[0].value.as_deref() == Some("1000"));
        let results = delete_records(&mut client, version % 3, &name, &[(1, 0)]).await?;
        ensure!(results == [(1, 0, 0)], "DeleteRecords: {results:?}");
        let delete_version = (version - 1).clamp(1, 6);
        let delete = if delete_version >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                DeleteTopicState::default().with_name(Some(topic_name(&name))),
            ])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![topic_name(&name)])
        };
        let deleted = client.call(delete_version, &delete).await?;
        ensure!(
            deleted.responses[0].error_code == 0,
            "DeleteTopics: {:?}",
            deleted.responses[0]
        );
    }
    ensure!(h.broker.list_topics() == [OFFSETS_TOPIC]);
    h.stop().await
}

#[tokio::test]
async fn partition_caps_refuse_topics_and_growth_past_them() -> Result<()> {
    let h = Harness::start(
        |dir| BrokerConfig {
            max_partitions_per_topic: 8,
            // The internal offsets topic's partition counts too.
            max_partitions: 13,
            ..BrokerConfig::new(dir)
        },
        ServerConfig {
            node_id: NODE,
            default_partitions: DEFAULT_PARTITIONS,
            ..ServerConfig::default()
        },
        "partition-caps-test",
    )
    .await?;
    let mut client = h.client().await?;
    // Per topic: 9 is refused (validate_only alike), 8 is created.
    for validate_only in [true, false] {
        let results = create_topics(
            &mut client,
            5,
            vec![creatable("wide", 9, -1)],
            validate_only,
        )
        .await?;
        expect_refused(
            &results[0],
            ResponseError::InvalidPartitions,
            "max_partitions_per_topic",
        )?;
    }
    let results = create_topics(&mut client, 5, vec![creatable("eight", 8, -1)], false).await?;
    ensure!(results[0].error_code == 0, "{:?}", results[0].error_message);
    // In all: 1 + 8 + 4 fits, one more partition does not, by creation or by growth.
    let results = create_topics(&mut client, 5, vec![creatable("four", 4, -1)], false).await?;
    ensure!(results[0].error_code == 0, "{:?}", results[0].error_message);
    let results = create_topics(&mut client, 5, vec![creatable("one", 1, -1)], false).await?;
    expect_refused(
        &results[0],
        ResponseError::InvalidPartitions,
        "max_partitions",
    )?;
    ensure!(
        h.broker.describe_topic("one").is_err(),
        "a refused topic exists"
    );
    for validate_only in [true, false] {
        let grown =
            create_partitions(&mut client, 3, vec![grow_to("four", 5)], validate_only).await?;
        ensure!(
            grown[0].1 == code(ResponseError::InvalidPartitions)
                && grown[0].2.contains("max_partitions"),
            "{grown:?}"
        );
    }
    ensure!(h.broker.describe_topic("four")?.partitions.len() == 4);
    // Room again once a topic goes.
    h.broker.delete_topic("eight").await?;
    let results = create_topics(&mut client, 5, vec![creatable("one", 1, -1)], false).await?;
    ensure!(results[0].error_code == 0, "{:?}", results[0].error_message);
    h.stop().await
}
