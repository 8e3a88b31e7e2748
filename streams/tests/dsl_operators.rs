//! Every DSL operator, run through the `TopologyTestDriver` (deterministic, in memory).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eddy_streams::serdes::Serdes;
use eddy_streams::{
    EmitStrategy, Forwarder, InitContext, JoinWindows, Processor, PunctuationType, Record,
    SessionWindows, StoreKind, StreamsBuilder, TimeWindows, TopologyTestDriver, Windowed,
};

type Kv<V> = Vec<(String, Option<V>)>;

fn s(x: &str) -> String {
    x.to_string()
}

fn driver(builder: &StreamsBuilder) -> TopologyTestDriver {
    TopologyTestDriver::new(builder.build().expect("topology builds")).expect("driver starts")
}

#[test]
fn stateless_operators() {
    let b = StreamsBuilder::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let peeked = seen.clone();
    let input = b.stream("in", Serdes::string(), Serdes::i64());
    input.filter(|_, v| *v % 2 == 0).to("even");
    input.filter_not(|_, v| *v % 2 == 0).to("odd");
    input
        .map(|k, v| (format!("{k}{k}"), v * 10))
        .with_key_serde(Serdes::string())
        .with_value_serde(Serdes::i64())
        .to("mapped");
    input
        .map_values(|v| format!("v={v}"))
        .with_value_serde(Serdes::string())
        .to("values");
    input
        .flat_map_values(|v| (0..v.clamp(0, 3)).collect::<Vec<_>>())
        .with_value_serde(Serdes::i64())
        .to("repeated");
    input
        .flat_map(|k, v| vec![(k.clone(), v), (s("all"), v)])
        .with_key_serde(Serdes::string())
        .with_value_serde(Serdes::i64())
        .to("fanned");
    input
        .select_key(|_, v| format!("k{v}"))
        .with_key_serde(Serdes::string())
        .peek(move |_, _| {
            peeked.fetch_add(1, Ordering::SeqCst);
        })
        .to("rekeyed");
    input.to_dynamic(|_, v| if *v > 100 { s("big") } else { s("small") });
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    i.pipe(s("a"), 1, 10).unwrap();
    i.pipe(s("b"), 2, 20).unwrap();
    i.pipe(s("c"), 300, 30).unwrap();
    let out = |t: &str| {
        d.output_topic(t, Serdes::string(), Serdes::i64())
            .read_key_values()
            .unwrap()
    };
    assert_eq!(out("even"), vec![(s("b"), Some(2)), (s("c"), Some(300))]);
    assert_eq!(out("odd"), vec![(s("a"), Some(1))]);
    assert_eq!(
        out("mapped"),
        vec![
            (s("aa"), Some(10)),
            (s("bb"), Some(20)),
            (s("cc"), Some(3000))
        ]
    );
    assert_eq!(out("repeated").len(), 1 + 2 + 3);
    assert_eq!(out("fanned").len(), 6);
    assert_eq!(out("rekeyed")[2], (s("k300"), Some(300)));
    assert_eq!(out("big"), vec![(s("c"), Some(300))]);
    assert_eq!(out("small").len(), 2);
    let values = d
        .output_topic("values", Serdes::string(), Serdes::string())
        .read_records()
        .unwrap();
    assert_eq!(values[0], Record::new(s("a"), Some(s("v=1")), 10));
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[test]
fn split_merge_and_foreach() {
    let b = StreamsBuilder::new();
    let counted = Arc::new(AtomicUsize::new(0));
    let c = counted.clone();
    let branches = b
        .stream("in", Serdes::string(), Serdes::i64())
        .split()
        .branch("neg", |_, v| *v < 0)
        .branch("small", |_, v| *v < 10)
        .default_branch("rest");
    branches["neg"].to("neg");
    branches["small"]
        .merge(&branches["rest"])
        .to("non-negative");
    branches["rest"].foreach(move |_, _| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    for (n, v) in [-5, 3, 50, -1, 9, 11].into_iter().enumerate() {
        i.pipe(s("k"), v, n as i64).unwrap();
    }
    let out = |t: &str| -> Vec<i64> {
        d.output_topic(t, Serdes::string(), Serdes::i64())
            .read_key_values()
            .unwrap()
            .into_iter()
            .map(|(_, v)| v.unwrap())
            .collect()
    };
    assert_eq!(out("neg"), vec![-5, -1]);
    assert_eq!(out("non-negative"), vec![3, 50, 9, 11]);
    assert_eq!(counted.load(Ordering::SeqCst), 2);
}

#[test]
fn undecodable_records_are_skipped_and_counted() {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::i64()).to("out");
    let d = driver(&b);
    d.pipe_raw("in", Some(b"k".to_vec()), Some(vec![1, 2, 3]), 5)
        .unwrap();
    d.pipe_raw("in", Some(vec![0xff]), Some(7i64.to_be_bytes().to_vec()), 5)
        .unwrap();
    d.pipe_raw(
        "in",
        Some(b"k".to_vec()),
        Some(7i64.to_be_bytes().to_vec()),
        -1,
    )
    .unwrap();
    // A time no window arithmetic could handle (it would overflow): skipped too.
    d.pipe_raw(
        "in",
        Some(b"k".to_vec()),
        Some(9i64.to_be_bytes().to_vec()),
        i64::MAX,
    )
    .unwrap();
    d.pipe_raw(
        "in",
        Some(b"k".to_vec()),
        Some(8i64.to_be_bytes().to_vec()),
        6,
    )
    .unwrap();
    let out = d
        .output_topic("out", Serdes::string(), Serdes::i64())
        .read_key_values()
        .unwrap();
    assert_eq!(out, vec![(s("k"), Some(8))]);
    assert_eq!(d.counters().skipped, 4);
    assert_eq!(d.counters().processed, 5);
}

#[test]
fn word_count_repartitions_and_counts() {
    let b = StreamsBuilder::new();
    b.stream("lines", Serdes::string(), Serdes::string())
        .flat_map_values(|line: String| {
            line.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .with_value_serde(Serdes::string())
        .group_by(|_, word| word.clone(), Serdes::string())
        .count("counts")
        .to_stream()
        .to("word-counts");
    let topology = b.build().unwrap();
    let described = topology.describe();
    assert!(described.contains("Sub-topology: 1"), "{described}");
    assert!(
        described.contains("(topic: counts-repartition)"),
        "{described}"
    );
    assert!(
        described.contains("(topics: [counts-repartition])"),
        "{described}"
    );
    assert!(described.contains("(stores: [counts])"), "{described}");
    let d = TopologyTestDriver::new(topology).unwrap();
    let i = d.input_topic("lines", Serdes::string(), Serdes::string());
    i.pipe(s(""), s("the quick fox"), 1).unwrap();
    i.pipe(s(""), s("The lazy dog and the fox"), 2).unwrap();
    let out = d
        .output_topic("word-counts", Serdes::string(), Serdes::i64())
        .read_key_values()
        .unwrap();
    assert_eq!(out.last(), Some(&(s("fox"), Some(2))));
    assert_eq!(
        out.iter()
            .filter(|(k, _)| k == "the")
            .map(|(_, v)| v.unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let store = d
        .kv_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    assert_eq!(store.get(&s("the")).unwrap(), Some(3));
    assert_eq!(store.get(&s("cat")).unwrap(), None);
}

#[test]
fn reduce_and_aggregate() {
    let b = StreamsBuilder::new();
    let grouped = b
        .stream("in", Serdes::string(), Serdes::i64())
        .group_by_key();
    grouped.reduce("max", |a, b| a.max(b)).to("max");
    grouped
        .aggregate(
            "sum-count",
            || (0i64, 0i64),
            |_, v, (sum, n)| (sum + v, n + 1),
            Serdes::json(),
        )
        .map_values(|(sum, n)| sum / n)
        .with_value_serde(Serdes::i64())
        .to("mean");
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    for (n, v) in [4, 10, 1].into_iter().enumerate() {
        i.pipe(s("k"), v, n as i64).unwrap();
    }
    let out = |t: &str| {
        d.output_topic(t, Serdes::string(), Serdes::i64())
            .read_key_values()
            .unwrap()
    };
    assert_eq!(
        out("max"),
        vec![(s("k"), Some(4)), (s("k"), Some(10)), (s("k"), Some(10))]
    );
    assert_eq!(
        out("mean"),
        vec![(s("k"), Some(4)), (s("k"), Some(7)), (s("k"), Some(5))]
    );
}

fn windowed(k: &str, start: i64, end: i64) -> Windowed<String> {
    Windowed::new(s(k), start, end)
}

#[test]
fn tumbling_windows_with_out_of_order_data_and_grace() {
    let b = StreamsBuilder::new();
    let windows =
        TimeWindows::of_size_and_grace(Duration::from_millis(100), Duration::from_millis(50));
    b.stream("in", Serdes::string(), Serdes::i64())
        .group_by_key()
        .windowed_by(windows)
        .count("counts")
        .to_stream()
        .to("out");
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    i.pipe(s("a"), 0, 10).unwrap(); // [0,100)
    i.pipe(s("a"), 0, 120).unwrap(); // [100,200)
    i.pipe(s("a"), 0, 90).unwrap(); // out of order, within grace: stream time 120 < 100 + 50
    i.pipe(s("a"), 0, 160).unwrap(); // stream time 160: [0,100) closes (100 + 50 <= 160)
    i.pipe(s("a"), 0, 50).unwrap(); // late: dropped
    let out = d.output_topic(
        "out",
        Serdes::time_windowed(Serdes::string(), 100),
        Serdes::i64(),
    );
    assert_eq!(
        out.read_key_values().unwrap(),
        vec![
            (windowed("a", 0, 100), Some(1)),
            (windowed("a", 100, 200), Some(1)),
            (windowed("a", 0, 100), Some(2)),
            (windowed("a", 100, 200), Some(2)),
        ]
    );
    assert_eq!(d.counters().late_dropped, 1);
    let store = d
        .window_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    assert_eq!(
        store.fetch(&s("a"), 0, 1000).unwrap(),
        vec![(0, 2), (100, 2)]
    );
}

#[test]
fn hopping_windows() {
    let b = StreamsBuilder::new();
    let windows = TimeWindows::of_size_with_no_grace(Duration::from_millis(100))
        .advance_by(Duration::from_millis(50))
        .unwrap();
    b.stream("in", Serdes::string(), Serdes::i64())
        .group_by_key()
        .windowed_by(windows)
        .reduce("sums", |a, b| a + b)
        .to_stream()
        .to("out");
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    i.pipe(s("a"), 1, 60).unwrap(); // [0,100) and [50,150)
    i.pipe(s("a"), 10, 120).unwrap(); // [50,150) and [100,200)
    let out = d.output_topic(
        "out",
        Serdes::time_windowed(Serdes::string(), 100),
        Serdes::i64(),
    );
    assert_eq!(
        out.read_key_values().unwrap(),
        vec![
            (windowed("a", 0, 100), Some(1)),
            (windowed("a", 50, 150), Some(1)),
            (windowed("a", 50, 150), Some(11)),
            (windowed("a", 100, 200), Some(10)),
        ]
    );
    assert!(
        TimeWindows::of_size_with_no_grace(Duration::from_millis(10))
            .advance_by(Duration::from_millis(20))
            .is_err()
    );
}

#[test]
fn final_results_only_when_windows_close() {
    let b = StreamsBuilder::new();
    let windows =
        TimeWindows::of_size_and_grace(Duration::from_millis(100), Duration::from_millis(20));
    b.stream("in", Serdes::string(), Serdes::i64())
        .group_by_key()
        .windowed_by(windows)
        .emit_strategy(EmitStrategy::on_window_close())
        .count("counts")
        .to_stream()
        .to("out");
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    let out = d.output_topic(
        "out",
        Serdes::time_windowed(Serdes::string(), 100),
        Serdes::i64(),
    );
    i.pipe(s("a"), 0, 10).unwrap();
    i.pipe(s("b"), 0, 20).unwrap();
    i.pipe(s("a"), 0, 110).unwrap();
    i.pipe(s("a"), 0, 95).unwrap(); // within grace
    assert!(out.is_empty(), "nothing closed yet");
    i.pipe(s("a"), 0, 119).unwrap(); // 119 - 20 = 99 < 100: still open
    assert!(out.is_empty());
    i.pipe(s("b"), 0, 120).unwrap(); // close time 100: [0,100) closes
    assert_eq!(
        out.read_key_values().unwrap(),
        vec![
            (windowed("a", 0, 100), Some(2)),
            (windowed("b", 0, 100), Some(1))
        ]
    );
    // As in Kafka Streams, 400 writes [400,500) before the closed windows are read back,
    // and the store's reads skip windows starting before 400 - retention (120) = 280: the
    // closed windows [100,200) are never emitted.
    i.pipe(s("a"), 0, 400).unwrap();
    assert!(out.is_empty());
    assert_eq!(d.counters().late_dropped, 0);
}

#[test]
fn session_windows_merge() {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::i64())
        .group_by_key()
        .windowed_by_session(SessionWindows::with_inactivity_gap_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(10),
        ))
        .count("sessions")
        .to("out");
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    i.pipe(s("u"), 0, 100).unwrap();
    i.pipe(s("u"), 0, 119).unwrap(); // a second session
    // Bridges both: one session [100,119]. (The store's reads return sessions ending after
    // 119 - (gap + grace) = 99, so it finds [100,100]; without the grace it would not.)
    i.pipe(s("u"), 0, 110).unwrap();
    let out = d.output_topic(
        "out",
        Serdes::session_windowed(Serdes::string()),
        Serdes::i64(),
    );
    assert_eq!(
        out.read_key_values().unwrap(),
        vec![
            (windowed("u", 100, 100), Some(1)),
            (windowed("u", 119, 119), Some(1)),
            (windowed("u", 100, 100), None),
            (windowed("u", 119, 119), None),
            (windowed("u", 100, 119), Some(3)),
        ]
    );
    let store = d
        .session_store("sessions", Serdes::string(), Serdes::i64())
        .unwrap();
    assert_eq!(store.find_sessions(&s("u"), 0, 1000).unwrap().len(), 1);
}

#[test]
fn stream_table_joins() {
    let b = StreamsBuilder::new();
    let customers = b.table(
        "customers",
        Serdes::string(),
        Serdes::string(),
        "customers-store",
    );
    let orders = b.stream("orders", Serdes::string(), Serdes::i64());
    orders
        .join_table(&customers, |amount, name| format!("{name}:{amount}"))
        .with_value_serde(Serdes::string())
        .to("enriched");
    orders
        .left_join_table(&customers, |amount, name| {
            format!("{}:{amount}", name.map_or("?", |n| n.as_str()))
        })
        .with_value_serde(Serdes::string())
        .to("enriched-left");
    let d = driver(&b);
    let c = d.input_topic("customers", Serdes::string(), Serdes::string());
    let o = d.input_topic("orders", Serdes::string(), Serdes::i64());
    o.pipe(s("c1"), 5, 1).unwrap();
    c.pipe(s("c1"), s("ann"), 2).unwrap();
    o.pipe(s("c1"), 7, 3).unwrap();
    c.pipe_tombstone(s("c1"), 4).unwrap();
    o.pipe(s("c1"), 9, 5).unwrap();
    let out = |t: &str| {
        d.output_topic(t, Serdes::string(), Serdes::string())
            .read_key_values()
            .unwrap()
    };
    assert_eq!(out("enriched"), vec![(s("c1"), Some(s("ann:7")))]);
    assert_eq!(
        out("enriched-left"),
        vec![
            (s("c1"), Some(s("?:5"))),
            (s("c1"), Some(s("ann:7"))),
            (s("c1"), Some(s("?:9")))
        ]
    );
}

#[test]
fn stream_stream_joins() {
    let b = StreamsBuilder::new();
    let left = b.stream("left", Serdes::string(), Serdes::string());
    let right = b.stream("right", Serdes::string(), Serdes::string());
    let w = JoinWindows::of_time_difference_and_grace(
        Duration::from_millis(10),
        Duration::from_millis(5),
    );
    left.join(&right, |l, r| format!("{l}+{r}"), w)
        .with_value_serde(Serdes::string())
        .to("inner");
    left.left_join(
        &right,
        |l, r| format!("{l}+{}", r.map_or("-", |r| r.as_str())),
        w,
    )
    .with_value_serde(Serdes::string())
    .to("left-out");
    left.outer_join(
        &right,
        |l, r| {
            format!(
                "{}+{}",
                l.map_or("-", |l| l.as_str()),
                r.map_or("-", |r| r.as_str())
            )
        },
        w,
    )
    .with_value_serde(Serdes::string())
    .to("outer");
    let d = driver(&b);
    let l = d.input_topic("left", Serdes::string(), Serdes::string());
    let r = d.input_topic("right", Serdes::string(), Serdes::string());
    l.pipe(s("k"), s("l1"), 100).unwrap();
    r.pipe(s("k"), s("r1"), 105).unwrap(); // joins l1
    r.pipe(s("k"), s("r2"), 200).unwrap(); // no match yet: held until its window closes
    l.pipe(s("x"), s("l2"), 201).unwrap(); // held too
    // Out of order: its window (up to 160) is already behind stream time, so its unmatched
    // result is emitted at once (Kafka Streams does not hold back what cannot match).
    l.pipe(s("k"), s("late"), 150).unwrap();
    r.pipe(s("z"), s("r3"), 400).unwrap(); // closes r2's and l2's windows
    l.pipe(s("y"), s("ly"), 200_000).unwrap(); // closes r3's
    // Both this and `late` are past the left buffers' retention (newest 201 less 25): not
    // buffered (counted late), yet emitted as unmatched.
    l.pipe(s("k"), s("old"), 1_000).unwrap();
    let out = |t: &str| -> Vec<String> {
        d.output_topic(t, Serdes::string(), Serdes::string())
            .read_key_values()
            .unwrap()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.unwrap()))
            .collect()
    };
    assert_eq!(out("inner"), vec!["k=l1+r1"]);
    assert_eq!(
        out("left-out"),
        vec!["k=l1+r1", "k=late+-", "x=l2+-", "k=old+-"]
    );
    assert_eq!(
        out("outer"),
        vec![
            "k=l1+r1", "k=late+-", "k=-+r2", "x=l2+-", "z=-+r3", "k=old+-"
        ]
    );
    assert_eq!(
        d.counters().late_dropped,
        6,
        "the two records past the buffers' retention (176 and later), once per join"
    );
}

#[test]
fn legacy_join_windows_emit_unmatched_results_eagerly() {
    let b = StreamsBuilder::new();
    let left = b.stream("left", Serdes::string(), Serdes::string());
    let right = b.stream("right", Serdes::string(), Serdes::string());
    let w = JoinWindows::of(Duration::from_millis(10));
    assert_eq!(w.grace_ms, 86_400_000 - 20, "24 hours less the window");
    left.left_join(
        &right,
        |l, r| format!("{l}+{}", r.map_or("-", |r| r.as_str())),
        w,
    )
    .with_value_serde(Serdes::string())
    .to("left-out");
    left.outer_join(
        &right,
        |l, r| {
            format!(
                "{}+{}",
                l.map_or("-", |l| l.as_str()),
                r.map_or("-", |r| r.as_str())
            )
        },
        w,
    )
    .with_value_serde(Serdes::string())
    .to("outer");
    let d = driver(&b);
    let l = d.input_topic("left", Serdes::string(), Serdes::string());
    let r = d.input_topic("right", Serdes::string(), Serdes::string());
    l.pipe(s("k"), s("a"), 0).unwrap(); // unmatched: emitted at once
    r.pipe(s("k"), s("b"), 5).unwrap(); // joins a (the earlier result stays)
    r.pipe(s("j"), s("c"), 6).unwrap(); // unmatched right: only the outer join emits it
    let out = |t: &str| -> Vec<String> {
        d.output_topic(t, Serdes::string(), Serdes::string())
            .read_key_values()
            .unwrap()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.unwrap()))
            .collect()
    };
    assert_eq!(out("left-out"), vec!["k=a+-", "k=a+b"]);
    assert_eq!(out("outer"), vec!["k=a+-", "k=a+b", "j=-+c"]);
}

