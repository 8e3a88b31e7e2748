//! Push queries served over HTTP: the registry of open ones (bounded, so a client cannot
//! start queries without end; `POST /close-query` and shutdown close them), and the thread
//! that pulls a query's rows and writes them, in one of the REST API's framings, into the
//! response body's channel. The query stops when the client goes away (the channel
//! closes), when it is closed, or when its `LIMIT` is reached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_sql::SqlType;
use eddy_sql::engine::{PullResult, PushQuery};
use serde_json::json;
use tokio::sync::mpsc;

use crate::entities::schema_info;
use crate::print::Printer;
use crate::rest::rows::{row_json, schema_text};

/// How long the row thread waits for a row before it looks for a closed client again.
const POLL: Duration = Duration::from_millis(50);
/// Rows are written in chunks of about this many bytes when they come faster than that.
const CHUNK_BYTES: usize = 32 * 1024;
/// Chunks in flight between the row thread and the connection.
pub const CHANNEL_CHUNKS: usize = 16;

/// How the rows are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `POST /query-stream`, `application/vnd.ksqlapi.delimited.v1`: a header object,
    /// then one JSON array per row, each on its own line.
    Delimited,
    /// `POST /query-stream`, `application/json`: one JSON array holding the header object
    /// and the rows' arrays.
    JsonArray,
    /// `POST /query` (the older API): a JSON array of `{"header":...}`, `{"row":...}` and
    /// a `{"finalMessage":...}` at the end.
    Legacy,
    /// `GET /ws/query`: one WebSocket message per chunk: the columns' schemas (a JSON
    /// array of `{"name", "schema"}`), then one `{"row":{"columns":[...]}}` per row.
    WebSocket,
}

/// The push queries open now.
#[derive(Debug)]
pub struct PushRegistry {
    open: Mutex<HashMap<String, Arc<AtomicBool>>>,
    max: usize,
}

impl PushRegistry {
    /// A registry of at most `max` open queries.
    pub fn new(max: usize) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<AtomicBool>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether another query may start.
    pub fn has_room(&self) -> bool {
        self.lock().len() < self.max
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a query; the flag closes it.
    fn register(&self, id: &str) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        self.lock().insert(id.to_string(), flag.clone());
        flag
    }

