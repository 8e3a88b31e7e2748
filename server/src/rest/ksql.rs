//! `POST /ksql`: statements other than queries; answers a JSON array of entities. And
//! `POST /ksql/terminate`, ksqlDB's `TERMINATE CLUSTER` (see `service::terminate`).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::RestError;
use super::{Shared, blocking, ksql_request, read_json, wants_json};

/// ksqlDB's own media type, the answer's default.
const KSQL_V1_JSON: &str = "application/vnd.ksql.v1+json";

pub(super) async fn ksql(state: Shared, headers: HeaderMap, body: Body) -> Response {
    let app = state.0;
    let request = match read_json(body, app.max_request_bytes)
        .await
        .and_then(|object| ksql_request(&object, "ksql", "streamsProperties"))
    {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    let service = app.service.clone();
    entities_response(&headers, blocking(move || service.execute(&request)).await)
}

/// `POST /ksql/terminate`: `{"deleteTopicList": ["FOO", "bar.*"]}` (optional; names or
/// regular expressions of query-made topics to delete with the cluster).
pub(super) async fn terminate(state: Shared, headers: HeaderMap, body: Body) -> Response {
    let app = state.0;
    let patterns = match read_json(body, app.max_request_bytes)
        .await
        .and_then(|object| delete_topic_list(&object))
    {
        Ok(patterns) => patterns,
        Err(e) => return e.into_response(),
    };
    let service = app.service.clone();
    entities_response(
        &headers,
        blocking(move || service.terminate_cluster(&patterns)).await,
    )
}

/// The `deleteTopicList` of a terminate request: absent is empty.
fn delete_topic_list(object: &serde_json::Map<String, Value>) -> Result<Vec<String>, RestError> {
    match object.get("deleteTopicList") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_string).ok_or_else(|| {
                    RestError::bad_request("`deleteTopicList` must be an array of strings")
                })
            })
            .collect(),
        Some(_) => Err(RestError::bad_request(
            "`deleteTopicList` must be an array of strings",
        )),
    }
}

/// A JSON array of entities in the media type the client asked for, or the error.
fn entities_response(headers: &HeaderMap, outcome: Result<Vec<Value>, RestError>) -> Response {
    match outcome {
        Ok(entities) => {
            let content_type = if wants_json(headers) {
                "application/json"
            } else {
                KSQL_V1_JSON
            };
            (
                [(header::CONTENT_TYPE, content_type)],
                Value::Array(entities).to_string(),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}
