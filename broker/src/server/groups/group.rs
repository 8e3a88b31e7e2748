//! One group's state machine, following Kafka's classic `GroupCoordinator` /
//! `GroupMetadata`:
//!
//! ```text
//!            join                 all rejoined / timeout         leader's SyncGroup
//!   Empty ----------> PreparingRebalance ------------> CompletingRebalance ------> Stable
//!     ^                  ^    |  (no members left)           |                      |
//!     |                  |    +--------> Empty               | join, leave, expiry  |
//!     |                  +-------------------------------------+-----------------------+
//!   Dead: removed from the coordinator (deleted, or empty for too long); never left.
//! ```
//!
//! Everything here is synchronous and runs under the group's mutex: a JoinGroup or SyncGroup
//! that has to wait parks a `oneshot` sender on its member ([`Reply::Wait`]) and the handler
//! awaits the receiver after the lock is released. Time comes in as an argument, and the
//! only timer a group needs (the end of the join phase) is asked for through
//! [`Group::take_timer_request`]; the coordinator arms it and calls
//! [`Group::on_join_deadline`]. Session expiry and the sync deadline are checked by
//! [`Group::expire`], which the coordinator's reaper calls periodically.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::{Duration, Instant};
use uuid::Uuid;

use super::codes;
use super::member::{JoinOutcome, JoinedMember, Member, Protocol, SyncOutcome};

/// Kafka's group states, named as DescribeGroups and ListGroups report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
            Self::Dead => "Dead",
        }
    }
}

/// An answer now, or a receiver to await once the group lock is released.
#[derive(Debug)]
pub(crate) enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

