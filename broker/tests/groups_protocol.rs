//! The classic consumer-group protocol over a real socket: JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, DescribeGroups, ListGroups, DeleteGroups and the membership checks of
//! OffsetCommit. Each test starts a [`Broker`] in a temporary directory and a [`Server`] on a
//! free loopback port, then speaks the Kafka protocol to it with kafka-protocol's own request
//! encoders and response decoders (a tiny client below), one connection per consumer, as
//! real clients do.
//!
//! Every advertised version of every group API goes over the wire at least once, so a
//! response field set on a version that lacks it (which kafka-protocol refuses to encode,
//! closing the connection) shows up as a failed read here.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use bytes::Bytes;
use eddy_broker::server::groups::GroupConfig;
use eddy_broker::{BrokerConfig, ServerConfig, TopicConfig};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, GroupId, HeartbeatRequest, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest, SyncGroupRequest,
    TopicName,
};

use support::protocol::{Client, Harness, s};

fn code(error: ResponseError) -> i16 {
    error.code()
}

fn gid(group: &str) -> GroupId {
    GroupId(s(group))
}

const CLIENT_ID: &str = "groups-test";

/// A broker and its protocol server on a free port, with short group timeouts.
async fn start_harness() -> Result<Harness> {
    Harness::start(
        |dir| BrokerConfig::new(dir),
        ServerConfig {
            groups: GroupConfig {
                min_session_timeout: Duration::from_millis(10),
                initial_rebalance_delay: Duration::from_millis(50),
                ..GroupConfig::default()
            },
            ..ServerConfig::default()
        },
        CLIENT_ID,
    )
    .await
}

fn join_request(group: &str, member_id: &str, session_ms: i32, metadata: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(gid(group))
        .with_session_timeout_ms(session_ms)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(s(member_id))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::copy_from_slice(metadata.as_bytes())),
        ])
}

/// Joins as a new dynamic member (v9): MEMBER_ID_REQUIRED, then the join proper, whose
/// response arrives when the rebalance completes.
async fn join_new(
    addr: SocketAddr,
    group: &str,
    session_ms: i32,
) -> Result<(Client, JoinGroupResponse)> {
    let mut client = Client::connect(addr, CLIENT_ID).await?;
    let first = client
        .call(9, &join_request(group, "", session_ms, "m"))
        .await?;
    ensure!(first.error_code == code(ResponseError::MemberIdRequired));
    ensure!(
        first.member_id.starts_with("groups-test-"),
        "{}",
        first.member_id
    );
    let joined = client
        .call(9, &join_request(group, &first.member_id, session_ms, "m"))
        .await?;
    ensure!(joined.error_code == 0, "join error {}", joined.error_code);
    Ok((client, joined))
}

fn sync_request(
    group: &str,
    member: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(gid(group))
        .with_member_id(s(member))
        .with_generation_id(generation)
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(
            assignments
                .iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(m))
                        .with_assignment(Bytes::copy_from_slice(a.as_bytes()))
                })
                .collect(),
        )
}

fn heartbeat_request(group: &str, member: &str, generation: i32) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(gid(group))
        .with_member_id(s(member))
        .with_generation_id(generation)
}

fn commit_request(group: &str, member: &str, generation: i32, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(gid(group))
        .with_member_id(s(member))
        .with_generation_id_or_member_epoch(generation)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset),
                ]),
        ])
}

