//! Foreign-key table-table joins (Kafka Streams' `KTable.join(other, foreignKeyExtractor,
//! joiner)`, KIP-213): a left row joins the right row whose key its value names.
//!
//! The two tables are partitioned by different keys, so the join works through two internal
//! topics, as in Kafka Streams:
//! - the left side sends a [`Subscription`] (left key, a hash of the left value, the left
//!   partition and an [`Instruction`]) keyed by the foreign key to the
//!   *subscription-registration* topic, co-partitioned with the right table
//!   ([`SubscriptionSendNode`], Kafka's `SubscriptionSendProcessorSupplier`);
//! - the right side keeps the subscriptions in a store keyed by foreign key (length-prefixed)
//!   then left key, so a right update finds every subscriber by a prefix scan
//!   ([`SubscriptionReceiveNode`]: Kafka's `SubscriptionReceiveProcessorSupplier` and
//!   `SubscriptionJoinProcessorSupplier`; [`ForeignTableJoinNode`]: Kafka's
//!   `ForeignTableJoinProcessorSupplier`), and answers with a [`Response`] (the hash it was
//!   sent and the right value) on the *subscription-response* topic, to the partition the
//!   subscription came from ([`ResponseSinkNode`]);
//! - the left side joins a response with its current row, and drops it if the row's hash no
//!   longer matches: the row changed since, and a newer response is on its way
//!   ([`ResponseJoinNode`], Kafka's `ResponseJoinProcessorSupplier`).
//!
//! Values travel as bytes (the serdes' encodings), so the right side needs no left serdes.

use std::sync::Arc;

use bytes::Bytes;
use eddy_state::{KeyValueStore, Serde};

use crate::error::{Error, Result};
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record, SinkRecord};
use crate::serdes::SerdeRef;
use crate::topology::TopicName;

use super::{decode, encode};

/// Version byte of both wire formats, so that a later format can be told apart.
const VERSION: u8 = 0;

/// Kafka's seed for the value hash (`Murmur3.hash128`).
const HASH_SEED: u32 = 104_729;

/// A 128-bit hash of a left value's bytes.
pub(crate) type ValueHash = [u8; 16];

/// The hash a subscription carries, to recognise stale responses.
pub(crate) fn value_hash(bytes: &[u8]) -> ValueHash {
    let (h1, h2) = murmur3_x64_128(bytes, HASH_SEED);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&h1.to_be_bytes());
    out[8..].copy_from_slice(&h2.to_be_bytes());
    out
}

/// MurmurHash3 x64 128-bit (Kafka's `Murmur3.hash128`, from the `murmur3` crate): fast,
/// well spread and stable across processes and versions, which a staleness check whose
/// hashes travel between instances needs. Returned as its two 64-bit halves `(h1, h2)`.
fn murmur3_x64_128(data: &[u8], seed: u32) -> (u64, u64) {
    let hash = murmur3::murmur3_x64_128(&mut std::io::Cursor::new(data), seed)
        .expect("reading from a byte slice cannot fail");
    (hash as u64, (hash >> 64) as u64)
}

/// What the right side does with a subscription (Kafka's `SubscriptionWrapper.Instruction`).
/// Kafka's `DELETE_KEY_AND_PROPAGATE` is not needed: the left side retracts deleted rows
/// itself (see `SubscriptionSendNode`); its byte, 1, is left unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instruction {
    /// Forget the subscription; answer nothing (the left row moved to another foreign key,
    /// was deleted, or lost its foreign key).
    DeleteKeyNoPropagate,
    /// Keep the subscription; answer with the right value, or with none.
    PropagateNullIfNoFkValAvailable,
    /// Keep the subscription; answer only if there is a right value.
    PropagateOnlyIfFkValAvailable,
}

impl Instruction {
    fn byte(self) -> u8 {
        match self {
            Self::DeleteKeyNoPropagate => 0,
            Self::PropagateNullIfNoFkValAvailable => 2,
            Self::PropagateOnlyIfFkValAvailable => 3,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::DeleteKeyNoPropagate,
            2 => Self::PropagateNullIfNoFkValAvailable,
            3 => Self::PropagateOnlyIfFkValAvailable,
            _ => return None,
        })
    }
}

