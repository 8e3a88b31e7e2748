//! `POST /inserts-stream`: rows streamed into a stream. The body is a first line naming
//! the target (`{"target": "PAGEVIEWS", "properties": {}}`), then one JSON object per line,
//! its fields the columns' values. The answer acknowledges every row in order as it is
//! durably written (`{"status":"ok","seq":N}`), or says why it was not (`"status":"error"`
//! with ksqlDB's error code and message), one per line (or one JSON array for
//! `Accept: application/json`). A bad row is refused alone; the stream goes on.
//!
//! Rows that arrived together are written together (one durable append per partition), so
//! a client that sends many rows at once pays one fsync for them, not one each.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use eddy_sql::engine::Cluster;
use eddy_sql::engine::insert::RowEncoder;
use eddy_sql::parser::ast::SourceKind;
use eddy_sql::serde::json_text::parse_json;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::error::{BAD_REQUEST, RestError, SERVER_ERROR};
use super::{App, Shared, blocking, wants_json};

type BodyStream = axum::body::BodyDataStream;

/// Reads up to the first newline; returns the line and what came after it.
async fn first_line(body: &mut BodyStream, limit: usize) -> Result<(Vec<u8>, Vec<u8>), RestError> {
    let mut buffer = Vec::new();
    loop {
        if let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let rest = buffer.split_off(end + 1);
            buffer.pop();
            return Ok((buffer, rest));
        }
        if buffer.len() > limit {
            return Err(RestError::bad_request(format!(
                "The first line (the target) is longer than {limit} bytes"
            )));
        }
        match body.next().await {
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
            Some(Err(e)) => {
                return Err(RestError::bad_request(format!(
                    "Reading the body failed: {e}"
                )));
            }
            None => return Ok((buffer, Vec::new())),
        }
    }
}

/// The target stream's encoder, from the first line.
fn target(app: &App, line: &[u8]) -> Result<(RowEncoder, Arc<dyn Cluster>), RestError> {
    app.service.check_ready()?;
    let args: Value = serde_json::from_slice(line).map_err(|e| {
        RestError::bad_request(format!(
            "The first line must be a JSON object naming the target, like \
             {{\"target\": \"PAGEVIEWS\"}}: {e}"
        ))
    })?;
    let Some(name) = args.get("target").and_then(Value::as_str) else {
        return Err(RestError::bad_request(
            "The first line has no `target` string",
        ));
    };
    app.service.with_engine(|engine| {
        let source = engine
            .source(name)
            .or_else(|| engine.source(&name.to_ascii_uppercase()))
            .ok_or_else(|| {
                RestError::bad_request(format!("Cannot insert into an unknown stream: {name}"))
            })?;
        if source.kind != SourceKind::Stream {
            return Err(RestError::bad_request(format!(
                "Cannot insert into {}: it is a table; inserts-stream takes streams",
                source.name
            )));
        }
        if source.is_source {
            return Err(RestError::bad_request(format!(
                "Cannot insert into read-only stream: {}",
                source.name
            )));
        }
        let encoder = RowEncoder::new(source).map_err(|e| RestError::bad_request(e.to_string()))?;
        Ok((encoder, engine.cluster().clone()))
    })
}