    /// Closes the query `id`; false if no such query is open.
    /// Ids compare ignoring case (`TERMINATE` upper-cases them, as ksqlDB does).
    pub fn close(&self, id: &str) -> bool {
        match self
            .lock()
            .iter()
            .find(|(open, _)| open.eq_ignore_ascii_case(id))
        {
            Some((_, flag)) => {
                flag.store(true, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// Closes every open query (shutdown).
    pub fn close_all(&self) {
        for flag in self.lock().values() {
            flag.store(true, Ordering::Release);
        }
    }

    /// Waits until every query's thread has stopped it, at most `timeout`; whether they
    /// all did.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while !self.is_empty() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// Starts the thread that streams `query`'s rows, framed as `framing`; the returned
/// channel carries the response body.
pub fn stream(
    query: PushQuery,
    framing: Framing,
    registry: Arc<PushRegistry>,
) -> std::io::Result<mpsc::Receiver<Bytes>> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let closed = registry.register(query.id());
    let id = query.id().to_string();
    let spawned = std::thread::Builder::new()
        .name(format!("push-{id}"))
        .spawn({
            let registry = registry.clone();
            let id = id.clone();
            move || {
                pump(query, framing, &closed, &tx);
                registry.remove(&id);
            }
        });
    if let Err(e) = spawned {
        registry.remove(&id);
        return Err(e);
    }
    Ok(rx)
}

/// After this long without a write, the older API sends a newline (ksqlDB's
/// `query.stream.disconnect.check`), so that clients' read timeouts do not end a quiet
/// query.
const KEEP_ALIVE: Duration = Duration::from_secs(1);

/// How many bytes of rows go in one chunk. Delimited rows go one per chunk: clients of
/// `/query-stream` (ksqldb-js, ksql-python's HTTP/2 path) parse each HTTP/2 DATA frame as
/// one line, as ksqlDB writes them (`DelimitedQueryStreamResponseWriter`).
fn chunk_limit(framing: Framing) -> usize {
    match framing {
        Framing::Delimited | Framing::WebSocket => 0,
        Framing::JsonArray | Framing::Legacy => CHUNK_BYTES,
    }
}

/// Starts the thread that streams a `PRINT`'s lines, one chunk per line.
pub fn stream_print(
    mut printer: Printer,
    registry: Arc<PushRegistry>,
) -> std::io::Result<mpsc::Receiver<Bytes>> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let id = printer.id().to_string();
    let closed = registry.register(&id);
    let spawned = std::thread::Builder::new()
        .name(format!("print-{id}"))
        .spawn({
            let registry = registry.clone();
            let id = id.clone();
            move || {
                while !closed.load(Ordering::Acquire) && !tx.is_closed() && !printer.is_complete() {
                    let lines = match printer.next_lines(POLL) {
                        Ok(lines) => lines,
                        Err(e) => vec![format!(
                            "{}",
                            json!({"@type": "generic_error",
                            "error_code": 50000, "message": e.to_string()})
                        )],
                    };
                    let failed = lines.iter().any(|l| l.starts_with('{'));
                    for line in lines {
                        if tx.blocking_send(Bytes::from(format!("{line}\n"))).is_err() {
                            break;
                        }
                    }
                    if failed {
                        break;
                    }
                }
                registry.remove(&id);
            }
        });
    if let Err(e) = spawned {
        registry.remove(&id);
        return Err(e);
    }
    Ok(rx)
}

/// Pulls rows until the query ends, the client goes or the query is closed.
fn pump(mut query: PushQuery, framing: Framing, closed: &AtomicBool, tx: &mpsc::Sender<Bytes>) {
    let types: Vec<SqlType> = query.columns().iter().map(|(_, t)| t.clone()).collect();
    let limit = chunk_limit(framing);
    if tx
        .blocking_send(Bytes::from(header(&query, framing)))
        .is_err()
    {
        let _ = query.close();
        return;
    }
    let mut chunk = String::new();
    let mut failure = None;
    let mut last_write = Instant::now();
    loop {
        if closed.load(Ordering::Acquire) || tx.is_closed() {
            break;
        }
        let wait = if chunk.is_empty() {
            POLL
        } else {
            Duration::ZERO
        };
        match query.next_row(wait) {
            Ok(Some(row)) => {
                // /query-stream leaves table deletions out, as ksqlDB does.
                if row.tombstone && !matches!(framing, Framing::Legacy | Framing::WebSocket) {
                    continue;
                }
                write_row(&mut chunk, framing, &row.values, &types, row.tombstone);
                if chunk.len() < limit {
                    continue;
                }
            }
            Ok(None) if query.is_complete() => break,
            Ok(None) => {}
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
        if chunk.is_empty() && framing == Framing::Legacy && last_write.elapsed() >= KEEP_ALIVE {
            chunk.push('\n');
        }
        if !chunk.is_empty() {
            if tx
                .blocking_send(Bytes::from(std::mem::take(&mut chunk)))
                .is_err()
            {
                break;
            }
            last_write = Instant::now();
        }
    }
    chunk.push_str(&footer(framing, query.is_complete(), failure.as_deref()));
    if !chunk.is_empty() {
        let _ = tx.blocking_send(Bytes::from(chunk));
    }
    if let Err(e) = query.close() {
        tracing::warn!(error = %e, "closing a push query failed");
    }
}

fn header(query: &PushQuery, framing: Framing) -> String {
    header_of(query.id(), query.columns(), framing)
}

fn header_of(id: &str, columns: &[(String, SqlType)], framing: Framing) -> String {
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let types: Vec<String> = columns.iter().map(|(_, t)| t.to_string()).collect();
    match framing {
        Framing::Delimited => format!(
            "{}\n",
            json!({"queryId": id, "columnNames": names, "columnTypes": types})
        ),
        Framing::JsonArray => format!(
            "[{}",
            json!({"queryId": id, "columnNames": names, "columnTypes": types})
        ),
        Framing::Legacy => format!(
            "[{}",
            json!({"header": {"queryId": id, "schema": schema_text(columns)}})
        ),
        Framing::WebSocket => serde_json::Value::Array(
            columns
                .iter()
                .map(|(name, ty)| json!({"name": name, "schema": schema_info(ty)}))
                .collect(),
        )
        .to_string(),
    }
}

/// A pull query's whole answer, framed, in chunks (one per line when delimited).
pub fn pull_body(result: &PullResult, framing: Framing) -> Vec<Bytes> {
    let types: Vec<SqlType> = result.columns.iter().map(|(_, t)| t.clone()).collect();
    let limit = chunk_limit(framing);
    let mut chunks = vec![Bytes::from(header_of(&result.id, &result.columns, framing))];
    let mut chunk = String::new();
    for row in &result.rows {
        write_row(&mut chunk, framing, row, &types, false);
        if chunk.len() >= limit {
            chunks.push(Bytes::from(std::mem::take(&mut chunk)));
        }
    }
    chunk.push_str(match framing {
        Framing::Delimited | Framing::WebSocket => "",
        Framing::JsonArray => "]",
        Framing::Legacy => "]\n",
    });
    if !chunk.is_empty() {
        chunks.push(Bytes::from(chunk));
    }
    chunks
}

fn write_row(
    out: &mut String,
    framing: Framing,
    values: &[eddy_sql::value::Value],
    types: &[SqlType],
    tombstone: bool,
) {
    match framing {
        Framing::Delimited => {
            row_json(values, types, out);
            out.push('\n');
        }
        Framing::JsonArray => {
            out.push(',');
            row_json(values, types, out);
        }
        Framing::Legacy | Framing::WebSocket => {
            if framing == Framing::Legacy {
                out.push_str(",\n");
            }
            out.push_str("{\"row\":{\"columns\":");
            row_json(values, types, out);
            if tombstone {
                out.push_str(",\"tombstone\":true");
            }
            out.push_str("}}");
        }
    }
}

fn footer(framing: Framing, complete: bool, failure: Option<&str>) -> String {
    let error = failure.map(|message| {
        json!({"@type": "generic_error", "error_code": 50000, "message": message}).to_string()
    });
    match framing {
        Framing::Delimited => error.map(|e| format!("{e}\n")).unwrap_or_default(),
        Framing::WebSocket => error.unwrap_or_default(),
        Framing::JsonArray => match error {
            Some(e) => format!(",{e}]"),
            None => "]".into(),
        },
        Framing::Legacy => match (error, complete) {
            (Some(e), _) => format!(",\n{{\"errorMessage\":{e}}}]\n"),
            (None, true) => ",\n{\"finalMessage\":\"Limit Reached\"}]\n".into(),
            (None, false) => "]\n".into(),
        },
    }
}
