//! Sliding windows, on-close emission of session windows, and window and session store
//! retention overrides, on the `TopologyTestDriver`.
//! Expected outputs are worked out by hand in the comments (Kafka Streams'
//! `KStreamSlidingWindowAggregate` and `KStreamSessionWindowAggregate` rules), and random
//! out-of-order input is checked against the definition of sliding windows.

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_streams::serdes::{SerdeRef, Serdes};
use eddy_streams::topology::StoreKind;
use eddy_streams::{
    EmitStrategy, Error, SessionWindows, SlidingWindows, StreamsBuilder, TimeWindows,
    TopologyTestDriver, Windowed,
};

/// An output record: key, window start, window end, value, timestamp.
type Out<V> = (String, i64, i64, V, i64);

fn s(x: &str) -> String {
    x.to_string()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn driver(builder: &StreamsBuilder) -> TopologyTestDriver {
    TopologyTestDriver::new(builder.build().expect("topology builds")).expect("driver starts")
}

fn read<V: 'static>(
    d: &TopologyTestDriver,
    key_serde: SerdeRef<Windowed<String>>,
    value_serde: SerdeRef<V>,
) -> Vec<Out<V>> {
    d.output_topic("out", key_serde, value_serde)
        .read_records()
        .unwrap()
        .into_iter()
        .map(|r| {
            let w = r.key.window;
            (
                r.key.key,
                w.start,
                w.end,
                r.value.expect("no tombstones"),
                r.timestamp,
            )
        })
        .collect()
}

fn out<V>(key: &str, start: i64, end: i64, value: V, timestamp: i64) -> Out<V> {
    (s(key), start, end, value, timestamp)
}

fn sliding_counts(windows: SlidingWindows, emit: EmitStrategy) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::i64())
        .group_by_key()
        .windowed_by_sliding(windows)
        .emit_strategy(emit)
        .count("counts")
        .to_stream()
        .to("out");
    driver(&b)
}

/// Kafka Streams' `testAggregateSmallInput`, every update in order.
#[test]
fn sliding_windows_in_order() {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::string())
        .group_by_key()
        .windowed_by_sliding(SlidingWindows::of_time_difference_and_grace(ms(10), ms(50)))
        .aggregate(
            "aggs",
            || s("0"),
            |_, v, agg| format!("{agg}+{v}"),
            Serdes::string(),
        )
        .to_stream()
        .to("out");
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::string());
    for (v, t) in [("1", 10), ("2", 15), ("3", 20), ("4", 22), ("5", 30)] {
        i.pipe(s("A"), s(v), t).unwrap();
    }
    let str = |start, end, v: &str, t| out("A", start, end, s(v), t);
    assert_eq!(
        read(
            &d,
            Serdes::time_windowed(Serdes::string(), 10),
            Serdes::string()
        ),
        vec![
            // @10: its left window.
            str(0, 10, "0+1", 10),
            // @15: 10's right window, then its left window seeded from [0,10].
            str(11, 21, "0+2", 15),
            str(5, 15, "0+1+2", 15),
            // @20: [11,21] holds it; 15's right window; its left window from [5,15].
            str(11, 21, "0+2+3", 20),
            str(16, 26, "0+3", 20),
            str(10, 20, "0+1+2+3", 20),
            // @22: [16,26] holds it; 20's right window; its left window from [11,21].
            str(16, 26, "0+3+4", 22),
            str(21, 31, "0+4", 22),
            str(12, 22, "0+2+3+4", 22),
            // @30: [21,31] holds it; 22's right window; its left window from [16,26].
            str(21, 31, "0+4+5", 30),
            str(23, 33, "0+5", 30),
            str(20, 30, "0+3+4+5", 30),
        ]
    );
    assert_eq!(d.counters().late_dropped, 0);
}

