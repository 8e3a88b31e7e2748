//! ksqlDB's REST API on axum: one router, HTTP/1.1 and HTTP/2 cleartext (prior knowledge)
//! on one port, as ksqlDB serves them (axum's server detects the HTTP/2 preface). Request
//! bodies are read up to a limit; every error is one of ksqlDB's JSON error bodies
//! ([`error::RestError`]).

mod cluster;
pub mod error;
mod info;
mod inserts;
mod ksql;
mod query;
pub mod rows;
mod ws;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::service::{KsqlRequest, KsqlService};
use error::RestError;

/// The default cap on a request body's size.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1 << 20;

/// What the handlers share.
#[derive(Debug)]
struct App {
    service: Arc<KsqlService>,
    max_request_bytes: usize,
    scraper: crate::metrics::Scraper,
}

type Shared = axum::extract::State<Arc<App>>;

/// The router of the REST API over `service`.
pub fn router(service: Arc<KsqlService>, max_request_bytes: usize) -> Router {
    let app = Arc::new(App {
        service,
        max_request_bytes,
        scraper: crate::metrics::Scraper::default(),
    });
    Router::new()
        .route("/", get(info::root))
        .route("/info", get(info::info))
        .route("/healthcheck", get(info::healthcheck))
        .route("/metrics", get(info::metrics))
        .route("/status", get(info::statuses))
        .route("/status/{kind}/{entity}/{action}", get(info::status))
        .route("/ksql", post(ksql::ksql))
        .route("/ksql/terminate", post(ksql::terminate))
        .route("/query", post(query::query))
        .route("/query-stream", post(query::query_stream))
        .route("/close-query", post(query::close_query))
        .route("/inserts-stream", post(inserts::inserts_stream))
        .route("/ws/query", get(ws::ws_query))
        .route("/heartbeat", post(cluster::heartbeat))
        .route("/lag", post(cluster::lag))
        .route("/clusterStatus", get(cluster::cluster_status))
        .route("/v1/metadata", get(cluster::metadata))
        .route("/v1/metadata/id", get(cluster::metadata_id))
        .route("/chc/ready", get(cluster::chc))
        .route("/chc/live", get(cluster::chc))
        .fallback(info::not_found)
        .with_state(app)
}

/// Serves the REST API on `listener` until `shutdown` completes; then the push queries
/// are closed (their responses end) and the open requests finish.
pub async fn serve(
    listener: TcpListener,
    service: Arc<KsqlService>,
    max_request_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let push = service.push_queries().clone();
    axum::serve(listener, router(service, max_request_bytes))
        .with_graceful_shutdown(async move {
            shutdown.await;
            push.close_all();
        })
        .await
        .map_err(Error::Serve)
}

/// Reads a JSON object body of at most `limit` bytes.
async fn read_json(body: Body, limit: usize) -> Result<serde_json::Map<String, Value>, RestError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        RestError::generic(
            StatusCode::PAYLOAD_TOO_LARGE,
            error::BAD_REQUEST,
            format!("The request body is larger than the server's limit of {limit} bytes"),
        )
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(RestError::bad_request(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(RestError::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// A map of properties or variables; values of any JSON scalar type, as text.
fn string_map(
    object: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, RestError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(_) | Value::Bool(_) => v.to_string(),
                    _ => {
                        return Err(RestError::bad_request(format!(
                            "`{field}.{k}` must be a string, a number or a boolean"
                        )));
                    }
                };
                Ok((k.clone(), text))
            })
            .collect(),
        Some(_) => Err(RestError::bad_request(format!(
            "`{field}` must be an object"
        ))),
    }
}

/// A request of statements: `text_field` names the SQL (`ksql` or `sql`),
/// `properties_field` the properties (`streamsProperties` or `properties`).
fn ksql_request(
    object: &serde_json::Map<String, Value>,
    text_field: &str,
    properties_field: &str,
) -> Result<KsqlRequest, RestError> {
    let ksql = match object.get(text_field) {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(RestError::bad_request(format!(
                "`{text_field}` must be a string"
            )));
        }
        None => {
            return Err(RestError::bad_request(format!(
                "The request has no `{text_field}` field (the statements to run)"
            )));
        }
    };
    Ok(KsqlRequest {
        ksql,
        properties: string_map(object, properties_field)?,
        variables: string_map(object, "sessionVariables")?,
    })
}

/// Whether the client asked for plain `application/json`.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// Runs blocking engine work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RestError> + Send + 'static,
) -> Result<T, RestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RestError::server(format!("the request's task failed: {e}")))?
}

/// A JSON answer.
fn json_response(value: Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}
