//! Record headers through the `TopologyTestDriver`: piped with a record, carried through
//! operators (as Kafka Streams carries them) and read back with the raw output of a topic. (`headers_runtime.rs` runs headers
//! through apps on both backends.)

use bytes::Bytes;
use eddy_streams::record::Headers;
use eddy_streams::serdes::Serdes;
use eddy_streams::{StreamsBuilder, TopologyTestDriver};

fn headers(pairs: &[(&str, Option<&str>)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            )
        })
        .collect()
}

#[test]
fn records_keep_their_headers_through_operators_into_sinks() {
    let builder = StreamsBuilder::new();
    let input = builder.stream("in", Serdes::string(), Serdes::string());
    input
        .map_values(|v| v.to_uppercase())
        .with_value_serde(Serdes::string())
        .to("mapped");
    // An aggregation's update carries the headers of the record that caused it.
    input.group_by_key().count("counts").to_stream().to_with(
        "counted",
        Serdes::string(),
        Serdes::i64(),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    driver
        .pipe_raw_with_headers(
            "in",
            Some(b"k".to_vec()),
            Some(b"v".to_vec()),
            1,
            headers(&[("h", None), ("trace", Some("t1"))]),
        )
        .unwrap();
    driver
        .pipe_raw_with_headers(
            "in",
            Some(b"k".to_vec()),
            Some(b"w".to_vec()),
            2,
            Vec::new(),
        )
        .unwrap();
    let mapped = driver.read_output_raw("mapped");
    assert_eq!(mapped.len(), 2);
    assert_eq!(
        mapped[0].headers,
        headers(&[("h", None), ("trace", Some("t1"))])
    );
    assert_eq!(mapped[0].value.as_deref(), Some(&b"V"[..]));
    assert_eq!(mapped[0].timestamp, 1);
    assert!(
        mapped[1].headers.is_empty(),
        "a record without headers gets none"
    );
    let counted = driver.read_output_raw("counted");
    assert_eq!(counted.len(), 2);
    assert_eq!(
        counted[0].headers,
        headers(&[("h", None), ("trace", Some("t1"))])
    );
    assert!(counted[1].headers.is_empty());
}

#[test]
fn raw_output_and_typed_output_read_the_same_records() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Serdes::string(), Serdes::i64())
        .to("out");
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.input_topic("in", Serdes::string(), Serdes::i64());
    let typed = driver.output_topic("out", Serdes::string(), Serdes::i64());
    input.pipe("a".into(), 1, 1).unwrap();
    assert_eq!(driver.read_output_raw("out").len(), 1);
    assert!(typed.is_empty());
    input.pipe("b".into(), 2, 2).unwrap();
    assert_eq!(
        typed.read_key_values().unwrap(),
        vec![("b".to_string(), Some(2))]
    );
    assert!(driver.read_output_raw("out").is_empty());
    assert!(driver.read_output_raw("never-written").is_empty());
}