#[test]
fn table_operators_and_table_joins() {
    let b = StreamsBuilder::new();
    let prices = b.table("prices", Serdes::string(), Serdes::i64(), "prices-store");
    let names = b.table("names", Serdes::string(), Serdes::string(), "names-store");
    prices.filter(|_, p| *p >= 10).to("expensive");
    prices
        .map_values(|p| p * 2)
        .with_value_serde(Serdes::i64())
        .to("doubled");
    prices.join(&names, |p, n| format!("{n}@{p}")).to_with(
        "inner",
        Serdes::string(),
        Serdes::string(),
    );
    prices
        .outer_join(&names, |p, n| {
            format!("{}@{}", n.map_or("?", |n| n.as_str()), p.map_or(-1, |p| *p))
        })
        .to_with("outer", Serdes::string(), Serdes::string());
    let d = driver(&b);
    let p = d.input_topic("prices", Serdes::string(), Serdes::i64());
    let n = d.input_topic("names", Serdes::string(), Serdes::string());
    p.pipe(s("a"), 20, 1).unwrap();
    n.pipe(s("a"), s("apple"), 2).unwrap();
    p.pipe(s("a"), 5, 3).unwrap();
    p.pipe_tombstone(s("a"), 4).unwrap();
    let out = |t: &str| {
        d.output_topic(t, Serdes::string(), Serdes::i64())
            .read_key_values()
            .unwrap()
    };
    assert_eq!(out("expensive"), vec![(s("a"), Some(20)), (s("a"), None)]);
    assert_eq!(
        out("doubled"),
        vec![(s("a"), Some(40)), (s("a"), Some(10)), (s("a"), None)]
    );
    let out = |t: &str| {
        d.output_topic(t, Serdes::string(), Serdes::string())
            .read_key_values()
            .unwrap()
    };
    assert_eq!(
        out("inner"),
        vec![
            (s("a"), Some(s("apple@20"))),
            (s("a"), Some(s("apple@5"))),
            (s("a"), None)
        ]
    );
    assert_eq!(
        out("outer"),
        vec![
            (s("a"), Some(s("?@20"))),
            (s("a"), Some(s("apple@20"))),
            (s("a"), Some(s("apple@5"))),
            (s("a"), Some(s("apple@-1"))),
        ]
    );
}