#[test]
fn sliding_windows_out_of_order_with_grace() {
    let d = sliding_counts(
        SlidingWindows::of_time_difference_and_grace(ms(10), ms(5)),
        EmitStrategy::on_window_update(),
    );
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    let o = |d: &TopologyTestDriver| {
        read(
            d,
            Serdes::time_windowed(Serdes::string(), 10),
            Serdes::i64(),
        )
    };
    i.pipe(s("a"), 0, 20).unwrap();
    assert_eq!(o(&d), vec![out("a", 10, 20, 1, 20)]);
    // 20's right window [21,31] would be empty: only 35's left window.
    i.pipe(s("a"), 0, 35).unwrap();
    assert_eq!(o(&d), vec![out("a", 25, 35, 1, 35)]);
    // Out of order; stream time 35, close time 30. 28 joins [25,35], is the first record of
    // 20's right window [21,31], and gets a right window [29,39] holding 35; its own left
    // window [18,28] has closed (28 < 30), so it is late for that one window.
    i.pipe(s("a"), 0, 28).unwrap();
    assert_eq!(
        o(&d),
        vec![
            out("a", 25, 35, 2, 35),
            out("a", 21, 31, 1, 28),
            out("a", 29, 39, 1, 35),
        ]
    );
    assert_eq!(d.counters().late_dropped, 1);
    // 12 + 1 + 10 <= 30: even its right window has closed; dropped whole.
    i.pipe(s("a"), 0, 12).unwrap();
    assert!(o(&d).is_empty());
    assert_eq!(d.counters().late_dropped, 2);
    // 35's right window [36,46]; 40's left window seeded from [29,39] (which holds 35).
    i.pipe(s("a"), 0, 40).unwrap();
    assert_eq!(
        o(&d),
        vec![out("a", 36, 46, 1, 40), out("a", 30, 40, 2, 40)]
    );
    // Close time 35; 25 + 1 + 10 > 35, so 25 is on time for the windows still open: it
    // joins [25,35] and gets a right window [26,36] (28 and 35), but is late for [21,31]
    // and its own left window [15,25].
    i.pipe(s("a"), 0, 25).unwrap();
    assert_eq!(
        o(&d),
        vec![out("a", 25, 35, 3, 35), out("a", 26, 36, 2, 35)]
    );
    assert_eq!(d.counters().late_dropped, 4);
    // Other keys have windows of their own.
    i.pipe(s("b"), 0, 40).unwrap();
    assert_eq!(o(&d), vec![out("b", 30, 40, 1, 40)]);
}

/// Records before `difference` share the window `[0, difference]`, as in Kafka Streams.
#[test]
fn sliding_windows_early_records() {
    // Grace keeps b's records below on time: stream time is the aggregation's, not the key's.
    let d = sliding_counts(
        SlidingWindows::of_time_difference_and_grace(ms(10), ms(20)),
        EmitStrategy::on_window_update(),
    );
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    let o = |d: &TopologyTestDriver| {
        read(
            d,
            Serdes::time_windowed(Serdes::string(), 10),
            Serdes::i64(),
        )
    };
    i.pipe(s("a"), 0, 2).unwrap();
    assert_eq!(o(&d), vec![out("a", 0, 10, 1, 2)]);
    // 2's right window [3,13], then [0,10].
    i.pipe(s("a"), 0, 5).unwrap();
    assert_eq!(o(&d), vec![out("a", 3, 13, 1, 5), out("a", 0, 10, 2, 5)]);
    // [3,13] holds 12; 5's right window [6,16]; 12's left window [2,12] seeded from [0,10].
    i.pipe(s("a"), 0, 12).unwrap();
    assert_eq!(
        o(&d),
        vec![
            out("a", 3, 13, 2, 12),
            out("a", 6, 16, 1, 12),
            out("a", 2, 12, 3, 12),
        ]
    );
    // Out of order among early records: 3's right window [4,14] takes what [0,10] holds
    // after 3 (only 8).
    i.pipe(s("b"), 0, 8).unwrap();
    i.pipe(s("b"), 0, 3).unwrap();
    assert_eq!(
        o(&d),
        vec![
            out("b", 0, 10, 1, 8),
            out("b", 4, 14, 1, 8),
            out("b", 0, 10, 2, 8),
        ]
    );
    assert_eq!(d.counters().late_dropped, 0);
}