/// Two consumers on their own connections form a group; the leader's assignment reaches
/// the follower; commits are checked against the membership; the group is described, listed
/// and, once empty, deleted.
#[tokio::test]
async fn two_consumers_form_a_group_over_tcp() -> Result<()> {
    let h = start_harness().await?;
    h.broker
        .create_topic(
            "t",
            TopicConfig {
                partitions: 1,
                ..TopicConfig::default()
            },
        )
        .await?;
    let addr = h.addr;
    let a = tokio::spawn(async move { join_new(addr, "g", 10_000).await });
    let b = tokio::spawn(async move { join_new(addr, "g", 10_000).await });
    let (ca, ra) = a.await??;
    let (cb, rb) = b.await??;
    ensure!(ra.generation_id == 1 && rb.generation_id == 1);
    ensure!(ra.leader == rb.leader);
    ensure!(ra.protocol_type.as_deref() == Some("consumer"));
    ensure!(ra.protocol_name.as_deref() == Some("range"));
    let (mut leader, mut follower, leader_id, follower_id) = if ra.leader == ra.member_id {
        ensure!(ra.members.len() == 2 && rb.members.is_empty());
        (ca, cb, ra.member_id.to_string(), rb.member_id.to_string())
    } else {
        ensure!(rb.members.len() == 2 && ra.members.is_empty());
        (cb, ca, rb.member_id.to_string(), ra.member_id.to_string())
    };

    // The follower's SyncGroup is answered once the leader's arrives.
    let waiting = follower
        .send(5, &sync_request("g", &follower_id, 1, &[]))
        .await?;
    let synced = leader
        .call(
            5,
            &sync_request(
                "g",
                &leader_id,
                1,
                &[(&leader_id, "p0"), (&follower_id, "p1")],
            ),
        )
        .await?;
    ensure!(synced.error_code == 0 && synced.assignment.as_ref() == b"p0");
    let got = follower.recv::<SyncGroupRequest>(5, waiting).await?;
    ensure!(got.error_code == 0 && got.assignment.as_ref() == b"p1");
    ensure!(got.protocol_name.as_deref() == Some("range"));

    let hb = leader
        .call(4, &heartbeat_request("g", &leader_id, 1))
        .await?;
    ensure!(hb.error_code == 0);

    // Commits: a member of the generation may; an old generation, a stranger or a simple
    // commit may not.
    let ok = leader
        .call(8, &commit_request("g", &leader_id, 1, 10))
        .await?;
    ensure!(ok.topics[0].partitions[0].error_code == 0);
    ensure!(h.broker.committed_offset("g", "t", 0).map(|c| c.offset) == Some(10));
    for (member, generation, expected) in [
        (leader_id.as_str(), 0, ResponseError::IllegalGeneration),
        ("stranger", 1, ResponseError::UnknownMemberId),
        ("", -1, ResponseError::UnknownMemberId),
    ] {
        let refused = leader
            .call(8, &commit_request("g", member, generation, 11))
            .await?;
        ensure!(
            refused.topics[0].partitions[0].error_code == code(expected),
            "commit by {member:?} gen {generation}: {}",
            refused.topics[0].partitions[0].error_code
        );
    }
    ensure!(h.broker.committed_offset("g", "t", 0).map(|c| c.offset) == Some(10));

    let described = leader
        .call(
            5,
            &DescribeGroupsRequest::default().with_groups(vec![gid("g")]),
        )
        .await?;
    let group = &described.groups[0];
    ensure!(group.group_state.as_str() == "Stable");
    ensure!(group.protocol_data.as_str() == "range");
    ensure!(group.members.len() == 2);
    ensure!(
        group.members.iter().all(
            |m| m.client_id.as_str() == "groups-test" && m.client_host.as_str() == "/127.0.0.1"
        )
    );

    let deleted = leader
        .call(
            2,
            &DeleteGroupsRequest::default().with_groups_names(vec![gid("g")]),
        )
        .await?;
    ensure!(deleted.results[0].error_code == code(ResponseError::NonEmptyGroup));

    // Both leave (v5 batch): the group is Empty, and can be deleted with its offsets.
    let left = leader
        .call(
            5,
            &LeaveGroupRequest::default()
                .with_group_id(gid("g"))
                .with_members(vec![
                    MemberIdentity::default().with_member_id(s(&leader_id)),
                    MemberIdentity::default().with_member_id(s(&follower_id)),
                ]),
        )
        .await?;
    ensure!(left.error_code == 0);
    ensure!(left.members.iter().all(|m| m.error_code == 0));
    let listed = leader
        .call(
            4,
            &ListGroupsRequest::default().with_states_filter(vec![s("Empty")]),
        )
        .await?;
    ensure!(listed.groups.len() == 1 && listed.groups[0].group_id.0.as_str() == "g");
    let deleted = leader
        .call(
            2,
            &DeleteGroupsRequest::default().with_groups_names(vec![gid("g")]),
        )
        .await?;
    ensure!(deleted.results[0].error_code == 0);
    ensure!(h.broker.committed_offset("g", "t", 0).is_none());
    let described = leader
        .call(
            0,
            &DescribeGroupsRequest::default().with_groups(vec![gid("g")]),
        )
        .await?;
    ensure!(described.groups[0].group_state.as_str() == "Dead");
    drop(follower);
    h.stop().await
}

