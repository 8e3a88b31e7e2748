//! Grouped streams and tables, and their (windowed) aggregations: count, reduce, aggregate.
//!
//! Every aggregation keeps its results in a store the caller names; a grouped stream whose
//! keys may have changed is first repartitioned through `<application id>-<store>-repartition`.
//! Results are emitted on every update (no de-duplicating cache in front of the
//! downstream), except windowed aggregations with [`EmitStrategy::OnWindowClose`].

use std::sync::Arc;

use crate::ops::aggregate::{Folder, KvState, StreamAggregateNode, TableAggregateNode};
use crate::ops::emit_progress::EmitProgress;
use crate::ops::session::SessionAggregateNode;
use crate::ops::sliding::SlidingWindowAggregateNode;
use crate::ops::window::WindowAggregateNode;
use crate::record::{Change, Windowed};
use crate::serdes::{SerdeRef, Serdes};
use crate::topology::StoreKind;

use super::kstream::{KStream, require};
use super::ktable::KTable;
use super::{Data, EmitStrategy, SessionWindows, SlidingWindows, TimeWindows};

fn count_folder<K, V>() -> Folder<K, V, i64> {
    Arc::new(|_, _, count: Option<i64>| count.unwrap_or(0) + 1)
}

fn reduce_folder<K, V: Clone>(
    reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
) -> Folder<K, V, V> {
    Arc::new(move |_, value: &V, agg: Option<V>| match agg {
        Some(agg) => reducer(agg, value.clone()),
        None => value.clone(),
    })
}

fn aggregate_folder<K, V, VA>(
    init: impl Fn() -> VA + Send + Sync + 'static,
    aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
) -> Folder<K, V, VA> {
    Arc::new(move |k, v, agg: Option<VA>| aggregator(k, v, agg.unwrap_or_else(&init)))
}

/// A stream grouped by key, made by [`KStream::group_by_key`] or [`KStream::group_by`].
pub struct KGroupedStream<K, V> {
    stream: KStream<K, V>,
}

impl<K: Data, V: Data> KGroupedStream<K, V> {
    pub(crate) fn new(stream: KStream<K, V>) -> Self {
        Self { stream }
    }

    fn fold<VA: Data>(
        &self,
        store: &str,
        folder: Folder<K, V, VA>,
        value_serde: SerdeRef<VA>,
    ) -> KTable<K, VA> {
        let stream = self.stream.partitioned(store);
        let key_serde = require(&stream.graph, &stream.key_serde, "an aggregation");
        stream
            .graph
            .borrow_mut()
            .add_store(store, StoreKind::KeyValue);
        let (s, k, v) = (store.to_string(), key_serde.clone(), value_serde.clone());
        let node =
            stream.add_processor("KSTREAM-AGGREGATE", vec![store.to_string()], move |name| {
                Box::new(StreamAggregateNode::new(
                    name,
                    KvState::new(&s, k.clone(), v.clone()),
                    folder.clone(),
                ))
            });
        KTable::new(
            stream.graph.clone(),
            node,
            Some(store.to_string()),
            Some(key_serde),
            Some(value_serde),
        )
    }

    /// Records per key, in store `store`.
    pub fn count(&self, store: &str) -> KTable<K, i64> {
        self.fold(store, count_folder(), Serdes::i64())
    }

    /// Combines each key's values with `reducer(aggregate, value)`; the first value is the
    /// starting aggregate. Needs the stream's value serde.
    pub fn reduce(
        &self,
        store: &str,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> KTable<K, V> {
        let serde = require(&self.stream.graph, &self.stream.value_serde, "reduce");
        self.fold(store, reduce_folder(reducer), serde)
    }

    /// Folds each key's values into an aggregate starting at `init()`.
    pub fn aggregate<VA: Data>(
        &self,
        store: &str,
        init: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        value_serde: SerdeRef<VA>,
    ) -> KTable<K, VA> {
        self.fold(store, aggregate_folder(init, aggregator), value_serde)
    }

    /// Aggregations per time window (tumbling or hopping).
    pub fn windowed_by(&self, windows: TimeWindows) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            stream: self.stream.clone(),
            windows,
            emit: EmitStrategy::OnWindowUpdate,
        }
    }

    /// Aggregations per sliding window (Kafka Streams' `windowedBy(SlidingWindows)`).
    pub fn windowed_by_sliding(&self, windows: SlidingWindows) -> SlidingWindowedKStream<K, V> {
        SlidingWindowedKStream {
            stream: self.stream.clone(),
            windows,
            emit: EmitStrategy::OnWindowUpdate,
        }
    }

    /// Aggregations per session.
    pub fn windowed_by_session(&self, windows: SessionWindows) -> SessionWindowedKStream<K, V> {
        SessionWindowedKStream {
            stream: self.stream.clone(),
            windows,
            emit: EmitStrategy::OnWindowUpdate,
        }
    }
}