#[test]
fn sliding_windows_emit_final_results_on_close() {
    let d = sliding_counts(
        SlidingWindows::of_time_difference_and_grace(ms(10), ms(5)),
        EmitStrategy::on_window_close(),
    );
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    let o = |d: &TopologyTestDriver| {
        read(
            d,
            Serdes::time_windowed(Serdes::string(), 10),
            Serdes::i64(),
        )
    };
    i.pipe(s("a"), 0, 20).unwrap();
    assert!(o(&d).is_empty());
    // Close time 35 - 5 = 30: [10,20] is final.
    i.pipe(s("a"), 0, 35).unwrap();
    assert_eq!(o(&d), vec![out("a", 10, 20, 1, 20)]);
    // As in the update test: updates [25,35], creates [21,31] and [29,39], late for [18,28].
    i.pipe(s("a"), 0, 28).unwrap();
    i.pipe(s("a"), 0, 12).unwrap(); // late
    assert!(o(&d).is_empty());
    // Close time 35: [21,31] is final (its time is its newest record's).
    i.pipe(s("a"), 0, 40).unwrap();
    assert_eq!(o(&d), vec![out("a", 21, 31, 1, 28)]);
    // Close time 55: everything before it, by window start.
    i.pipe(s("a"), 0, 60).unwrap();
    assert_eq!(
        o(&d),
        vec![
            out("a", 25, 35, 2, 35),
            out("a", 29, 39, 1, 35),
            out("a", 30, 40, 2, 40),
            out("a", 36, 46, 1, 40),
        ]
    );
    assert_eq!(d.counters().late_dropped, 2);
    // A record at the close time's edge is late for every window: nothing changes.
    i.pipe(s("a"), 0, 44).unwrap();
    assert!(o(&d).is_empty());
    assert_eq!(d.counters().late_dropped, 3);
}

/// A sliding aggregation's store keeps each window's newest record time in front of its
/// aggregate; typed reads of the store see the aggregate alone.
#[test]
fn sliding_window_store_reads_as_plain_aggregates() {
    let d = sliding_counts(
        SlidingWindows::of_time_difference_and_grace(ms(10), ms(50)),
        EmitStrategy::on_window_update(),
    );
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    for t in [10, 15, 20] {
        i.pipe(s("a"), 0, t).unwrap();
    }
    let store = d
        .window_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    // As in Kafka's small-input example: [0,10]=1, [5,15]=2, [10,20]=3, [11,21]=2, [16,26]=1.
    assert_eq!(
        store.fetch(&s("a"), 0, 100).unwrap(),
        vec![(0, 1), (5, 2), (10, 3), (11, 2), (16, 1)]
    );
}

/// A small deterministic generator (no randomness crate needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

/// The sliding windows of a key's record times, by definition: each record's left window
/// `[t - d, t]` (`[0, d]` for `t < d`), and its right window `[t + 1, t + 1 + d]` when a record
/// falls in it; each holding the records in it (as a bit set of record ids).
fn expected_windows(records: &[(i64, u32)], d: i64) -> BTreeMap<i64, i64> {
    let holding = |start: i64| {
        records
            .iter()
            .filter(|(t, _)| (start..=start + d).contains(t))
            .fold(0i64, |set, (_, id)| set | (1 << id))
    };
    let mut out = BTreeMap::new();
    for (t, _) in records {
        let left = (t - d).max(0);
        out.insert(left, holding(left));
        let right = holding(t + 1);
        if right != 0 {
            out.insert(t + 1, right);
        }
    }
    out
}