/// A JoinGroup request, validated and normalised (timeouts checked, v0's missing rebalance
/// timeout filled in).
#[derive(Debug, Clone)]
pub(crate) struct JoinParams {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
    /// JoinGroup v9+: a static leader rejoining a stable group may skip the assignment.
    pub supports_skip_assignment: bool,
    pub reason: Option<String>,
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub(crate) struct SyncParams {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

/// The initial-rebalance delay of a group that was empty (Kafka's `InitialDelayedJoin`):
/// each expiry that saw a new member join waits another delay, up to the rebalance timeout.
#[derive(Debug)]
struct InitialDelay {
    new_member_added: bool,
    remaining: Duration,
}

/// One consumer group.
#[derive(Debug)]
pub(crate) struct Group {
    id: String,
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Members told MEMBER_ID_REQUIRED that have not rejoined yet, with when they expire.
    pending: BTreeMap<String, Instant>,
    /// `group.instance.id` -> member id of the static members.
    static_members: HashMap<String, String>,
    initial_delay: Duration,
    /// Bumped on every new rebalance, so a stale timer does nothing.
    rebalance_epoch: u64,
    initial: Option<InitialDelay>,
    timer_request: Option<(u64, Instant)>,
    /// The armed join-phase timer (its sequence number and task), owned by the coordinator.
    pub(super) timer: Option<(u64, AbortHandle)>,
    /// Members of the current generation that have not sent SyncGroup yet.
    pending_sync: BTreeSet<String>,
    sync_deadline: Option<Instant>,
    empty_since: Option<Instant>,
}

impl Group {
    pub fn new(id: String, initial_delay: Duration, now: Instant) -> Self {
        Self {
            id,
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            static_members: HashMap::new(),
            initial_delay,
            rebalance_epoch: 0,
            initial: None,
            timer_request: None,
            timer: None,
            pending_sync: BTreeSet::new(),
            sync_deadline: None,
            empty_since: Some(now),
        }
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// How long the group has had no members, if it has none.
    /// Whether anyone is in the group, or is about to join it.
    pub fn has_members(&self) -> bool {
        !self.members.is_empty() || !self.pending.is_empty()
    }

    pub fn empty_for(&self, now: Instant) -> Option<Duration> {
        match (self.state, self.empty_since) {
            (GroupState::Empty, Some(since)) if self.pending.is_empty() => {
                Some(now.saturating_duration_since(since))
            }
            _ => None,
        }
    }

    /// The join-phase timer the coordinator should arm: (rebalance epoch, deadline).
    pub fn take_timer_request(&mut self) -> Option<(u64, Instant)> {
        let request = self.timer_request.take()?;
        (self.state == GroupState::PreparingRebalance && request.0 == self.rebalance_epoch)
            .then_some(request)
    }

    /// Marks the group removed: whatever is parked is answered with `error` (clients then
    /// look the coordinator up again and find a fresh group).
    pub fn kill(&mut self, error: i16) {
        self.fail_all_waiters(error);
        self.state = GroupState::Dead;
        self.members.clear();
        self.pending.clear();
        self.static_members.clear();
        self.pending_sync.clear();
        self.leader = None;
        self.timer_request = None;
        if let Some((_, timer)) = self.timer.take() {
            timer.abort();
        }
    }

    /// Answers every parked request with `error` (the coordinator is shutting down).
    pub fn fail_all_waiters(&mut self, error: i16) {
        for member in self.members.values_mut() {
            member.fail_waiters(error);
        }
    }

    // ---- JoinGroup -------------------------------------------------------------------

    pub fn join(&mut self, p: JoinParams, now: Instant) -> Reply<JoinOutcome> {
        if p.member_id.is_empty() {
            self.join_new_member(p, now)
        } else {
            self.join_known_member(p, now)
        }
    }

    fn join_new_member(&mut self, p: JoinParams, now: Instant) -> Reply<JoinOutcome> {
        if !self.supports_protocols(&p.protocol_type, &p.protocols, None) {
            return Reply::Now(JoinOutcome::error("", codes::INCONSISTENT_GROUP_PROTOCOL));
        }
        let prefix = p.instance_id.as_deref().unwrap_or(&p.client_id);
        let member_id = format!("{prefix}-{}", Uuid::new_v4());
        if let Some(instance) = p.instance_id.clone() {
            return match self.static_members.get(&instance).cloned() {
                Some(old_id) => self.replace_static_member(instance, old_id, member_id, p, now),
                None => self.add_member_and_rebalance(member_id, p, now),
            };
        }
        if p.require_known_member_id {
            // The client rejoins with this id; the rebalance waits for it meanwhile.
            self.pending
                .insert(member_id.clone(), now + p.session_timeout);
            return Reply::Now(JoinOutcome::error(member_id, codes::MEMBER_ID_REQUIRED));
        }
        self.add_member_and_rebalance(member_id, p, now)
    }

    fn join_known_member(&mut self, p: JoinParams, now: Instant) -> Reply<JoinOutcome> {
        let id = p.member_id.clone();
        if !self.supports_protocols(&p.protocol_type, &p.protocols, Some(&id)) {
            return Reply::Now(JoinOutcome::error(id, codes::INCONSISTENT_GROUP_PROTOCOL));
        }
        if self.pending.remove(&id).is_some() {
            if p.instance_id.is_some() {
                // Pending ids are only handed to dynamic members.
                return Reply::Now(JoinOutcome::error(id, codes::UNKNOWN_MEMBER_ID));
            }
            return self.add_member_and_rebalance(id, p, now);
        }
        if let Err(code) = self.validate_member(&id, p.instance_id.as_deref()) {
            return Reply::Now(JoinOutcome::error(id, code));
        }
        let (is_leader, matches) = match self.members.get_mut(&id) {
            Some(m) => {
                m.last_heartbeat = now;
                (
                    self.leader.as_deref() == Some(id.as_str()),
                    m.matches(&p.protocols),
                )
            }
            None => return Reply::Now(JoinOutcome::error(id, codes::UNKNOWN_MEMBER_ID)),
        };
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(p, now),
            // The same metadata again: the client lost our JoinGroup response; answer it again.
            GroupState::CompletingRebalance if matches => {
                Reply::Now(self.current_join_outcome(&id, is_leader))
            }
            // A follower rejoining a stable group unchanged keeps the current generation; the
            // leader rejoining, or anyone with new metadata, starts a rebalance.
            GroupState::Stable if matches && !is_leader => {
                Reply::Now(self.current_join_outcome(&id, false))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(p, now)
            }
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(JoinOutcome::error(id, codes::UNKNOWN_MEMBER_ID))
            }
        }
    }

    /// The current generation as JoinGroup reports it to `member_id`.
    fn current_join_outcome(&self, member_id: &str, with_members: bool) -> JoinOutcome {
        JoinOutcome {
            error: codes::NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            skip_assignment: false,
            members: if with_members {
                self.member_list()
            } else {
                Vec::new()
            },
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: String,
        p: JoinParams,
        now: Instant,
    ) -> Reply<JoinOutcome> {
        let mut member = Member::new(
            member_id.clone(),
            p.instance_id.clone(),
            p.client_id,
            p.client_host,
            p.session_timeout,
            p.rebalance_timeout,
            p.protocols,
            now,
        );
        let rx = member.await_join();
        if self.members.is_empty() {
            self.protocol_type = Some(p.protocol_type);
        }
        if let Some(instance) = p.instance_id {
            self.static_members.insert(instance, member_id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member_id.clone());
        }
        if let Some(initial) = &mut self.initial {
            initial.new_member_added = true;
        }
        tracing::info!(
            group = %self.id,
            member = %member_id,
            instance = ?member.instance_id,
            reason = ?p.reason,
            "member joins the group"
        );
        self.members.insert(member_id, member);
        self.rebalance_or_complete(now, "a member joined");
        Reply::Wait(rx)
    }

    fn update_member_and_rebalance(&mut self, p: JoinParams, now: Instant) -> Reply<JoinOutcome> {
        let Some(member) = self.members.get_mut(&p.member_id) else {
            return Reply::Now(JoinOutcome::error(p.member_id, codes::UNKNOWN_MEMBER_ID));
        };
        member.protocols = p.protocols;
        member.session_timeout = p.session_timeout;
        member.rebalance_timeout = p.rebalance_timeout;
        member.last_heartbeat = now;
        let rx = member.await_join();
        self.rebalance_or_complete(now, "a member rejoined");
        Reply::Wait(rx)
    }

    /// A known `group.instance.id` joins with no member id (a restarted static member): it
    /// takes over the old member's place under a new member id, and the old id is fenced.
    /// In a stable group whose protocol would not change, no rebalance happens: the member
    /// gets the current generation back and its old assignment through SyncGroup.
    fn replace_static_member(
        &mut self,
        instance: String,
        old_id: String,
        new_id: String,
        p: JoinParams,
        now: Instant,
    ) -> Reply<JoinOutcome> {
        let Some(mut member) = self.members.remove(&old_id) else {
            self.static_members.remove(&instance);
            return self.add_member_and_rebalance(new_id, p, now);
        };
        let current_leader = self.leader.clone();
        member.fail_waiters(codes::FENCED_INSTANCE_ID);
        member.id = new_id.clone();
        member.client_id = p.client_id;
        member.client_host = p.client_host;
        member.protocols = p.protocols;
        member.session_timeout = p.session_timeout;
        member.rebalance_timeout = p.rebalance_timeout;
        member.last_heartbeat = now;
        if self.leader.as_deref() == Some(old_id.as_str()) {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(&old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        self.static_members.insert(instance.clone(), new_id.clone());
        self.members.insert(new_id.clone(), member);
        tracing::info!(
            group = %self.id,
            %instance,
            old_member = %old_id,
            new_member = %new_id,
            state = self.state.name(),
            "static member rejoined under a new member id"
        );
        match self.state {
            GroupState::Stable if self.select_protocol() == self.protocol_name => {
                let is_leader = self.leader.as_deref() == Some(new_id.as_str());
                let mut outcome = self.current_join_outcome(&new_id, false);
                if is_leader && p.supports_skip_assignment {
                    outcome.members = self.member_list();
                    outcome.skip_assignment = true;
                } else {
                    // An older client told it leads would run a fresh assignment that a
                    // stable group never distributes: name the leader it replaced instead.
                    outcome.leader = current_leader.unwrap_or_default();
                }
                Reply::Now(outcome)
            }
            GroupState::Stable
            | GroupState::CompletingRebalance
            | GroupState::PreparingRebalance => {
                // In CompletingRebalance the leader may be assigning to the old member id:
                // rebalance again so the new id gets an assignment. In Stable, the protocol
                // would change.
                let Some(member) = self.members.get_mut(&new_id) else {
                    return Reply::Now(JoinOutcome::error(new_id, codes::UNKNOWN_MEMBER_ID));
                };
                let rx = member.await_join();
                self.rebalance_or_complete(now, "a static member rejoined");
                Reply::Wait(rx)
            }
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(JoinOutcome::error(new_id, codes::UNKNOWN_MEMBER_ID))
            }
        }
    }

    /// Kafka's rule: the first member may use any (non-empty) protocol type and list; later
    /// ones must use the group's protocol type and share a protocol with every other member.
    fn supports_protocols(
        &self,
        protocol_type: &str,
        protocols: &[Protocol],
        except: Option<&str>,
    ) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|p| {
            self.members
                .values()
                .filter(|m| Some(m.id.as_str()) != except)
                .all(|m| m.supports(&p.name))
        })
    }

    /// Kafka's vote: among the protocols every member supports, each member votes for the
    /// first in its own preference order; the most votes win, ties going to the leader's
    /// preference.
    fn select_protocol(&self) -> Option<String> {
        let first = self
            .leader
            .as_deref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next())?;
        let candidates: Vec<String> = first
            .protocols
            .iter()
            .map(|p| p.name.clone())
            .filter(|name| self.members.values().all(|m| m.supports(name)))
            .collect();
        let mut votes = vec![0usize; candidates.len()];
        for member in self.members.values() {
            if let Some(vote) = member.vote(&candidates)
                && let Some(i) = candidates.iter().position(|c| c == vote)
            {
                votes[i] += 1;
            }
        }
        let mut best: Option<usize> = None;
        for (i, count) in votes.iter().enumerate() {
            if best.is_none_or(|b| *count > votes[b]) {
                best = Some(i);
            }
        }
        best.map(|i| candidates[i].clone())
    }