#[test]
fn grouped_table_aggregates_add_and_subtract() {
    // Users with a region; count users per region as users move.
    let b = StreamsBuilder::new();
    b.table("users", Serdes::string(), Serdes::string(), "users-store")
        .group_by(
            |_, region| (region.clone(), 1i64),
            Serdes::string(),
            Serdes::i64(),
        )
        .count("per-region")
        .to("region-counts");
    let d = driver(&b);
    let u = d.input_topic("users", Serdes::string(), Serdes::string());
    u.pipe(s("ann"), s("eu"), 1).unwrap();
    u.pipe(s("bob"), s("eu"), 2).unwrap();
    u.pipe(s("ann"), s("us"), 3).unwrap();
    // Same region again: subtracted and added as one change, so one result (KIP-904).
    u.pipe(s("ann"), s("us"), 4).unwrap();
    u.pipe_tombstone(s("bob"), 5).unwrap();
    let store = d
        .kv_store("per-region", Serdes::string(), Serdes::i64())
        .unwrap();
    assert_eq!(store.get(&s("eu")).unwrap(), Some(0));
    assert_eq!(store.get(&s("us")).unwrap(), Some(1));
    let out: Kv<i64> = d
        .output_topic("region-counts", Serdes::string(), Serdes::i64())
        .read_key_values()
        .unwrap();
    assert_eq!(
        out,
        vec![
            (s("eu"), Some(1)),
            (s("eu"), Some(2)),
            (s("eu"), Some(1)),
            (s("us"), Some(1)),
            (s("us"), Some(1)),
            (s("eu"), Some(0)),
        ]
    );
}

