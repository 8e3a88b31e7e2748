//! Record headers through the `TopologyTestDriver`: piped with a record, read back with the
//! raw output of a topic; the DSL's sinks write none. (`headers_runtime.rs` runs headers
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
fn dsl_sinks_write_no_headers() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Serdes::string(), Serdes::string())
        .to("out");
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    driver
        .pipe_raw_with_headers(
            "in",
            Some(b"k".to_vec()),
            Some(b"v".to_vec()),
            1,
            headers(&[("h", None)]),
        )
        .unwrap();
    let out = driver.read_output_raw("out");
    assert_eq!(out.len(), 1);
    assert!(out[0].headers.is_empty());
    assert_eq!(out[0].value.as_deref(), Some(&b"v"[..]));
    assert_eq!(out[0].timestamp, 1);
    assert_eq!(driver.output_topic_names(), vec!["out".to_string()]);
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