/// A left row's subscription to a foreign key (Kafka's `SubscriptionWrapper`), the value of
/// a subscription-registration record keyed by the foreign key's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub instruction: Instruction,
    /// Hash of the left value that sent it; `None` when the row was deleted.
    pub hash: Option<ValueHash>,
    /// The left row's partition: where the response goes.
    pub partition: i32,
    /// The left key's bytes.
    pub left_key: Vec<u8>,
}

/// The right side's answer to a subscription (Kafka's `SubscriptionResponseWrapper`), the
/// value of a subscription-response record keyed by the left key's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// The hash the subscription carried.
    pub hash: Option<ValueHash>,
    /// The right row's bytes, `None` if there is none.
    pub right_value: Option<Vec<u8>>,
}

/// A response with the partition it must be written to.
#[derive(Debug, Clone)]
pub(crate) struct Routed {
    pub partition: i32,
    pub response: Response,
}

fn corrupt(what: &'static str, reason: &str) -> eddy_state::Error {
    eddy_state::Error::Decode {
        what,
        reason: reason.to_string(),
    }
}

fn push_hash(out: &mut Vec<u8>, hash: &Option<ValueHash>) {
    match hash {
        Some(h) => {
            out.push(1);
            out.extend_from_slice(h);
        }
        None => out.push(0),
    }
}

/// Reads a hash written by [`push_hash`]; returns it and the rest.
fn read_hash<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> eddy_state::Result<(Option<ValueHash>, &'a [u8])> {
    match bytes.split_first() {
        Some((0, rest)) => Ok((None, rest)),
        Some((1, rest)) if rest.len() >= 16 => {
            let mut h = [0u8; 16];
            h.copy_from_slice(&rest[..16]);
            Ok((Some(h), &rest[16..]))
        }
        _ => Err(corrupt(what, "bad or truncated value hash")),
    }
}

fn check_version<'a>(bytes: &'a [u8], what: &'static str) -> eddy_state::Result<&'a [u8]> {
    match bytes.split_first() {
        Some((&VERSION, rest)) => Ok(rest),
        Some((v, _)) => Err(corrupt(
            what,
            &format!("unknown format version {v} (written by a newer Eddy?)"),
        )),
        None => Err(corrupt(what, "empty")),
    }
}

/// Subscriptions as bytes: version, instruction, hash flag (+ 16 bytes), partition (4 bytes,
/// big-endian), left key.
pub(crate) struct SubscriptionSerde;

impl Serde<Subscription> for SubscriptionSerde {
    fn serialize(&self, s: &Subscription) -> eddy_state::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(23 + s.left_key.len());
        out.push(VERSION);
        out.push(s.instruction.byte());
        push_hash(&mut out, &s.hash);
        out.extend_from_slice(&s.partition.to_be_bytes());
        out.extend_from_slice(&s.left_key);
        Ok(out)
    }

    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<Subscription> {
        const WHAT: &str = "foreign-key join subscription";
        let rest = check_version(bytes, WHAT)?;
        let (&instruction, rest) = rest
            .split_first()
            .ok_or_else(|| corrupt(WHAT, "truncated"))?;
        let instruction = Instruction::from_byte(instruction)
            .ok_or_else(|| corrupt(WHAT, &format!("unknown instruction {instruction}")))?;
        let (hash, rest) = read_hash(rest, WHAT)?;
        if rest.len() < 4 {
            return Err(corrupt(WHAT, "truncated partition"));
        }
        let partition = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        Ok(Subscription {
            instruction,
            hash,
            partition,
            left_key: rest[4..].to_vec(),
        })
    }
}

/// Responses as bytes: version, hash flag (+ 16 bytes), value flag (+ the right value).
pub(crate) struct ResponseSerde;

