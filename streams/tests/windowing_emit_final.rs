//! Windowed aggregations as Kafka Streams 3.x runs them, on the `TopologyTestDriver`: the
//! timestamps of results (the largest record time of a time window, the end of a session),
//! and on-close emission (`KStreamWindowAggregate` and `KStreamSessionWindowAggregate` with
//! `EmitStrategy.onWindowClose()`), including the closed windows Kafka never emits because
//! its window store's reads skip windows past retention once stream time jumps ahead.
//!
//! Each expected output is worked out by hand from Kafka's rules in the comments. Times are
//! milliseconds.

use std::time::Duration;

use eddy_streams::serdes::{SerdeRef, Serdes};
use eddy_streams::{
    EmitStrategy, SessionWindows, StreamsBuilder, TimeWindows, TopologyTestDriver, Windowed,
};

/// An output record: key, window start, window end, count (`None`: a tombstone), timestamp.
type Out = (String, i64, i64, Option<i64>, i64);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn out(key: &str, start: i64, end: i64, count: i64, timestamp: i64) -> Out {
    (key.to_string(), start, end, Some(count), timestamp)
}

fn deleted(key: &str, start: i64, end: i64, timestamp: i64) -> Out {
    (key.to_string(), start, end, None, timestamp)
}

/// Counts per key of topic `in` in `windows`, written to `out`.
fn time_counts(windows: TimeWindows, emit: EmitStrategy) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::string())
        .group_by_key()
        .windowed_by(windows)
        .emit_strategy(emit)
        .count("counts")
        .to_stream()
        .to("out");
    TopologyTestDriver::new(b.build().unwrap()).unwrap()
}

/// Counts per key and session of topic `in`, written to `out`.
fn session_counts(windows: SessionWindows, emit: EmitStrategy) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::string())
        .group_by_key()
        .windowed_by_session(windows)
        .emit_strategy(emit)
        .count("sessions")
        .to("out"); // deleted sessions become tombstones
    TopologyTestDriver::new(b.build().unwrap()).unwrap()
}

/// Pipes one record per `(key, time)`.
fn pipe(d: &TopologyTestDriver, records: &[(&str, i64)]) {
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    for (key, time) in records {
        input.pipe(key.to_string(), "v".to_string(), *time).unwrap();
    }
}

/// Pipes one record of key `k1` per time.
fn pipe_k1(d: &TopologyTestDriver, times: &[i64]) {
    let records: Vec<_> = times.iter().map(|t| ("k1", *t)).collect();
    pipe(d, &records);
}

fn read(d: &TopologyTestDriver, keys: SerdeRef<Windowed<String>>) -> Vec<Out> {
    d.output_topic("out", keys, Serdes::i64())
        .read_records()
        .unwrap()
        .into_iter()
        .map(|r| {
            let w = r.key.window;
            (r.key.key, w.start, w.end, r.value, r.timestamp)
        })
        .collect()
}

fn read_time(d: &TopologyTestDriver, size: i64) -> Vec<Out> {
    read(d, Serdes::time_windowed(Serdes::string(), size))
}

fn read_sessions(d: &TopologyTestDriver) -> Vec<Out> {
    read(d, Serdes::session_windowed(Serdes::string()))
}

fn tumbling(size: u64, grace: u64) -> TimeWindows {
    TimeWindows::of_size_and_grace(ms(size), ms(grace))
}

fn on_close() -> EmitStrategy {
    EmitStrategy::on_window_close()
}

#[test]
fn tumbling_on_close_emits_a_window_once_stream_time_passes_its_end() {
    // Size 2, no grace. At 2 the close time is 2: the emission range is window starts in
    // [0, close - size = 0], so [0,2) is emitted, at its largest record time.
    let d = time_counts(tumbling(2, 0), on_close());
    pipe_k1(&d, &[0, 1]);
    assert_eq!(read_time(&d, 2), vec![], "[0,2) is still open at 1");
    pipe_k1(&d, &[2]);
    assert_eq!(read_time(&d, 2), vec![out("k1", 0, 2, 2, 1)]);
}

