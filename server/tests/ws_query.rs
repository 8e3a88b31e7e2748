//! `GET /ws/query` with a WebSocket client (tokio-tungstenite): a push query's schema and
//! rows then a normal close at its LIMIT, a pull query, a `PRINT`, a bad request closed
//! with 1003 and its reason, and a client closing an endless query, which frees it.

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use eddy_server::ServiceConfig;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{TestServer, http1};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const SETUP: &str = "CREATE STREAM pageviews (user_id STRING KEY, page STRING, ms BIGINT) \
    WITH (kafka_topic='pageviews', partitions=1, value_format='JSON');
    INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', 'home', 1);
    INSERT INTO pageviews (user_id, page, ms) VALUES ('u2', 'cart', 2);";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &TestServer, request: Value) -> Result<Socket> {
    let base = server.base.replacen("http://", "ws://", 1);
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/ws/query"),
        [("request", request.to_string()), ("version", "1".into())],
    )?;
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    Ok(socket)
}

/// The text messages until the server closes, and its close code and reason.
async fn read_to_close(socket: &mut Socket) -> Result<(Vec<String>, u16, String)> {
    let mut texts = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .context("no message within 30 s")?
            .context("the socket ended without a close")??;
        match message {
            Message::Text(text) => texts.push(text.to_string()),
            Message::Close(frame) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((0, String::new()));
                return Ok((texts, code, reason));
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_and_print_over_a_websocket() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    server.ksql(&http1(), SETUP).await?;

    let mut socket = connect(
        &server,
        json!({"ksql": "SELECT * FROM pageviews EMIT CHANGES LIMIT 2;",
               "streamsProperties": {"auto.offset.reset": "earliest"}}),
    )
    .await?;
    let (texts, code, reason) = read_to_close(&mut socket).await?;
    let schema: Value = serde_json::from_str(&texts[0])?;
    let names: Vec<&str> = schema
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["USER_ID", "PAGE", "MS"], "{schema}");
    assert_eq!(schema[2]["schema"]["type"], "BIGINT", "{schema}");
    assert_eq!(
        texts[1..],
        [
            r#"{"row":{"columns":["u1","home",1]}}"#,
            r#"{"row":{"columns":["u2","cart",2]}}"#
        ]
    );
    assert_eq!((code, reason.as_str()), (1000, "done"));

    // A pull query on a stream: the rows there are, then the close.
    let mut socket = connect(&server, json!({"ksql": "SELECT page FROM pageviews;"})).await?;
    let (texts, code, _) = read_to_close(&mut socket).await?;
    assert_eq!(
        texts[1..],
        [
            r#"{"row":{"columns":["home"]}}"#,
            r#"{"row":{"columns":["cart"]}}"#
        ]
    );
    assert_eq!(code, 1000);

    // PRINT: its lines.
    let mut socket = connect(
        &server,
        json!({"ksql": "PRINT 'pageviews' FROM BEGINNING LIMIT 1;"}),
    )
    .await?;
    let (texts, _, _) = read_to_close(&mut socket).await?;
    assert_eq!(
        texts[..2],
        ["Key format: KAFKA_STRING", "Value format: JSON"]
    );
    assert!(
        texts[2].ends_with(r#"key: u1, value: {"PAGE":"home","MS":1}, partition: 0"#),
        "{texts:?}"
    );

    // A bad request: closed with 1003 and the reason.
    let mut socket = connect(
        &server,
        json!({"ksql": "SELECT * FROM nowhere EMIT CHANGES;"}),
    )
    .await?;
    let (texts, code, reason) = read_to_close(&mut socket).await?;
    assert!(texts.is_empty(), "{texts:?}");
    assert_eq!(code, u16::from(CloseCode::Unsupported));
    assert!(reason.contains("NOWHERE"), "{reason}");

    // The client closing an endless push query frees it.
    let mut socket = connect(
        &server,
        json!({"ksql": "SELECT * FROM pageviews EMIT CHANGES;"}),
    )
    .await?;
    let _schema = socket.next().await.context("no schema")??;
    assert_eq!(server.service.push_queries().len(), 1);
    socket.close(None).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.service.push_queries().is_empty() {
        if Instant::now() > deadline {
            bail!("the push query stayed open after the client closed");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = socket.send(Message::Close(None)).await;
    server.stop().await
}
