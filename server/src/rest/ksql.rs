//! `POST /ksql`: statements other than queries; answers a JSON array of entities.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

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
    match blocking(move || service.execute(&request)).await {
        Ok(entities) => {
            let content_type = if wants_json(&headers) {
                "application/json"
            } else {
                KSQL_V1_JSON
            };
            (
                [(header::CONTENT_TYPE, content_type)],
                serde_json::Value::Array(entities).to_string(),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}