#[test]
fn tumbling_on_close_never_emits_windows_a_jump_in_stream_time_hides() {
    // Size 2, grace 1, retention 3. Until 5, the close time (stream time - 1) stays at or
    // below 1, so nothing closes, and [0,2) collects 0, 1, 1, 0 (4 records, time 1).
    // At 5: [4,6) is written first, so the store's newest window start is 4 and its reads
    // skip windows starting before 4 - 3 = 1. The emission reads starts in [0, 4 - 2 = 2]:
    // only [2,4) comes back; [0,2) (count 4) is never emitted.
    let d = time_counts(tumbling(2, 1), on_close());
    pipe_k1(&d, &[0, 1, 2, 1, 0]);
    assert_eq!(read_time(&d, 2), vec![]);
    pipe_k1(&d, &[5]);
    assert_eq!(read_time(&d, 2), vec![out("k1", 2, 4, 1, 2)]);
    // 0 after 5 is late for [0,2) (end 2 <= close time 4), and the close time has not
    // moved: nothing more.
    pipe_k1(&d, &[0]);
    assert_eq!(read_time(&d, 2), vec![]);
    assert_eq!(d.counters().late_dropped, 1);
}

#[test]
fn tumbling_on_close_with_wider_grace_can_emit_nothing_at_all() {
    // Size 2, grace 2, retention 4: close time = stream time - 2.
    // At 3: close 1, emission upper bound 1 - 2 < 0: nothing has closed.
    // At 10: [10,12) is written, reads skip starts before 10 - 4 = 6; the emission range
    // [0, 8 - 2 = 6] holds no window from 6 on. Nothing, and the close time is now 8.
    // At 30: [30,32) is written, reads skip starts before 26; range [max(0, 8 - 2) + 1 = 7,
    // 28 - 2 = 26]: nothing again. The 0s before 10 are in time ([0,2) ends after close
    // times 0 and 1); the one after 10 is late.
    let d = time_counts(tumbling(2, 2), on_close());
    pipe_k1(&d, &[0, 1, 2, 0, 3, 0, 10, 0, 30]);
    assert_eq!(read_time(&d, 2), vec![]);
    assert_eq!(d.counters().late_dropped, 1);
}

#[test]
fn hopping_on_close_emits_only_windows_the_store_still_returns() {
    // Size 5, advance 2, grace 1, retention 6; a record at t is in the windows starting at
    // even s with s <= t < s + 5.
    // 0, 1: [0,5). 2: [0,5), [2,7). 1: [0,5) = 4 records, largest time 2.
    // 6: [2,7), [4,9), [6,11); close 5, range [0, 0]; reads skip starts before 6 - 6 = 0:
    //    [0,5) = 4 at 2. Last close time 5.
    // 5: [2,7) = 3, [4,9) = 2 (largest time 6); close time still 5: nothing.
    // 10: [6,11), [8,13), [10,15); close 9, range [max(0, 5 - 5) + 1 = 1, 9 - 5 = 4], which
    //    covers new windows (those for 4 are not those for 0); reads skip starts before
    //    10 - 6 = 4: [4,9) = 2 at 6, and not [2,7).
    let windows = TimeWindows::of_size_and_grace(ms(5), ms(1))
        .advance_by(ms(2))
        .unwrap();
    let d = time_counts(windows, on_close());
    pipe_k1(&d, &[0, 1, 2, 1]);
    assert_eq!(read_time(&d, 5), vec![]);
    pipe_k1(&d, &[6]);
    assert_eq!(read_time(&d, 5), vec![out("k1", 0, 5, 4, 2)]);
    pipe_k1(&d, &[5]);
    assert_eq!(read_time(&d, 5), vec![]);
    pipe_k1(&d, &[10]);
    assert_eq!(read_time(&d, 5), vec![out("k1", 4, 9, 2, 6)]);
}

#[test]
fn tumbling_on_close_with_two_keys() {
    // Size 2, grace 1, retention 3. (k1,0) (k2,1) (k1,2) (k1,1) (k2,0): close time at most
    // 1, nothing closes. (k1,5): [4,6) written, reads skip starts before 1, range [0, 2]:
    // k1 [2,4) = 1 at 2 only (k1 [0,2) = 2 and k2 [0,2) = 2 are hidden). (k1,0) and (k2,2)
    // are late (window ends 2 and 4 <= close time 4).
    let d = time_counts(tumbling(2, 1), on_close());
    pipe(
        &d,
        &[
            ("k1", 0),
            ("k2", 1),
            ("k1", 2),
            ("k1", 1),
            ("k2", 0),
            ("k1", 5),
            ("k1", 0),
            ("k2", 2),
        ],
    );
    assert_eq!(read_time(&d, 2), vec![out("k1", 2, 4, 1, 2)]);
    assert_eq!(d.counters().late_dropped, 2);
}