#[test]
fn sliding_windows_match_their_definition_on_shuffled_input() {
    let d = 7;
    for seed in 1..=20u64 {
        let mut rng = Lcg(seed);
        let mut records: BTreeMap<&str, Vec<(i64, u32)>> = BTreeMap::new();
        let mut input = Vec::new();
        for id in 0..40u32 {
            let key = ["x", "y"][rng.next(2) as usize];
            let t = rng.next(80) as i64;
            records.entry(key).or_default().push((t, id));
            input.push((key, t, id));
        }
        for emit in [
            EmitStrategy::on_window_update(),
            EmitStrategy::on_window_close(),
        ] {
            let b = StreamsBuilder::new();
            b.stream("in", Serdes::string(), Serdes::i64())
                .group_by_key()
                .windowed_by_sliding(SlidingWindows::of_time_difference_and_grace(
                    ms(d as u64),
                    ms(1_000),
                ))
                .emit_strategy(emit)
                .aggregate(
                    "sets",
                    || 0i64,
                    |_, id, set| set | (1i64 << *id),
                    Serdes::i64(),
                )
                .to_stream()
                .to("out");
            let drv = driver(&b);
            let i = drv.input_topic("in", Serdes::string(), Serdes::i64());
            for (key, t, id) in &input {
                i.pipe(s(key), i64::from(*id), *t).unwrap();
            }
            // Closes every window of x and y.
            i.pipe(s("z"), 0, 10_000).unwrap();
            let outputs = read(
                &drv,
                Serdes::time_windowed(Serdes::string(), d),
                Serdes::i64(),
            );
            for (key, times) in &records {
                let mut last = BTreeMap::new();
                let mut emitted = 0;
                for (k, start, end, set, _) in &outputs {
                    if k == key {
                        assert_eq!(end - start, d);
                        last.insert(*start, *set);
                        emitted += 1;
                    }
                }
                assert_eq!(
                    last,
                    expected_windows(times, d),
                    "seed {seed}, key {key}, {emit:?}"
                );
                if emit == EmitStrategy::OnWindowClose {
                    assert_eq!(emitted, last.len(), "each window emitted once");
                }
            }
            assert_eq!(drv.counters().late_dropped, 0);
        }
    }
}

fn session_counts(windows: SessionWindows) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::i64())
        .group_by_key()
        .windowed_by_session(windows)
        .emit_strategy(EmitStrategy::on_window_close())
        .count("sessions")
        .to_stream()
        .to("out");
    driver(&b)
}

#[test]
fn sessions_emit_only_final_results_on_close() {
    // A session [start, end] closes once stream time passes end + gap + grace = end + 15.
    let d = session_counts(SessionWindows::with_inactivity_gap_and_grace(ms(10), ms(5)));
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    let o =
        |d: &TopologyTestDriver| read(d, Serdes::session_windowed(Serdes::string()), Serdes::i64());
    i.pipe(s("a"), 0, 0).unwrap();
    i.pipe(s("a"), 0, 5).unwrap(); // a [0,5]
    i.pipe(s("b"), 0, 8).unwrap(); // b [8,8]
    assert!(o(&d).is_empty(), "no update is emitted");
    // Close time 30 - 15 = 15: sessions ending before 15, by end.
    i.pipe(s("a"), 0, 30).unwrap();
    assert_eq!(o(&d), vec![out("a", 0, 5, 2, 5), out("b", 8, 8, 1, 8)]);
    i.pipe(s("a"), 0, 22).unwrap(); // merges with [30,30]: a [22,30]
    // Retention is gap + grace = 15: the store returns no session ending at or before
    // 30 - 15 = 15, so 12 does not find a [0,5] (already emitted) and merges with a [22,30]
    // alone: a [12,30]. Then 3, within the gap of 12, makes it a [3,30]. (Kafka's rules:
    // neither is late, since the merged session ends after the close time.)
    i.pipe(s("a"), 0, 12).unwrap();
    i.pipe(s("a"), 0, 3).unwrap();
    assert_eq!(d.counters().late_dropped, 0);
    // Close time 23: nothing ends in [15, 23). a [3,30] becomes a [3,38].
    i.pipe(s("a"), 0, 38).unwrap();
    assert!(o(&d).is_empty());
    // Close time 45: a [3,38] with its 5 records; the sessions merged into it never appear.
    i.pipe(s("b"), 0, 60).unwrap();
    assert_eq!(o(&d), vec![out("a", 3, 38, 5, 38)]);
    // Out-of-order records that do not advance stream time emit nothing.
    i.pipe(s("b"), 0, 50).unwrap();
    assert!(o(&d).is_empty());
}

#[test]
fn sessions_on_close_without_grace() {
    let d = session_counts(SessionWindows::with_inactivity_gap_and_no_grace(ms(10)));
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    let o =
        |d: &TopologyTestDriver| read(d, Serdes::session_windowed(Serdes::string()), Serdes::i64());
    i.pipe(s("a"), 0, 100).unwrap();
    // 110 is within the gap: [100,110] is still open at stream time 110.
    i.pipe(s("a"), 0, 110).unwrap();
    i.pipe(s("b"), 0, 120).unwrap(); // close time 110: [100,110] still open (110 < 110 fails)
    assert!(o(&d).is_empty());
    i.pipe(s("b"), 0, 121).unwrap(); // close time 111
    assert_eq!(o(&d), vec![out("a", 100, 110, 2, 110)]);
}