pub(super) async fn inserts_stream(state: Shared, headers: HeaderMap, body: Body) -> Response {
    let app = state.0;
    let mut body = body.into_data_stream();
    let (line, rest) = match first_line(&mut body, app.max_request_bytes).await {
        Ok(parts) => parts,
        Err(e) => return e.into_response(),
    };
    let found = {
        let app = app.clone();
        blocking(move || target(&app, &line)).await
    };
    let (encoder, cluster) = match found {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let as_array = wants_json(&headers);
    let (tx, rx) = mpsc::channel::<Bytes>(crate::push::CHANNEL_CHUNKS);
    tokio::spawn(pump(
        Arc::new(encoder),
        cluster,
        body,
        rest,
        app.max_request_bytes,
        as_array,
        tx,
    ));
    let content_type = if as_array {
        "application/json"
    } else {
        "application/vnd.ksqlapi.delimited.v1"
    };
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    }));
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Writes the rows of each arrival and sends their acks, until the body ends.
async fn pump(
    encoder: Arc<RowEncoder>,
    cluster: Arc<dyn Cluster>,
    mut body: BodyStream,
    mut buffer: Vec<u8>,
    limit: usize,
    as_array: bool,
    tx: mpsc::Sender<Bytes>,
) {
    let mut seq = 0u64;
    let mut acks = Acks::new(as_array);
    let mut ended = false;
    loop {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let rest = buffer.split_off(end + 1);
            lines.push(std::mem::replace(&mut buffer, rest));
        }
        if ended && !buffer.is_empty() {
            lines.push(std::mem::take(&mut buffer));
        }
        lines.retain(|l| l.iter().any(|b| !b.is_ascii_whitespace()));
        if !lines.is_empty() {
            let first = seq;
            seq += lines.len() as u64;
            let (encoder, cluster) = (encoder.clone(), cluster.clone());
            let results = tokio::task::spawn_blocking(move || write(&encoder, &*cluster, &lines))
                .await
                .unwrap_or_else(|e| vec![Err((SERVER_ERROR, e.to_string()))]);
            // Delimited acks go one per chunk (an HTTP/2 DATA frame each, as ksqlDB writes
            // them): clients such as ksqldb-js parse each frame as one JSON object.
            let mut chunk = String::new();
            for (i, result) in results.into_iter().enumerate() {
                acks.push(&mut chunk, first + i as u64, result);
                if !as_array
                    && tx
                        .send(Bytes::from(std::mem::take(&mut chunk)))
                        .await
                        .is_err()
                {
                    return;
                }
            }
            if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
        }
        if ended {
            break;
        }
        if buffer.len() > limit {
            let mut chunk = String::new();
            acks.push(
                &mut chunk,
                seq,
                Err((
                    BAD_REQUEST,
                    format!("A row is longer than {limit} bytes; the stream ends here"),
                )),
            );
            let _ = tx.send(Bytes::from(chunk)).await;
            break;
        }
        match body.next().await {
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
            // The client went away mid-row: what it sent whole is written and acked.
            Some(Err(_)) => break,
            None => ended = true,
        }
    }
    let end = acks.finish();
    if !end.is_empty() {
        let _ = tx.send(Bytes::from(end)).await;
    }
}

/// Encodes and writes rows; one result per row.
fn write(
    encoder: &RowEncoder,
    cluster: &dyn Cluster,
    lines: &[Vec<u8>],
) -> Vec<Result<(), (u32, String)>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut results = Vec::with_capacity(lines.len());
    let mut records = Vec::with_capacity(lines.len());
    for line in lines {
        let record = parse_json(line)
            .map_err(|e| format!("The row is not valid JSON: {e}"))
            .and_then(|row| encoder.json_row(&row, now).map_err(|e| e.to_string()));
        match record {
            Ok(record) => {
                records.push(record);
                results.push(Ok(()));
            }
            Err(message) => results.push(Err((BAD_REQUEST, message))),
        }
    }
    if let Err(e) = cluster.produce_many(&encoder.target().topic, records) {
        let message = format!("Writing the rows failed: {e}");
        for result in results.iter_mut().filter(|r| r.is_ok()) {
            *result = Err((SERVER_ERROR, message.clone()));
        }
    }
    results
}

/// The acks, delimited or as one JSON array.
struct Acks {
    as_array: bool,
    any: bool,
}

impl Acks {
    fn new(as_array: bool) -> Self {
        Self {
            as_array,
            any: false,
        }
    }

    fn push(&mut self, out: &mut String, seq: u64, result: Result<(), (u32, String)>) {
        let ack = match result {
            Ok(()) => json!({"status": "ok", "seq": seq}),
            Err((code, message)) => {
                json!({"status": "error", "seq": seq, "error_code": code, "message": message})
            }
        };
        if self.as_array {
            out.push(if self.any { ',' } else { '[' });
            out.push_str(&ack.to_string());
        } else {
            out.push_str(&ack.to_string());
            out.push('\n');
        }
        self.any = true;
    }

    fn finish(&self) -> String {
        match (self.as_array, self.any) {
            (true, true) => "]".into(),
            (true, false) => "[]".into(),
            (false, _) => String::new(),
        }
    }
}