impl Serde<Response> for ResponseSerde {
    fn serialize(&self, r: &Response) -> eddy_state::Result<Vec<u8>> {
        let len = r.right_value.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(19 + len);
        out.push(VERSION);
        push_hash(&mut out, &r.hash);
        match &r.right_value {
            Some(v) => {
                out.push(1);
                out.extend_from_slice(v);
            }
            None => out.push(0),
        }
        Ok(out)
    }

    fn deserialize(&self, bytes: &[u8]) -> eddy_state::Result<Response> {
        const WHAT: &str = "foreign-key join response";
        let rest = check_version(bytes, WHAT)?;
        let (hash, rest) = read_hash(rest, WHAT)?;
        let right_value = match rest.split_first() {
            Some((0, [])) => None,
            Some((1, value)) => Some(value.to_vec()),
            _ => return Err(corrupt(WHAT, "bad value flag")),
        };
        Ok(Response { hash, right_value })
    }
}

/// The subscription store's key prefix of a foreign key: its length (4 bytes, big-endian)
/// and its bytes, so that one key's prefix never matches a longer key.
pub(crate) fn subscription_prefix(foreign_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + foreign_key.len());
    out.extend_from_slice(&(foreign_key.len() as u32).to_be_bytes());
    out.extend_from_slice(foreign_key);
    out
}

/// The subscription store's key: the foreign key's prefix, then the left key.
fn subscription_key(foreign_key: &[u8], left_key: &[u8]) -> Vec<u8> {
    let mut out = subscription_prefix(foreign_key);
    out.extend_from_slice(left_key);
    out
}

/// Extracts the foreign key from a left value; `None` is Kafka's null foreign key.
pub(crate) type ForeignKeyFn<V, KO> = Arc<dyn Fn(&V) -> Option<KO> + Send + Sync>;

/// `(left value, right value if any) -> joined row`, `None` for no row (an inner join
/// without a right row).
pub(crate) type FkJoinFn<V, VO, VR> = Arc<dyn Fn(&V, Option<&VO>) -> Option<VR> + Send + Sync>;

/// A left join's result for a left row without a right row.
pub(crate) type UnmatchedFn<V, VR> = Arc<dyn Fn(&V) -> VR + Send + Sync>;

/// Left side, on each change of a left row: subscribes it to its foreign key, unsubscribes it
/// from the old one (Kafka's `SubscriptionSendProcessorSupplier`). Children: 0 the
/// subscription sink; 1 the result, for what needs no right side: retractions of deleted
/// rows and of inner-join rows that lost their foreign key, and left-join rows without one.
///
/// An old answer for a left value that comes back unchanged (A, then B, then A again) passes
/// the hash check; it joins the same value, so the result is right (Kafka behaves alike).
pub(crate) struct SubscriptionSendNode<K, V, KO, VR> {
    pub name: String,
    pub key_serde: SerdeRef<K>,
    pub value_serde: SerdeRef<V>,
    pub foreign_key_serde: SerdeRef<KO>,
    pub extractor: ForeignKeyFn<V, KO>,
    /// For left joins: the result of a row without a right row.
    pub unmatched: Option<UnmatchedFn<V, VR>>,
}

impl<K, V, KO, VR> SubscriptionSendNode<K, V, KO, VR> {
    fn foreign_key(&self, value: Option<&V>) -> Result<Option<Vec<u8>>> {
        value
            .and_then(|v| (self.extractor)(v))
            .map(|fk| {
                self.foreign_key_serde
                    .serialize(&fk)
                    .map_err(|source| Error::Serialize {
                        target: format!("the foreign key of {}", self.name),
                        source,
                    })
            })
            .transpose()
    }
}

