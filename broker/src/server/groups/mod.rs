//! Consumer group coordination with Kafka's classic group protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups), as Kafka's
//! `GroupCoordinator` does it. This broker coordinates every group.
//!
//! - [`group`]: one group's state machine (Empty, PreparingRebalance, CompletingRebalance,
//!   Stable, Dead), synchronous and time-injected, so it is tested without sockets.
//! - [`member`]: a member, and the JoinGroup/SyncGroup request it has parked.
//! - [`wire`]: requests to parameters and outcomes to version-exact responses.
//! - this module: the [`GroupCoordinator`] the server calls, the registry of groups (one
//!   mutex per group, never held across an `.await`), the join-phase timers and the reaper
//!   that expires dead members.
//!
//! Assignors (range, round-robin, cooperative-sticky, ...) run in the clients: the
//! coordinator picks the protocol (Kafka's vote) and relays the metadata and assignment
//! bytes without reading them.
//!
//! Group membership is kept in memory only. Kafka also writes it to `__consumer_offsets`;
//! here only committed offsets are durable (through [`Broker::commit_offsets`]). After a
//! restart every group starts empty: members get UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION,
//! rejoin, and resume from their committed offsets. Groups that only have committed offsets
//! are listed and described as Empty.
//!
//! Not implemented: the consumer protocol of KIP-848 (ConsumerGroupHeartbeat), a maximum
//! group size, and the five-minute expiry of a new member that never completes its join.

mod group;
mod member;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use self::group::{Group, GroupState, Reply};
use self::member::{JoinOutcome, SyncOutcome};
pub(crate) use self::wire::Caller;
use crate::broker::Broker;
use crate::server::apis::error_code;
use crate::server::dispatch::RequestContext;

pub(crate) mod codes {
    //! The Kafka error codes the coordinator answers with.

    use kafka_protocol::error::ResponseError;

    pub const NONE: i16 = 0;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = ResponseError::CoordinatorNotAvailable.code();
    pub const NOT_COORDINATOR: i16 = ResponseError::NotCoordinator.code();
    pub const ILLEGAL_GENERATION: i16 = ResponseError::IllegalGeneration.code();
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = ResponseError::InconsistentGroupProtocol.code();
    pub const INVALID_GROUP_ID: i16 = ResponseError::InvalidGroupId.code();
    pub const UNKNOWN_MEMBER_ID: i16 = ResponseError::UnknownMemberId.code();
    pub const INVALID_SESSION_TIMEOUT: i16 = ResponseError::InvalidSessionTimeout.code();
    pub const REBALANCE_IN_PROGRESS: i16 = ResponseError::RebalanceInProgress.code();
    pub const NON_EMPTY_GROUP: i16 = ResponseError::NonEmptyGroup.code();
    pub const GROUP_ID_NOT_FOUND: i16 = ResponseError::GroupIdNotFound.code();
    pub const MEMBER_ID_REQUIRED: i16 = ResponseError::MemberIdRequired.code();
    pub const FENCED_INSTANCE_ID: i16 = ResponseError::FencedInstanceId.code();
}

/// Group timing.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Smallest session timeout a member may ask for (Kafka's
    /// `group.min.session.timeout.ms`). The reaper checks sessions every tenth of this
    /// (between 10 ms and 1 s).
    pub min_session_timeout: Duration,
    /// Largest session timeout a member may ask for (`group.max.session.timeout.ms`).
    pub max_session_timeout: Duration,
    /// How long the first rebalance of an empty group waits for more members, extended by
    /// this much (up to the rebalance timeout) while new members keep arriving
    /// (`group.initial.rebalance.delay.ms`).
    pub initial_rebalance_delay: Duration,
    /// How long a group with no members is kept in memory (its committed offsets stay
    /// regardless; it then lists as Empty without a protocol type).
    pub empty_group_retention: Duration,
    /// Kafka's `offsets.retention.minutes`: the committed offsets of a group without
    /// members are deleted once it has had no commit, and no member, for this long.
    pub offsets_retention: Duration,
}