#[test]
fn stream_to_table() {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::i64())
        .to_table("latest")
        .filter(|_, v| *v > 0)
        .to("positive");
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    i.pipe(s("a"), 1, 1).unwrap();
    i.pipe(s("a"), -1, 2).unwrap();
    let out: Kv<i64> = d
        .output_topic("positive", Serdes::string(), Serdes::i64())
        .read_key_values()
        .unwrap();
    assert_eq!(out, vec![(s("a"), Some(1)), (s("a"), None)]);
    let store = d
        .kv_store("latest", Serdes::string(), Serdes::i64())
        .unwrap();
    assert_eq!(store.get(&s("a")).unwrap(), Some(-1));
}

/// Sums values per key in a store and emits the sums on punctuation.
struct Summer {
    store: Option<Arc<dyn eddy_state::KeyValueStore>>,
}

impl Processor<String, i64, String, i64> for Summer {
    fn init(&mut self, ctx: &mut InitContext<'_>) -> eddy_streams::Result<()> {
        self.store = Some(ctx.kv_store("sums")?);
        ctx.schedule(Duration::from_millis(100), PunctuationType::StreamTime);
        ctx.schedule(Duration::from_secs(60), PunctuationType::WallClock);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, i64>,
        _out: &mut Forwarder<String, i64>,
    ) -> eddy_streams::Result<()> {
        let store = self.store.as_ref().unwrap();
        let old = store
            .get(record.key.as_bytes())?
            .map_or(0, |b| i64::from_be_bytes(b.try_into().unwrap()));
        store.put(record.key.as_bytes(), &(old + record.value).to_be_bytes())?;
        Ok(())
    }

