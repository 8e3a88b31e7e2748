//! ksqlDB's REST API over real sockets: statements and their entities, errors, push
//! queries in each framing over HTTP/1.1 and HTTP/2 cleartext, closing and capping them.

mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use eddy_server::ServiceConfig;
use serde_json::{Value, json};
use support::{TestServer, h2c, http1};

const SETUP: &str = "CREATE STREAM pageviews (user_id STRING KEY, page STRING, ms BIGINT) \
    WITH (kafka_topic='pageviews', partitions=1, value_format='JSON'); \
    CREATE STREAM upper_pages AS SELECT user_id, UCASE(page) AS page FROM pageviews;";

fn types(entities: &Value) -> Vec<&str> {
    entities
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["@type"].as_str()).collect())
        .unwrap_or_default()
}

/// The cluster endpoints ksqlDB servers and load balancers call, as a one-server cluster
/// answers them, in ksqlDB's shapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_endpoints_answer_as_one_server() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    let (status, created) = server.ksql(&client, SETUP).await?;
    assert_eq!(status, 200, "{created}");
    let heartbeat = json!({"hostInfo": {"host": "other", "port": 8088}, "timestamp": 1});
    for path in ["/heartbeat", "/lag"] {
        let answer: Value = client
            .post(server.url(path))
            .json(&heartbeat)
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(answer, json!({"isOk": true}), "{path}");
    }
    let status: Value = client
        .get(server.url("/clusterStatus"))
        .send()
        .await?
        .json()
        .await?;
    let hosts = status["clusterStatus"].as_object().expect("a host map");
    assert_eq!(hosts.len(), 1, "{status}");
    let (host, me) = hosts.iter().next().unwrap();
    let base = server.url("");
    let port = base.rsplit(':').next().unwrap_or_default();
    assert!(
        host.ends_with(&format!(":{port}")),
        "{host} is not this server ({base})"
    );
    assert_eq!(me["hostAlive"], true);
    assert!(me["lastStatusUpdateMs"].as_i64().is_some_and(|t| t > 0));
    assert!(
        me["activeStandbyPerQuery"]["CSAS_UPPER_PAGES_0"].is_object(),
        "{status}"
    );
    let metadata: Value = client
        .get(server.url("/v1/metadata"))
        .send()
        .await?
        .json()
        .await?;
    let clusters = &metadata["clusterId"]["scope"]["clusters"];
    assert_eq!(clusters["ksql-cluster"], "default_", "{metadata}");
    assert_eq!(clusters["kafka-cluster"], "eddy", "{metadata}");
    assert!(metadata["version"].is_string());
    let id: Value = client
        .get(server.url("/v1/metadata/id"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(id, metadata["clusterId"]);
    for path in ["/chc/ready", "/chc/live"] {
        let answer = client.get(server.url(path)).send().await?;
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(answer.json::<Value>().await?, json!({}), "{path}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_answer_with_ksqldb_entities() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();

    let info: Value = client.get(server.url("/info")).send().await?.json().await?;
    assert_eq!(info["KsqlServerInfo"]["ksqlServiceId"], "default_");
    assert_eq!(info["KsqlServerInfo"]["serverStatus"], "RUNNING");
    let health: Value = client
        .get(server.url("/healthcheck"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(health["isHealthy"], true);

    let (status, created) = server.ksql(&client, SETUP).await?;
    assert_eq!(status, 200, "{created}");
    assert_eq!(types(&created), ["currentStatus", "currentStatus"]);
    assert_eq!(created[0]["commandId"], "stream/PAGEVIEWS/create");
    assert_eq!(created[0]["commandStatus"]["status"], "SUCCESS");
    assert_eq!(created[0]["commandSequenceNumber"], 0);
    assert_eq!(created[1]["commandStatus"]["queryId"], "CSAS_UPPER_PAGES_0");
    assert_eq!(created[1]["commandSequenceNumber"], 1);
    assert!(
        created[1]["statementText"].as_str().is_some_and(|t| t
            .starts_with("CREATE STREAM upper_pages AS SELECT")
            && t.ends_with(';'))
    );

    let (status, listed) = server
        .ksql(
            &client,
            "SHOW STREAMS; DESCRIBE pageviews; SHOW QUERIES; SHOW PROPERTIES;",
        )
        .await?;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        types(&listed),
        ["streams", "sourceDescription", "queries", "properties"]
    );
    let names: Vec<&str> = listed[0]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["PAGEVIEWS", "UPPER_PAGES"]);
    let description = &listed[1]["sourceDescription"];
    assert_eq!(description["topic"], "pageviews");
    assert_eq!(
        description["fields"],
        json!([
            {"name": "USER_ID", "type": "KEY",
             "schema": {"type": "STRING", "fields": null, "memberSchema": null}},
            {"name": "PAGE", "schema": {"type": "STRING", "fields": null, "memberSchema": null}},
            {"name": "MS", "schema": {"type": "BIGINT", "fields": null, "memberSchema": null}},
        ])
    );
    assert_eq!(description["readQueries"][0]["id"], "CSAS_UPPER_PAGES_0");
    assert_eq!(listed[2]["queries"][0]["id"], "CSAS_UPPER_PAGES_0");
    assert_eq!(listed[2]["queries"][0]["state"], "RUNNING");

    // INSERT ... VALUES, SET and DEFINE answer nothing, as in ksqlDB.
    let (status, inserted) = server
        .ksql(
            &client,
            "INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', 'home', 1);",
        )
        .await?;
    assert_eq!((status, inserted), (200, json!([])));

    let statuses: Value = client
        .get(server.url("/status"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        statuses,
        json!({"commandStatuses": {
            "stream/PAGEVIEWS/create": "SUCCESS",
            "stream/UPPER_PAGES/create": "SUCCESS",
        }})
    );
    let one: Value = client
        .get(server.url("/status/stream/UPPER_PAGES/create"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(one["message"], "Created query with ID CSAS_UPPER_PAGES_0");
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_ksqldb_errors_and_change_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;

    // A syntax error anywhere runs nothing, and says where.
    let (status, error) = server
        .ksql(
            &client,
            "SHOW STREAMS;\nCREATE STREAM broken (id INT,) WITH ();",
        )
        .await?;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["@type"], "statement_error");
    assert_eq!(error["error_code"], 40001);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("line 2:"), "{message}");

    // A later statement's failure keeps the entities of those before it.
    let (status, error) = server
        .ksql(&client, "SHOW TABLES; DROP STREAM nowhere;")
        .await?;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("NOWHERE does not exist"),
        "{error}"
    );
    assert_eq!(error["statementText"], "DROP STREAM nowhere;");
    assert_eq!(types(&error["entities"]), ["tables"]);

    let (status, error) = server
        .ksql(&client, "SELECT * FROM pageviews EMIT CHANGES;")
        .await?;
    assert_eq!((status, error["error_code"].clone()), (400, json!(40002)));

    for (body, code, needle) in [
        ("not json".to_string(), 400, "not valid JSON"),
        ("[1]".to_string(), 400, "must be a JSON object"),
        (
            json!({"sql": "SHOW STREAMS;"}).to_string(),
            400,
            "no `ksql` field",
        ),
        (
            json!({"ksql": "SHOW STREAMS;", "streamsProperties": [1]}).to_string(),
            400,
            "must be an object",
        ),
        (
            json!({"ksql": "x".repeat(100_000)}).to_string(),
            413,
            "larger than the server's limit",
        ),
    ] {
        let response = client.post(server.url("/ksql")).body(body).send().await?;
        assert_eq!(response.status().as_u16(), code);
        let error: Value = response.json().await?;
        assert_eq!(error["@type"], "generic_error");
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{error}"
        );
    }
    let response = client.get(server.url("/no/such/path")).send().await?;
    assert_eq!(response.status().as_u16(), 404);

    // Nothing above was recorded or changed the catalog.
    let (_, listed) = server.ksql(&client, "SHOW STREAMS; SHOW QUERIES;").await?;
    assert_eq!(listed[0]["streams"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed[1]["queries"].as_array().map(Vec::len), Some(1));
    let statuses: Value = client
        .get(server.url("/status"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        statuses["commandStatuses"].as_object().map(|m| m.len()),
        Some(2)
    );
    server.stop().await
}

/// Reads a streamed body until `lines` complete lines arrived (or the body ended).
async fn read_lines(response: &mut reqwest::Response, lines: usize) -> Result<Vec<String>> {
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while text.matches('\n').count() < lines {
        ensure!(
            Instant::now() < deadline,
            "only this arrived in time: {text}"
        );
        match tokio::time::timeout(Duration::from_secs(60), response.chunk()).await?? {
            Some(chunk) => text.push_str(std::str::from_utf8(&chunk)?),
            None => break,
        }
    }
    Ok(text.lines().map(str::to_string).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_queries_stream_rows_in_each_framing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;
    server
        .ksql(
            &client,
            "INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', 'home', 1);
             INSERT INTO pageviews (user_id, page, ms) VALUES ('u2', 'cart', 2);",
        )
        .await?;
    let sql = "SELECT * FROM upper_pages EMIT CHANGES LIMIT 2;";

    // Delimited over HTTP/1.1 (the default framing).
    let mut response = client
        .post(server.url("/query-stream"))
        .body(json!({"sql": sql, "properties": {"auto.offset.reset": "earliest"}}).to_string())
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.ksqlapi.delimited.v1"
    );
    let lines = read_lines(&mut response, 3).await?;
    let header: Value = serde_json::from_str(&lines[0])?;
    assert_eq!(header["columnNames"], json!(["USER_ID", "PAGE"]));
    assert_eq!(header["columnTypes"], json!(["STRING", "STRING"]));
    assert!(
        header["queryId"]
            .as_str()
            .is_some_and(|id| id.starts_with("transient_UPPER_PAGES_"))
    );
    assert_eq!(lines[1..], [r#"["u1","HOME"]"#, r#"["u2","CART"]"#]);

    // Over HTTP/2 each line is a DATA frame of its own: clients parse frame by frame.
    let mut response = h2c()
        .post(server.url("/query-stream"))
        .body(json!({"sql": sql}).to_string())
        .send()
        .await?;
    let mut frames = Vec::new();
    while let Some(frame) = response.chunk().await? {
        // The stream's end may come as an empty frame.
        if !frame.is_empty() {
            frames.push(String::from_utf8(frame.to_vec())?);
        }
    }
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert!(
        frames
            .iter()
            .all(|f| f.ends_with('\n') && f.matches('\n').count() == 1),
        "{frames:?}"
    );
    assert_eq!(frames[1..], ["[\"u1\",\"HOME\"]\n", "[\"u2\",\"CART\"]\n"]);

    // One JSON array over HTTP/2 cleartext.
    let response = h2c()
        .post(server.url("/query-stream"))
        .header("Accept", "application/json")
        .body(json!({"sql": sql}).to_string())
        .send()
        .await?;
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let rows: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(rows[0]["columnNames"], json!(["USER_ID", "PAGE"]));
    assert_eq!(
        rows.as_array().unwrap()[1..],
        [json!(["u1", "HOME"]), json!(["u2", "CART"])]
    );

    // The older /query: a chunked JSON array ending with the final message.
    let response = client
        .post(server.url("/query"))
        .body(json!({"ksql": sql, "streamsProperties": {}}).to_string())
        .send()
        .await?;
    let rows: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(
        rows[0]["header"]["schema"],
        "`USER_ID` STRING, `PAGE` STRING"
    );
    assert_eq!(rows[1], json!({"row": {"columns": ["u1", "HOME"]}}));
    assert_eq!(rows[2], json!({"row": {"columns": ["u2", "CART"]}}));
    assert_eq!(rows[3], json!({"finalMessage": "Limit Reached"}));

    // A bad push query is an error before any row.
    let response = client
        .post(server.url("/query-stream"))
        .body(json!({"sql": "SELECT nope FROM upper_pages EMIT CHANGES;"}).to_string())
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 400);
    let error: Value = response.json().await?;
    assert_eq!(error["error_code"], 40001);
    server.stop().await
}

async fn wait_for_open(server: &TestServer, open: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.service.push_queries().len() != open {
        ensure!(
            Instant::now() < deadline,
            "{} push queries open, expected {open}",
            server.service.push_queries().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_queries_end_when_closed_or_abandoned_and_are_capped() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = ServiceConfig {
        max_push_queries: 1,
        ..ServiceConfig::default()
    };
    let server = TestServer::start(&dir, config).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;
    let endless = json!({"sql": "SELECT * FROM pageviews EMIT CHANGES;"}).to_string();

    // Closed with /close-query: the response ends.
    let mut response = client
        .post(server.url("/query-stream"))
        .body(endless.clone())
        .send()
        .await?;
    let header: Value = serde_json::from_str(&read_lines(&mut response, 1).await?[0])?;
    wait_for_open(&server, 1).await?;

    // At the cap, another is refused.
    let refused = client
        .post(server.url("/query-stream"))
        .body(endless.clone())
        .send()
        .await?;
    assert_eq!(refused.status().as_u16(), 429);
    let error: Value = refused.json().await?;
    assert_eq!(error["error_code"], 42900);

    let closed = client
        .post(server.url("/close-query"))
        .body(json!({"queryId": header["queryId"]}).to_string())
        .send()
        .await?;
    assert_eq!(closed.status().as_u16(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(30), response.text()).await??;
    assert_eq!(rest, "");
    wait_for_open(&server, 0).await?;
    let unknown = client
        .post(server.url("/close-query"))
        .body(json!({"queryId": "transient_X_1"}).to_string())
        .send()
        .await?;
    assert_eq!(unknown.status().as_u16(), 400);

    // Abandoned by its client: the query stops and frees its place.
    let mut response = h2c()
        .post(server.url("/query-stream"))
        .body(endless.clone())
        .send()
        .await?;
    read_lines(&mut response, 1).await?;
    wait_for_open(&server, 1).await?;
    drop(response);
    wait_for_open(&server, 0).await?;

    // TERMINATE with a push query's id closes it (ids ignore case, as ksqlDB's do).
    let mut response = client
        .post(server.url("/query-stream"))
        .body(endless)
        .send()
        .await?;
    let header: Value = serde_json::from_str(&read_lines(&mut response, 1).await?[0])?;
    let id = header["queryId"].as_str().unwrap().to_string();
    let (status, terminated) = server.ksql(&client, &format!("TERMINATE {id};")).await?;
    assert_eq!(status, 200, "{terminated}");
    assert_eq!(terminated[0]["@type"], "terminate_query");
    assert_eq!(terminated[0]["wasTerminated"], true);
    let rest = tokio::time::timeout(Duration::from_secs(30), response.text()).await??;
    assert_eq!(rest, "");
    wait_for_open(&server, 0).await?;
    // Not recorded: only the two statements of SETUP are.
    let statuses: Value = client
        .get(server.url("/status"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        statuses["commandStatuses"].as_object().map(|m| m.len()),
        Some(2)
    );
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_query_on_the_older_api_keeps_its_connection_alive() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;
    let mut response = client
        .post(server.url("/query"))
        .body(json!({"ksql": "SELECT * FROM pageviews EMIT CHANGES;"}).to_string())
        .send()
        .await?;
    let started = Instant::now();
    let mut text = String::new();
    while started.elapsed() < Duration::from_millis(2500) {
        let Ok(chunk) = tokio::time::timeout(Duration::from_secs(3), response.chunk()).await else {
            break;
        };
        match chunk? {
            Some(bytes) => text.push_str(std::str::from_utf8(&bytes)?),
            None => break,
        }
    }
    // The header, then newlines (whitespace between the array's elements) while nothing comes.
    let (header, rest) = text.split_once('\n').unwrap_or((&text, ""));
    assert!(header.starts_with("[{\"header\":"), "{text:?}");
    assert!(
        !rest.is_empty() && rest.chars().all(|c| c == '\n'),
        "{text:?}"
    );
    drop(response);
    wait_for_open(&server, 0).await?;
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_stream_writes_and_acknowledges_each_row() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;

    // Rows split across chunks anywhere; a bad row is refused alone.
    let chunks: Vec<Result<String, std::io::Error>> = vec![
        Ok("{\"target\": \"pageviews\", \"properties\": {}}\n{\"USER_ID\": \"u1\", \"pa".into()),
        Ok("ge\": \"home\", \"MS\": 1}\n{\"user_id\": \"u2\", \"nope\": 1}\n".into()),
        Ok("not json\n\n{\"user_id\": \"u3\", \"page\": \"cart\", \"ms\": \"3\"}".into()),
    ];
    let response = h2c()
        .post(server.url("/inserts-stream"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let acks: Vec<Value> = response
        .text()
        .await?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let summary: Vec<(String, u64)> = acks
        .iter()
        .map(|a| {
            (
                a["status"].as_str().unwrap_or("?").to_string(),
                a["seq"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ok".into(), 0),
            ("error".into(), 1),
            ("error".into(), 2),
            ("ok".into(), 3)
        ]
    );
    assert!(
        acks[1]["message"]
            .as_str()
            .unwrap()
            .contains("nope does not exist"),
        "{}",
        acks[1]
    );
    assert_eq!(acks[2]["error_code"], 40000);

    // What was acknowledged is in the stream, in order.
    let response = client
        .post(server.url("/query-stream"))
        .header("Accept", "application/json")
        .body(json!({"sql": "SELECT * FROM pageviews EMIT CHANGES LIMIT 2;"}).to_string())
        .send()
        .await?;
    let rows: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(
        rows.as_array().unwrap()[1..],
        [json!(["u1", "home", 1]), json!(["u3", "cart", 3])]
    );

    // As one JSON array, over HTTP/1.1.
    let response = client
        .post(server.url("/inserts-stream"))
        .header("Accept", "application/json")
        .body("{\"target\": \"PAGEVIEWS\"}\n{\"USER_ID\": \"u4\"}\n")
        .send()
        .await?;
    let acks: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(acks, json!([{"status": "ok", "seq": 0}]));

    // A target that is not a stream is refused before any row.
    for (first, needle) in [
        ("{\"target\": \"nowhere\"}\n", "unknown stream: nowhere"),
        ("[]\n", "no `target` string"),
        ("{oops\n", "must be a JSON object naming the target"),
    ] {
        let response = client
            .post(server.url("/inserts-stream"))
            .body(first)
            .send()
            .await?;
        assert_eq!(response.status().as_u16(), 400);
        let error: Value = response.json().await?;
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{error}"
        );
    }
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_queries_answer_once_in_each_framing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;
    server
        .ksql(
            &client,
            "CREATE TABLE views AS SELECT user_id, COUNT(*) AS n FROM pageviews GROUP BY user_id;
             INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', 'home', 1);
             INSERT INTO pageviews (user_id, page, ms) VALUES ('u2', 'cart', 2);
             INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', 'pay', 3);",
        )
        .await?;
    let pull = |sql: &'static str, accept: &'static str| {
        let client = client.clone();
        let url = server.url("/query-stream");
        async move {
            let response = client
                .post(url)
                .header("Accept", accept)
                .body(json!({"sql": sql}).to_string())
                .send()
                .await?;
            anyhow::Ok((response.status().as_u16(), response.text().await?))
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let delimited = "application/vnd.ksqlapi.delimited.v1";
    loop {
        let (status, text) = pull("SELECT * FROM views WHERE user_id = 'u1';", delimited).await?;
        assert_eq!(status, 200, "{text}");
        let lines: Vec<&str> = text.lines().collect();
        if lines.get(1) == Some(&r#"["u1",2]"#) {
            let header: Value = serde_json::from_str(lines[0])?;
            assert_eq!(header["columnNames"], json!(["USER_ID", "N"]));
            assert_eq!(lines.len(), 2, "{text}");
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the table never showed u1's two views: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, text) = pull("SELECT user_id, n FROM views;", "application/json").await?;
    let rows: Value = serde_json::from_str(&text)?;
    let mut rows = rows.as_array().unwrap()[1..].to_vec();
    rows.sort_by_key(|r| r[0].as_str().unwrap_or_default().to_string());
    assert_eq!(rows, [json!(["u1", 2]), json!(["u2", 1])]);
    // A stream is scanned.
    let (_, text) = pull(
        "SELECT page FROM pageviews WHERE user_id = 'u1';",
        "application/json",
    )
    .await?;
    let rows: Value = serde_json::from_str(&text)?;
    assert_eq!(
        rows.as_array().unwrap()[1..],
        [json!(["home"]), json!(["pay"])]
    );
    // The older endpoint: header and rows, no final message.
    let response = client
        .post(server.url("/query"))
        .body(json!({"ksql": "SELECT * FROM views WHERE user_id = 'u2';"}).to_string())
        .send()
        .await?;
    let rows: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(rows[0]["header"]["schema"], "`USER_ID` STRING, `N` BIGINT");
    assert_eq!(rows[1], json!({"row": {"columns": ["u2", 1]}}));
    assert_eq!(rows.as_array().map(Vec::len), Some(2));
    // What a pull query cannot do is said.
    let (status, text) = pull(
        "SELECT user_id, COUNT(*) FROM pageviews GROUP BY user_id;",
        delimited,
    )
    .await?;
    assert_eq!(status, 400);
    assert!(
        text.contains("Pull queries don't support GROUP BY clauses."),
        "{text}"
    );
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_shows_a_topics_records_with_their_formats() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;
    server
        .ksql(
            &client,
            "INSERT INTO pageviews (ROWTIME, user_id, page, ms) VALUES (1669998122556, 'u1', 'home', 1);
             INSERT INTO pageviews (ROWTIME, user_id, page, ms) VALUES (1669998122557, 'u2', 'cart', 2);
             INSERT INTO pageviews (ROWTIME, user_id, page, ms) VALUES (1669998122558, 'u3', 'pay', 3);",
        )
        .await?;
    let print = |sql: &'static str, accept: &'static str| {
        let client = client.clone();
        let url = server.url("/query-stream");
        async move {
            let response = client
                .post(url)
                .header("Accept", accept)
                .body(json!({"sql": sql}).to_string())
                .send()
                .await?;
            anyhow::Ok((response.status().as_u16(), response.text().await?))
        }
    };
    let delimited = "application/vnd.ksqlapi.delimited.v1";
    let (status, text) = print(
        "PRINT 'pageviews' FROM BEGINNING INTERVAL 2 LIMIT 2;",
        delimited,
    )
    .await?;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "Key format: KAFKA_STRING",
            "Value format: JSON",
            r#"rowtime: 2022/12/02 16:22:02.556 UTC, key: u1, value: {"PAGE":"home","MS":1}, partition: 0"#,
            r#"rowtime: 2022/12/02 16:22:02.558 UTC, key: u3, value: {"PAGE":"pay","MS":3}, partition: 0"#,
        ]
    );
    let (status, text) = print("PRINT nowhere FROM BEGINNING;", delimited).await?;
    assert_eq!(status, 400);
    assert!(text.contains("Could not find topic 'nowhere'"), "{text}");
    let (status, _) = print("PRINT 'pageviews' LIMIT 1;", "application/json").await?;
    assert_eq!(status, 406);
    server.stop().await
}

/// The value of `metric{query_id="id"}` in a scrape.
fn sample(scrape: &str, metric: &str, id: &str) -> Option<f64> {
    let prefix = format!("{metric}{{query_id=\"{id}\"}} ");
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_each_querys_records_and_errors() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;
    server
        .ksql(
            &client,
            "INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', 'home', 1);
             INSERT INTO pageviews (user_id, page, ms) VALUES ('u2', 'cart', 2);",
        )
        .await?;
    // A value that is not JSON: read, logged in the processing log, not written.
    server
        .broker
        .produce(
            "pageviews",
            0,
            &[eddy_broker::NewRecord::new(
                bytes::Bytes::from_static(b"u3"),
                bytes::Bytes::from_static(b"{not json"),
            )],
            eddy_broker::Durability::Durable,
        )
        .await?;
    let id = "CSAS_UPPER_PAGES_0";
    let deadline = Instant::now() + Duration::from_secs(30);
    let scrape = loop {
        let response = client.get(server.url("/metrics")).send().await?;
        assert_eq!(response.status(), 200);
        let text = response.text().await?;
        if sample(&text, "eddy_query_records_in_total", id) == Some(3.0)
            && sample(&text, "eddy_query_records_out_total", id) == Some(2.0)
            && sample(&text, "eddy_query_lag_records", id) == Some(0.0)
            || Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        sample(&scrape, "eddy_query_records_in_total", id),
        Some(3.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "eddy_query_records_out_total", id),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "eddy_query_processing_errors_total", id),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "eddy_query_lag_records", id),
        Some(0.0),
        "{scrape}"
    );
    assert!(
        scrape.contains(&format!(
            "eddy_query_state{{query_id=\"{id}\",state=\"RUNNING\"}} 1"
        )),
        "{scrape}"
    );
    assert!(scrape.trim_end().ends_with("# EOF"), "{scrape}");
    // The second scrape has rates (nothing new came: zero).
    let again = client
        .get(server.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(
        sample(&again, "eddy_query_records_in_per_second", id),
        Some(0.0),
        "{again}"
    );
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_querys_internal_topics_go_when_it_ends() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let client = http1();
    server.ksql(&client, SETUP).await?;
    server
        .ksql(
            &client,
            "CREATE TABLE views AS SELECT user_id, COUNT(*) AS n FROM pageviews GROUP BY user_id;
             INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', 'home', 1);",
        )
        .await?;
    let transient = |broker: &eddy_broker::Broker| -> Vec<String> {
        broker
            .list_topics()
            .into_iter()
            .filter(|t| t.contains("_transient_"))
            .collect()
    };
    // A push query on a table materialises it in a store with a changelog topic.
    let mut response = client
        .post(server.url("/query-stream"))
        .body(json!({"sql": "SELECT * FROM views EMIT CHANGES;"}).to_string())
        .send()
        .await?;
    let lines = read_lines(&mut response, 2).await?;
    assert!(lines[1].contains("\"u1\""), "{lines:?}");
    let made = transient(&server.broker);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].ends_with("-changelog"), "{made:?}");
    let header: Value = serde_json::from_str(&lines[0])?;
    let closed = client
        .post(server.url("/close-query"))
        .body(json!({"queryId": header["queryId"]}).to_string())
        .send()
        .await?;
    assert_eq!(closed.status(), 200);
    while response.chunk().await?.is_some() {}
    let deadline = Instant::now() + Duration::from_secs(30);
    while !transient(&server.broker).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(transient(&server.broker), Vec::<String>::new());
    server.stop().await
}