impl<K, V, KO, VR> Node for SubscriptionSendNode<K, V, KO, VR>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    KO: Send + 'static,
    VR: Clone + Send + 'static,
{
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        use Instruction::*;
        let input = downcast::<Vec<Record<K, Change<V>>>>(batch, &self.name)?;
        let partition = ctx.partition();
        let mut subscriptions: Vec<Record<Vec<u8>, Subscription>> = Vec::new();
        let mut local: Vec<Record<K, Change<VR>>> = Vec::new();
        for record in input {
            let Change { new, old } = record.value;
            if new.is_none() && old.is_none() {
                continue;
            }
            let new_fk = self.foreign_key(new.as_ref())?;
            let old_fk = self.foreign_key(old.as_ref())?;
            let hash = match &new {
                Some(v) => Some(value_hash(&encode(&*self.value_serde, v, &self.name)?)),
                None => None,
            };
            let left_key = encode(&*self.key_serde, &record.key, &self.name)?;
            let mut send = |fk: &Vec<u8>, instruction| {
                subscriptions.push(Record::new(
                    fk.clone(),
                    Subscription {
                        instruction,
                        hash,
                        partition,
                        left_key: left_key.clone(),
                    },
                    record.timestamp,
                ))
            };
            let moved = old_fk.is_some() && old_fk != new_fk;
            match (&new, &new_fk, &self.unmatched) {
                // Left join: always ask for an answer, to emit a row with or without a match.
                (Some(_), Some(fk), Some(_)) => {
                    if let (true, Some(old)) = (moved, &old_fk) {
                        send(old, DeleteKeyNoPropagate);
                    }
                    send(fk, PropagateNullIfNoFkValAvailable);
                }
                // Left join, no foreign key: joined with no right row, here (there is no
                // right side to ask); a response still in flight for an older value is
                // dropped as stale.
                (Some(v), None, Some(unmatched)) => {
                    if let Some(old) = &old_fk {
                        send(old, DeleteKeyNoPropagate);
                    }
                    local.push(Record::new(
                        record.key.clone(),
                        Change::new(Some(unmatched(v)), None),
                        record.timestamp,
                    ));
                }
                // Inner join, a new row: an answer only if it joins (there is no earlier
                // result to retract).
                (Some(_), Some(fk), None) if !moved && old.is_none() => {
                    send(fk, PropagateOnlyIfFkValAvailable)
                }
                // Inner join, an update under the same key: an answer in every case. Were
                // it "only if it joins", a right delete racing the update would answer the
                // old value's subscription (dropped here as stale) and nobody would
                // retract the old result.
                (Some(_), Some(fk), None) if !moved => send(fk, PropagateNullIfNoFkValAvailable),
                // Inner join, foreign key changed: an answer in every case, to retract the
                // old result if the new key does not join.
                (Some(_), Some(fk), None) => {
                    if let Some(old) = &old_fk {
                        send(old, DeleteKeyNoPropagate);
                    }
                    send(fk, PropagateNullIfNoFkValAvailable);
                }
                // Inner join lost its foreign key, or a row was deleted: the result goes,
                // retracted here (a retraction answered by the right side could arrive after
                // the row came back, be dropped as stale, and leave the old result), and
                // the old key's subscription is withdrawn.
                (Some(_), None, None) | (None, _, _) => {
                    if let Some(old) = &old_fk {
                        send(old, DeleteKeyNoPropagate);
                    }
                    local.push(Record::new(
                        record.key.clone(),
                        Change::new(None, None),
                        record.timestamp,
                    ));
                }
            }
        }
        if !subscriptions.is_empty() {
            ctx.forward_to(0, subscriptions);
        }
        if !local.is_empty() {
            ctx.forward_to(1, local);
        }
        Ok(())
    }
}

fn response(subscription: &Subscription, right_value: Option<Vec<u8>>) -> Routed {
    Routed {
        partition: subscription.partition,
        response: Response {
            hash: subscription.hash,
            right_value,
        },
    }
}

/// Right side, on each subscription: records or forgets it in the subscription store and
/// answers with the right row as the instruction says (Kafka's
/// `SubscriptionReceiveProcessorSupplier` and `SubscriptionJoinProcessorSupplier` in one
/// node).
pub(crate) struct SubscriptionReceiveNode {
    pub name: String,
    pub subscription_store: String,
    pub right_store: String,
    pub subscriptions: Option<Arc<dyn KeyValueStore>>,
    pub right: Option<Arc<dyn KeyValueStore>>,
}

