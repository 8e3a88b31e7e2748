//! Page views per region in one-minute tumbling windows, final results only (emitted once
//! each window has closed), joined from a stream of views and a table of user regions.
//!
//! `cargo run -p eddy-streams --example page_views` (embedded broker), or
//! `cargo run -p eddy-streams --example page_views -- --bootstrap-servers 127.0.0.1:9092` (Kafka)

mod common;

use std::time::Duration;

use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, EmitStrategy, StreamsBuilder, TimeWindows};

const MINUTE: i64 = 60_000;

fn main() -> anyhow::Result<()> {
    let env = common::env()?;
    let backend = env.backend.clone();
    env.create_topics(&["page-views", "user-regions", "views-per-region"], 1)?;

    let origin = common::origin();
    let builder = StreamsBuilder::new();
    let regions = builder.table(
        "user-regions",
        Serdes::string(),
        Serdes::string(),
        "regions",
    );
    builder
        .stream("page-views", Serdes::string(), Serdes::string()) // user -> page
        .join_table(&regions, |_page, region| region.clone())
        .with_value_serde(Serdes::string())
        .group_by(|_user, region| region.clone(), Serdes::string())
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_secs(60),
            Duration::from_secs(10),
        ))
        .emit_strategy(EmitStrategy::on_window_close())
        .count("views-per-region-store")
        .to_stream()
        // Windows by their minute since the sample data's time origin.
        .map(move |w, n| {
            let minute = (w.window.start - origin) / MINUTE;
            (format!("{}@{minute}", w.key), n)
        })
        .with_key_serde(Serdes::string())
        .with_value_serde(Serdes::i64())
        .to("views-per-region");
    let topology = builder.build()?;
    println!("{}", topology.describe());

    let region = |u: &str, r: &str| (u.as_bytes().to_vec(), r.as_bytes().to_vec(), 0);
    common::produce(
        &backend,
        "user-regions",
        &[
            region("ann", "eu"),
            region("bob", "us"),
            region("cat", "eu"),
        ],
    )?;
    let view = |u: &str, t: i64| (u.as_bytes().to_vec(), b"/index.html".to_vec(), t);
    common::produce(
        &backend,
        "page-views",
        &[
            view("ann", 5_000),
            view("bob", 20_000),
            view("cat", 50_000),
            view("ann", 61_000),
            view("ann", 58_000), // late but within grace: still counted in minute 0
            // Moves stream time past minute 0's close (70 s). A record much further ahead
            // would do so too, but, as in Kafka Streams, its window would be written first
            // and put minute 0 past the store's retention (size + grace) before the closed
            // windows are read back: minute 0 would never be emitted.
            view("cat", 75_000),
            view("bob", 130_000), // moves stream time past minute 1's close
        ],
    )?;

    let config = AppConfig {
        state_dir: env.state_dir(),
        ..AppConfig::new("pageviews", backend.clone())
    };
    let app = App::new(topology, config).start()?;
    let mut results = Vec::new();
    common::wait_for("final counts of minutes 0 and 1", || {
        results = common::read_topic(&backend, "views-per-region")?
            .into_iter()
            .map(|(k, v)| {
                Ok((
                    String::from_utf8(k)?,
                    i64::from_be_bytes(v.unwrap_or_default()[..].try_into()?),
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(results.len() >= 3)
    })?;
    app.stop()?;
    results.sort();
    for (window, n) in &results {
        println!("{window:>8} {n}");
    }
    anyhow::ensure!(
        results
            == [
                ("eu@0".to_string(), 3),
                ("eu@1".to_string(), 2),
                ("us@0".to_string(), 1)
            ],
        "unexpected final counts {results:?}"
    );
    Ok(())
}
