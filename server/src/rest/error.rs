//! ksqlDB's error answers: `KsqlErrorMessage` (`@type: generic_error`) and
//! `KsqlStatementErrorMessage` (`@type: statement_error`, with the statement's text and
//! the entities of the statements before it), with ksqlDB's error codes (the HTTP status
//! times 100 plus a number: 40000 bad request, 40001 bad statement, 40002 a query sent to
//! `/ksql`, 50000 server error, 50304 a terminated server).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eddy_sql::{ErrorKind, SqlError};
use serde_json::{Value, json};

/// `ERROR_CODE_BAD_REQUEST`.
pub const BAD_REQUEST: u32 = 40000;
/// `ERROR_CODE_BAD_STATEMENT`.
pub const BAD_STATEMENT: u32 = 40001;
/// `ERROR_CODE_QUERY_ENDPOINT`.
pub const QUERY_ENDPOINT: u32 = 40002;
/// `ERROR_CODE_NOT_FOUND`.
pub const NOT_FOUND: u32 = 40400;
/// Too many requests (push queries open).
pub const TOO_MANY_REQUESTS: u32 = 42900;
/// `ERROR_CODE_SERVER_ERROR`.
pub const SERVER_ERROR: u32 = 50000;
/// `ERROR_CODE_SERVER_SHUTTING_DOWN`.
pub const SERVER_SHUTTING_DOWN: u32 = 50303;
/// `ERROR_CODE_SERVER_SHUT_DOWN`.
pub const SERVER_SHUT_DOWN: u32 = 50304;

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RestError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Value,
}

impl RestError {
    /// A `generic_error`.
    pub fn generic(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"@type": "generic_error", "error_code": code, "message": message.into()}),
        }
    }

    /// A request that is not what the endpoint takes.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::generic(StatusCode::BAD_REQUEST, BAD_REQUEST, message)
    }

    /// A failure of the server.
    pub fn server(message: impl Into<String>) -> Self {
        Self::generic(StatusCode::INTERNAL_SERVER_ERROR, SERVER_ERROR, message)
    }

    /// A statement the engine refused or failed: bad SQL (with its line and column),
    /// unknown names, wrong types are 400s; failures of the cluster are 500s.
    pub fn statement(error: &SqlError, statement: &str, entities: &[Value]) -> Self {
        let (status, code) = match error.kind() {
            ErrorKind::Parse | ErrorKind::Statement => (StatusCode::BAD_REQUEST, BAD_STATEMENT),
            ErrorKind::Other => (StatusCode::INTERNAL_SERVER_ERROR, SERVER_ERROR),
        };
        Self {
            status,
            body: json!({
                "@type": "statement_error",
                "error_code": code,
                "message": error.to_string(),
                "statementText": statement,
                "entities": entities,
            }),
        }
    }

    /// A `SELECT` or `PRINT` sent to `/ksql`.
    pub fn query_endpoint(statement: &str, entities: &[Value]) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "@type": "statement_error",
                "error_code": QUERY_ENDPOINT,
                "message": "The following statement types should be issued to the websocket \
                            endpoint '/query':\n\t* PRINT\n\t* SELECT",
                "statementText": statement,
                "entities": entities,
            }),
        }
    }

    /// ksqlDB's answer while the cluster is being terminated.
    pub fn shutting_down() -> Self {
        Self::generic(
            StatusCode::SERVICE_UNAVAILABLE,
            SERVER_SHUTTING_DOWN,
            "The server is shutting down",
        )
    }

    /// ksqlDB's answer once the cluster was terminated (`POST /ksql/terminate`).
    pub fn shut_down() -> Self {
        Self::generic(
            StatusCode::SERVICE_UNAVAILABLE,
            SERVER_SHUT_DOWN,
            "The server is shut down",
        )
    }

    /// The push-query cap is reached.
    pub fn too_many_push_queries(max: usize) -> Self {
        Self::generic(
            StatusCode::TOO_MANY_REQUESTS,
            TOO_MANY_REQUESTS,
            format!(
                "{max} push queries are open, the most this server runs at once; close one \
                 (POST /close-query) or raise max_push_queries"
            ),
        )
    }

    /// The message, for logs and tests.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

impl From<SqlError> for RestError {
    fn from(error: SqlError) -> Self {
        Self::statement(&error, "", &[])
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.body.to_string(),
        )
            .into_response()
    }
}