impl Node for SubscriptionReceiveNode {
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.subscriptions = Some(ctx.kv_store(&self.subscription_store)?);
        self.right = Some(ctx.kv_store(&self.right_store)?);
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        use Instruction::*;
        let input = downcast::<Vec<Record<Vec<u8>, Subscription>>>(batch, &self.name)?;
        let store = self.subscriptions.as_ref().expect("init opened the store");
        let right = self.right.as_ref().expect("init opened the store");
        let mut out = Vec::new();
        for record in input {
            let fk = &record.key;
            let subscription = &record.value;
            let key = subscription_key(fk, &subscription.left_key);
            let answer = match subscription.instruction {
                DeleteKeyNoPropagate => {
                    store.delete(&key)?;
                    None
                }
                PropagateNullIfNoFkValAvailable | PropagateOnlyIfFkValAvailable => {
                    store.put(&key, &SubscriptionSerde.serialize(subscription)?)?;
                    match (right.get(fk)?, subscription.instruction) {
                        (None, PropagateOnlyIfFkValAvailable) => None,
                        (value, _) => Some(value),
                    }
                }
            };
            if let Some(value) = answer {
                out.push(Record::new(
                    subscription.left_key.clone(),
                    response(subscription, value),
                    record.timestamp,
                ));
            }
        }
        ctx.forward_records(out);
        Ok(())
    }
}

/// Right side, on each change of a right row: answers every subscription to its key with
/// the new row (none for a delete) (Kafka's `ForeignTableJoinProcessorSupplier`).
pub(crate) struct ForeignTableJoinNode<KO, VO> {
    pub name: String,
    pub subscription_store: String,
    pub key_serde: SerdeRef<KO>,
    pub value_serde: SerdeRef<VO>,
    pub subscriptions: Option<Arc<dyn KeyValueStore>>,
}

impl<KO, VO> Node for ForeignTableJoinNode<KO, VO>
where
    KO: Send + 'static,
    VO: Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.subscriptions = Some(ctx.kv_store(&self.subscription_store)?);
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<KO, Change<VO>>>>(batch, &self.name)?;
        let store = self.subscriptions.as_ref().expect("init opened the store");
        let mut out = Vec::new();
        for record in input {
            if record.value.new.is_none() && record.value.old.is_none() {
                continue;
            }
            let fk = encode(&*self.key_serde, &record.key, &self.name)?;
            let new = match &record.value.new {
                Some(v) => Some(encode(&*self.value_serde, v, &self.name)?),
                None => None,
            };
            let subscribers: Vec<Vec<u8>> = store
                .prefix_scan(&subscription_prefix(&fk))?
                .map(|entry| entry.map(|(_, value)| value))
                .collect::<eddy_state::Result<_>>()?;
            for bytes in subscribers {
                let subscription = SubscriptionSerde.deserialize(&bytes)?;
                out.push(Record::new(
                    subscription.left_key.clone(),
                    response(&subscription, new.clone()),
                    record.timestamp,
                ));
            }
        }
        ctx.forward_records(out);
        Ok(())
    }
}

/// Writes responses to the subscription-response topic, each to the partition of the left
/// row that subscribed (Kafka sends them back the same way, so a left table written with any
/// partitioner gets its answers).
pub(crate) struct ResponseSinkNode {
    pub name: String,
    pub topic: TopicName,
    pub resolved: Option<Arc<str>>,
}

impl Node for ResponseSinkNode {
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.resolved = Some(self.topic.resolve(ctx.application_id()).into());
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<Vec<u8>, Routed>>>(batch, &self.name)?;
        let topic = self.resolved.clone().expect("init resolved the topic");
        for record in input {
            let value = ResponseSerde.serialize(&record.value.response)?;
            ctx.send(SinkRecord {
                topic: topic.clone(),
                partition: Some(record.value.partition),
                key: Some(Bytes::from(record.key)),
                value: Some(Bytes::from(value)),
                timestamp: record.timestamp,
                headers: Vec::new(),
            });
        }
        Ok(())
    }
}

