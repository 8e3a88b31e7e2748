//! Word count: lines in, a running count per word out (the Kafka Streams classic).
//!
//! `cargo run -p eddy-streams --example word_count` (embedded broker), or
//! `cargo run -p eddy-streams --example word_count -- --bootstrap-servers 127.0.0.1:9092` (Kafka)

mod common;

use std::collections::BTreeMap;

use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, StreamsBuilder};

fn main() -> anyhow::Result<()> {
    let env = common::env()?;
    let backend = env.backend.clone();
    env.create_topics(&["text-lines", "word-counts"], 2)?;

    let builder = StreamsBuilder::new();
    builder
        .stream("text-lines", Serdes::string(), Serdes::string())
        .flat_map_values(|line: String| {
            line.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .with_value_serde(Serdes::string())
        .group_by(|_, word| word.clone(), Serdes::string())
        .count("word-counts-store")
        .to_stream()
        .to("word-counts");
    let topology = builder.build()?;
    println!("{}", topology.describe());

    let lines = [
        "all streams lead to Kafka",
        "hello kafka streams",
        "join kafka summit",
    ];
    let input: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                format!("line-{i}").into_bytes(),
                l.as_bytes().to_vec(),
                1_000 + i as i64,
            )
        })
        .collect();
    common::produce(&backend, "text-lines", &input)?;

    let config = AppConfig {
        state_dir: env.state_dir(),
        ..AppConfig::new("wordcount", backend.clone())
    };
    let app = App::new(topology, config).start()?;
    let mut counts = BTreeMap::new();
    common::wait_for("the count of \"kafka\" to reach 3", || {
        for (k, v) in common::read_topic(&backend, "word-counts")? {
            counts.insert(
                String::from_utf8(k)?,
                i64::from_be_bytes(v.unwrap_or_default()[..].try_into()?),
            );
        }
        Ok(counts.get("kafka") == Some(&3))
    })?;
    let streams = app.get(
        "word-counts-store",
        &"streams".to_string(),
        Serdes::string(),
        Serdes::i64(),
    )?;
    app.stop()?;
    for (word, n) in &counts {
        println!("{word:>8} {n}");
    }
    anyhow::ensure!(
        streams == Some(2),
        "interactive query of \"streams\" gave {streams:?}"
    );
    Ok(())
}
