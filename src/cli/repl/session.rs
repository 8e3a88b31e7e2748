//! Where the REPL's statements go: a [`Session`] answers statements with ksqlDB's REST
//! entities (JSON) and runs queries as streams of JSON rows, either in-process
//! ([`Local`]: the SQL service on an embedded broker, with its command topic) or over
//! ksqlDB's REST API ([`Remote`]: `eddy server` or a ksqlDB server). The rest of the REPL
//! sees only JSON, so both print the same.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use eddy::broker::Broker;
use eddy::server::print::Printer;
use eddy::server::service::KsqlRequest;
use eddy::server::{KsqlService, ServiceConfig};
use eddy::sql::engine::{AppRunner, BrokerCluster, Config, PushQuery, QueryAnswer};
use eddy::streams::EmbeddedBackend;
use serde_json::{Value, json};

/// A statement's outcome: entities, or ksqlDB's error body.
pub type Answer = std::result::Result<Vec<Value>, Value>;

/// Properties and variables the REPL's `SET` and `DEFINE` keep for the session.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `SET` properties.
    pub properties: BTreeMap<String, String>,
    /// `DEFINE` variables.
    pub variables: BTreeMap<String, String>,
}

/// A query's header and rows.
pub struct Rows {
    /// Its id.
    pub id: String,
    /// Column names.
    pub names: Vec<String>,
    source: RowSource,
}

enum RowSource {
    /// A pull query's answer, or rows already read.
    Done(std::vec::IntoIter<Value>),
    Push(PushQuery),
    /// A local `PRINT`: its lines, as JSON strings.
    Print(Printer, std::collections::VecDeque<String>),
    Remote {
        response: reqwest::Response,
        buffer: String,
        /// A `PRINT`'s text lines rather than JSON rows.
        print: bool,
        handle: tokio::runtime::Handle,
    },
}

