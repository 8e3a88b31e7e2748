//! Pull queries read their source without the engine's lock: while a long pull query scans
//! a big stream, statements and a pull query on another source are answered, before it
//! ends.

mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use eddy_broker::{Durability, NewRecord};
use eddy_server::ServiceConfig;
use serde_json::json;
use support::{TestServer, http1};

/// Records in the big stream: enough for its scan to take a while in a debug build.
const BIG: usize = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_pull_query_does_not_hold_up_other_requests() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    let (status, created) = server
        .ksql(
            &client,
            "CREATE STREAM big (id INT KEY, v STRING) \
                 WITH (kafka_topic='big', partitions=1, value_format='JSON'); \
             CREATE STREAM small (id INT KEY, v STRING) \
                 WITH (kafka_topic='small', partitions=1, value_format='JSON'); \
             INSERT INTO small (id, v) VALUES (1, 'one');",
        )
        .await?;
    assert_eq!(status, 200, "{created}");
    for chunk in (0..BIG).collect::<Vec<_>>().chunks(5_000) {
        let records: Vec<NewRecord> = chunk
            .iter()
            .map(|&i| {
                NewRecord::new(
                    (i as i32).to_be_bytes().to_vec(),
                    json!({"V": format!("value {i}")}).to_string().into_bytes(),
                )
            })
            .collect();
        server
            .broker
            .produce("big", 0, &records, Durability::Written)
            .await?;
    }

    let pull = |sql: &'static str| {
        let client = client.clone();
        let url = server.url("/query-stream");
        async move {
            let response = client
                .post(url)
                .header("Accept", "application/json")
                .json(&json!({ "sql": sql }))
                .send()
                .await?;
            let status = response.status().as_u16();
            let text = response.text().await?;
            ensure!(status == 200, "{sql}: {status} {text}");
            anyhow::Ok((text, Instant::now()))
        }
    };
    let started = Instant::now();
    // Matches nothing: it scans the whole stream.
    let long = tokio::spawn(pull("SELECT * FROM big WHERE v = 'none';"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let statement_sent = Instant::now();
    let (status, listed) = server.ksql(&client, "SHOW STREAMS;").await?;
    let statement_took = statement_sent.elapsed();
    assert_eq!(status, 200, "{listed}");
    let small_sent = Instant::now();
    let (small, small_done) = pull("SELECT * FROM small;").await?;
    let small_took = small_done - small_sent;
    assert!(small.contains("\"one\""), "{small}");
    let (answer, long_done) = long.await??;
    assert!(!answer.contains("value "), "{answer}");

    let long_took = long_done - started;
    ensure!(
        long_took > Duration::from_millis(800),
        "the long pull query took {long_took:?}: too short to show anything; make BIG larger"
    );
    // Held up by the long one, each would take most of its time (they are sent 200 ms
    // after it starts); answered beside it, a small part.
    ensure!(
        statement_took < long_took / 3 && small_done < long_done,
        "SHOW STREAMS took {statement_took:?} beside a pull query of {long_took:?}: it waited"
    );
    ensure!(
        small_took < long_took / 3,
        "a pull query on another stream took {small_took:?} beside one of {long_took:?}: it waited"
    );
    server.stop().await?;
    Ok(())
}
