//! Unit tests of the group coordinator: the state machine driven through the coordinator's
//! handlers with real request structs, against a real [`Broker`] in a temporary directory.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::protocol::Encodable;
use tempfile::TempDir;

use super::*;
use crate::broker::BrokerConfig;
use crate::group_offsets::CommittedOffset;

/// The newest versions advertised.
const V_JOIN: i16 = 9;
const V_SYNC: i16 = 5;
const V_HEARTBEAT: i16 = 4;
const SESSION_MS: i32 = 1_000;
const REBALANCE_MS: i32 = 1_000;

struct Fixture {
    _dir: TempDir,
    broker: Broker,
    coordinator: GroupCoordinator,
}

fn config() -> GroupConfig {
    GroupConfig {
        min_session_timeout: Duration::from_millis(10),
        max_session_timeout: Duration::from_secs(60),
        initial_rebalance_delay: Duration::from_millis(50),
        empty_group_retention: Duration::from_secs(600),
        offsets_retention: Duration::from_secs(3600),
    }
}

async fn fixture_with(config: GroupConfig) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(BrokerConfig::new(dir.path()))
        .await
        .expect("open broker");
    let coordinator = GroupCoordinator::new(broker.clone(), config);
    Fixture {
        _dir: dir,
        broker,
        coordinator,
    }
}

async fn fixture() -> Fixture {
    fixture_with(config()).await
}

fn caller(version: i16) -> Caller {
    Caller {
        version,
        client_id: "test-client".to_string(),
        client_host: "/127.0.0.1".to_string(),
    }
}

fn s(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn gid(group: &str) -> GroupId {
    GroupId(s(group))
}

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .expect("timed out")
}

/// A JoinGroup request; `protocols` are (name, metadata).
fn join_req(group: &str, member_id: &str, protocols: &[(&str, &str)]) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(gid(group))
        .with_session_timeout_ms(SESSION_MS)
        .with_rebalance_timeout_ms(REBALANCE_MS)
        .with_member_id(s(member_id))
        .with_protocol_type(s("consumer"))
        .with_protocols(
            protocols
                .iter()
                .map(|(name, metadata)| {
                    JoinGroupRequestProtocol::default()
                        .with_name(s(name))
                        .with_metadata(Bytes::copy_from_slice(metadata.as_bytes()))
                })
                .collect(),
        )
}

fn static_join_req(
    group: &str,
    member_id: &str,
    instance: &str,
    protocols: &[(&str, &str)],
) -> JoinGroupRequest {
    join_req(group, member_id, protocols).with_group_instance_id(Some(s(instance)))
}

const RANGE: &[(&str, &str)] = &[("range", "sub")];

/// The MEMBER_ID_REQUIRED step of a new dynamic member (v4+): returns its member id.
async fn member_id(c: &GroupCoordinator, group: &str, protocols: &[(&str, &str)]) -> String {
    let r = c
        .join_as(&caller(V_JOIN), join_req(group, "", protocols))
        .await;
    assert_eq!(r.error_code, codes::MEMBER_ID_REQUIRED);
    assert!(r.member_id.starts_with("test-client-"), "{}", r.member_id);
    r.member_id.to_string()
}

fn sync_req(
    group: &str,
    member_id: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(gid(group))
        .with_member_id(s(member_id))
        .with_generation_id(generation)
        .with_protocol_type(Some(s("consumer")))
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

fn heartbeat(c: &GroupCoordinator, group: &str, member_id: &str, generation: i32) -> i16 {
    c.heartbeat_as(
        &caller(V_HEARTBEAT),
        HeartbeatRequest::default()
            .with_group_id(gid(group))
            .with_member_id(s(member_id))
            .with_generation_id(generation),
    )
    .error_code
}

fn describe(c: &GroupCoordinator, group: &str) -> describe_groups_response::DescribedGroup {
    c.describe_as(
        &caller(5),
        DescribeGroupsRequest::default().with_groups(vec![gid(group)]),
    )
    .groups
    .remove(0)
}

/// Everyone syncs (followers first, so they park), the leader assigning `assign-<id>`.
/// Returns each member's assignment.
async fn sync_all(
    c: &GroupCoordinator,
    group: &str,
    generation: i32,
    leader: &str,
    members: &[String],
) -> Vec<String> {
    let assignments: Vec<(String, String)> = members
        .iter()
        .map(|m| (m.clone(), format!("assign-{m}")))
        .collect();
    let as_refs: Vec<(&str, &str)> = assignments
        .iter()
        .map(|(m, a)| (m.as_str(), a.as_str()))
        .collect();
    let mut pending = Vec::new();
    for m in members.iter().filter(|m| *m != leader) {
        pending.push(c.sync_as(&caller(V_SYNC), sync_req(group, m, generation, &[])));
    }
    let leader_sync = c.sync_as(
        &caller(V_SYNC),
        sync_req(group, leader, generation, &as_refs),
    );
    let mut results = within(join_all(pending)).await;
    results.insert(
        members
            .iter()
            .position(|m| m == leader)
            .expect("leader is a member"),
        within(leader_sync).await,
    );
    results
        .into_iter()
        .map(|r| {
            assert_eq!(r.error_code, codes::NONE);
            assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
            String::from_utf8(r.assignment.to_vec()).expect("utf-8")
        })
        .collect()
}

/// A stable group of `n` dynamic members. Returns (member ids, generation, leader).
async fn stable_group(c: &GroupCoordinator, group: &str, n: usize) -> (Vec<String>, i32, String) {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(member_id(c, group, RANGE).await);
    }
    let joins: Vec<_> = ids
        .iter()
        .map(|id| c.join_as(&caller(V_JOIN), join_req(group, id, RANGE)))
        .collect();
    let responses = within(join_all(joins)).await;
    let generation = responses[0].generation_id;
    let leader = responses[0].leader.to_string();
    for r in &responses {
        assert_eq!(r.error_code, codes::NONE);
        assert_eq!(r.generation_id, generation);
        assert_eq!(r.leader.as_str(), leader);
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
    }
    let assignments = sync_all(c, group, generation, &leader, &ids).await;
    for (id, assignment) in ids.iter().zip(assignments) {
        assert_eq!(assignment, format!("assign-{id}"));
    }
    (ids, generation, leader)
}