    fn punctuate(
        &mut self,
        kind: PunctuationType,
        time: i64,
        out: &mut Forwarder<String, i64>,
    ) -> eddy_streams::Result<()> {
        for entry in self.store.as_ref().unwrap().all()? {
            let (k, v) = entry?;
            let tag = if kind == PunctuationType::WallClock {
                "wall:"
            } else {
                ""
            };
            out.forward(Record::new(
                format!("{tag}{}", String::from_utf8(k).unwrap()),
                i64::from_be_bytes(v.try_into().unwrap()),
                time,
            ));
        }
        Ok(())
    }
}

#[test]
fn low_level_processor_with_store_and_punctuation() {
    let b = StreamsBuilder::new();
    b.add_state_store("sums", StoreKind::KeyValue);
    b.stream("in", Serdes::string(), Serdes::i64())
        .process(|| Summer { store: None }, &["sums"])
        .with_key_serde(Serdes::string())
        .with_value_serde(Serdes::i64())
        .to("out");
    let d = driver(&b);
    let i = d.input_topic("in", Serdes::string(), Serdes::i64());
    let out = d.output_topic("out", Serdes::string(), Serdes::i64());
    i.pipe(s("a"), 1, 0).unwrap(); // first stream-time punctuation fires at once
    assert_eq!(out.read_key_values().unwrap(), vec![(s("a"), Some(1))]);
    i.pipe(s("a"), 2, 50).unwrap();
    assert!(out.is_empty());
    i.pipe(s("b"), 5, 100).unwrap();
    assert_eq!(
        out.read_key_values().unwrap(),
        vec![(s("a"), Some(3)), (s("b"), Some(5))]
    );
    d.advance_wall_clock(Duration::from_secs(59)).unwrap();
    assert!(out.is_empty());
    d.advance_wall_clock(Duration::from_secs(1)).unwrap();
    assert_eq!(
        out.read_key_values().unwrap(),
        vec![(s("wall:a"), Some(3)), (s("wall:b"), Some(5))]
    );
}

