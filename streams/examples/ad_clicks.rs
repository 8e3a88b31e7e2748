//! Ad clicks joined to impressions within 10 minutes (a stream-stream join): the
//! click-through stream, and impressions nobody clicked (left join, emitted once their join
//! window has closed).
//!
//! `cargo run -p eddy-streams --example ad_clicks` (embedded broker), or
//! `cargo run -p eddy-streams --example ad_clicks -- --bootstrap-servers 127.0.0.1:9092` (Kafka)

mod common;

use std::time::Duration;

use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, JoinWindows, StreamsBuilder};

const MINUTE: i64 = 60_000;

fn main() -> anyhow::Result<()> {
    let env = common::env()?;
    let backend = env.backend.clone();
    env.create_topics(&["ad-impressions", "ad-clicks", "clicked-impressions"], 2)?;

    let builder = StreamsBuilder::new();
    let impressions = builder.stream("ad-impressions", Serdes::string(), Serdes::string()); // ad id -> placement
    let clicks = builder.stream("ad-clicks", Serdes::string(), Serdes::string()); // ad id -> user
    // Clicks may come up to 10 minutes after the impression, never before it.
    let window = JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(600))
        .before(Duration::ZERO);
    impressions
        .left_join(
            &clicks,
            |placement, user| match user {
                Some(user) => format!("{placement} clicked by {user}"),
                None => format!("{placement} not clicked"),
            },
            window,
        )
        .with_value_serde(Serdes::string())
        .to("clicked-impressions");
    let topology = builder.build()?;
    println!("{}", topology.describe());

    let rec = |ad: &str, v: &str, t: i64| (ad.as_bytes().to_vec(), v.as_bytes().to_vec(), t);
    common::produce(
        &backend,
        "ad-impressions",
        &[
            rec("ad-1", "homepage", 0),
            rec("ad-2", "sidebar", MINUTE),
            rec("ad-3", "footer", 2 * MINUTE),
        ],
    )?;
    common::produce(
        &backend,
        "ad-clicks",
        &[
            rec("ad-1", "ann", 3 * MINUTE),
            rec("ad-3", "bob", 20 * MINUTE),
            rec("ad-9", "cat", 30 * MINUTE),
        ],
    )?;

    let config = AppConfig {
        state_dir: env.state_dir(),
        ..AppConfig::new("adclicks", backend.clone())
    };
    let app = App::new(topology, config).start()?;
    let mut joined = Vec::new();
    common::wait_for("three join results", || {
        joined = common::read_topic(&backend, "clicked-impressions")?
            .into_iter()
            .map(|(k, v)| {
                Ok(format!(
                    "{}: {}",
                    String::from_utf8(k)?,
                    String::from_utf8(v.unwrap_or_default())?
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(joined.len() >= 3)
    })?;
    app.stop()?;
    joined.sort();
    for line in &joined {
        println!("{line}");
    }
    anyhow::ensure!(
        joined
            == [
                "ad-1: homepage clicked by ann",
                "ad-2: sidebar not clicked",
                "ad-3: footer not clicked",
            ],
        "unexpected join results {joined:?}"
    );
    Ok(())
}