fn group_state(c: &GroupCoordinator, group: &str) -> GroupState {
    c.inner
        .lookup(group)
        .map_or(GroupState::Dead, |cell| cell.lock().state())
}

#[tokio::test]
async fn member_id_required_then_the_first_rebalance() {
    let f = fixture().await;
    let c = &f.coordinator;
    let id = member_id(c, "g", RANGE).await;
    let r = within(c.join_as(&caller(V_JOIN), join_req("g", &id, RANGE))).await;
    assert_eq!(r.error_code, codes::NONE);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.member_id.as_str(), id);
    assert_eq!(r.leader.as_str(), id);
    assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.members[0].metadata, Bytes::from_static(b"sub"));
    assert_eq!(group_state(c, "g"), GroupState::CompletingRebalance);
    let synced = within(c.sync_as(&caller(V_SYNC), sync_req("g", &id, 1, &[(&id, "mine")]))).await;
    assert_eq!(synced.error_code, codes::NONE);
    assert_eq!(synced.assignment, Bytes::from_static(b"mine"));
    assert_eq!(synced.protocol_name.as_deref(), Some("range"));
    assert_eq!(group_state(c, "g"), GroupState::Stable);
    assert_eq!(heartbeat(c, "g", &id, 1), codes::NONE);
}

#[tokio::test]
async fn before_v4_a_new_member_gets_its_id_at_once() {
    let f = fixture().await;
    let c = &f.coordinator;
    let r = within(c.join_as(&caller(3), join_req("g", "", RANGE))).await;
    assert_eq!(r.error_code, codes::NONE);
    assert!(r.member_id.starts_with("test-client-"));
    assert_eq!(r.leader, r.member_id);
    // Not nullable before v7; the protocol type is a v7 field.
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(r.protocol_type, None);
}

#[tokio::test]
async fn leader_gets_every_members_metadata_and_followers_wait_for_the_assignment() {
    let f = fixture().await;
    let c = &f.coordinator;
    let a = member_id(c, "g", &[("range", "meta-a")]).await;
    let b = member_id(c, "g", &[("range", "meta-b")]).await;
    let ja = c.join_as(&caller(V_JOIN), join_req("g", &a, &[("range", "meta-a")]));
    let jb = c.join_as(&caller(V_JOIN), join_req("g", &b, &[("range", "meta-b")]));
    let (ra, rb) = within(async { tokio::join!(ja, jb) }).await;
    assert_eq!((ra.error_code, rb.error_code), (codes::NONE, codes::NONE));
    assert_eq!(ra.generation_id, 1);
    assert_eq!(ra.leader.as_str(), a, "the first member to join leads");
    assert_eq!(rb.leader.as_str(), a);
    let mut metadata: Vec<(String, Bytes)> = ra
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.metadata.clone()))
        .collect();
    metadata.sort();
    let mut expected = vec![
        (a.clone(), Bytes::from_static(b"meta-a")),
        (b.clone(), Bytes::from_static(b"meta-b")),
    ];
    expected.sort();
    assert_eq!(metadata, expected);
    assert!(rb.members.is_empty(), "followers get no metadata");

    // The follower's SyncGroup parks until the leader's arrives.
    let follower = tokio::spawn(c.sync_as(&caller(V_SYNC), sync_req("g", &b, 1, &[])));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!follower.is_finished(), "a follower waits for the leader");
    assert_eq!(group_state(c, "g"), GroupState::CompletingRebalance);
    let leader = within(c.sync_as(
        &caller(V_SYNC),
        sync_req("g", &a, 1, &[(&a, "p0"), (&b, "p1")]),
    ))
    .await;
    assert_eq!(leader.assignment, Bytes::from_static(b"p0"));
    let follower = within(follower).await.expect("task");
    assert_eq!(follower.error_code, codes::NONE);
    assert_eq!(follower.assignment, Bytes::from_static(b"p1"));

    // Described as Kafka does: stable, members with client id, host, metadata, assignment.
    let d = describe(c, "g");
    assert_eq!(d.error_code, 0);
    assert_eq!(d.group_state.as_str(), "Stable");
    assert_eq!(d.protocol_type.as_str(), "consumer");
    assert_eq!(d.protocol_data.as_str(), "range");
    assert_eq!(d.members.len(), 2);
    let db = d
        .members
        .iter()
        .find(|m| m.member_id.as_str() == b)
        .expect("b described");
    assert_eq!(db.client_id.as_str(), "test-client");
    assert_eq!(db.client_host.as_str(), "/127.0.0.1");
    assert_eq!(db.member_metadata, Bytes::from_static(b"meta-b"));
    assert_eq!(db.member_assignment, Bytes::from_static(b"p1"));

    // Errors.
    assert_eq!(heartbeat(c, "g", "nobody", 1), codes::UNKNOWN_MEMBER_ID);
    assert_eq!(heartbeat(c, "g", &a, 7), codes::ILLEGAL_GENERATION);
    assert_eq!(heartbeat(c, "other", &a, 1), codes::UNKNOWN_MEMBER_ID);
    assert_eq!(heartbeat(c, "", &a, 1), codes::INVALID_GROUP_ID);
    let bad = within(c.sync_as(&caller(V_SYNC), sync_req("g", &a, 7, &[]))).await;
    assert_eq!(bad.error_code, codes::ILLEGAL_GENERATION);
    let bad = within(c.sync_as(&caller(V_SYNC), sync_req("g", "nobody", 1, &[]))).await;
    assert_eq!(bad.error_code, codes::UNKNOWN_MEMBER_ID);
    let bad = within(c.sync_as(
        &caller(V_SYNC),
        sync_req("g", &a, 1, &[]).with_protocol_name(Some(s("roundrobin"))),
    ))
    .await;
    assert_eq!(bad.error_code, codes::INCONSISTENT_GROUP_PROTOCOL);
    // A stable member's SyncGroup again returns its assignment.
    let again = within(c.sync_as(&caller(V_SYNC), sync_req("g", &b, 1, &[]))).await;
    assert_eq!(again.assignment, Bytes::from_static(b"p1"));
}

