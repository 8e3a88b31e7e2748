//! ksqlDB's cluster endpoints, as a one-server cluster answers them: `POST /heartbeat` and
//! `POST /lag` (what ksqlDB servers send each other; accepted and acknowledged),
//! `GET /clusterStatus` (this server, alive), `GET /v1/metadata` and `/v1/metadata/id` (the
//! Kafka and ksql cluster ids), and the load balancers' `GET /chc/ready` and `/chc/live`.
//!
//! Eddy servers sharing a service id coordinate through the command topic and consumer
//! groups, not heartbeats, so each one reports only itself here.

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::RestError;
use super::{Shared, json_response};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `{"isOk": true}`: ksqlDB's `HeartbeatResponse` (its getter is `getIsOk`).
pub(super) async fn heartbeat() -> Response {
    json_response(json!({"isOk": true}))
}

/// `{"isOk": true}`: ksqlDB's `LagReportingResponse`.
pub(super) async fn lag() -> Response {
    json_response(json!({"isOk": true}))
}

/// ksqlDB's `ClusterStatusResponse`: hosts (`host:port`) to their status. This server is
/// named as the client reached it (the `Host` header).
pub(super) async fn cluster_status(state: Shared, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let now = now_ms();
    let app = state.0;
    let ids = super::blocking(move || {
        Ok::<_, RestError>(
            app.service
                .with_engine(|engine| engine.queries().keys().cloned().collect::<Vec<_>>()),
        )
    })
    .await;
    let ids = match ids {
        Ok(ids) => ids,
        Err(e) => return e.into_response(),
    };
    let queries: serde_json::Map<String, Value> = ids
        .into_iter()
        .map(|id| {
            (
                id,
                json!({"activeStores": [], "activePartitions": [],
                       "standByStores": [], "standByPartitions": []}),
            )
        })
        .collect();
    json_response(json!({
        "clusterStatus": {
            host: {
                "hostAlive": true,
                "lastStatusUpdateMs": now,
                "activeStandbyPerQuery": queries,
                "hostStoreLags": {"stateStoreLags": {}, "updateTimeMs": now},
            }
        }
    }))
}

fn cluster_id(state: &Shared) -> Value {
    let service = &state.0.service;
    json!({
        "id": "",
        "scope": {
            "path": [],
            "clusters": {
                "kafka-cluster": service.config().kafka_cluster_id,
                "ksql-cluster": service.service_id(),
            }
        }
    })
}

/// ksqlDB's `ServerMetadata`: version and cluster ids.
pub(super) async fn metadata(state: Shared) -> Response {
    json_response(json!({
        "version": state.0.service.config().version,
        "clusterId": cluster_id(&state),
    }))
}

/// ksqlDB's `ServerClusterId`.
pub(super) async fn metadata_id(state: Shared) -> Response {
    json_response(cluster_id(&state))
}

/// `{}` with status 200: the server is up and serving.
pub(super) async fn chc() -> Response {
    json_response(json!({}))
}