#[test]
fn tumbling_on_close_emits_by_window_start_then_key() {
    // Size 10, grace 0, retention 10. (b,12) writes b [10,20), then the close time 12 gives
    // the range of starts [0, 2]: both keys' [0,10), a's first although b's came first.
    // (a,10) is in time for [10,20). (c,20): range [max(0, 12 - 10) + 1 = 3, 10], reads
    // skip starts before 20 - 10 = 10: both keys' [10,20), in key order again.
    let d = time_counts(tumbling(10, 0), on_close());
    pipe(&d, &[("b", 3), ("a", 7), ("b", 5), ("b", 12), ("a", 10)]);
    assert_eq!(
        read_time(&d, 10),
        vec![out("a", 0, 10, 1, 7), out("b", 0, 10, 2, 5)]
    );
    pipe(&d, &[("c", 20)]);
    assert_eq!(
        read_time(&d, 10),
        vec![out("a", 10, 20, 1, 10), out("b", 10, 20, 1, 12)]
    );
}

#[test]
fn time_window_updates_carry_the_largest_record_time_of_the_window() {
    // Size 10, grace 10: every record below is in time for [0,10).
    let d = time_counts(tumbling(10, 10), EmitStrategy::on_window_update());
    pipe_k1(&d, &[5, 2, 8, 12, 1]);
    assert_eq!(
        read_time(&d, 10),
        vec![
            out("k1", 0, 10, 1, 5),
            out("k1", 0, 10, 2, 5), // 2 arrives after 5
            out("k1", 0, 10, 3, 8),
            out("k1", 10, 20, 1, 12),
            out("k1", 0, 10, 4, 8), // 1 arrives after 8
        ]
    );
    // Typed reads of the store return the counts alone.
    let store = d
        .window_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    assert_eq!(
        store.fetch(&"k1".to_string(), 0, 10).unwrap(),
        vec![(0, 4), (10, 1)]
    );
}

#[test]
fn hopping_window_updates_carry_each_window_s_largest_record_time() {
    // Size 10, advance 5, grace 20: 7 is in [0,10) and [5,15); 3 only in [0,10); 12 in
    // [5,15) and [10,20); 6 in [0,10) and [5,15).
    let windows = TimeWindows::of_size_and_grace(ms(10), ms(20))
        .advance_by(ms(5))
        .unwrap();
    let d = time_counts(windows, EmitStrategy::on_window_update());
    pipe_k1(&d, &[7, 3, 12, 6]);
    assert_eq!(
        read_time(&d, 10),
        vec![
            out("k1", 0, 10, 1, 7),
            out("k1", 5, 15, 1, 7),
            out("k1", 0, 10, 2, 7),
            out("k1", 5, 15, 2, 12),
            out("k1", 10, 20, 1, 12),
            out("k1", 0, 10, 3, 7),
            out("k1", 5, 15, 3, 12),
        ]
    );
}

#[test]
fn sessions_on_close_emit_final_sessions_by_end_time() {
    // Gap 5, grace 6: close time = stream time - 11, retention 11.
    // 0, 4, 8, 12, 14 grow one session [0,14] (5 records). At 12 and 14 the close times are
    // 1 and 3: the sessions ending in [0, 0] and [1, 2] (none) are looked for.
    // 30: close time 19, sessions ending in [3, 18]: [0,14] = 5, at its end.
    // 29 merges with [30,30]: [29,30] = 2. 17: the store returns no session ending at or
    // before 30 - 11 = 19, so it stands alone as [17,17], which ends before the close time
    // 19: late.
    // 42: close time 31, sessions ending in [19, 30]: [29,30] = 2, at 30.
    let d = session_counts(
        SessionWindows::with_inactivity_gap_and_grace(ms(5), ms(6)),
        on_close(),
    );
    pipe_k1(&d, &[0, 4, 8, 12, 14]);
    assert_eq!(read_sessions(&d), vec![]);
    pipe_k1(&d, &[30]);
    assert_eq!(read_sessions(&d), vec![out("k1", 0, 14, 5, 14)]);
    pipe_k1(&d, &[29, 17]);
    assert_eq!(read_sessions(&d), vec![]);
    assert_eq!(d.counters().late_dropped, 1);
    pipe_k1(&d, &[42]);
    assert_eq!(read_sessions(&d), vec![out("k1", 29, 30, 2, 30)]);
}

