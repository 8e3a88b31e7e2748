//! Joins: stream-table (a lookup per stream record), stream-stream within join windows
//! (both sides buffered in window stores, unmatched records of left and outer joins held in
//! a store until their window closes), and table-table (either side's update looks up the
//! other side's store).

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::Mutex;

use eddy_state::{KeyValueStore, WindowStore};

use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record};
use crate::serdes::SerdeRef;

use super::aggregate::KvState;
use super::{decode, encode, items, push_item};

/// Stream-stream joiner of matched records: `(key, this value, other value) -> result`.
pub(crate) type JoinFn<K, A, B, R> = Arc<dyn Fn(&K, &A, &B) -> R + Send + Sync>;
/// Result for a record without a match (left and outer joins).
pub(crate) type UnmatchedFn<K, A, R> = Arc<dyn Fn(&K, &A) -> R + Send + Sync>;
/// Table-table joiner: `(key, this row, other row) -> joined row`, `None` for no row.
pub(crate) type TableJoinFn<K, A, B, R> =
    Arc<dyn Fn(&K, Option<&A>, Option<&B>) -> Option<R> + Send + Sync>;

/// Stream-table joiner: `(key, stream value, table value if any) -> result`, or `None` to
/// drop the record (an inner join without a table row).
pub(crate) type LookupJoiner<K, V, VT, VR> =
    Arc<dyn Fn(&K, &V, Option<&VT>) -> Option<VR> + Send + Sync>;

/// The store key a stream record looks a table up by, encoded: its own key for a
/// stream-table join, a key computed from it for a global table.
pub(crate) type LookupKey<K, V> = Arc<dyn Fn(&K, &V) -> Result<Vec<u8>> + Send + Sync>;

/// Looks each stream record up in a table's store (stream-table and stream-global-table
/// joins).
pub(crate) struct LookupJoinNode<K, V, KT, VT, VR> {
    pub name: String,
    pub table: KvState<KT, VT>,
    pub lookup_key: LookupKey<K, V>,
    pub joiner: LookupJoiner<K, V, VT, VR>,
}

impl<K, V, KT, VT, VR> Node for LookupJoinNode<K, V, KT, VT, VR>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    KT: Send + 'static,
    VT: Send + 'static,
    VR: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.table.init(ctx)
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let mut out = Vec::with_capacity(input.len());
        for record in input {
            let row = self
                .table
                .get_raw(&(self.lookup_key)(&record.key, &record.value)?)?;
            if let Some(joined) = (self.joiner)(&record.key, &record.value, row.as_ref()) {
                out.push(
                    Record::new(record.key, joined, record.timestamp).with_headers(record.headers),
                );
            }
        }
        ctx.forward_records(out);
        Ok(())
    }
}

/// Applies records of a global table's topic to its store: the record's key and value bytes
/// as they are; a tombstone deletes; unkeyed records are skipped.
pub(crate) fn apply_global(
    store: &dyn KeyValueStore,
    records: &[crate::record::SourceRecord],
) -> Result<()> {
    let entries: Vec<(Vec<u8>, Option<Vec<u8>>)> = records
        .iter()
        .filter_map(|r| {
            r.key
                .as_ref()
                .map(|k| (k.to_vec(), r.value.as_ref().map(|v| v.to_vec())))
        })
        .collect();
    store.write_batch(&entries)?;
    Ok(())
}

