//! `POST /query-stream` (the current API: delimited or JSON rows), `POST /query` (the
//! older API: a chunked JSON array) and `POST /close-query`. A push query runs until the
//! client disconnects, closes it, or its `LIMIT` is reached.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use serde_json::Value;
use tokio::sync::mpsc;

use super::error::RestError;
use super::{Shared, blocking, ksql_request, read_json, wants_json};
use crate::push::{self, Framing};
use crate::service::{KsqlRequest, KsqlService};
use eddy_sql::engine::QueryAnswer;

/// `QueryStreamHandler.DELIMITED_CONTENT_TYPE`.
const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";

pub(super) async fn query_stream(state: Shared, headers: HeaderMap, body: Body) -> Response {
    let (framing, content_type) = if wants_json(&headers) {
        (Framing::JsonArray, "application/json")
    } else {
        (Framing::Delimited, DELIMITED)
    };
    run(state, body, "sql", "properties", framing, content_type).await
}

pub(super) async fn query(state: Shared, body: Body) -> Response {
    run(
        state,
        body,
        "ksql",
        "streamsProperties",
        Framing::Legacy,
        "application/json",
    )
    .await
}

async fn run(
    state: Shared,
    body: Body,
    text_field: &'static str,
    properties_field: &'static str,
    framing: Framing,
    content_type: &'static str,
) -> Response {
    let app = state.0;
    let request = match read_json(body, app.max_request_bytes)
        .await
        .and_then(|object| ksql_request(&object, text_field, properties_field))
    {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    match start(app.service.clone(), request, framing).await {
        Ok(Started::Answered(pulled)) => {
            let body = Body::from_stream(stream::iter(
                pulled.into_iter().map(Ok::<_, std::convert::Infallible>),
            ));
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Ok(Started::Streaming(rows)) => {
            let body = Body::from_stream(stream::unfold(rows, |mut rows| async move {
                rows.recv()
                    .await
                    .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rows))
            }));
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// What a query request started: chunks as they come (a push query, a `PRINT`), or a
/// pull query's whole answer.
pub(super) enum Started {
    Streaming(mpsc::Receiver<Bytes>),
    Answered(Vec<Bytes>),
}

/// Starts the `SELECT` or `PRINT` of `request`, framed as `framing`.
pub(super) async fn start(
    service: Arc<KsqlService>,
    request: KsqlRequest,
    framing: Framing,
) -> Result<Started, RestError> {
    blocking(move || {
        if let Some(printer) = service.start_print(&request)? {
            if framing == Framing::JsonArray {
                return Err(RestError::generic(
                    StatusCode::NOT_ACCEPTABLE,
                    super::error::BAD_REQUEST,
                    "PRINT is only served as application/vnd.ksqlapi.delimited.v1",
                ));
            }
            return push::stream_print(printer, service.push_queries().clone())
                .map(Started::Streaming)
                .map_err(|e| RestError::server(format!("cannot start the print's thread: {e}")));
        }
        match service.start_query(&request)? {
            QueryAnswer::Pull(result) => Ok(Started::Answered(push::pull_body(&result, framing))),
            QueryAnswer::Push(query) => {
                push::stream(query, framing, service.push_queries().clone())
                    .map(Started::Streaming)
                    .map_err(|e| RestError::server(format!("cannot start the query's thread: {e}")))
            }
        }
    })
    .await
}

pub(super) async fn close_query(state: Shared, body: Body) -> Response {
    let app = state.0;
    let object = match read_json(body, app.max_request_bytes).await {
        Ok(object) => object,
        Err(e) => return e.into_response(),
    };
    let Some(Value::String(id)) = object.get("queryId") else {
        return RestError::bad_request("The request has no `queryId` string").into_response();
    };
    if app.service.push_queries().close(id) {
        StatusCode::OK.into_response()
    } else {
        RestError::bad_request(format!("No query with id {id}")).into_response()
    }
}
