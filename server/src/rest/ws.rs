//! `GET /ws/query?request={"ksql": ..., "streamsProperties": {...}}`: a push query, pull
//! query or `PRINT` over a WebSocket, as ksqlDB's `WSQueryEndpoint` serves it (its web
//! console and older clients use it). Text messages: the columns' schemas, then one
//! `{"row":{"columns":[...]}}` per row (a `PRINT` sends its lines); the server closes with
//! 1000 "done" when the query ends, and with 1003 and the reason when the request is bad.
//! The client closing the socket closes the query.

use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;

use super::error::RestError;
use super::query::{Started, start};
use super::{Shared, ksql_request};
use crate::push::Framing;

/// Close reasons are at most 123 bytes.
const REASON_BYTES: usize = 123;

pub(super) async fn ws_query(
    state: Shared,
    Query(params): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let app = state.0;
    upgrade
        .max_message_size(app.max_request_bytes)
        .on_upgrade(move |socket| async move {
            let request = parse(&params);
            let started = match request {
                Ok(request) => start(app.service.clone(), request, Framing::WebSocket).await,
                Err(e) => Err(e),
            };
            serve(socket, started).await;
        })
}

/// The request in the `request` parameter (and a `version`, if given, must be 1).
fn parse(params: &HashMap<String, String>) -> Result<crate::service::KsqlRequest, RestError> {
    if let Some(version) = params.get("version")
        && version != "1"
    {
        return Err(RestError::bad_request(format!(
            "Received invalid api version: {version}"
        )));
    }
    let text = params
        .get("request")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            RestError::bad_request("Error parsing request: missing request parameter")
        })?;
    let object = match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => {
            return Err(RestError::bad_request(
                "Error parsing request: not a JSON object",
            ));
        }
        Err(e) => {
            return Err(RestError::bad_request(format!(
                "Error parsing request: {e}"
            )));
        }
    };
    ksql_request(&object, "ksql", "streamsProperties")
}

async fn serve(mut socket: WebSocket, started: Result<Started, RestError>) {
    let text = |chunk: bytes::Bytes| {
        let line = String::from_utf8_lossy(&chunk);
        Message::Text(Utf8Bytes::from(line.trim_end_matches('\n')))
    };
    match started {
        Err(e) => {
            let message = e.body["message"].as_str().unwrap_or("the request failed");
            close(&mut socket, close_code::UNSUPPORTED, message).await;
        }
        Ok(Started::Answered(chunks)) => {
            for chunk in chunks {
                if socket.send(text(chunk)).await.is_err() {
                    return;
                }
            }
            close(&mut socket, close_code::NORMAL, "done").await;
        }
        Ok(Started::Streaming(mut rows)) => loop {
            tokio::select! {
                chunk = rows.recv() => match chunk {
                    Some(chunk) => {
                        if socket.send(text(chunk)).await.is_err() {
                            return;
                        }
                    }
                    None => {
                        close(&mut socket, close_code::NORMAL, "done").await;
                        return;
                    }
                },
                // The client closing (or going) ends the query: `rows` is dropped, and
                // the row thread sees its channel closed.
                incoming = socket.recv() => match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                },
            }
        },
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let mut end = reason.len().min(REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