/// How often the reaper looks for expired committed offsets.
const OFFSETS_EXPIRY_CHECK: Duration = Duration::from_secs(60);

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(1800),
            initial_rebalance_delay: Duration::from_secs(3),
            empty_group_retention: Duration::from_secs(600),
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

type Cell = Arc<Mutex<Group>>;

/// The group coordinator: every group of this broker.
pub(crate) struct GroupCoordinator {
    inner: Arc<Inner>,
}

struct Inner {
    broker: Broker,
    config: GroupConfig,
    groups: Mutex<HashMap<String, Cell>>,
    /// Set when the server stops: parked and new requests get NOT_COORDINATOR.
    resigned: AtomicBool,
}

/// Join-phase timers are numbered so a timer can tell whether it is still the armed one.
static TIMER_SEQ: AtomicU64 = AtomicU64::new(0);

impl GroupCoordinator {
    pub fn new(broker: Broker, config: GroupConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                broker,
                config,
                groups: Mutex::new(HashMap::new()),
                resigned: AtomicBool::new(false),
            }),
        }
    }

    /// Starts the task that expires members whose session timed out (and so lets the others
    /// take over their partitions), drops MEMBER_ID_REQUIRED ids never used, removes members
    /// that never sent SyncGroup, and forgets groups empty for too long. When `stop` turns
    /// true it answers every parked JoinGroup/SyncGroup with NOT_COORDINATOR and ends.
    pub fn start_reaper(&self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let inner = Arc::clone(&self.inner);
        let every = (inner.config.min_session_timeout / 10)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut offsets_tick = tokio::time::interval(OFFSETS_EXPIRY_CHECK);
            offsets_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                if *stop.borrow_and_update() {
                    break;
                }
                tokio::select! {
                    _ = tick.tick() => inner.reap(Instant::now()),
                    _ = offsets_tick.tick() => {
                        inner.expire_offsets(Instant::now(), crate::broker::now_ms()).await;
                    }
                    changed = stop.changed() => if changed.is_err() { break },
                }
            }
            inner.resign();
        })
    }

    /// Whether an OffsetCommit with this membership may commit. Generation -1 with no member
    /// id is a "simple" commit, allowed while the group has no active members.
    pub fn validate_commit(
        &self,
        group: &str,
        member_id: &str,
        generation: i32,
        group_instance_id: Option<&str>,
    ) -> Result<(), i16> {
        let now = Instant::now();
        let checked = self.inner.with_group(group, false, |g| {
            g.validate_commit(member_id, generation, group_instance_id, now)
        });
        match checked {
            Some(result) => result,
            // Kafka: an unknown group takes simple commits; a generation means an old member.
            None if generation >= 0 => Err(codes::ILLEGAL_GENERATION),
            None if member_id.is_empty() && group_instance_id.is_none() => Ok(()),
            None => Err(codes::UNKNOWN_MEMBER_ID),
        }
    }

    /// Whether a TxnOffsetCommit with this membership may commit (KIP-447: a zombie of an
    /// older generation is refused). Requests without a member (before version 3, or
    /// generation -1 with no member id) are not checked, as in Kafka.
    pub fn validate_txn_commit(
        &self,
        group: &str,
        member_id: &str,
        generation: i32,
        group_instance_id: Option<&str>,
    ) -> Result<(), i16> {
        if generation < 0 && member_id.is_empty() && group_instance_id.is_none() {
            return Ok(());
        }
        self.inner
            .with_group(group, false, |g| {
                g.validate_txn_commit(member_id, generation, group_instance_id)
            })
            .unwrap_or(Err(codes::UNKNOWN_MEMBER_ID))
    }

    /// JoinGroup. The join is registered before this returns (so requests on a connection
    /// take effect in order); the returned future waits for the rebalance to complete.
    pub fn join(
        &self,
        ctx: &RequestContext,
        request: JoinGroupRequest,
    ) -> impl Future<Output = JoinGroupResponse> + Send + use<> {
        self.join_as(&Caller::of(ctx), request)
    }

    pub(crate) fn join_as(
        &self,
        caller: &Caller,
        request: JoinGroupRequest,
    ) -> impl Future<Output = JoinGroupResponse> + Send + use<> {
        let version = caller.version;
        let member_id = request.member_id.to_string();
        let reply = self.start_join(caller, request);
        async move {
            let outcome = match reply {
                Reply::Now(outcome) => outcome,
                Reply::Wait(rx) => rx.await.unwrap_or_else(|_| {
                    JoinOutcome::error(member_id, codes::COORDINATOR_NOT_AVAILABLE)
                }),
            };
            wire::join_response(version, outcome)
        }
    }

    fn start_join(&self, caller: &Caller, request: JoinGroupRequest) -> Reply<JoinOutcome> {
        let group_id = request.group_id.0.to_string();
        let member_id = request.member_id.to_string();
        let error = |code| Reply::Now(JoinOutcome::error(member_id.clone(), code));
        if group_id.is_empty() {
            return error(codes::INVALID_GROUP_ID);
        }
        let params = match wire::join_params(caller, request, &self.inner.config) {
            Ok(params) => params,
            Err(code) => return error(code),
        };
        // Only a member without an id creates the group; a known id of an unknown group is
        // a member of a group that is gone (e.g. after a restart).
        let create = params.member_id.is_empty();
        let now = Instant::now();
        let resigned = &self.inner.resigned;
        // The resignation flag is read under the group lock, so a join either sees it or is
        // answered by the resignation.
        let joined = self.inner.with_group(&group_id, create, |g| {
            if resigned.load(Ordering::Acquire) {
                Reply::Now(JoinOutcome::error(params.member_id, codes::NOT_COORDINATOR))
            } else {
                g.join(params, now)
            }
        });
        match joined {
            Some(reply) => reply,
            None if create => error(codes::COORDINATOR_NOT_AVAILABLE),
            None => error(codes::UNKNOWN_MEMBER_ID),
        }
    }

    /// SyncGroup. Registered before this returns; a follower's future waits for the
    /// leader's assignment.
    pub fn sync(
        &self,
        ctx: &RequestContext,
        request: SyncGroupRequest,
    ) -> impl Future<Output = SyncGroupResponse> + Send + use<> {
        self.sync_as(&Caller::of(ctx), request)
    }

    pub(crate) fn sync_as(
        &self,
        caller: &Caller,
        request: SyncGroupRequest,
    ) -> impl Future<Output = SyncGroupResponse> + Send + use<> {
        let version = caller.version;
        let reply = self.start_sync(request);
        async move {
            let outcome = match reply {
                Reply::Now(outcome) => outcome,
                Reply::Wait(rx) => rx
                    .await
                    .unwrap_or_else(|_| SyncOutcome::error(codes::COORDINATOR_NOT_AVAILABLE)),
            };
            wire::sync_response(version, outcome)
        }
    }

    fn start_sync(&self, request: SyncGroupRequest) -> Reply<SyncOutcome> {
        let group_id = request.group_id.0.to_string();
        if group_id.is_empty() {
            return Reply::Now(SyncOutcome::error(codes::INVALID_GROUP_ID));
        }
        let params = wire::sync_params(request);
        let now = Instant::now();
        let resigned = &self.inner.resigned;
        self.inner
            .with_group(&group_id, false, |g| {
                if resigned.load(Ordering::Acquire) {
                    Reply::Now(SyncOutcome::error(codes::NOT_COORDINATOR))
                } else {
                    g.sync(params, now)
                }
            })
            .unwrap_or(Reply::Now(SyncOutcome::error(codes::UNKNOWN_MEMBER_ID)))
    }

    /// Heartbeat: keeps the session alive; REBALANCE_IN_PROGRESS tells the member to rejoin.
    pub fn heartbeat(&self, ctx: &RequestContext, request: HeartbeatRequest) -> HeartbeatResponse {
        self.heartbeat_as(&Caller::of(ctx), request)
    }

    pub(crate) fn heartbeat_as(
        &self,
        _caller: &Caller,
        request: HeartbeatRequest,
    ) -> HeartbeatResponse {
        let group_id = request.group_id.0.to_string();
        let code = if group_id.is_empty() {
            codes::INVALID_GROUP_ID
        } else {
            let instance = request.group_instance_id.as_deref();
            let now = Instant::now();
            self.inner
                .with_group(&group_id, false, |g| {
                    g.heartbeat(&request.member_id, instance, request.generation_id, now)
                })
                .unwrap_or(codes::UNKNOWN_MEMBER_ID)
        };
        HeartbeatResponse::default().with_error_code(code)
    }

    /// LeaveGroup: one member (v0-2) or a batch by member or instance id (v3+), each with its
    /// own error; the rest of the group rebalances.
    pub fn leave(&self, ctx: &RequestContext, request: LeaveGroupRequest) -> LeaveGroupResponse {
        self.leave_as(&Caller::of(ctx), request)
    }

    pub(crate) fn leave_as(
        &self,
        caller: &Caller,
        request: LeaveGroupRequest,
    ) -> LeaveGroupResponse {
        let group_id = request.group_id.0.to_string();
        let response = LeaveGroupResponse::default();
        if group_id.is_empty() {
            return response.with_error_code(codes::INVALID_GROUP_ID);
        }
        let leaving: Vec<(StrBytes, Option<StrBytes>)> = if caller.version <= 2 {
            vec![(request.member_id, None)]
        } else {
            request
                .members
                .into_iter()
                .map(|m| (m.member_id, m.group_instance_id))
                .collect()
        };
        let now = Instant::now();
        let results = self
            .inner
            .with_group(&group_id, false, |g| {
                leaving
                    .iter()
                    .map(|(member, instance)| g.leave(member, instance.as_deref(), now))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_else(|| vec![codes::UNKNOWN_MEMBER_ID; leaving.len()]);
        if caller.version <= 2 {
            return response.with_error_code(results.first().copied().unwrap_or_default());
        }
        let members = leaving
            .into_iter()
            .zip(results)
            .map(|((member, instance), code)| {
                MemberResponse::default()
                    .with_member_id(member)
                    .with_group_instance_id(instance)
                    .with_error_code(code)
            })
            .collect();
        response.with_members(members)
    }

    /// DescribeGroups. An unknown group is reported as Dead with no error, as Kafka does.
    pub fn describe(
        &self,
        ctx: &RequestContext,
        request: DescribeGroupsRequest,
    ) -> DescribeGroupsResponse {
        self.describe_as(&Caller::of(ctx), request)
    }

    pub(crate) fn describe_as(
        &self,
        caller: &Caller,
        request: DescribeGroupsRequest,
    ) -> DescribeGroupsResponse {
        let include_operations = request.include_authorized_operations;
        let groups = request
            .groups
            .into_iter()
            .map(|id| {
                if let Some(cell) = self.inner.lookup(&id.0) {
                    let g = cell.lock();
                    if g.state() != GroupState::Dead {
                        return wire::describe_group(
                            caller.version,
                            id,
                            Some(&g),
                            false,
                            include_operations,
                        );
                    }
                }
                let has_offsets = !self.inner.broker.group_offsets(&id.0).is_empty();
                wire::describe_group(caller.version, id, None, has_offsets, include_operations)
            })
            .collect();
        DescribeGroupsResponse::default().with_groups(groups)
    }

    /// ListGroups: every group, including those that only have committed offsets (Empty);
    /// v4 filters by state (case-insensitively).
    pub fn list(&self, ctx: &RequestContext, request: ListGroupsRequest) -> ListGroupsResponse {
        self.list_as(&Caller::of(ctx), request)
    }

    pub(crate) fn list_as(
        &self,
        caller: &Caller,
        request: ListGroupsRequest,
    ) -> ListGroupsResponse {
        let mut all: BTreeMap<String, (String, GroupState)> = self
            .inner
            .broker
            .groups_with_offsets()
            .into_iter()
            .map(|g| (g, (String::new(), GroupState::Empty)))
            .collect();
        for (id, cell) in self.inner.snapshot() {
            let g = cell.lock();
            if g.state() != GroupState::Dead {
                let protocol_type = g.protocol_type().unwrap_or_default().to_string();
                all.insert(id, (protocol_type, g.state()));
            }
        }
        let filter = if caller.version >= 4 {
            request.states_filter
        } else {
            Vec::new()
        };
        let groups = all
            .into_iter()
            .filter(|(_, (_, state))| {
                filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(state.name()))
            })
            .map(|(id, (protocol_type, state))| {
                wire::listed_group(caller.version, id, protocol_type, state)
            })
            .collect();
        ListGroupsResponse::default().with_groups(groups)
    }

    /// DeleteGroups: only groups with no members (else NON_EMPTY_GROUP); their committed
    /// offsets are deleted. GROUP_ID_NOT_FOUND for a group that has neither.
    pub async fn delete(
        &self,
        _ctx: &RequestContext,
        request: DeleteGroupsRequest,
    ) -> DeleteGroupsResponse {
        self.delete_groups(request).await
    }

    pub(crate) async fn delete_groups(&self, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
        let mut results = Vec::with_capacity(request.groups_names.len());
        for id in request.groups_names {
            let code = self.inner.delete_group(&id.0).await;
            results.push(
                DeletableGroupResult::default()
                    .with_group_id(id)
                    .with_error_code(code),
            );
        }
        DeleteGroupsResponse::default().with_results(results)
    }
}

