//! `GET /info`, `/healthcheck`, `/metrics`, `/status`, `/status/{type}/{entity}/{action}`, `/`, and
//! the answer to unknown paths.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::error::{NOT_FOUND, RestError};
use super::{Shared, json_response};

pub(super) async fn root() -> Redirect {
    Redirect::temporary("/info")
}

pub(super) async fn info(state: Shared) -> Response {
    let service = &state.0.service;
    json_response(json!({
        "KsqlServerInfo": {
            "version": service.config().version,
            "kafkaClusterId": service.config().kafka_cluster_id,
            "ksqlServiceId": service.service_id(),
            "serverStatus": "RUNNING",
        }
    }))
}

/// Prometheus text: the persistent queries', then the built-in broker's.
pub(super) async fn metrics(state: Shared) -> Response {
    let app = state.0;
    let text = super::blocking(move || {
        Ok::<_, RestError>(
            app.scraper
                .scrape(&app.service, app.service.broker_metrics()),
        )
    })
    .await;
    match text {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) async fn healthcheck() -> Response {
    json_response(json!({
        "isHealthy": true,
        "details": {
            "metastore": {"isHealthy": true},
            "kafka": {"isHealthy": true},
            "commandRunner": {"isHealthy": true},
        },
        "serverState": "READY",
    }))
}

pub(super) async fn statuses(state: Shared) -> Response {
    let statuses: serde_json::Map<String, serde_json::Value> = state
        .0
        .service
        .statuses()
        .into_iter()
        .map(|(id, (status, _))| (id, status.into()))
        .collect();
    json_response(json!({ "commandStatuses": statuses })).into_response()
}

pub(super) async fn status(
    state: Shared,
    Path((kind, entity, action)): Path<(String, String, String)>,
) -> Response {
    let id = format!("{kind}/{entity}/{action}");
    match state.0.service.statuses().remove(&id) {
        Some((status, message)) => {
            json_response(json!({"status": status, "message": message})).into_response()
        }
        None => RestError::generic(
            StatusCode::NOT_FOUND,
            NOT_FOUND,
            format!("Command not found: {id}"),
        )
        .into_response(),
    }
}

pub(super) async fn not_found(uri: axum::http::Uri) -> Response {
    RestError::generic(
        StatusCode::NOT_FOUND,
        NOT_FOUND,
        format!("No such endpoint: {}", uri.path()),
    )
    .into_response()
}