/// Adds an aggregation's window store and, when it emits on close, the small key-value
/// store `<store>-emit` keeping how far it has emitted (changelogged like any store, so the
/// progress survives restarts). Returns the stores to connect to the aggregation.
fn add_window_stores<K, V>(
    stream: &KStream<K, V>,
    store: &str,
    kind: StoreKind,
    emit: EmitStrategy,
) -> (Vec<String>, String) {
    let emit_store = format!("{store}-emit");
    let mut stores = vec![store.to_string()];
    let mut g = stream.graph.borrow_mut();
    g.add_store(store, kind);
    if emit == EmitStrategy::OnWindowClose {
        g.add_store(&emit_store, StoreKind::KeyValue);
        stores.push(emit_store.clone());
    }
    (stores, emit_store)
}

/// A grouped stream to aggregate per time window.
pub struct TimeWindowedKStream<K, V> {
    stream: KStream<K, V>,
    windows: TimeWindows,
    emit: EmitStrategy,
}

impl<K: Data, V: Data> TimeWindowedKStream<K, V> {
    /// When results are emitted (default: on every update). With
    /// [`EmitStrategy::OnWindowClose`] each window is emitted once, at its largest record
    /// time, when stream time passes `end + grace`, unless, as in Kafka Streams, a record
    /// far ahead puts it past the store's retention
    /// ([`TimeWindows::retention_ms`]) first: such a window is never emitted.
    pub fn emit_strategy(mut self, emit: EmitStrategy) -> Self {
        self.emit = emit;
        self
    }