#[test]
fn sessions_on_close_order_by_end_then_start_then_key() {
    // Gap 5, no grace: close time = stream time - 5. b [0,3], c [1,1], a [2,3]. At 10 the
    // close time is 5: sessions ending in [0, 4], by end, start, key: c [1,1], b [0,3],
    // a [2,3].
    let d = session_counts(
        SessionWindows::with_inactivity_gap_and_no_grace(ms(5)),
        on_close(),
    );
    pipe(&d, &[("b", 0), ("c", 1), ("a", 2), ("b", 3), ("a", 3)]);
    assert_eq!(read_sessions(&d), vec![]);
    pipe(&d, &[("z", 10)]);
    assert_eq!(
        read_sessions(&d),
        vec![
            out("c", 1, 1, 1, 1),
            out("b", 0, 3, 2, 3),
            out("a", 2, 3, 2, 3)
        ]
    );
}

#[test]
fn session_updates_carry_the_session_end_and_merges_delete_every_merged_session() {
    // Gap 10, grace 100 (nothing below is late).
    // 100: [100,100] = 1. 105: joins [100,100]: its delete (at 100), then [100,105] = 2
    // (at 105). 102 falls inside [100,105]: Kafka deletes and rewrites it, at 105.
    // 120: a session of its own, [120,120]. 112 bridges [100,105] and [120,120]: both
    // deleted (at 105 and 120), then [100,120] = 5 at 120. 120 again: [100,120] = 6.
    let d = session_counts(
        SessionWindows::with_inactivity_gap_and_grace(ms(10), ms(100)),
        EmitStrategy::on_window_update(),
    );
    pipe_k1(&d, &[100, 105, 102, 120, 112, 120]);
    assert_eq!(
        read_sessions(&d),
        vec![
            out("k1", 100, 100, 1, 100),
            deleted("k1", 100, 100, 100),
            out("k1", 100, 105, 2, 105),
            deleted("k1", 100, 105, 105),
            out("k1", 100, 105, 3, 105),
            out("k1", 120, 120, 1, 120),
            deleted("k1", 100, 105, 105),
            deleted("k1", 120, 120, 120),
            out("k1", 100, 120, 5, 120),
            deleted("k1", 100, 120, 120),
            out("k1", 100, 120, 6, 120),
        ]
    );
}

#[test]
fn a_record_at_a_point_session_s_time_updates_it_in_place() {
    // [50,50] and a second record at 50: the merged session is the record's own point, so
    // Kafka neither deletes nor re-creates it.
    let d = session_counts(
        SessionWindows::with_inactivity_gap_and_no_grace(ms(10)),
        EmitStrategy::on_window_update(),
    );
    pipe_k1(&d, &[50, 50]);
    assert_eq!(
        read_sessions(&d),
        vec![out("k1", 50, 50, 1, 50), out("k1", 50, 50, 2, 50)]
    );
}

#[test]
fn sessions_never_merge_with_a_session_past_the_store_s_retention() {
    // Gap 5, no grace: retention 5, close time = stream time - 5. [10,12] and then 20
    // (stream time 20, close time 15): [10,12] has closed. 17 is in time (17 >= 15) and
    // within the gap of [10,12], but the store returns no session ending at or before
    // 20 - 5 = 15, so 17 joins [20,20] alone: [17,20].
    let d = session_counts(
        SessionWindows::with_inactivity_gap_and_no_grace(ms(5)),
        EmitStrategy::on_window_update(),
    );
    pipe_k1(&d, &[10, 12, 20, 17]);
    assert_eq!(
        read_sessions(&d),
        vec![
            out("k1", 10, 10, 1, 10),
            deleted("k1", 10, 10, 10),
            out("k1", 10, 12, 2, 12),
            out("k1", 20, 20, 1, 20),
            deleted("k1", 20, 20, 20),
            out("k1", 17, 20, 2, 20),
        ]
    );
    // With a longer retention the store returns [10,12], and 17 bridges both, as in Kafka.
    let d = session_counts(
        SessionWindows::with_inactivity_gap_and_no_grace(ms(5))
            .with_retention(ms(100))
            .unwrap(),
        EmitStrategy::on_window_update(),
    );
    pipe_k1(&d, &[10, 12, 20, 17]);
    assert_eq!(read_sessions(&d).last(), Some(&out("k1", 10, 20, 4, 20)));
}