#[tokio::test]
async fn a_new_member_makes_everyone_rejoin() {
    let f = fixture().await;
    let c = &f.coordinator;
    let (ids, generation, leader) = stable_group(c, "g", 2).await;
    let newcomer = member_id(c, "g", RANGE).await;
    let joining = c.join_as(
        &caller(V_JOIN),
        join_req("g", &newcomer, RANGE).with_rebalance_timeout_ms(10_000),
    );
    assert_eq!(group_state(c, "g"), GroupState::PreparingRebalance);
    // Heartbeats tell the current members to rejoin; their commits still go through.
    for id in &ids {
        assert_eq!(
            heartbeat(c, "g", id, generation),
            codes::REBALANCE_IN_PROGRESS
        );
        assert_eq!(c.validate_commit("g", id, generation, None), Ok(()));
    }
    let sync = within(c.sync_as(&caller(V_SYNC), sync_req("g", &ids[0], generation, &[]))).await;
    assert_eq!(sync.error_code, codes::REBALANCE_IN_PROGRESS);
    let rejoins: Vec<_> = ids
        .iter()
        .map(|id| c.join_as(&caller(V_JOIN), join_req("g", id, RANGE)))
        .collect();
    // No initial delay now: the rebalance completes as soon as everyone is in.
    let started = Instant::now();
    let mut responses = within(join_all(rejoins)).await;
    responses.push(within(joining).await);
    assert!(started.elapsed() < Duration::from_secs(3));
    for r in &responses {
        assert_eq!(r.error_code, codes::NONE);
        assert_eq!(r.generation_id, generation + 1);
        assert_eq!(r.leader.as_str(), leader, "the leader keeps leading");
    }
    let leader_response = responses
        .iter()
        .find(|r| r.member_id.as_str() == leader)
        .expect("leader");
    assert_eq!(leader_response.members.len(), 3);
    // The old generation is over.
    assert_eq!(
        heartbeat(c, "g", &ids[0], generation),
        codes::ILLEGAL_GENERATION
    );
    assert_eq!(
        c.validate_commit("g", &ids[0], generation + 1, None),
        Err(codes::REBALANCE_IN_PROGRESS),
        "no commits between JoinGroup and SyncGroup"
    );
    let mut all = ids.clone();
    all.push(newcomer);
    sync_all(c, "g", generation + 1, &leader, &all).await;
    assert_eq!(group_state(c, "g"), GroupState::Stable);
}

#[tokio::test]
async fn members_that_do_not_rejoin_in_time_are_removed() {
    let f = fixture().await;
    let c = &f.coordinator;
    let (ids, generation, _) = stable_group(c, "g", 2).await;
    let (stays, silent) = (&ids[0], &ids[1]);
    let newcomer = member_id(c, "g", RANGE).await;
    let started = Instant::now();
    let joining = c.join_as(&caller(V_JOIN), join_req("g", &newcomer, RANGE));
    let rejoin = c.join_as(&caller(V_JOIN), join_req("g", stays, RANGE));
    let (a, b) = within(async { tokio::join!(joining, rejoin) }).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(REBALANCE_MS as u64 - 50),
        "waited {waited:?} for the silent member"
    );
    assert_eq!((a.error_code, b.error_code), (codes::NONE, codes::NONE));
    assert_eq!(a.generation_id, generation + 1);
    let leader = if a.members.is_empty() { &b } else { &a };
    assert_eq!(leader.members.len(), 2, "the silent member is gone");
    assert!(
        leader
            .members
            .iter()
            .all(|m| m.member_id.as_str() != silent)
    );
    assert_eq!(
        heartbeat(c, "g", silent, generation),
        codes::UNKNOWN_MEMBER_ID
    );
}

#[tokio::test]
async fn the_leader_that_does_not_rejoin_is_replaced() {
    let f = fixture().await;
    let c = &f.coordinator;
    let (ids, generation, leader) = stable_group(c, "g", 2).await;
    let follower = ids
        .iter()
        .find(|id| **id != leader)
        .expect("follower")
        .clone();
    // The follower's metadata changed: it rejoins; the leader never does.
    let r = within(c.join_as(
        &caller(V_JOIN),
        join_req("g", &follower, &[("range", "new")]),
    ))
    .await;
    assert_eq!(r.error_code, codes::NONE);
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.leader.as_str(), follower, "a member that rejoined leads");
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.members[0].metadata, Bytes::from_static(b"new"));
}

#[tokio::test]
async fn an_expired_session_hands_the_partitions_over() {
    let f = fixture().await;
    let c = &f.coordinator;
    let (_stop_tx, stop_rx) = watch::channel(false);
    let reaper = c.start_reaper(stop_rx);
    // Sessions of 200 ms.
    let short = |member: &str| {
        join_req("g", member, RANGE)
            .with_session_timeout_ms(200)
            .with_rebalance_timeout_ms(2_000)
    };
    let a = within(c.join_as(&caller(V_JOIN), short("")))
        .await
        .member_id
        .to_string();
    let b = within(c.join_as(&caller(V_JOIN), short("")))
        .await
        .member_id
        .to_string();
    let (ra, rb) = within(async {
        tokio::join!(
            c.join_as(&caller(V_JOIN), short(&a)),
            c.join_as(&caller(V_JOIN), short(&b))
        )
    })
    .await;
    let generation = ra.generation_id;
    assert_eq!(rb.generation_id, generation);
    let leader = ra.leader.to_string();
    sync_all(c, "g", generation, &leader, &[a.clone(), b.clone()]).await;

    // `b` is killed: it stops heartbeating. `a` heartbeats until told to rejoin.
    let started = Instant::now();
    loop {
        let code = heartbeat(c, "g", &a, generation);
        if code == codes::REBALANCE_IN_PROGRESS {
            break;
        }
        assert_eq!(code, codes::NONE);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "b never expired"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(150));
    let r = within(c.join_as(&caller(V_JOIN), short(&a))).await;
    assert_eq!(r.error_code, codes::NONE);
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.leader.as_str(), a);
    assert_eq!(r.members.len(), 1, "a alone now");
    assert_eq!(heartbeat(c, "g", &b, generation), codes::UNKNOWN_MEMBER_ID);
    reaper.abort();
}