impl Rows {
    /// The next row, waiting up to `timeout`; `Ok(None)` when none came in time;
    /// `Err` when the query failed. [`Rows::ended`] tells whether more can come.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<Value>> {
        match &mut self.source {
            RowSource::Done(rows) => Ok(rows.next()),
            RowSource::Print(printer, pending) => {
                if pending.is_empty() {
                    pending.extend(printer.next_lines(timeout).map_err(|e| anyhow!("{e}"))?);
                }
                Ok(pending.pop_front().map(Value::String))
            }
            RowSource::Push(query) => Ok(query
                .next_row(timeout)
                .map_err(|e| anyhow!("{e}"))?
                .filter(|row| !row.tombstone)
                .map(|row| {
                    let mut text = String::new();
                    let types: Vec<_> = query.columns().iter().map(|(_, t)| t.clone()).collect();
                    eddy::server::rest::rows::row_json(&row.values, &types, &mut text);
                    serde_json::from_str(&text).unwrap_or(Value::Null)
                })),
            RowSource::Remote {
                response,
                buffer,
                print,
                handle,
            } => loop {
                if let Some(end) = buffer.find('\n') {
                    let line: String = buffer.drain(..=end).collect();
                    if line.trim().is_empty() {
                        continue;
                    }
                    if *print && !line.starts_with('{') {
                        return Ok(Some(Value::String(line.trim_end().to_string())));
                    }
                    let row: Value = serde_json::from_str(&line).with_context(|| {
                        format!("the server sent a row that is not JSON: {line}")
                    })?;
                    if row.is_object() {
                        return Err(anyhow!(
                            "{}",
                            row["message"].as_str().unwrap_or("the query failed")
                        ));
                    }
                    return Ok(Some(row));
                }
                let chunk = handle
                    .block_on(async { tokio::time::timeout(timeout, response.chunk()).await });
                match chunk {
                    Err(_) => return Ok(None),
                    Ok(Ok(Some(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
                    Ok(Ok(None)) => {
                        self.source = RowSource::Done(Vec::new().into_iter());
                        return Ok(None);
                    }
                    Ok(Err(e)) => return Err(anyhow!("reading the query's rows failed: {e}")),
                }
            },
        }
    }

    /// Whether no more rows can come.
    pub fn ended(&self) -> bool {
        match &self.source {
            RowSource::Done(rows) => rows.len() == 0,
            RowSource::Push(query) => query.is_complete(),
            RowSource::Print(printer, pending) => pending.is_empty() && printer.is_complete(),
            RowSource::Remote { .. } => false,
        }
    }
}

/// Where statements run.
pub trait Session {
    /// Runs statements (not queries): `POST /ksql`.
    fn ksql(&mut self, sql: &str, scope: &Scope) -> Result<Answer>;
    /// Runs a `SELECT`.
    fn query(&mut self, sql: &str, scope: &Scope) -> Result<std::result::Result<Rows, Value>>;
    /// Closes a query (the REPL's Ctrl-C).
    fn close(&mut self, rows: Rows) -> Result<()>;
    /// What to call it in messages.
    fn describe(&self) -> String;
    /// Ends the session (the local one stops its queries and shuts its broker down).
    fn finish(self: Box<Self>) -> Result<()>;
}

fn request(sql: &str, scope: &Scope) -> KsqlRequest {
    KsqlRequest {
        ksql: sql.to_string(),
        properties: scope.properties.clone(),
        variables: scope.variables.clone(),
    }
}

/// The SQL service in this process, on an embedded broker.
pub struct Local {
    service: Arc<KsqlService>,
    broker: Broker,
    handle: tokio::runtime::Handle,
    data_dir: std::path::PathBuf,
}

impl Local {
    /// Opens the data directory's broker and the service on it (replaying its statements).
    pub fn open(data_dir: &std::path::Path, handle: tokio::runtime::Handle) -> Result<Self> {
        let opened = handle.block_on(super::super::open(eddy::broker::BrokerConfig::new(
            data_dir,
        )))?;
        let broker = opened.broker.clone();
        let backend = Arc::new(EmbeddedBackend::new(broker.clone(), handle.clone()));
        let cluster = Arc::new(BrokerCluster::new(broker.clone(), handle.clone()));
        let runner = AppRunner::new(backend, data_dir.join("query-state"));
        let (service, _) = KsqlService::open(
            Config::new(),
            cluster,
            Box::new(runner),
            ServiceConfig::default(),
        )
        .context("cannot start the SQL engine")?;
        Ok(Self {
            service: Arc::new(service),
            broker,
            handle,
            data_dir: data_dir.to_path_buf(),
        })
    }
}

impl Session for Local {
    fn ksql(&mut self, sql: &str, scope: &Scope) -> Result<Answer> {
        Ok(self
            .service
            .execute(&request(sql, scope))
            .map_err(|e| e.body))
    }

    fn query(&mut self, sql: &str, scope: &Scope) -> Result<std::result::Result<Rows, Value>> {
        match self.service.start_print(&request(sql, scope)) {
            Ok(Some(printer)) => {
                return Ok(Ok(Rows {
                    id: printer.id().to_string(),
                    names: Vec::new(),
                    source: RowSource::Print(printer, Default::default()),
                }));
            }
            Ok(None) => {}
            Err(e) => return Ok(Err(e.body)),
        }
        let answer = match self.service.start_query(&request(sql, scope)) {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(e.body)),
        };
        let names_of = |columns: &[(String, eddy::sql::SqlType)]| {
            columns.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
        };
        Ok(Ok(match answer {
            QueryAnswer::Pull(result) => {
                let names = names_of(&result.columns);
                let column_types: Vec<_> = result.columns.iter().map(|(_, t)| t.clone()).collect();
                let rows: Vec<Value> = result
                    .rows
                    .iter()
                    .map(|r| {
                        let mut text = String::new();
                        eddy::server::rest::rows::row_json(r, &column_types, &mut text);
                        serde_json::from_str(&text).unwrap_or(Value::Null)
                    })
                    .collect();
                Rows {
                    id: result.id,
                    names,
                    source: RowSource::Done(rows.into_iter()),
                }
            }
            QueryAnswer::Push(query) => {
                let names = names_of(query.columns());
                Rows {
                    id: query.id().to_string(),
                    names,
                    source: RowSource::Push(query),
                }
            }
        }))
    }

    fn close(&mut self, rows: Rows) -> Result<()> {
        if let RowSource::Push(query) = rows.source {
            query.close().map_err(|e| anyhow!("{e}"))?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("the embedded engine in {}", self.data_dir.display())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        self.service.shutdown();
        self.handle
            .block_on(self.broker.shutdown())
            .context("clean shutdown of the broker failed")
    }
}

/// A server's REST API.
pub struct Remote {
    base: String,
    client: reqwest::Client,
    handle: tokio::runtime::Handle,
}

impl Remote {
    /// Connects to `url` (checks `GET /info`).
    pub fn connect(url: &str, handle: tokio::runtime::Handle) -> Result<(Self, String)> {
        let base = url.trim_end_matches('/').to_string();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("cannot make an HTTP client")?;
        let info: Value = handle
            .block_on(async {
                client
                    .get(format!("{base}/info"))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await
            })
            .with_context(|| format!("no ksqlDB server answers at {base}"))?;
        let version = info["KsqlServerInfo"]["version"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        Ok((
            Self {
                base,
                client,
                handle,
            },
            version,
        ))
    }

    fn post(&self, path: &str, body: Value) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        self.handle
            .block_on(self.client.post(&url).body(body.to_string()).send())
            .with_context(|| format!("cannot reach {url}"))
    }
}

impl Session for Remote {
    fn ksql(&mut self, sql: &str, scope: &Scope) -> Result<Answer> {
        let response = self.post(
            "/ksql",
            json!({"ksql": sql, "streamsProperties": scope.properties,
                   "sessionVariables": scope.variables}),
        )?;
        let ok = response.status().is_success();
        let body: Value = self
            .handle
            .block_on(response.json())
            .context("the server's answer is not JSON")?;
        Ok(match (ok, body) {
            (true, Value::Array(entities)) => Ok(entities),
            (true, other) => Err(json!({"message": format!("unexpected answer: {other}")})),
            (false, error) => Err(error),
        })
    }

    fn query(&mut self, sql: &str, scope: &Scope) -> Result<std::result::Result<Rows, Value>> {
        let mut response = self.post(
            "/query-stream",
            json!({"sql": sql, "properties": scope.properties,
                   "sessionVariables": scope.variables}),
        )?;
        if !response.status().is_success() {
            let body: Value = self
                .handle
                .block_on(response.json())
                .unwrap_or_else(|e| json!({"message": e.to_string()}));
            return Ok(Err(body));
        }
        let mut buffer = String::new();
        if sql.trim_start().to_ascii_uppercase().starts_with("PRINT") {
            return Ok(Ok(Rows {
                id: String::new(),
                names: Vec::new(),
                source: RowSource::Remote {
                    response,
                    buffer,
                    print: true,
                    handle: self.handle.clone(),
                },
            }));
        }
        let header: Value = loop {
            if let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                break serde_json::from_str(&line).context("the query's header is not JSON")?;
            }
            match self.handle.block_on(response.chunk())? {
                Some(bytes) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return Err(anyhow!("the query's answer ended before its header")),
            }
        };
        let strings = |field: &str| -> Vec<String> {
            header[field]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Ok(Rows {
            id: header["queryId"].as_str().unwrap_or_default().to_string(),
            names: strings("columnNames"),
            source: RowSource::Remote {
                response,
                buffer,
                print: false,
                handle: self.handle.clone(),
            },
        }))
    }

    fn close(&mut self, rows: Rows) -> Result<()> {
        if !rows.id.is_empty() {
            let _ = self.post("/close-query", json!({"queryId": rows.id}));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("the server at {}", self.base)
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