#[test]
fn build_errors_are_clear() {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::i64())
        .map_values(|v| v.to_string())
        .to("out");
    let err = b.build().unwrap_err().to_string();
    assert!(
        err.contains("writing to out needs a serde for alloc::string::String"),
        "{err}"
    );
    // An operator that keeps the type keeps the serde.
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::i64())
        .map_values(|v| v + 1)
        .to("out");
    assert!(b.build().is_ok());

    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::i64()).to("a");
    b.stream("in", Serdes::string(), Serdes::i64()).to("b");
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("topic \"in\" is read by two sources"), "{err}");

    let b = StreamsBuilder::new();
    let s1 = b.stream("in", Serdes::string(), Serdes::i64());
    s1.group_by_key().count("c");
    s1.group_by_key().count("c");
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("store name \"c\" is used twice"), "{err}");
}

#[test]
fn one_sided_join_window() {
    // Clicks up to 10 minutes after the impression, never before it.
    let b = StreamsBuilder::new();
    let impressions = b.stream("imp", Serdes::string(), Serdes::string());
    let clicks = b.stream("clk", Serdes::string(), Serdes::string());
    let w = JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(600))
        .before(Duration::ZERO);
    impressions
        .left_join(
            &clicks,
            |p, u| format!("{p}/{}", u.map_or("-", |u| u.as_str())),
            w,
        )
        .with_value_serde(Serdes::string())
        .to("out");
    let d = driver(&b);
    let imp = d.input_topic("imp", Serdes::string(), Serdes::string());
    let clk = d.input_topic("clk", Serdes::string(), Serdes::string());
    imp.pipe(s("ad1"), s("home"), 0).unwrap();
    clk.pipe(s("ad1"), s("ann"), 180_000).unwrap();
    clk.pipe(s("ad0"), s("bob"), 100).unwrap(); // before its impression: no match
    imp.pipe(s("ad0"), s("side"), 200).unwrap();
    clk.pipe(s("zz"), s("x"), 2_000_000).unwrap();
    let out = d
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_key_values()
        .unwrap();
    assert_eq!(
        out,
        vec![
            (s("ad1"), Some(s("home/ann"))),
            (s("ad0"), Some(s("side/-")))
        ]
    );
}