#[tokio::test]
async fn a_leader_that_never_syncs_is_removed_after_the_rebalance_timeout() {
    let f = fixture().await;
    let c = &f.coordinator;
    let (_stop_tx, stop_rx) = watch::channel(false);
    let reaper = c.start_reaper(stop_rx);
    let req = |member: &str| {
        join_req("g", member, RANGE)
            .with_session_timeout_ms(5_000)
            .with_rebalance_timeout_ms(300)
    };
    let a = within(c.join_as(&caller(V_JOIN), req("")))
        .await
        .member_id
        .to_string();
    let b = within(c.join_as(&caller(V_JOIN), req("")))
        .await
        .member_id
        .to_string();
    let (ra, _) = within(async {
        tokio::join!(
            c.join_as(&caller(V_JOIN), req(&a)),
            c.join_as(&caller(V_JOIN), req(&b))
        )
    })
    .await;
    let leader = ra.leader.to_string();
    let follower = if leader == a { &b } else { &a };
    // The follower syncs and waits; the leader heartbeats but never syncs.
    let parked = c.sync_as(
        &caller(V_SYNC),
        sync_req("g", follower, ra.generation_id, &[]),
    );
    assert_eq!(heartbeat(c, "g", &leader, ra.generation_id), codes::NONE);
    let r = within(parked).await;
    assert_eq!(r.error_code, codes::REBALANCE_IN_PROGRESS);
    assert_eq!(
        heartbeat(c, "g", &leader, ra.generation_id),
        codes::UNKNOWN_MEMBER_ID
    );
    let r = within(c.join_as(&caller(V_JOIN), req(follower))).await;
    assert_eq!(r.generation_id, ra.generation_id + 1);
    assert_eq!(r.leader.as_str(), follower);
    reaper.abort();
}

#[tokio::test]
async fn leave_group_single_and_batch() {
    let f = fixture().await;
    let c = &f.coordinator;
    // Two dynamic members and a static one.
    let a = member_id(c, "g", RANGE).await;
    let b = member_id(c, "g", RANGE).await;
    let joins = vec![
        c.join_as(&caller(V_JOIN), join_req("g", &a, RANGE)),
        c.join_as(&caller(V_JOIN), join_req("g", &b, RANGE)),
        c.join_as(
            &caller(V_JOIN),
            static_join_req("g", "", "instance-s", RANGE),
        ),
    ];
    let responses = within(join_all(joins)).await;
    let st = responses[2].member_id.to_string();
    let generation = responses[0].generation_id;
    let leader = responses[0].leader.to_string();
    sync_all(
        c,
        "g",
        generation,
        &leader,
        &[a.clone(), b.clone(), st.clone()],
    )
    .await;

    // v0: one member, the error at the top level.
    let leave_v0 = |member: &str| {
        c.leave_as(
            &caller(0),
            LeaveGroupRequest::default()
                .with_group_id(gid("g"))
                .with_member_id(s(member)),
        )
    };
    assert_eq!(leave_v0("nobody").error_code, codes::UNKNOWN_MEMBER_ID);
    assert_eq!(leave_v0(&b).error_code, codes::NONE);
    assert_eq!(group_state(c, "g"), GroupState::PreparingRebalance);
    assert_eq!(heartbeat(c, "g", &b, generation), codes::UNKNOWN_MEMBER_ID);

    // v3+: a batch, by member id or by instance id, each with its own error.
    let batch = c.leave_as(
        &caller(5),
        LeaveGroupRequest::default()
            .with_group_id(gid("g"))
            .with_members(vec![
                MemberIdentity::default().with_member_id(s(&a)),
                MemberIdentity::default().with_member_id(s("nobody")),
                MemberIdentity::default().with_group_instance_id(Some(s("instance-s"))),
                MemberIdentity::default()
                    .with_member_id(s("someone-else"))
                    .with_group_instance_id(Some(s("instance-x"))),
            ]),
    );
    assert_eq!(batch.error_code, codes::NONE);
    let codes_by_member: Vec<i16> = batch.members.iter().map(|m| m.error_code).collect();
    assert_eq!(
        codes_by_member,
        vec![
            codes::NONE,
            codes::UNKNOWN_MEMBER_ID,
            codes::NONE,
            codes::UNKNOWN_MEMBER_ID
        ]
    );
    assert_eq!(
        batch.members[2].group_instance_id.as_deref(),
        Some("instance-s")
    );
    // Everyone left: the pending rebalance completes with nobody, the group is Empty.
    assert_eq!(group_state(c, "g"), GroupState::Empty);
    assert_eq!(describe(c, "g").group_state.as_str(), "Empty");
    // An unknown group: per-member UNKNOWN_MEMBER_ID (v3+).
    let unknown = c.leave_as(
        &caller(3),
        LeaveGroupRequest::default()
            .with_group_id(gid("nope"))
            .with_members(vec![MemberIdentity::default().with_member_id(s(&a))]),
    );
    assert_eq!(unknown.error_code, codes::NONE);
    assert_eq!(unknown.members[0].error_code, codes::UNKNOWN_MEMBER_ID);
    let _ = st;
}

#[tokio::test]
async fn a_leaving_member_releases_the_pending_join_of_the_others() {
    let f = fixture().await;
    let c = &f.coordinator;
    let (ids, generation, _) = stable_group(c, "g", 2).await;
    // ids[0] rejoins (new metadata), ids[1] leaves: the rebalance completes at once.
    let rejoin = c.join_as(
        &caller(V_JOIN),
        join_req("g", &ids[0], &[("range", "v2")]).with_rebalance_timeout_ms(10_000),
    );
    let left = c.leave_as(
        &caller(1),
        LeaveGroupRequest::default()
            .with_group_id(gid("g"))
            .with_member_id(s(&ids[1])),
    );
    assert_eq!(left.error_code, codes::NONE);
    let r = tokio::time::timeout(Duration::from_secs(3), rejoin)
        .await
        .expect("completes without waiting for the rebalance timeout");
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.members.len(), 1);
}

