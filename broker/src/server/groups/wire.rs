//! Between the wire and the state machine: requests become validated parameters, and
//! outcomes become responses carrying exactly the fields of the negotiated version
//! (kafka-protocol refuses to encode a field the version does not have).

use bytes::Bytes;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    GroupId, JoinGroupRequest, JoinGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Duration;

use super::GroupConfig;
use super::codes;
use super::group::{Group, GroupState, JoinParams, SyncParams};
use super::member::{JoinOutcome, Protocol, SyncOutcome};
use crate::server::dispatch::RequestContext;

/// Who sent a request, as far as groups care.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The request's API version.
    pub version: i16,
    pub client_id: String,
    /// `/` and the client's IP, as Kafka reports a member's host.
    pub client_host: String,
}

impl Caller {
    pub fn of(ctx: &RequestContext) -> Self {
        Self {
            version: ctx.version,
            client_id: ctx
                .header
                .client_id
                .as_deref()
                .unwrap_or_default()
                .to_string(),
            client_host: format!("/{}", ctx.peer.ip()),
        }
    }
}

fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Validates a JoinGroup request (session timeout in range) and normalises it.
pub(super) fn join_params(
    caller: &Caller,
    r: JoinGroupRequest,
    config: &GroupConfig,
) -> Result<JoinParams, i16> {
    let session_ms = i64::from(r.session_timeout_ms);
    let min = config.min_session_timeout.as_millis();
    let max = config.max_session_timeout.as_millis();
    if session_ms < 0 || (session_ms as u128) < min || (session_ms as u128) > max {
        return Err(codes::INVALID_SESSION_TIMEOUT);
    }
    let session_timeout = Duration::from_millis(session_ms as u64);
    // JoinGroup v0 has no rebalance timeout: the session timeout stands in for it.
    let rebalance_timeout = if caller.version == 0 {
        session_timeout
    } else {
        Duration::from_millis(u64::try_from(r.rebalance_timeout_ms).unwrap_or(0))
    };
    let mut protocols: Vec<Protocol> = Vec::with_capacity(r.protocols.len());
    for p in r.protocols {
        // A name listed twice keeps its first metadata.
        if !protocols.iter().any(|known| *known.name == *p.name) {
            protocols.push(Protocol {
                name: p.name.to_string(),
                metadata: p.metadata,
            });
        }
    }
    Ok(JoinParams {
        member_id: r.member_id.to_string(),
        instance_id: r.group_instance_id.map(|i| i.to_string()),
        client_id: caller.client_id.clone(),
        client_host: caller.client_host.clone(),
        session_timeout,
        rebalance_timeout,
        protocol_type: r.protocol_type.to_string(),
        protocols,
        require_known_member_id: caller.version >= 4,
        supports_skip_assignment: caller.version >= 9,
        reason: r.reason.map(|s| s.to_string()),
    })
}

pub(super) fn join_response(version: i16, o: JoinOutcome) -> JoinGroupResponse {
    let members = o
        .members
        .into_iter()
        .map(|m| {
            let member = JoinGroupResponseMember::default()
                .with_member_id(str_bytes(m.member_id))
                .with_metadata(m.metadata);
            if version >= 5 {
                member.with_group_instance_id(m.instance_id.map(str_bytes))
            } else {
                member
            }
        })
        .collect();
    let mut response = JoinGroupResponse::default()
        .with_error_code(o.error)
        .with_generation_id(o.generation)
        .with_leader(str_bytes(o.leader))
        .with_member_id(str_bytes(o.member_id))
        .with_members(members);
    if version >= 7 {
        response = response
            .with_protocol_type(o.protocol_type.map(str_bytes))
            .with_protocol_name(o.protocol_name.map(str_bytes));
    } else {
        // Not nullable before v7.
        response =
            response.with_protocol_name(Some(str_bytes(o.protocol_name.unwrap_or_default())));
    }
    if version >= 9 {
        response = response.with_skip_assignment(o.skip_assignment);
    }
    response
}

pub(super) fn sync_params(r: SyncGroupRequest) -> SyncParams {
    SyncParams {
        member_id: r.member_id.to_string(),
        instance_id: r.group_instance_id.map(|i| i.to_string()),
        generation: r.generation_id,
        protocol_type: r.protocol_type.map(|s| s.to_string()),
        protocol_name: r.protocol_name.map(|s| s.to_string()),
        assignments: r
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    }
}

pub(super) fn sync_response(version: i16, o: SyncOutcome) -> SyncGroupResponse {
    let response = SyncGroupResponse::default()
        .with_error_code(o.error)
        .with_assignment(o.assignment);
    if version >= 5 {
        response
            .with_protocol_type(o.protocol_type.map(str_bytes))
            .with_protocol_name(o.protocol_name.map(str_bytes))
    } else {
        response
    }
}

/// READ, DELETE and DESCRIBE, as Kafka's `AclOperation` bit positions: everything a group
/// supports, since this broker has no ACLs.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// A group for DescribeGroups. As Kafka: member metadata and assignments only once the
/// group is stable; `group` is `None` for a group that only has committed offsets (Empty)
/// or none at all (Dead, with no error).
pub(super) fn describe_group(
    version: i16,
    id: GroupId,
    group: Option<&Group>,
    has_offsets: bool,
    include_operations: bool,
) -> DescribedGroup {
    let mut described = DescribedGroup::default().with_group_id(id);
    if version >= 3 && include_operations {
        described = described.with_authorized_operations(GROUP_OPERATIONS);
    }
    let Some(group) = group else {
        let state = if has_offsets {
            GroupState::Empty
        } else {
            GroupState::Dead
        };
        return described.with_group_state(StrBytes::from_static_str(state.name()));
    };
    let stable = group.state() == GroupState::Stable;
    let protocol = group.protocol_name().unwrap_or_default();
    let members = group
        .members()
        .map(|m| {
            let (metadata, assignment) = if stable {
                (m.metadata(protocol), m.assignment.clone())
            } else {
                (Bytes::new(), Bytes::new())
            };
            let member = DescribedGroupMember::default()
                .with_member_id(str_bytes(m.id.clone()))
                .with_client_id(str_bytes(m.client_id.clone()))
                .with_client_host(str_bytes(m.client_host.clone()))
                .with_member_metadata(metadata)
                .with_member_assignment(assignment);
            if version >= 4 {
                member.with_group_instance_id(m.instance_id.clone().map(str_bytes))
            } else {
                member
            }
        })
        .collect();
    described
        .with_group_state(StrBytes::from_static_str(group.state().name()))
        .with_protocol_type(str_bytes(group.protocol_type().unwrap_or_default()))
        .with_protocol_data(str_bytes(if stable { protocol } else { "" }))
        .with_members(members)
}

/// A group for ListGroups (its state only from v4).
pub(super) fn listed_group(
    version: i16,
    id: String,
    protocol_type: String,
    state: GroupState,
) -> ListedGroup {
    let listed = ListedGroup::default()
        .with_group_id(GroupId(str_bytes(id)))
        .with_protocol_type(str_bytes(protocol_type));
    if version >= 4 {
        listed.with_group_state(StrBytes::from_static_str(state.name()))
    } else {
        listed
    }
}
