//! One member of a classic-protocol group: who it is, its timeouts, the protocols it
//! supports (with the opaque metadata each carries), its assignment, and the JoinGroup or
//! SyncGroup request it is parked on while a rebalance is under way.
//!
//! A parked request is a `oneshot` sender: completing it hands the answer to the handler
//! awaiting the matching receiver (outside any lock). Replacing or dropping a member always
//! answers what it had parked, so no client request is left without a response.

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::{Duration, Instant};

use super::codes;

/// One protocol a member supports: its name (for consumers, the assignor: `range`,
/// `roundrobin`, `cooperative-sticky`, ...) and its metadata (the subscription), which the
/// coordinator never reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// A member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub metadata: Bytes,
}

/// The answer to a JoinGroup request, before it is shaped for the request's version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JoinOutcome {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Only a static leader rejoining a stable group (JoinGroup v9+) is told to skip the
    /// assignment.
    pub skip_assignment: bool,
    /// Filled for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinOutcome {
    /// An error answer: no generation, no leader.
    pub fn error(member_id: impl Into<String>, error: i16) -> Self {
        Self {
            error,
            generation: -1,
            member_id: member_id.into(),
            ..Self::default()
        }
    }
}

/// The answer to a SyncGroup request, before it is shaped for the request's version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SyncOutcome {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncOutcome {
    /// An error answer with no assignment.
    pub fn error(error: i16) -> Self {
        Self {
            error,
            ..Self::default()
        }
    }
}

/// One group member.
#[derive(Debug)]
pub(crate) struct Member {
    pub id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    pub client_id: String,
    /// As Kafka reports it: `/` and the client's IP address.
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<Protocol>,
    /// What the leader assigned this member in the current generation.
    pub assignment: Bytes,
    /// The last sign of life: a heartbeat, join, sync or offset commit.
    pub last_heartbeat: Instant,
    join_waiter: Option<oneshot::Sender<JoinOutcome>>,
    sync_waiter: Option<oneshot::Sender<SyncOutcome>>,
}

impl Member {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        instance_id: Option<String>,
        client_id: String,
        client_host: String,
        session_timeout: Duration,
        rebalance_timeout: Duration,
        protocols: Vec<Protocol>,
        now: Instant,
    ) -> Self {
        Self {
            id,
            instance_id,
            client_id,
            client_host,
            session_timeout,
            rebalance_timeout,
            protocols,
            assignment: Bytes::new(),
            last_heartbeat: now,
            join_waiter: None,
            sync_waiter: None,
        }
    }

    /// The metadata this member sent for `protocol` (empty if it does not support it).
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }

    /// Whether a rejoin carries exactly the protocols and metadata already known.
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// This member's vote: its most preferred protocol among `candidates`.
    pub fn vote<'a>(&self, candidates: &'a [String]) -> Option<&'a String> {
        self.protocols
            .iter()
            .find_map(|p| candidates.iter().find(|c| **c == p.name))
    }

    pub fn is_awaiting_join(&self) -> bool {
        self.join_waiter.is_some()
    }

    pub fn is_awaiting_sync(&self) -> bool {
        self.sync_waiter.is_some()
    }

    /// Whether the session is still alive at `now`. A member with a parked request is alive:
    /// the client is waiting on us, not the other way round.
    pub fn is_alive(&self, now: Instant) -> bool {
        self.is_awaiting_join()
            || self.is_awaiting_sync()
            || now.saturating_duration_since(self.last_heartbeat) < self.session_timeout
    }

    /// Parks a JoinGroup request. One parked earlier (a client retrying) is answered with
    /// REBALANCE_IN_PROGRESS.
    pub fn await_join(&mut self) -> oneshot::Receiver<JoinOutcome> {
        let (tx, rx) = oneshot::channel();
        if let Some(old) = self.join_waiter.replace(tx) {
            let _ = old.send(JoinOutcome::error(&self.id, codes::REBALANCE_IN_PROGRESS));
        }
        rx
    }

    /// Parks a SyncGroup request. One parked earlier is answered with REBALANCE_IN_PROGRESS.
    pub fn await_sync(&mut self) -> oneshot::Receiver<SyncOutcome> {
        let (tx, rx) = oneshot::channel();
        if let Some(old) = self.sync_waiter.replace(tx) {
            let _ = old.send(SyncOutcome::error(codes::REBALANCE_IN_PROGRESS));
        }
        rx
    }

    /// Answers the parked JoinGroup request, if any. (A client that went away meanwhile
    /// dropped its receiver; that is not an error here.)
    pub fn complete_join(&mut self, outcome: JoinOutcome) {
        if let Some(tx) = self.join_waiter.take() {
            let _ = tx.send(outcome);
        }
    }

    /// Answers the parked SyncGroup request, if any.
    pub fn complete_sync(&mut self, outcome: SyncOutcome) {
        if let Some(tx) = self.sync_waiter.take() {
            let _ = tx.send(outcome);
        }
    }

    /// Answers whatever this member has parked with `error`.
    pub fn fail_waiters(&mut self, error: i16) {
        let id = self.id.clone();
        self.complete_join(JoinOutcome::error(id, error));
        self.complete_sync(SyncOutcome::error(error));
    }
}