#[tokio::test]
async fn a_static_member_rejoining_keeps_its_place_and_fences_the_old_id() {
    let f = fixture().await;
    let c = &f.coordinator;
    let b = member_id(c, "g", RANGE).await;
    let ja = c.join_as(
        &caller(V_JOIN),
        static_join_req("g", "", "instance-a", RANGE),
    );
    let jb = c.join_as(&caller(V_JOIN), join_req("g", &b, RANGE));
    let (ra, rb) = within(async { tokio::join!(ja, jb) }).await;
    assert_eq!(
        ra.error_code,
        codes::NONE,
        "no MEMBER_ID_REQUIRED for static members"
    );
    let a = ra.member_id.to_string();
    assert!(a.starts_with("instance-a-"), "{a}");
    let generation = ra.generation_id;
    assert_eq!(rb.generation_id, generation);
    let leader = ra.leader.to_string();
    assert_eq!(leader, a, "the static member joined first");
    sync_all(c, "g", generation, &leader, &[a.clone(), b.clone()]).await;

    // `a` restarts (v8: cannot skip the assignment) and joins with no member id.
    let r = within(c.join_as(&caller(8), static_join_req("g", "", "instance-a", RANGE))).await;
    assert_eq!(r.error_code, codes::NONE);
    let a2 = r.member_id.to_string();
    assert_ne!(a2, a);
    assert_eq!(r.generation_id, generation, "no rebalance");
    assert_eq!(r.leader.as_str(), a, "an old client is not told it leads");
    assert!(r.members.is_empty());
    assert_eq!(group_state(c, "g"), GroupState::Stable);
    // The old id is fenced; the new one syncs its old assignment; `b` saw nothing.
    let fenced = c.heartbeat_as(
        &caller(V_HEARTBEAT),
        HeartbeatRequest::default()
            .with_group_id(gid("g"))
            .with_member_id(s(&a))
            .with_group_instance_id(Some(s("instance-a")))
            .with_generation_id(generation),
    );
    assert_eq!(fenced.error_code, codes::FENCED_INSTANCE_ID);
    assert_eq!(
        c.validate_commit("g", &a, generation, Some("instance-a")),
        Err(codes::FENCED_INSTANCE_ID)
    );
    let synced = within(c.sync_as(
        &caller(V_SYNC),
        sync_req("g", &a2, generation, &[]).with_group_instance_id(Some(s("instance-a"))),
    ))
    .await;
    assert_eq!(synced.error_code, codes::NONE);
    assert_eq!(synced.assignment, Bytes::from(format!("assign-{a}")));
    assert_eq!(heartbeat(c, "g", &b, generation), codes::NONE);
    let d = describe(c, "g");
    let described = d
        .members
        .iter()
        .find(|m| m.member_id.as_str() == a2)
        .expect("the new id is described");
    assert_eq!(described.group_instance_id.as_deref(), Some("instance-a"));

    // v9: the static leader is told it leads, with the members, and to skip assigning.
    let r = within(c.join_as(&caller(9), static_join_req("g", "", "instance-a", RANGE))).await;
    assert_eq!(r.error_code, codes::NONE);
    let a3 = r.member_id.to_string();
    assert_eq!(r.generation_id, generation);
    assert_eq!(r.leader.as_str(), a3);
    assert!(r.skip_assignment);
    assert_eq!(r.members.len(), 2);
    assert_eq!(
        c.validate_commit("g", &a3, generation, Some("instance-a")),
        Ok(())
    );
}

#[tokio::test]
async fn a_static_member_rejoining_mid_rebalance_fences_the_parked_join() {
    let f = fixture().await;
    let c = &f.coordinator;
    let first = c.join_as(&caller(V_JOIN), static_join_req("g", "", "inst", RANGE));
    // During the initial delay the same instance joins again (the first process died).
    let second = c.join_as(&caller(V_JOIN), static_join_req("g", "", "inst", RANGE));
    let (r1, r2) = within(async { tokio::join!(first, second) }).await;
    assert_eq!(r1.error_code, codes::FENCED_INSTANCE_ID);
    assert_eq!(r2.error_code, codes::NONE);
    assert_eq!(r2.members.len(), 1);
    assert_eq!(r2.leader, r2.member_id);
}

#[tokio::test]
async fn protocol_selection_by_vote_and_inconsistent_protocols() {
    let f = fixture().await;
    let c = &f.coordinator;
    // Everyone supports roundrobin; range is not supported by the third member.
    let lists: [&[(&str, &str)]; 3] = [
        &[("range", "a"), ("roundrobin", "a")],
        &[("roundrobin", "b"), ("range", "b")],
        &[("cooperative-sticky", "c"), ("roundrobin", "c")],
    ];
    let mut ids = Vec::new();
    for list in lists {
        ids.push(member_id(c, "g", list).await);
    }
    let joins: Vec<_> = ids
        .iter()
        .zip(lists)
        .map(|(id, list)| c.join_as(&caller(V_JOIN), join_req("g", id, list)))
        .collect();
    let responses = within(join_all(joins)).await;
    for r in &responses {
        assert_eq!(r.error_code, codes::NONE);
        assert_eq!(r.protocol_name.as_deref(), Some("roundrobin"));
    }
    let leader = responses
        .iter()
        .find(|r| !r.members.is_empty())
        .expect("a leader");
    // The leader gets each member's metadata for the chosen protocol.
    let mut metadata: Vec<Bytes> = leader.members.iter().map(|m| m.metadata.clone()).collect();
    metadata.sort();
    assert_eq!(
        metadata,
        vec![Bytes::from("a"), Bytes::from("b"), Bytes::from("c")]
    );
    // A member sharing no protocol with the others is refused at once.
    let bad = within(c.join_as(&caller(V_JOIN), join_req("g", &ids[0], &[("sticky", "x")]))).await;
    assert_eq!(bad.error_code, codes::INCONSISTENT_GROUP_PROTOCOL);
    assert_eq!(group_state(c, "g"), GroupState::CompletingRebalance);
    let stranger = within(c.join_as(&caller(V_JOIN), join_req("g", "", &[("sticky", "x")]))).await;
    assert_eq!(stranger.error_code, codes::INCONSISTENT_GROUP_PROTOCOL);
    let other_type = within(c.join_as(
        &caller(V_JOIN),
        join_req("g", "", RANGE).with_protocol_type(s("connect")),
    ))
    .await;
    assert_eq!(other_type.error_code, codes::INCONSISTENT_GROUP_PROTOCOL);
    let no_protocols = within(c.join_as(&caller(V_JOIN), join_req("fresh", "", &[]))).await;
    assert_eq!(no_protocols.error_code, codes::INCONSISTENT_GROUP_PROTOCOL);

    // A tie goes to the leader's preference.
    let x = member_id(c, "tie", &[("range", ""), ("roundrobin", "")]).await;
    let y = member_id(c, "tie", &[("roundrobin", ""), ("range", "")]).await;
    let (rx, ry) = within(async {
        tokio::join!(
            c.join_as(
                &caller(V_JOIN),
                join_req("tie", &x, &[("range", ""), ("roundrobin", "")])
            ),
            c.join_as(
                &caller(V_JOIN),
                join_req("tie", &y, &[("roundrobin", ""), ("range", "")])
            )
        )
    })
    .await;
    assert_eq!(rx.leader.as_str(), x);
    assert_eq!(rx.protocol_name.as_deref(), Some("range"));
    assert_eq!(ry.protocol_name.as_deref(), Some("range"));
}