    fn member_list(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        self.members
            .values()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    fn rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    // ---- Rebalancing -----------------------------------------------------------------

    /// Starts a rebalance if the group is not in one already, then completes the join phase
    /// if everyone is in.
    fn rebalance_or_complete(&mut self, now: Instant, reason: &str) {
        if matches!(
            self.state,
            GroupState::Empty | GroupState::Stable | GroupState::CompletingRebalance
        ) {
            self.prepare_rebalance(now, reason);
        }
        self.try_complete_join(now);
    }

    fn prepare_rebalance(&mut self, now: Instant, reason: &str) {
        if self.state == GroupState::CompletingRebalance {
            // The assignment being worked out is void: followers waiting for it rejoin.
            for member in self.members.values_mut() {
                member.assignment = Bytes::new();
                member.complete_sync(SyncOutcome::error(codes::REBALANCE_IN_PROGRESS));
            }
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let timeout = self.rebalance_timeout();
        self.rebalance_epoch += 1;
        let deadline = if self.state == GroupState::Empty {
            self.initial = Some(InitialDelay {
                new_member_added: false,
                remaining: timeout.saturating_sub(self.initial_delay),
            });
            now + self.initial_delay
        } else {
            self.initial = None;
            now + timeout
        };
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            %reason,
            "preparing to rebalance"
        );
        self.state = GroupState::PreparingRebalance;
        self.empty_since = None;
        self.timer_request = Some((self.rebalance_epoch, deadline));
    }

    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.values().all(Member::is_awaiting_join)
    }