/// Sign-flipped big-endian time: orders negative before positive times as bytes.
fn time_bytes(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn time_from(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

const LEFT: u8 = 0;
const RIGHT: u8 = 1;

/// Key of an unmatched record in the outer-join store: time, side, key.
fn unmatched_key(t: i64, side: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + key.len());
    k.extend_from_slice(&time_bytes(t));
    k.push(side);
    k.extend_from_slice(key);
    k
}

/// The stream time both sides of a stream-stream join share, per task (partition): the
/// largest record time either side has seen, advanced record by record (Kafka Streams'
/// shared time tracker). The task's own stream time is advanced for a whole input batch
/// before the join sees it, which would make the earlier records of a batch look late.
pub(crate) type SharedJoinTime = Arc<Mutex<HashMap<i32, Arc<AtomicI64>>>>;

/// One side of a stream-stream join. Both sides share the other side's buffer and the
/// unmatched-records store, and forward to the same merge node.
pub(crate) struct StreamJoinSide<K, VT, VO, VJ> {
    pub name: String,
    pub this_is_left: bool,
    pub this_store: String,
    pub other_store: String,
    pub unmatched_store: Option<String>,
    /// Other records at `t - before ..= t + after` of this side's record at `t` match.
    pub before_ms: i64,
    pub after_ms: i64,
    pub grace_ms: i64,
    pub key_serde: SerdeRef<K>,
    pub this_serde: SerdeRef<VT>,
    pub other_serde: SerdeRef<VO>,
    pub join: JoinFn<K, VT, VO, VJ>,
    /// Result for an unmatched record of this side (left and outer joins).
    pub unmatched_this: Option<UnmatchedFn<K, VT, VJ>>,
    /// Result for an unmatched record of the other side (outer joins).
    pub unmatched_other: Option<UnmatchedFn<K, VO, VJ>>,
    pub this: Option<Arc<dyn WindowStore>>,
    pub other: Option<Arc<dyn WindowStore>>,
    pub unmatched: Option<Arc<dyn KeyValueStore>>,
    pub shared_time: SharedJoinTime,
    pub time: Option<Arc<AtomicI64>>,
}

impl<K, VT, VO, VJ> StreamJoinSide<K, VT, VO, VJ>
where
    K: Clone + Send + 'static,
    VT: Send + 'static,
    VO: Send + 'static,
    VJ: Clone + Send + 'static,
{
    fn this_side(&self) -> u8 {
        if self.this_is_left { LEFT } else { RIGHT }
    }

    /// How long after its time a record of `side` can still be matched.
    fn side_after(&self, side: u8) -> i64 {
        if side == self.this_side() {
            self.after_ms
        } else {
            self.before_ms
        }
    }

    /// Emits unmatched records whose join window closed (stream time passed their time +
    /// the window's far side + grace), oldest first.
    fn expire_unmatched(&self, stream_time: i64, out: &mut Vec<Record<K, VJ>>) -> Result<()> {
        let Some(store) = &self.unmatched else {
            return Ok(());
        };
        let nearest = self.after_ms.min(self.before_ms) + self.grace_ms;
        let mut expired = Vec::new();
        for entry in store.range(Bound::Unbounded, Bound::Unbounded)? {
            let (key, list) = entry?;
            let t = time_from(&key);
            if t.saturating_add(nearest) >= stream_time {
                break;
            }
            let side = key[8];
            if t.saturating_add(self.side_after(side) + self.grace_ms) >= stream_time {
                continue;
            }
            expired.push((key, list, t, side));
        }
        for (raw, list, t, side) in expired {
            store.delete(&raw)?;
            let k = decode(&*self.key_serde, &raw[9..])?;
            for item in items(&list)? {
                let result = if side == self.this_side() {
                    match &self.unmatched_this {
                        Some(f) => f(&k, &decode(&*self.this_serde, item)?),
                        None => continue,
                    }
                } else {
                    match &self.unmatched_other {
                        Some(f) => f(&k, &decode(&*self.other_serde, item)?),
                        None => continue,
                    }
                };
                out.push(Record::new(k.clone(), result, t));
            }
        }
        Ok(())
    }
}

impl<K, VT, VO, VJ> Node for StreamJoinSide<K, VT, VO, VJ>
where
    K: Clone + Send + 'static,
    VT: Send + 'static,
    VO: Send + 'static,
    VJ: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.this = Some(ctx.window_store(&self.this_store)?);
        self.other = Some(ctx.window_store(&self.other_store)?);
        if let Some(name) = &self.unmatched_store {
            self.unmatched = Some(ctx.kv_store(name)?);
        }
        let time = self
            .shared_time
            .lock()
            .entry(ctx.partition())
            .or_insert_with(|| Arc::new(AtomicI64::new(i64::MIN / 2)))
            .clone();
        self.time = Some(time);
        Ok(())
    }

    /// Kafka Streams' `KStreamKStreamJoin` per record: buffer it (the window store drops
    /// it when already past retention), emit the unmatched results whose windows it
    /// closed, join it with the other side's buffered records, and when it matches none
    /// either emit its unmatched result now (legacy windows, or a window already behind
    /// stream time) or hold it until its window closes.
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, VT>>>(batch, &self.name)?;
        let this = self.this.clone().expect("init opened the store");
        let other = self.other.clone().expect("init opened the store");
        let time = self.time.clone().expect("init set the shared time");
        let mut out = Vec::new();
        let mut late = 0;
        let mut stamp = super::HeaderStamp::new();
        for record in input {
            stamp.next(&mut out, record.headers.clone());
            let t = record.timestamp;
            let stream_time = time.fetch_max(t, Ordering::Relaxed).max(t);
            let key = encode(&*self.key_serde, &record.key, &self.this_store)?;
            let value = encode(&*self.this_serde, &record.value, &self.this_store)?;
            if this.is_expired(t) {
                late += 1;
            } else {
                let mut list = this.fetch_one(&key, t)?.unwrap_or_default();
                push_item(&mut list, &value);
                this.put(&key, t, &list)?;
            }
            if t == stream_time {
                self.expire_unmatched(stream_time, &mut out)?;
            }
            let mut matched = false;
            let from = t.saturating_sub(self.before_ms).max(0);
            let to = t.saturating_add(self.after_ms).max(0);
            for (other_t, list) in other.fetch(&key, from, to)? {
                for item in items(&list)? {
                    let other_value = decode(&*self.other_serde, item)?;
                    let joined = (self.join)(&record.key, &record.value, &other_value);
                    out.push(Record::new(record.key.clone(), joined, t.max(other_t)));
                    matched = true;
                }
                if let Some(unmatched) = &self.unmatched {
                    let other_side = if self.this_is_left { RIGHT } else { LEFT };
                    unmatched.delete(&unmatched_key(other_t, other_side, &key))?;
                }
            }
            if matched {
                continue;
            }
            let Some(unmatched_this) = &self.unmatched_this else {
                continue;
            };
            match &self.unmatched {
                Some(unmatched) if to >= stream_time => {
                    let k = unmatched_key(t, self.this_side(), &key);
                    let mut list = unmatched.get(&k)?.unwrap_or_default();
                    push_item(&mut list, &value);
                    unmatched.put(&k, &list)?;
                }
                _ => {
                    let result = unmatched_this(&record.key, &record.value);
                    out.push(Record::new(record.key.clone(), result, t));
                }
            }
        }
        stamp.finish(&mut out);
        if late > 0 {
            ctx.record_late(late);
        }
        ctx.forward_records(out);
        Ok(())
    }
}

/// One side of a table-table join: an update of this side joins the other side's current
/// row, and forwards the change of the joined row.
pub(crate) struct TableJoinSide<K, VT, VO, VJ> {
    pub name: String,
    pub other: KvState<K, VO>,
    /// `(key, this row, other row) -> joined row`, `None` for no row.
    pub joiner: TableJoinFn<K, VT, VO, VJ>,
}

impl<K, VT, VO, VJ> Node for TableJoinSide<K, VT, VO, VJ>
where
    K: Clone + Send + 'static,
    VT: Send + 'static,
    VO: Send + 'static,
    VJ: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.other.init(ctx)
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, Change<VT>>>>(batch, &self.name)?;
        let mut out = Vec::with_capacity(input.len());
        for record in input {
            let other = self.other.get(&record.key)?;
            let new = (self.joiner)(&record.key, record.value.new.as_ref(), other.as_ref());
            let old = (self.joiner)(&record.key, record.value.old.as_ref(), other.as_ref());
            if new.is_none() && old.is_none() {
                continue;
            }
            out.push(
                Record::new(record.key, Change::new(new, old), record.timestamp)
                    .with_headers(record.headers),
            );
        }
        ctx.forward_records(out);
        Ok(())
    }
}
