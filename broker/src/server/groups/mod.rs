//! Consumer group coordination (classic protocol). PLACEHOLDER being replaced in this change:
//! every call answers COORDINATOR_NOT_AVAILABLE.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::*;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::Broker;
use crate::server::dispatch::RequestContext;

/// Group timing.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Smallest session timeout a member may ask for.
    pub min_session_timeout: Duration,
    /// Largest session timeout a member may ask for.
    pub max_session_timeout: Duration,
    /// Delay before the first rebalance of a new group completes.
    pub initial_rebalance_delay: Duration,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(1800),
            initial_rebalance_delay: Duration::from_secs(3),
        }
    }
}

/// The group coordinator.
pub(crate) struct GroupCoordinator {
    _broker: Broker,
    _config: GroupConfig,
}

const NA: i16 = ResponseError::CoordinatorNotAvailable.code();

impl GroupCoordinator {
    pub fn new(broker: Broker, config: GroupConfig) -> Self {
        Self { _broker: broker, _config: config }
    }
    pub fn start_reaper(&self, _stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async {})
    }
    pub fn validate_commit(&self, _group: &str, member: &str, generation: i32, _instance: Option<&str>) -> Result<(), i16> {
        if member.is_empty() && generation < 0 { Ok(()) } else { Err(NA) }
    }
    pub async fn join(&self, _ctx: &RequestContext, _r: JoinGroupRequest) -> JoinGroupResponse {
        JoinGroupResponse::default().with_error_code(NA)
    }
    pub async fn sync(&self, _ctx: &RequestContext, _r: SyncGroupRequest) -> SyncGroupResponse {
        SyncGroupResponse::default().with_error_code(NA)
    }
    pub fn heartbeat(&self, _ctx: &RequestContext, _r: HeartbeatRequest) -> HeartbeatResponse {
        HeartbeatResponse::default().with_error_code(NA)
    }
    pub fn leave(&self, _ctx: &RequestContext, _r: LeaveGroupRequest) -> LeaveGroupResponse {
        LeaveGroupResponse::default().with_error_code(NA)
    }
    pub fn describe(&self, _ctx: &RequestContext, _r: DescribeGroupsRequest) -> DescribeGroupsResponse {
        DescribeGroupsResponse::default()
    }
    pub fn list(&self, _ctx: &RequestContext, _r: ListGroupsRequest) -> ListGroupsResponse {
        ListGroupsResponse::default().with_error_code(NA)
    }
    pub async fn delete(&self, _ctx: &RequestContext, _r: DeleteGroupsRequest) -> DeleteGroupsResponse {
        DeleteGroupsResponse::default()
    }
}