impl Inner {
    fn lookup(&self, id: &str) -> Option<Cell> {
        self.groups.lock().get(id).cloned()
    }

    fn snapshot(&self) -> Vec<(String, Cell)> {
        self.groups
            .lock()
            .iter()
            .map(|(id, cell)| (id.clone(), Arc::clone(cell)))
            .collect()
    }

    fn get_or_create(&self, id: &str) -> Cell {
        let mut groups = self.groups.lock();
        Arc::clone(groups.entry(id.to_string()).or_insert_with(|| {
            Arc::new(Mutex::new(Group::new(
                id.to_string(),
                self.config.initial_rebalance_delay,
                Instant::now(),
            )))
        }))
    }

    /// Runs `f` on live group `id` (created first if `create`) under its lock, then arms the
    /// join-phase timer it asked for. A group found Dead was removed meanwhile: it is looked
    /// up again. `None` if there is no such group.
    fn with_group<R>(&self, id: &str, create: bool, f: impl FnOnce(&mut Group) -> R) -> Option<R> {
        for _ in 0..3 {
            let cell = if create {
                self.get_or_create(id)
            } else {
                self.lookup(id)?
            };
            let mut g = cell.lock();
            if g.state() == GroupState::Dead {
                continue;
            }
            let result = f(&mut g);
            arm_timer(&cell, &mut g);
            return Some(result);
        }
        None
    }