#[tokio::test]
async fn join_validation() {
    let f = fixture().await;
    let c = &f.coordinator;
    let too_short = within(c.join_as(
        &caller(V_JOIN),
        join_req("g", "", RANGE).with_session_timeout_ms(1),
    ))
    .await;
    assert_eq!(too_short.error_code, codes::INVALID_SESSION_TIMEOUT);
    let too_long = within(c.join_as(
        &caller(V_JOIN),
        join_req("g", "", RANGE).with_session_timeout_ms(i32::MAX),
    ))
    .await;
    assert_eq!(too_long.error_code, codes::INVALID_SESSION_TIMEOUT);
    let negative = within(c.join_as(
        &caller(V_JOIN),
        join_req("g", "", RANGE).with_session_timeout_ms(-5),
    ))
    .await;
    assert_eq!(negative.error_code, codes::INVALID_SESSION_TIMEOUT);
    let no_group = within(c.join_as(&caller(V_JOIN), join_req("", "", RANGE))).await;
    assert_eq!(no_group.error_code, codes::INVALID_GROUP_ID);
    // A member id the coordinator never handed out.
    let stranger = within(c.join_as(&caller(V_JOIN), join_req("g2", "made-up", RANGE))).await;
    assert_eq!(stranger.error_code, codes::UNKNOWN_MEMBER_ID);
    assert_eq!(stranger.generation_id, -1);
    // Errors encode at every version.
    for version in 0..=9 {
        let r = wire::join_response(version, JoinOutcome::error("m", codes::UNKNOWN_MEMBER_ID));
        let mut buf = BytesMut::new();
        r.encode(&mut buf, version).expect("encodes");
    }
}

#[tokio::test]
async fn cooperative_sticky_two_consecutive_rebalances() {
    let f = fixture().await;
    let c = &f.coordinator;
    let coop = |owned: &str| {
        vec![
            ("cooperative-sticky", owned.to_string()),
            ("range", String::new()),
        ]
    };
    let req = |member: &str, owned: &str| {
        let protocols = coop(owned);
        let refs: Vec<(&str, &str)> = protocols.iter().map(|(n, m)| (*n, m.as_str())).collect();
        join_req("g", member, &refs)
    };
    // Generation 1: a and b.
    let a = within(c.join_as(&caller(V_JOIN), req("", "")))
        .await
        .member_id
        .to_string();
    let b = within(c.join_as(&caller(V_JOIN), req("", "")))
        .await
        .member_id
        .to_string();
    let (ra, _) = within(async {
        tokio::join!(
            c.join_as(&caller(V_JOIN), req(&a, "")),
            c.join_as(&caller(V_JOIN), req(&b, ""))
        )
    })
    .await;
    assert_eq!(ra.protocol_name.as_deref(), Some("cooperative-sticky"));
    let g1 = ra.generation_id;
    let leader = ra.leader.to_string();
    sync_all(c, "g", g1, &leader, &[a.clone(), b.clone()]).await;

    // c joins: first rebalance. a and b rejoin with what they own.
    let cid = within(c.join_as(&caller(V_JOIN), req("", "")))
        .await
        .member_id
        .to_string();
    let jc = c.join_as(&caller(V_JOIN), req(&cid, ""));
    assert_eq!(heartbeat(c, "g", &a, g1), codes::REBALANCE_IN_PROGRESS);
    let (r1, r2, r3) = within(async {
        tokio::join!(
            c.join_as(&caller(V_JOIN), req(&a, "owned:0,1")),
            c.join_as(&caller(V_JOIN), req(&b, "owned:2,3")),
            jc
        )
    })
    .await;
    let g2 = r1.generation_id;
    assert_eq!(g2, g1 + 1);
    assert_eq!((r2.generation_id, r3.generation_id), (g2, g2));
    let leader_response = [&r1, &r2, &r3]
        .into_iter()
        .find(|r| !r.members.is_empty())
        .expect("leader");
    let owned: Vec<Bytes> = leader_response
        .members
        .iter()
        .filter(|m| m.member_id.as_str() == a)
        .map(|m| m.metadata.clone())
        .collect();
    assert_eq!(
        owned,
        vec![Bytes::from("owned:0,1")],
        "metadata relayed verbatim"
    );
    // The leader revokes partition 1 from a (assigns nothing new to c yet).
    let assignments = sync_all(c, "g", g2, &leader, &[a.clone(), b.clone(), cid.clone()]).await;
    assert_eq!(assignments.len(), 3);

    // Second rebalance: a gave partition 1 up and rejoins at once with new metadata.
    let ja = c.join_as(&caller(V_JOIN), req(&a, "owned:0"));
    assert_eq!(group_state(c, "g"), GroupState::PreparingRebalance);
    assert_eq!(heartbeat(c, "g", &b, g2), codes::REBALANCE_IN_PROGRESS);
    assert_eq!(heartbeat(c, "g", &cid, g2), codes::REBALANCE_IN_PROGRESS);
    let (r1, r2, r3) = within(async {
        tokio::join!(
            ja,
            c.join_as(&caller(V_JOIN), req(&b, "owned:2,3")),
            c.join_as(&caller(V_JOIN), req(&cid, ""))
        )
    })
    .await;
    let g3 = r1.generation_id;
    assert_eq!(g3, g2 + 1);
    assert_eq!((r2.generation_id, r3.generation_id), (g3, g3));
    sync_all(c, "g", g3, &leader, &[a, b, cid]).await;
    assert_eq!(group_state(c, "g"), GroupState::Stable);
}