#[test]
fn global_table_joins() {
    let b = StreamsBuilder::new();
    let products = b.global_table(
        "products",
        Serdes::i64(),
        Serdes::string(),
        "products-store",
    );
    // Orders keyed by order id; the product id is in the value.
    let orders = b.stream("orders", Serdes::string(), Serdes::i64());
    orders
        .join_global(
            &products,
            |_, product| *product,
            |p, name| format!("{p}:{name}"),
        )
        .with_value_serde(Serdes::string())
        .to("named");
    orders
        .left_join_global(
            &products,
            |_, product| *product,
            |p, name| format!("{p}:{}", name.map_or("?", |n| n.as_str())),
        )
        .with_value_serde(Serdes::string())
        .to("named-left");
    let topology = b.build().unwrap();
    assert_eq!(
        topology.subtopologies().len(),
        1,
        "a global store does not join sub-topologies"
    );
    assert!(topology.copartition_groups().is_empty());
    let d = TopologyTestDriver::new(topology).unwrap();
    let p = d.input_topic("products", Serdes::i64(), Serdes::string());
    let o = d.input_topic("orders", Serdes::string(), Serdes::i64());
    p.pipe(7, s("pen"), 0).unwrap();
    o.pipe(s("o1"), 7, 1).unwrap();
    o.pipe(s("o2"), 8, 2).unwrap();
    p.pipe_tombstone(7, 3).unwrap();
    o.pipe(s("o3"), 7, 4).unwrap();
    let out = |t: &str| {
        d.output_topic(t, Serdes::string(), Serdes::string())
            .read_key_values()
            .unwrap()
    };
    assert_eq!(out("named"), vec![(s("o1"), Some(s("7:pen")))]);
    assert_eq!(
        out("named-left"),
        vec![
            (s("o1"), Some(s("7:pen"))),
            (s("o2"), Some(s("8:?"))),
            (s("o3"), Some(s("7:?")))
        ]
    );
}