    /// Deletes the committed offsets of every group that has no members and has had no
    /// commit for `offsets_retention`, counted from when it became empty if that is later
    /// (Kafka's expiry since 2.1). A group with members keeps its offsets, however old.
    async fn expire_offsets(&self, now: Instant, now_ms: i64) {
        let retention =
            i64::try_from(self.config.offsets_retention.as_millis()).unwrap_or(i64::MAX);
        for group in self.broker.groups_with_offsets() {
            if self.broker.group_is_held(&group) {
                continue; // in use by a consumer inside this process
            }
            let cell = self.groups.lock().get(&group).cloned();
            let empty_since_ms = match cell {
                Some(cell) => {
                    let g = cell.lock();
                    if g.has_members() {
                        continue;
                    }
                    g.empty_for(now)
                        .map_or(i64::MIN, |empty| now_ms - empty.as_millis() as i64)
                }
                None => i64::MIN,
            };
            let last_commit = self
                .broker
                .group_offsets(&group)
                .iter()
                .map(|(_, _, o)| o.commit_timestamp)
                .max()
                .unwrap_or(i64::MIN);
            if now_ms.saturating_sub(last_commit.max(empty_since_ms)) < retention {
                continue;
            }
            match self.broker.delete_group_offsets(&group).await {
                Ok(()) => tracing::info!(%group, "committed offsets expired (offsets.retention)"),
                Err(e) => tracing::warn!(%group, error = %e, "expiring committed offsets failed"),
            }
        }
    }