#[tokio::test]
async fn a_follower_rejoining_unchanged_keeps_the_generation() {
    let f = fixture().await;
    let c = &f.coordinator;
    let (ids, generation, leader) = stable_group(c, "g", 2).await;
    let follower = ids.iter().find(|id| **id != leader).expect("follower");
    let r = within(c.join_as(&caller(V_JOIN), join_req("g", follower, RANGE))).await;
    assert_eq!(r.error_code, codes::NONE);
    assert_eq!(r.generation_id, generation);
    assert!(r.members.is_empty());
    assert_eq!(group_state(c, "g"), GroupState::Stable);
    // The leader rejoining starts a rebalance.
    let _parked = c.join_as(&caller(V_JOIN), join_req("g", &leader, RANGE));
    assert_eq!(group_state(c, "g"), GroupState::PreparingRebalance);
}

#[tokio::test]
async fn commit_validation() {
    let f = fixture().await;
    let c = &f.coordinator;
    // Unknown group: simple commits only.
    assert_eq!(c.validate_commit("solo", "", -1, None), Ok(()));
    assert_eq!(
        c.validate_commit("solo", "m", 3, None),
        Err(codes::ILLEGAL_GENERATION)
    );
    assert_eq!(
        c.validate_commit("solo", "m", -1, None),
        Err(codes::UNKNOWN_MEMBER_ID)
    );
    let (ids, generation, _) = stable_group(c, "g", 2).await;
    assert_eq!(c.validate_commit("g", &ids[0], generation, None), Ok(()));
    assert_eq!(
        c.validate_commit("g", &ids[0], generation + 1, None),
        Err(codes::ILLEGAL_GENERATION)
    );
    assert_eq!(
        c.validate_commit("g", "stranger", generation, None),
        Err(codes::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(
        c.validate_commit("g", "", -1, None),
        Err(codes::UNKNOWN_MEMBER_ID),
        "no simple commits while the group has members"
    );
    assert_eq!(
        c.validate_commit("g", &ids[0], generation, Some("unknown-instance")),
        Err(codes::UNKNOWN_MEMBER_ID)
    );
}

#[tokio::test]
async fn list_describe_and_delete() {
    let f = fixture().await;
    let c = &f.coordinator;
    let offset = CommittedOffset {
        offset: 5,
        leader_epoch: -1,
        metadata: String::new(),
        // Now, not 1970: offsets retention would expire it.
        commit_timestamp: crate::broker::now_ms(),
    };
    f.broker
        .commit_offsets("offsets-only", &[("t".to_string(), 0, offset)])
        .await
        .expect("commit");
    let (ids, _, _) = stable_group(c, "active", 1).await;

    let list = |version: i16, states: &[&str]| {
        c.list_as(
            &caller(version),
            ListGroupsRequest::default().with_states_filter(states.iter().map(|x| s(x)).collect()),
        )
    };
    let all = list(4, &[]);
    assert_eq!(all.error_code, 0);
    let listed: Vec<(String, String, String)> = all
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.0.to_string(),
                g.protocol_type.to_string(),
                g.group_state.to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            ("active".into(), "consumer".into(), "Stable".into()),
            ("offsets-only".into(), String::new(), "Empty".into()),
        ]
    );
    let empty_only = list(4, &["empty"]);
    assert_eq!(empty_only.groups.len(), 1);
    assert_eq!(empty_only.groups[0].group_id.0.as_str(), "offsets-only");
    // Before v4 there are no states (and no filter).
    let v3 = list(3, &[]);
    assert_eq!(v3.groups.len(), 2);
    assert!(v3.groups.iter().all(|g| g.group_state.is_empty()));

    assert_eq!(describe(c, "offsets-only").group_state.as_str(), "Empty");
    let unknown = describe(c, "nope");
    assert_eq!(unknown.error_code, 0);
    assert_eq!(unknown.group_state.as_str(), "Dead");
    assert!(unknown.members.is_empty());

    let delete = |names: &[&str]| {
        c.delete_groups(
            DeleteGroupsRequest::default()
                .with_groups_names(names.iter().map(|n| gid(n)).collect()),
        )
    };
    let results = within(delete(&["active", "nope", "offsets-only"]))
        .await
        .results;
    let codes_by_group: Vec<i16> = results.iter().map(|r| r.error_code).collect();
    assert_eq!(
        codes_by_group,
        vec![
            codes::NON_EMPTY_GROUP,
            codes::GROUP_ID_NOT_FOUND,
            codes::NONE
        ]
    );
    assert!(f.broker.group_offsets("offsets-only").is_empty());
    assert_eq!(describe(c, "offsets-only").group_state.as_str(), "Dead");

    // Once its last member leaves, the active group can be deleted too.
    let left = c.leave_as(
        &caller(0),
        LeaveGroupRequest::default()
            .with_group_id(gid("active"))
            .with_member_id(s(&ids[0])),
    );
    assert_eq!(left.error_code, codes::NONE);
    assert_eq!(group_state(c, "active"), GroupState::Empty);
    let results = within(delete(&["active"])).await.results;
    assert_eq!(results[0].error_code, codes::NONE);
    assert_eq!(group_state(c, "active"), GroupState::Dead);
    assert!(list(4, &[]).groups.is_empty());
    // A new member starts the group afresh.
    let r = within(c.join_as(&caller(3), join_req("active", "", RANGE))).await;
    assert_eq!(r.error_code, codes::NONE);
    assert_eq!(r.generation_id, 1);
}

#[tokio::test]
async fn the_initial_delay_waits_for_late_joiners() {
    let f = fixture_with(GroupConfig {
        initial_rebalance_delay: Duration::from_millis(150),
        ..config()
    })
    .await;
    let c = &f.coordinator;
    let started = Instant::now();
    let first = c.join_as(&caller(3), join_req("g", "", RANGE));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Joins within the delay: the delay is extended once more.
    let second = c.join_as(&caller(3), join_req("g", "", RANGE));
    let (r1, r2) = within(async { tokio::join!(first, second) }).await;
    assert!(
        started.elapsed() >= Duration::from_millis(280),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r1.generation_id, 1);
    assert_eq!(r2.generation_id, 1);
    assert_eq!(r1.members.len() + r2.members.len(), 2);
}