    fn fold<VA: Data>(
        &self,
        store: &str,
        folder: Folder<K, V, VA>,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA> {
        let stream = self.stream.partitioned(store);
        let key_serde = require(&stream.graph, &stream.key_serde, "a windowed aggregation");
        if let Err(e) = self.windows.validate() {
            stream
                .graph
                .borrow_mut()
                .error(format!("store {store}: {e}"));
        }
        let kind = StoreKind::Window {
            retention_ms: self.windows.retention_ms(),
        };
        let (stores, emit_store) = add_window_stores(&stream, store, kind, self.emit);
        // Values carry the window's largest record time (Kafka's timestamped window store).
        stream.graph.borrow_mut().mark_timestamped(store);
        let (windows, emit) = (self.windows, self.emit);
        let (s, k, v) = (store.to_string(), key_serde.clone(), value_serde.clone());
        let node = stream.add_processor("KSTREAM-AGGREGATE", stores, move |name| {
            Box::new(WindowAggregateNode {
                name: name.to_string(),
                store_name: s.clone(),
                windows,
                emit,
                key_serde: k.clone(),
                value_serde: v.clone(),
                aggregator: folder.clone(),
                store: None,
                observed: i64::MIN / 2,
                progress: EmitProgress::new(emit_store.clone()),
            })
        });
        KTable::new(
            stream.graph.clone(),
            node,
            None,
            Some(Serdes::time_windowed(key_serde, self.windows.size_ms)),
            Some(value_serde),
        )
    }

    /// Records per key and window, in window store `store`.
    pub fn count(&self, store: &str) -> KTable<Windowed<K>, i64> {
        self.fold(store, count_folder(), Serdes::i64())
    }

    /// Combines each key's values per window.
    pub fn reduce(
        &self,
        store: &str,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> KTable<Windowed<K>, V> {
        let serde = require(&self.stream.graph, &self.stream.value_serde, "reduce");
        self.fold(store, reduce_folder(reducer), serde)
    }

    /// Folds each key's values per window into an aggregate starting at `init()`.
    pub fn aggregate<VA: Data>(
        &self,
        store: &str,
        init: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA> {
        self.fold(store, aggregate_folder(init, aggregator), value_serde)
    }
}

/// A grouped stream to aggregate per sliding window, made by
/// [`KGroupedStream::windowed_by_sliding`].
pub struct SlidingWindowedKStream<K, V> {
    stream: KStream<K, V>,
    windows: SlidingWindows,
    emit: EmitStrategy,
}

impl<K: Data, V: Data> SlidingWindowedKStream<K, V> {
    /// When results are emitted (default: on every update). With
    /// [`EmitStrategy::OnWindowClose`] each window is emitted once, when stream time passes
    /// `end + grace`.
    pub fn emit_strategy(mut self, emit: EmitStrategy) -> Self {
        self.emit = emit;
        self
    }

    fn fold<VA: Data>(
        &self,
        store: &str,
        folder: Folder<K, V, VA>,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA> {
        let stream = self.stream.partitioned(store);
        let key_serde = require(&stream.graph, &stream.key_serde, "a windowed aggregation");
        let kind = StoreKind::Window {
            retention_ms: self.windows.retention_ms(),
        };
        let (stores, emit_store) = add_window_stores(&stream, store, kind, self.emit);
        stream.graph.borrow_mut().mark_timestamped(store);
        let (windows, emit) = (self.windows, self.emit);
        let (s, k, v) = (store.to_string(), key_serde.clone(), value_serde.clone());
        let node = stream.add_processor("KSTREAM-SLIDINGWINDOWAGGREGATE", stores, move |name| {
            Box::new(SlidingWindowAggregateNode {
                name: name.to_string(),
                store_name: s.clone(),
                windows,
                emit,
                key_serde: k.clone(),
                value_serde: v.clone(),
                aggregator: folder.clone(),
                store: None,
                observed: i64::MIN / 2,
                progress: EmitProgress::new(emit_store.clone()),
            })
        });
        KTable::new(
            stream.graph.clone(),
            node,
            None,
            Some(Serdes::time_windowed(
                key_serde,
                self.windows.time_difference_ms,
            )),
            Some(value_serde),
        )
    }

    /// Records per key and sliding window, in window store `store`.
    pub fn count(&self, store: &str) -> KTable<Windowed<K>, i64> {
        self.fold(store, count_folder(), Serdes::i64())
    }

    /// Combines each key's values per sliding window.
    pub fn reduce(
        &self,
        store: &str,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> KTable<Windowed<K>, V> {
        let serde = require(&self.stream.graph, &self.stream.value_serde, "reduce");
        self.fold(store, reduce_folder(reducer), serde)
    }

    /// Folds each key's values per sliding window into an aggregate starting at `init()`.
    pub fn aggregate<VA: Data>(
        &self,
        store: &str,
        init: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA> {
        self.fold(store, aggregate_folder(init, aggregator), value_serde)
    }
}

/// A grouped stream to aggregate per session.
pub struct SessionWindowedKStream<K, V> {
    stream: KStream<K, V>,
    windows: SessionWindows,
    emit: EmitStrategy,
}

impl<K: Data, V: Data> SessionWindowedKStream<K, V> {
    /// When results are emitted (default: on every update). With
    /// [`EmitStrategy::OnWindowClose`] only final sessions are emitted, once stream time
    /// passes `end + gap + grace`; sessions merged away are never emitted.
    pub fn emit_strategy(mut self, emit: EmitStrategy) -> Self {
        self.emit = emit;
        self
    }

    fn fold<VA: Data>(
        &self,
        store: &str,
        folder: Folder<K, V, VA>,
        merger: crate::ops::session::Merger<K, VA>,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA> {
        let stream = self.stream.partitioned(store);
        let key_serde = require(&stream.graph, &stream.key_serde, "a session aggregation");
        if let Err(e) = self.windows.validate() {
            stream
                .graph
                .borrow_mut()
                .error(format!("store {store}: {e}"));
        }
        let kind = StoreKind::Session {
            retention_ms: self.windows.retention_ms(),
        };
        let (stores, emit_store) = add_window_stores(&stream, store, kind, self.emit);
        let (windows, emit) = (self.windows, self.emit);
        let (s, k, v) = (store.to_string(), key_serde.clone(), value_serde.clone());
        let node = stream.add_processor("KSTREAM-SESSION-AGGREGATE", stores, move |name| {
            Box::new(SessionAggregateNode {
                name: name.to_string(),
                store_name: s.clone(),
                windows,
                emit,
                key_serde: k.clone(),
                value_serde: v.clone(),
                aggregator: folder.clone(),
                merger: merger.clone(),
                store: None,
                observed: i64::MIN / 2,
                store_time: i64::MIN / 2,
                progress: EmitProgress::new(emit_store.clone()),
            })
        });
        KTable::new(
            stream.graph.clone(),
            node,
            None,
            Some(Serdes::session_windowed(key_serde)),
            Some(value_serde),
        )
    }

    /// Records per key and session.
    pub fn count(&self, store: &str) -> KTable<Windowed<K>, i64> {
        self.fold(
            store,
            count_folder(),
            Arc::new(|_, a, b| a + b),
            Serdes::i64(),
        )
    }

    /// Combines each key's values per session; merging sessions reduces their aggregates.
    pub fn reduce(
        &self,
        store: &str,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> KTable<Windowed<K>, V> {
        let serde = require(&self.stream.graph, &self.stream.value_serde, "reduce");
        let reducer = Arc::new(reducer);
        let r = reducer.clone();
        self.fold(
            store,
            Arc::new(move |_, value: &V, agg: Option<V>| match agg {
                Some(agg) => r(agg, value.clone()),
                None => value.clone(),
            }),
            Arc::new(move |_, a, b| reducer(a, b)),
            serde,
        )
    }

    /// Folds each key's values per session into an aggregate starting at `init()`;
    /// `merger` combines the aggregates of sessions a record bridges.
    pub fn aggregate<VA: Data>(
        &self,
        store: &str,
        init: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        merger: impl Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA> {
        self.fold(
            store,
            aggregate_folder(init, aggregator),
            Arc::new(merger),
            value_serde,
        )
    }
}

/// A table re-grouped by [`KTable::group_by`].
pub struct KGroupedTable<K, V> {
    changes: KStream<K, Change<V>>,
    value_serde: SerdeRef<V>,
}

impl<K: Data, V: Data> KGroupedTable<K, V> {
    pub(crate) fn new(changes: KStream<K, Change<V>>, value_serde: SerdeRef<V>) -> Self {
        Self {
            changes,
            value_serde,
        }
    }

    fn fold<VA: Data>(
        &self,
        store: &str,
        adder: Folder<K, V, VA>,
        subtractor: Folder<K, V, VA>,
        value_serde: SerdeRef<VA>,
    ) -> KTable<K, VA> {
        let stream = self.changes.partitioned(store);
        let key_serde = require(&stream.graph, &stream.key_serde, "a table aggregation");
        stream
            .graph
            .borrow_mut()
            .add_store(store, StoreKind::KeyValue);
        let (s, k, v) = (store.to_string(), key_serde.clone(), value_serde.clone());
        let node = stream.add_processor("KTABLE-AGGREGATE", vec![store.to_string()], move |name| {
            Box::new(TableAggregateNode::new(
                name,
                KvState::new(&s, k.clone(), v.clone()),
                adder.clone(),
                subtractor.clone(),
            ))
        });
        KTable::new(
            stream.graph.clone(),
            node,
            Some(store.to_string()),
            Some(key_serde),
            Some(value_serde),
        )
    }

    /// Rows per key.
    pub fn count(&self, store: &str) -> KTable<K, i64> {
        self.fold(
            store,
            Arc::new(|_, _, c: Option<i64>| c.unwrap_or(0) + 1),
            Arc::new(|_, _, c: Option<i64>| c.unwrap_or(0) - 1),
            Serdes::i64(),
        )
    }

    /// Combines rows with `adder(aggregate, new row)` and `subtractor(aggregate, old row)`.
    pub fn reduce(
        &self,
        store: &str,
        adder: impl Fn(V, V) -> V + Send + Sync + 'static,
        subtractor: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> KTable<K, V> {
        let serde = self.value_serde.clone();
        self.fold(
            store,
            reduce_folder(adder),
            Arc::new(move |_, v: &V, agg: Option<V>| match agg {
                Some(agg) => subtractor(agg, v.clone()),
                None => v.clone(),
            }),
            serde,
        )
    }

    /// Folds rows into an aggregate starting at `init()`: `adder` for a row's new value,
    /// `subtractor` for its old one.
    pub fn aggregate<VA: Data>(
        &self,
        store: &str,
        init: impl Fn() -> VA + Send + Sync + 'static,
        adder: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        subtractor: impl Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        value_serde: SerdeRef<VA>,
    ) -> KTable<K, VA> {
        let init = Arc::new(init);
        let i2 = init.clone();
        self.fold(
            store,
            aggregate_folder(move || init(), adder),
            aggregate_folder(move || i2(), subtractor),
            value_serde,
        )
    }
}