/// A consumer that is killed (its connection just closes, no LeaveGroup) is expired after
/// its session timeout, and the other consumer takes over alone.
#[tokio::test]
async fn a_killed_consumer_is_expired_and_the_other_takes_over() -> Result<()> {
    let h = start_harness().await?;
    let addr = h.addr;
    let a = tokio::spawn(async move { join_new(addr, "g", 300).await });
    let b = tokio::spawn(async move { join_new(addr, "g", 300).await });
    let (mut ca, ra) = a.await??;
    let (mut cb, rb) = b.await??;
    let generation = ra.generation_id;
    let (a_id, b_id) = (ra.member_id.to_string(), rb.member_id.to_string());
    let leader_id = ra.leader.to_string();
    let assignments = [(a_id.as_str(), "pa"), (b_id.as_str(), "pb")];
    let (leader, follower) = if leader_id == a_id {
        (&mut ca, &mut cb)
    } else {
        (&mut cb, &mut ca)
    };
    let follower_id = if leader_id == a_id { &b_id } else { &a_id };
    let waiting = follower
        .send(5, &sync_request("g", follower_id, generation, &[]))
        .await?;
    leader
        .call(5, &sync_request("g", &leader_id, generation, &assignments))
        .await?;
    follower.recv::<SyncGroupRequest>(5, waiting).await?;

    drop(cb); // b is killed
    let started = Instant::now();
    loop {
        let hb = ca
            .call(2, &heartbeat_request("g", &a_id, generation))
            .await?;
        if hb.error_code == code(ResponseError::RebalanceInProgress) {
            break;
        }
        ensure!(hb.error_code == 0, "heartbeat error {}", hb.error_code);
        ensure!(
            started.elapsed() < Duration::from_secs(5),
            "b never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rejoined = ca.call(9, &join_request("g", &a_id, 300, "m")).await?;
    ensure!(rejoined.error_code == 0);
    ensure!(rejoined.generation_id == generation + 1);
    ensure!(rejoined.leader.as_str() == a_id);
    ensure!(rejoined.members.len() == 1);
    h.stop().await
}

/// A JoinGroup waiting for a rebalance does not hold up the connection: a LeaveGroup sent
/// right behind it on the same connection is processed, which answers the join at once
/// (rather than after the 10 s rebalance timeout), and both responses come back in order.
#[tokio::test]
async fn a_parked_join_does_not_block_its_connection() -> Result<()> {
    let h = start_harness().await?;
    let (_stable, first) = join_new(h.addr, "g", 10_000).await?;
    ensure!(first.generation_id == 1);
    let mut c = h.client().await?;
    let id = c
        .call(9, &join_request("g", "", 10_000, "m"))
        .await?
        .member_id;
    let started = Instant::now();
    let join = c.send(9, &join_request("g", &id, 10_000, "m")).await?;
    let leave = c
        .send(
            1,
            &LeaveGroupRequest::default()
                .with_group_id(gid("g"))
                .with_member_id(id),
        )
        .await?;
    let joined = c.recv::<JoinGroupRequest>(9, join).await?;
    ensure!(joined.error_code == code(ResponseError::UnknownMemberId));
    let left = c.recv::<LeaveGroupRequest>(1, leave).await?;
    ensure!(left.error_code == 0);
    ensure!(started.elapsed() < Duration::from_secs(5));
    h.stop().await
}

/// Stopping the server answers parked joins (NOT_COORDINATOR) instead of waiting for them.
#[tokio::test]
async fn stopping_the_server_answers_parked_joins() -> Result<()> {
    let h = start_harness().await?;
    let (_stable, _) = join_new(h.addr, "g", 10_000).await?;
    let mut c = h.client().await?;
    let id = c
        .call(9, &join_request("g", "", 10_000, "m"))
        .await?
        .member_id;
    let join = c.send(9, &join_request("g", &id, 10_000, "m")).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let mut h = h;
    h.signal_stop();
    let joined = c.recv::<JoinGroupRequest>(9, join).await?;
    ensure!(joined.error_code == code(ResponseError::NotCoordinator));
    h.stop().await?;
    ensure!(started.elapsed() < Duration::from_secs(10));
    Ok(())
}

/// Every advertised version of every group API, over the wire.
#[tokio::test]
async fn every_group_api_version_round_trips() -> Result<()> {
    let h = start_harness().await?;
    let mut c = h.client().await?;
    for version in 0..=9i16 {
        let group = format!("g{version}");
        let mut join = join_request(&group, "", 10_000, "m");
        if version >= 5 {
            join = join.with_group_instance_id(Some(s("instance")));
        }
        let mut r = c.call(version, &join).await?;
        if r.error_code == code(ResponseError::MemberIdRequired) {
            ensure!(version == 4, "MEMBER_ID_REQUIRED at v{version}");
            r = c
                .call(version, &join_request(&group, &r.member_id, 10_000, "m"))
                .await?;
        }
        ensure!(
            r.error_code == 0,
            "JoinGroup v{version}: error {}",
            r.error_code
        );
        ensure!(r.generation_id == 1 && r.leader == r.member_id && r.members.len() == 1);
        if version >= 5 {
            ensure!(r.members[0].group_instance_id.as_deref() == Some("instance"));
        }
        let member = r.member_id.to_string();
        let sync_version = version.min(5);
        let mut sync = sync_request(&group, &member, 1, &[(&member, "x")]);
        if sync_version < 5 {
            sync = sync.with_protocol_type(None).with_protocol_name(None);
        }
        if version >= 5 {
            sync = sync.with_group_instance_id(Some(s("instance")));
        }
        let synced = c.call(sync_version, &sync).await?;
        ensure!(synced.error_code == 0 && synced.assignment.as_ref() == b"x");
        let hb_version = version.min(4);
        let mut hb = heartbeat_request(&group, &member, 1);
        if hb_version >= 3 && version >= 5 {
            hb = hb.with_group_instance_id(Some(s("instance")));
        }
        ensure!(c.call(hb_version, &hb).await?.error_code == 0);
        let describe_version = version.min(5);
        let described = c
            .call(
                describe_version,
                &DescribeGroupsRequest::default()
                    .with_groups(vec![gid(&group), gid("unknown")])
                    .with_include_authorized_operations(describe_version >= 3),
            )
            .await?;
        ensure!(described.groups[0].group_state.as_str() == "Stable");
        ensure!(described.groups[0].members[0].member_assignment.as_ref() == b"x");
        ensure!(described.groups[1].group_state.as_str() == "Dead");
        let list_version = version.min(4);
        let listed = c.call(list_version, &ListGroupsRequest::default()).await?;
        ensure!(listed.groups.iter().any(|g| g.group_id.0.as_str() == group));
        let leave_version = version.min(5);
        let leave = if leave_version <= 2 {
            LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_member_id(s(&member))
        } else {
            LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_members(vec![MemberIdentity::default().with_member_id(s(&member))])
        };
        let left = c.call(leave_version, &leave).await?;
        ensure!(left.error_code == 0);
        ensure!(left.members.iter().all(|m| m.error_code == 0));
        let delete_version = version.min(2);
        let deleted = c
            .call(
                delete_version,
                &DeleteGroupsRequest::default().with_groups_names(vec![gid(&group)]),
            )
            .await?;
        ensure!(
            deleted.results[0].error_code == 0,
            "DeleteGroups v{delete_version}"
        );
    }
    h.stop().await
}