#[tokio::test]
async fn stopping_answers_parked_requests() {
    let f = fixture_with(GroupConfig {
        initial_rebalance_delay: Duration::from_secs(30),
        ..config()
    })
    .await;
    let c = &f.coordinator;
    let (stop_tx, stop_rx) = watch::channel(false);
    let reaper = c.start_reaper(stop_rx);
    let parked = c.join_as(&caller(3), join_req("g", "", RANGE));
    stop_tx.send_replace(true);
    let r = within(parked).await;
    assert_eq!(r.error_code, codes::NOT_COORDINATOR);
    within(reaper).await.expect("reaper ends");
    let later = within(c.join_as(&caller(3), join_req("g", "", RANGE))).await;
    assert_eq!(later.error_code, codes::NOT_COORDINATOR);
}

#[tokio::test]
async fn empty_groups_are_forgotten_after_the_retention() {
    let f = fixture_with(GroupConfig {
        empty_group_retention: Duration::from_millis(50),
        ..config()
    })
    .await;
    let c = &f.coordinator;
    let (_stop_tx, stop_rx) = watch::channel(false);
    let reaper = c.start_reaper(stop_rx);
    let (ids, _, _) = stable_group(c, "g", 1).await;
    c.leave_as(
        &caller(0),
        LeaveGroupRequest::default()
            .with_group_id(gid("g"))
            .with_member_id(s(&ids[0])),
    );
    assert_eq!(group_state(c, "g"), GroupState::Empty);
    within(async {
        while group_state(c, "g") != GroupState::Dead {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    reaper.abort();
}

#[tokio::test]
async fn responses_encode_at_every_advertised_version() {
    let f = fixture().await;
    let c = &f.coordinator;
    let (ids, generation, leader) = stable_group(c, "g", 2).await;
    fn encodes(r: &impl Encodable, version: i16, what: &str) {
        let mut buf = BytesMut::new();
        if let Err(e) = r.encode(&mut buf, version) {
            panic!("{what} v{version}: {e}");
        }
    }
    for version in 0..=9 {
        // A stable follower rejoining unchanged: answered at once, with every field.
        let follower = ids.iter().find(|id| **id != leader).expect("follower");
        let r = within(c.join_as(&caller(version), join_req("g", follower, RANGE))).await;
        assert_eq!(r.error_code, codes::NONE, "v{version}");
        encodes(&r, version, "JoinGroup");
        let full = wire::join_response(
            version,
            JoinOutcome {
                error: 0,
                generation: 1,
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                leader: "l".into(),
                member_id: "l".into(),
                skip_assignment: version >= 9,
                members: vec![member::JoinedMember {
                    member_id: "l".into(),
                    instance_id: Some("i".into()),
                    metadata: Bytes::from_static(b"m"),
                }],
            },
        );
        encodes(&full, version, "JoinGroup (leader)");
    }
    for version in 0..=5 {
        let r = within(c.sync_as(&caller(version), sync_req("g", &ids[0], generation, &[]))).await;
        assert_eq!(r.error_code, codes::NONE, "v{version}");
        encodes(&r, version, "SyncGroup");
        let d = c.describe_as(
            &caller(version),
            DescribeGroupsRequest::default()
                .with_groups(vec![gid("g"), gid("nope")])
                .with_include_authorized_operations(true),
        );
        encodes(&d, version, "DescribeGroups");
        let leave = c.leave_as(
            &caller(version),
            LeaveGroupRequest::default()
                .with_group_id(gid("other"))
                .with_member_id(if version <= 2 {
                    s("x")
                } else {
                    StrBytes::default()
                })
                .with_members(if version >= 3 {
                    vec![MemberIdentity::default().with_member_id(s("x"))]
                } else {
                    Vec::new()
                }),
        );
        encodes(&leave, version, "LeaveGroup");
    }
    for version in 0..=4 {
        let hb = c.heartbeat_as(
            &caller(version),
            HeartbeatRequest::default()
                .with_group_id(gid("g"))
                .with_member_id(s(&ids[0]))
                .with_generation_id(generation),
        );
        encodes(&hb, version, "Heartbeat");
        encodes(
            &c.list_as(&caller(version), ListGroupsRequest::default()),
            version,
            "ListGroups",
        );
    }
    for version in 0..=2 {
        let d = within(
            c.delete_groups(DeleteGroupsRequest::default().with_groups_names(vec![gid("nope")])),
        )
        .await;
        encodes(&d, version, "DeleteGroups");
    }
}

#[tokio::test]
async fn committed_offsets_of_groups_without_members_expire_after_the_retention() {
    let f = fixture_with(config()).await;
    let c = &f.coordinator;
    let committed_at = crate::broker::now_ms();
    let hour = 3_600_000;
    let commit = |group: &'static str| {
        let broker = f.broker.clone();
        async move {
            let offset = crate::group_offsets::CommittedOffset {
                offset: 7,
                leader_epoch: -1,
                metadata: String::new(),
                commit_timestamp: committed_at,
            };
            broker
                .commit_offsets(group, &[("t".to_string(), 0, offset)])
                .await
                .expect("commit");
        }
    };
    commit("standalone").await;
    commit("embedded").await;
    let hold = f.broker.hold_group("embedded");
    let (ids, _, _) = stable_group(c, "g", 1).await;
    commit("g").await;
    let groups = || {
        let mut groups = f.broker.groups_with_offsets();
        groups.sort();
        groups
    };
    // Within the retention nothing goes; past it, only the group without members.
    c.inner
        .expire_offsets(Instant::now(), committed_at + hour / 2)
        .await;
    assert_eq!(groups(), ["embedded", "g", "standalone"]);
    c.inner
        .expire_offsets(Instant::now(), committed_at + 2 * hour)
        .await;
    // A group held by a consumer in this process counts as having members.
    assert_eq!(groups(), ["embedded", "g"]);
    drop(hold);
    c.inner
        .expire_offsets(Instant::now(), committed_at + 2 * hour)
        .await;
    assert_eq!(groups(), ["g"]);
    // Once its member leaves, the group's offsets last the retention from then.
    c.leave_as(
        &caller(0),
        LeaveGroupRequest::default()
            .with_group_id(gid("g"))
            .with_member_id(s(&ids[0])),
    );
    assert_eq!(group_state(c, "g"), GroupState::Empty);
    let left = Instant::now();
    c.inner
        .expire_offsets(left + Duration::from_secs(1800), committed_at + 3 * hour)
        .await;
    assert_eq!(groups(), ["g"]);
    c.inner
        .expire_offsets(left + Duration::from_secs(7200), committed_at + 5 * hour)
        .await;
    assert!(groups().is_empty(), "{:?}", groups());
}