/// Left side, on each response: joins it with the left row's current value, unless that
/// value's hash differs from the one the response carries (the row changed after
/// subscribing: the response is stale and dropped). Forwards the result row (`None`: no
/// row) as the new side of a change, for the result store to complete.
pub(crate) struct ResponseJoinNode<K, V, VO, VR> {
    pub name: String,
    pub left_store: String,
    pub key_serde: SerdeRef<K>,
    pub left_serde: SerdeRef<V>,
    pub right_serde: SerdeRef<VO>,
    pub joiner: FkJoinFn<V, VO, VR>,
    pub left: Option<Arc<dyn KeyValueStore>>,
}

impl<K, V, VO, VR> Node for ResponseJoinNode<K, V, VO, VR>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    VO: Send + 'static,
    VR: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.left = Some(ctx.kv_store(&self.left_store)?);
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<Vec<u8>, Response>>>(batch, &self.name)?;
        let left = self.left.as_ref().expect("init opened the store");
        let mut out = Vec::with_capacity(input.len());
        for record in input {
            let current = left.get(&record.key)?;
            if current.as_deref().map(value_hash) != record.value.hash {
                tracing::trace!(node = %self.name, "dropping a stale foreign-key join response");
                continue;
            }
            let key = decode(&*self.key_serde, &record.key)?;
            let result = match current {
                None => None,
                Some(bytes) => {
                    let value = decode(&*self.left_serde, &bytes)?;
                    let right = match &record.value.right_value {
                        Some(r) => Some(decode(&*self.right_serde, r)?),
                        None => None,
                    };
                    (self.joiner)(&value, right.as_ref())
                }
            };
            out.push(Record::new(
                key,
                Change::new(result, None),
                record.timestamp,
            ));
        }
        ctx.forward_records(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_reference_vectors() {
        assert_eq!(murmur3_x64_128(b"", 0), (0, 0));
        assert_eq!(
            murmur3_x64_128(b"hello", 0),
            (0xcbd8_a7b3_41bd_9b02, 0x5b1e_906a_48ae_1d19)
        );
        assert_eq!(
            murmur3_x64_128(b"The quick brown fox jumps over the lazy dog", 0),
            (0xe34b_bc7b_bc07_1b6c, 0x7a43_3ca9_c49a_9347)
        );
    }

    /// What the send node emits for a change of left row `k` (string serdes; the value is
    /// the foreign key, "" for none): the subscriptions' instructions, and the changes it
    /// sends straight to the result.
    fn send(
        left_join: bool,
        new: Option<&str>,
        old: Option<&str>,
    ) -> (Vec<Instruction>, Vec<Change<String>>) {
        let strings = crate::serdes::Serdes::string();
        let unmatched: Option<UnmatchedFn<String, String>> = if left_join {
            Some(Arc::new(|v: &String| format!("{v}/-")))
        } else {
            None
        };
        let mut node = SubscriptionSendNode {
            name: "send".to_string(),
            key_serde: strings.clone(),
            value_serde: strings.clone(),
            foreign_key_serde: strings,
            extractor: Arc::new(|v: &String| (!v.is_empty()).then(|| v.clone())),
            unmatched,
        };
        let mut queue = Vec::new();
        let mut state = crate::processor::TaskState::default();
        let mut ctx = Context {
            children: &[10, 11],
            queue: &mut queue,
            state: &mut state,
        };
        let change = Change::new(new.map(str::to_string), old.map(str::to_string));
        let batch: AnyBatch = Box::new(vec![Record::new("k".to_string(), change, 5)]);
        node.process(batch, &mut ctx).unwrap();
        let (mut instructions, mut local) = (Vec::new(), Vec::new());
        for (child, batch) in queue {
            if child == 10 {
                let subs = batch
                    .downcast::<Vec<Record<Vec<u8>, Subscription>>>()
                    .unwrap();
                instructions.extend(subs.iter().map(|r| r.value.instruction));
            } else {
                let changes = batch
                    .downcast::<Vec<Record<String, Change<String>>>>()
                    .unwrap();
                local.extend(changes.into_iter().map(|r| r.value));
            }
        }
        (instructions, local)
    }

    #[test]
    fn the_sender_asks_for_answers_that_retract_and_retracts_what_it_knows() {
        use Instruction::*;
        let none = Change::new(None, None);
        // Inner join, a new row: an answer only if it joins.
        assert_eq!(
            send(false, Some("x"), None),
            (vec![PropagateOnlyIfFkValAvailable], vec![])
        );
        // Inner join, an update under the same key: an answer in every case, so that a right
        // delete racing the update still retracts the old result.
        assert_eq!(
            send(false, Some("x"), Some("x")),
            (vec![PropagateNullIfNoFkValAvailable], vec![])
        );
        // Inner join, a new key: the old subscription withdrawn, an answer in every case.
        assert_eq!(
            send(false, Some("y"), Some("x")),
            (
                vec![DeleteKeyNoPropagate, PropagateNullIfNoFkValAvailable],
                vec![]
            )
        );
        // A delete, or an inner-join row losing its key: retracted here, not by an answer
        // that could come back after the row returned and be dropped as stale.
        assert_eq!(
            send(false, None, Some("x")),
            (vec![DeleteKeyNoPropagate], vec![none.clone()])
        );
        assert_eq!(
            send(false, Some(""), Some("x")),
            (vec![DeleteKeyNoPropagate], vec![none.clone()])
        );
        assert_eq!(
            send(true, None, Some("x")),
            (vec![DeleteKeyNoPropagate], vec![none.clone()])
        );
        // Left join, no key: joined with nothing, here.
        assert_eq!(
            send(true, Some(""), Some("x")),
            (
                vec![DeleteKeyNoPropagate],
                vec![Change::new(Some("/-".to_string()), None)]
            )
        );
    }

    #[test]
    fn wire_formats_round_trip_and_reject_garbage() {
        let s = Subscription {
            instruction: Instruction::PropagateOnlyIfFkValAvailable,
            hash: Some(value_hash(b"v")),
            partition: 7,
            left_key: b"left".to_vec(),
        };
        let bytes = SubscriptionSerde.serialize(&s).unwrap();
        assert_eq!(SubscriptionSerde.deserialize(&bytes).unwrap(), s);
        let deleted = Subscription { hash: None, ..s };
        let bytes = SubscriptionSerde.serialize(&deleted).unwrap();
        assert_eq!(SubscriptionSerde.deserialize(&bytes).unwrap(), deleted);
        for r in [
            Response {
                hash: None,
                right_value: None,
            },
            Response {
                hash: Some(value_hash(b"x")),
                right_value: Some(Vec::new()),
            },
        ] {
            let bytes = ResponseSerde.serialize(&r).unwrap();
            assert_eq!(ResponseSerde.deserialize(&bytes).unwrap(), r);
        }
        assert!(SubscriptionSerde.deserialize(&[]).is_err());
        assert!(
            SubscriptionSerde
                .deserialize(&[9, 2, 0, 0, 0, 0, 1])
                .is_err()
        );
        assert!(
            SubscriptionSerde
                .deserialize(&[0, 8, 0, 0, 0, 0, 1])
                .is_err()
        );
        assert!(SubscriptionSerde.deserialize(&[0, 2, 1, 0]).is_err());
        assert!(ResponseSerde.deserialize(&[0, 0, 5]).is_err());
    }

    #[test]
    fn a_foreign_key_prefix_matches_only_its_own_subscriptions() {
        let short = subscription_key(b"a", b"bc");
        let long = subscription_key(b"ab", b"c");
        assert!(short.starts_with(&subscription_prefix(b"a")));
        assert!(!long.starts_with(&subscription_prefix(b"a")));
    }
}