    /// One reaper pass.
    fn reap(&self, now: Instant) {
        let retention = self.config.empty_group_retention;
        for (id, cell) in self.snapshot() {
            let expired_empty = {
                let mut g = cell.lock();
                g.expire(now);
                arm_timer(&cell, &mut g);
                g.empty_for(now).is_some_and(|d| d >= retention)
            };
            if expired_empty {
                self.remove_if(&id, &cell, |g| {
                    g.empty_for(now).is_some_and(|d| d >= retention)
                });
            }
        }
    }

    /// Removes group `id` (if `cell` is still it and `condition` holds), marking it Dead.
    /// Lock order: the registry, then the group.
    fn remove_if(&self, id: &str, cell: &Cell, condition: impl FnOnce(&Group) -> bool) -> bool {
        let mut groups = self.groups.lock();
        if !groups.get(id).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            return false;
        }
        let mut g = cell.lock();
        if !condition(&g) {
            return false;
        }
        g.kill(codes::COORDINATOR_NOT_AVAILABLE);
        groups.remove(id);
        true
    }

    async fn delete_group(&self, id: &str) -> i16 {
        let removed = match self.lookup(id) {
            Some(cell) => {
                let mut verdict = codes::NONE;
                let removed = self.remove_if(id, &cell, |g| match g.state() {
                    GroupState::Empty => true,
                    _ => {
                        verdict = codes::NON_EMPTY_GROUP;
                        false
                    }
                });
                if verdict != codes::NONE {
                    return verdict;
                }
                removed
            }
            None => false,
        };
        if !removed && self.broker.group_offsets(id).is_empty() {
            return codes::GROUP_ID_NOT_FOUND;
        }
        match self.broker.delete_group_offsets(id).await {
            Ok(()) => {
                tracing::info!(group = %id, "group deleted");
                codes::NONE
            }
            Err(e) => {
                tracing::error!(group = %id, error = %e, "cannot delete the group's offsets");
                error_code(&e)
            }
        }
    }

    /// The server is stopping: answer every parked request and refuse new ones.
    fn resign(&self) {
        self.resigned.store(true, Ordering::Release);
        for (_, cell) in self.snapshot() {
            cell.lock().fail_all_waiters(codes::NOT_COORDINATOR);
        }
    }
}

/// Arms the join-phase timer `g` asked for (replacing any armed one). The timer task calls
/// back into the group when it fires, and arms the next timer if that asks for one.
fn arm_timer(cell: &Cell, g: &mut Group) {
    let Some((epoch, at)) = g.take_timer_request() else {
        return;
    };
    if let Some((_, old)) = g.timer.take() {
        old.abort();
    }
    let seq = TIMER_SEQ.fetch_add(1, Ordering::Relaxed);
    let cell = Arc::clone(cell);
    let task = tokio::spawn(async move {
        tokio::time::sleep_until(at).await;
        let mut g = cell.lock();
        if g.timer.as_ref().is_some_and(|(armed, _)| *armed == seq) {
            g.timer = None;
        }
        g.on_join_deadline(epoch, Instant::now());
        arm_timer(&cell, &mut g);
    });
    g.timer = Some((seq, task.abort_handle()));
}