// Retention overrides (Kafka Streams' `Materialized.withRetention`).

fn hour(n: i64) -> i64 {
    n * 3_600_000
}

/// Counts per 10 s window; a record at 0 and one 10 hours later; whether the window at 0 is
/// still in the store afterwards.
fn window_kept(windows: TimeWindows) -> bool {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Serdes::string(), Serdes::string())
        .group_by_key()
        .windowed_by(windows)
        .count("counts");
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.store("counts").unwrap().kind,
        StoreKind::Window {
            retention_ms: windows.retention_ms()
        }
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe("k".into(), "v".into(), 0).unwrap();
    input.pipe("k".into(), "v".into(), hour(10)).unwrap();
    let store = driver
        .window_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    let all = store.fetch(&"k".to_string(), 0, hour(10)).unwrap();
    assert!(all.contains(&(hour(10), 1)));
    all.contains(&(0, 1))
}

#[test]
fn time_window_retention_overrides_keep_windows_longer() {
    let size = Duration::from_secs(10);
    let windows = TimeWindows::of_size_with_no_grace(size);
    assert_eq!(windows.retention_ms(), 10_000);
    assert!(!window_kept(windows));
    let kept = windows
        .with_retention(Duration::from_secs(24 * 3600))
        .unwrap();
    assert_eq!(kept.retention_ms(), hour(24));
    assert!(window_kept(kept));
    // At least size + grace.
    let graced = TimeWindows::of_size_and_grace(size, Duration::from_secs(5));
    assert!(graced.with_retention(Duration::from_secs(15)).is_ok());
    match graced.with_retention(Duration::from_millis(14_999)) {
        Err(Error::Config(message)) => {
            assert!(
                message.contains("at least the window size plus the grace period (15000 ms)"),
                "{message}"
            )
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // Set directly, a short retention fails the build.
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Serdes::string(), Serdes::string())
        .group_by_key()
        .windowed_by(TimeWindows {
            retention_override_ms: Some(1),
            ..graced
        })
        .count("counts");
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("store counts: "), "{err}");
}

/// Counts per session (gap 10 s); a session at 0 and a record 10 hours later; whether the
/// session at 0 is still in the store afterwards.
fn session_kept(windows: SessionWindows) -> bool {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Serdes::string(), Serdes::string())
        .group_by_key()
        .windowed_by_session(windows)
        .count("sessions");
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.store("sessions").unwrap().kind,
        StoreKind::Session {
            retention_ms: windows.retention_ms()
        }
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe("k".into(), "v".into(), 0).unwrap();
    input.pipe("k".into(), "v".into(), hour(10)).unwrap();
    let store = driver
        .session_store("sessions", Serdes::string(), Serdes::i64())
        .unwrap();
    let sessions = store.find_sessions(&"k".to_string(), 0, hour(10)).unwrap();
    assert!(sessions.iter().any(|(w, n)| w.start == hour(10) && *n == 1));
    sessions.iter().any(|(w, n)| w.start == 0 && *n == 1)
}

#[test]
fn session_retention_overrides_keep_sessions_longer() {
    let gap = Duration::from_secs(10);
    let sessions = SessionWindows::with_inactivity_gap_and_no_grace(gap);
    assert_eq!(
        sessions.retention_ms(),
        10_000,
        "gap + grace, as in Kafka Streams"
    );
    assert!(!session_kept(sessions));
    let kept = sessions
        .with_retention(Duration::from_secs(24 * 3600))
        .unwrap();
    assert!(session_kept(kept));
    // At least gap + grace, as Kafka Streams requires.
    assert_eq!(sessions.with_retention(gap).unwrap().retention_ms(), 10_000);
    assert!(matches!(
        sessions.with_retention(Duration::from_millis(9_999)),
        Err(Error::Config(_))
    ));
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Serdes::string(), Serdes::string())
        .group_by_key()
        .windowed_by_session(SessionWindows {
            retention_override_ms: Some(0),
            ..sessions
        })
        .count("sessions");
    let err = builder.build().unwrap_err().to_string();
    assert!(
        err.contains("inactivity gap plus the grace period"),
        "{err}"
    );
}