    fn try_complete_join(&mut self, now: Instant) {
        if self.state == GroupState::PreparingRebalance
            && self.initial.is_none()
            && self.all_joined()
        {
            self.complete_join(now);
        }
    }

    /// The join-phase timer of rebalance `epoch` fired.
    pub fn on_join_deadline(&mut self, epoch: u64, now: Instant) {
        if self.state != GroupState::PreparingRebalance || epoch != self.rebalance_epoch {
            return;
        }
        if let Some(initial) = &mut self.initial
            && initial.new_member_added
            && !initial.remaining.is_zero()
        {
            initial.new_member_added = false;
            let delay = self.initial_delay.min(initial.remaining);
            initial.remaining -= delay;
            self.timer_request = Some((epoch, now + delay));
            return;
        }
        self.complete_join(now);
    }

    /// Ends the join phase: members that did not rejoin leave (static ones keep their
    /// place), a new generation starts, and every parked JoinGroup is answered, the leader's
    /// with everyone's metadata.
    fn complete_join(&mut self, now: Instant) {
        self.initial = None;
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.is_awaiting_join() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(group = %self.id, member = %id, "member did not rejoin in time; removed");
            self.remove_member(&id, codes::UNKNOWN_MEMBER_ID);
        }
        if !self.members.is_empty() && !self.members.values().any(Member::is_awaiting_join) {
            // Only static members that have not come back: wait for them (or their session
            // expiry) another rebalance timeout.
            self.timer_request = Some((self.rebalance_epoch, now + self.rebalance_timeout()));
            return;
        }
        let leader_joined = self
            .leader
            .as_deref()
            .and_then(|l| self.members.get(l))
            .is_some_and(Member::is_awaiting_join);
        if !leader_joined {
            self.leader = self
                .members
                .values()
                .find(|m| m.is_awaiting_join())
                .map(|m| m.id.clone());
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol_name = None;
            self.leader = None;
            self.empty_since = Some(now);
            tracing::info!(group = %self.id, generation = self.generation, "group is empty");
            return;
        }
        self.protocol_name = self.select_protocol();
        self.state = GroupState::CompletingRebalance;
        let everyone = self.member_list();
        let leader = self.leader.clone().unwrap_or_default();
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            protocol = ?self.protocol_name,
            members = everyone.len(),
            %leader,
            "join phase complete; waiting for the leader's assignment"
        );
        for member in self.members.values_mut() {
            let is_leader = member.id == leader;
            member.complete_join(JoinOutcome {
                error: codes::NONE,
                generation: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol_name.clone(),
                leader: leader.clone(),
                member_id: member.id.clone(),
                skip_assignment: false,
                members: if is_leader {
                    everyone.clone()
                } else {
                    Vec::new()
                },
            });
            member.last_heartbeat = now;
        }
        self.pending_sync = self.members.keys().cloned().collect();
        self.sync_deadline = Some(now + self.rebalance_timeout());
    }

    /// Removes a member (no state change), answering what it had parked with `error`.
    fn remove_member(&mut self, id: &str, error: i16) {
        let Some(mut member) = self.members.remove(id) else {
            return;
        };
        member.fail_waiters(error);
        if let Some(instance) = &member.instance_id
            && self.static_members.get(instance).map(String::as_str) == Some(id)
        {
            self.static_members.remove(instance);
        }
        self.pending_sync.remove(id);
        if self.leader.as_deref() == Some(id) {
            self.leader = self
                .members
                .values()
                .find(|m| m.is_awaiting_join())
                .or_else(|| self.members.values().next())
                .map(|m| m.id.clone());
        }
    }

    /// Removes a member and lets the others rebalance without it.
    fn remove_member_and_rebalance(&mut self, id: &str, now: Instant, reason: &str) {
        self.remove_member(id, codes::UNKNOWN_MEMBER_ID);
        if self.state != GroupState::Empty {
            self.rebalance_or_complete(now, reason);
        }
    }

    // ---- SyncGroup, Heartbeat, LeaveGroup, OffsetCommit ------------------------------

    /// Kafka's `validateCurrentMember`: a given instance id must be known and map to
    /// `member_id` (else FENCED_INSTANCE_ID / UNKNOWN_MEMBER_ID); the member must exist.
    fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), i16> {
        if let Some(instance) = instance_id {
            match self.static_members.get(instance) {
                Some(current) if current != member_id => return Err(codes::FENCED_INSTANCE_ID),
                Some(_) => {}
                None => return Err(codes::UNKNOWN_MEMBER_ID),
            }
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(codes::UNKNOWN_MEMBER_ID)
        }
    }

    pub fn sync(&mut self, p: SyncParams, now: Instant) -> Reply<SyncOutcome> {
        let id = p.member_id.as_str();
        if let Err(code) = self.validate_member(id, p.instance_id.as_deref()) {
            return Reply::Now(SyncOutcome::error(code));
        }
        if p.generation != self.generation {
            return Reply::Now(SyncOutcome::error(codes::ILLEGAL_GENERATION));
        }
        if (p.protocol_type.is_some() && p.protocol_type != self.protocol_type)
            || (p.protocol_name.is_some() && p.protocol_name != self.protocol_name)
        {
            return Reply::Now(SyncOutcome::error(codes::INCONSISTENT_GROUP_PROTOCOL));
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(SyncOutcome::error(codes::UNKNOWN_MEMBER_ID))
            }
            GroupState::PreparingRebalance => {
                Reply::Now(SyncOutcome::error(codes::REBALANCE_IN_PROGRESS))
            }
            GroupState::CompletingRebalance => {
                self.pending_sync.remove(id);
                let Some(member) = self.members.get_mut(id) else {
                    return Reply::Now(SyncOutcome::error(codes::UNKNOWN_MEMBER_ID));
                };
                member.last_heartbeat = now;
                let rx = member.await_sync();
                if self.leader.as_deref() == Some(id) {
                    self.distribute(p.assignments, now);
                }
                if self.pending_sync.is_empty() {
                    self.sync_deadline = None;
                }
                Reply::Wait(rx)
            }
            GroupState::Stable => {
                self.pending_sync.remove(id);
                if self.pending_sync.is_empty() {
                    self.sync_deadline = None;
                }
                let Some(member) = self.members.get_mut(id) else {
                    return Reply::Now(SyncOutcome::error(codes::UNKNOWN_MEMBER_ID));
                };
                member.last_heartbeat = now;
                Reply::Now(SyncOutcome {
                    error: codes::NONE,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment: member.assignment.clone(),
                })
            }
        }
    }

    /// The leader's assignment: every member gets its part (members it left out get an
    /// empty one, unknown ids are ignored), waiting followers are answered, and the group is
    /// stable.
    fn distribute(&mut self, assignments: Vec<(String, Bytes)>, now: Instant) {
        let mut by_member: HashMap<String, Bytes> = assignments.into_iter().collect();
        for member in self.members.values_mut() {
            member.assignment = by_member.remove(&member.id).unwrap_or_default();
            if member.is_awaiting_sync() {
                member.last_heartbeat = now;
            }
            member.complete_sync(SyncOutcome {
                error: codes::NONE,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol_name.clone(),
                assignment: member.assignment.clone(),
            });
        }
        self.state = GroupState::Stable;
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            "group is stable"
        );
    }

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> i16 {
        if let Err(code) = self.validate_member(member_id, instance_id) {
            return code;
        }
        if generation != self.generation {
            return codes::ILLEGAL_GENERATION;
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => codes::UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => {
                self.touch(member_id, now);
                codes::REBALANCE_IN_PROGRESS
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.touch(member_id, now);
                codes::NONE
            }
        }
    }

    fn touch(&mut self, member_id: &str, now: Instant) {
        if let Some(member) = self.members.get_mut(member_id) {
            member.last_heartbeat = now;
        }
    }

    /// One member of a LeaveGroup request; an empty member id names a static member by its
    /// instance id.
    pub fn leave(&mut self, member_id: &str, instance_id: Option<&str>, now: Instant) -> i16 {
        if member_id.is_empty() {
            let Some(id) = instance_id
                .and_then(|i| self.static_members.get(i))
                .cloned()
            else {
                return codes::UNKNOWN_MEMBER_ID;
            };
            tracing::info!(group = %self.id, member = %id, instance = ?instance_id, "static member left the group");
            self.remove_member_and_rebalance(&id, now, "a static member left");
            return codes::NONE;
        }
        if self.pending.remove(member_id).is_some() {
            self.try_complete_join(now);
            return codes::NONE;
        }
        if let Err(code) = self.validate_member(member_id, instance_id) {
            return code;
        }
        tracing::info!(group = %self.id, member = %member_id, "member left the group");
        self.remove_member_and_rebalance(member_id, now, "a member left");
        codes::NONE
    }

    /// Whether an OffsetCommit from this member may commit now (Kafka's
    /// `validateOffsetCommit` and the state check after it). A commit is a sign of life.
    pub fn validate_commit(
        &mut self,
        member_id: &str,
        generation: i32,
        instance_id: Option<&str>,
        now: Instant,
    ) -> Result<(), i16> {
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_member(member_id, instance_id)?;
            if generation != self.generation {
                return Err(codes::ILLEGAL_GENERATION);
            }
        } else if self.state != GroupState::Empty {
            // A simple (unmanaged) commit while members are active.
            return Err(codes::UNKNOWN_MEMBER_ID);
        }
        match self.state {
            GroupState::Empty => Ok(()),
            GroupState::PreparingRebalance | GroupState::Stable => {
                self.touch(member_id, now);
                Ok(())
            }
            GroupState::CompletingRebalance => Err(codes::REBALANCE_IN_PROGRESS),
            GroupState::Dead => Err(codes::COORDINATOR_NOT_AVAILABLE),
        }
    }

    /// Whether a TxnOffsetCommit from this member may commit (KIP-447; Kafka's
    /// `validateOffsetCommit` for a transactional commit): a member of the current
    /// generation. Unlike a plain commit, no group state refuses it: the offsets wait in
    /// the transaction until it ends.
    pub fn validate_txn_commit(
        &self,
        member_id: &str,
        generation: i32,
        instance_id: Option<&str>,
    ) -> Result<(), i16> {
        if self.state == GroupState::Dead {
            return Err(codes::COORDINATOR_NOT_AVAILABLE);
        }
        self.validate_member(member_id, instance_id)?;
        if generation != self.generation {
            return Err(codes::ILLEGAL_GENERATION);
        }
        Ok(())
    }

    // ---- Expiry ----------------------------------------------------------------------

    /// Removes members whose session expired, MEMBER_ID_REQUIRED ids never used, and members
    /// that did not send SyncGroup within the rebalance timeout; rebalances as needed.
    pub fn expire(&mut self, now: Instant) {
        let expired: Vec<(String, Duration)> = self
            .members
            .values()
            .filter(|m| !m.is_alive(now))
            .map(|m| (m.id.clone(), m.session_timeout))
            .collect();
        for (id, timeout) in expired {
            tracing::info!(
                group = %self.id,
                member = %id,
                session_timeout_ms = timeout.as_millis() as u64,
                "member session expired; removing it"
            );
            self.remove_member_and_rebalance(&id, now, "a member's session expired");
        }
        let before = self.pending.len();
        self.pending.retain(|_, deadline| *deadline > now);
        if self.pending.len() != before {
            self.try_complete_join(now);
        }
        if matches!(
            self.state,
            GroupState::CompletingRebalance | GroupState::Stable
        ) && !self.pending_sync.is_empty()
            && self.sync_deadline.is_some_and(|d| d <= now)
        {
            let late: Vec<String> = std::mem::take(&mut self.pending_sync).into_iter().collect();
            tracing::info!(group = %self.id, members = ?late, "members did not sync in time; removing them");
            for id in &late {
                self.remove_member(id, codes::UNKNOWN_MEMBER_ID);
            }
            self.prepare_rebalance(now, "members did not sync in time");
            self.try_complete_join(now);
        }
    }
}
