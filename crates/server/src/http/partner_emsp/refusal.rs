//! Refusals with a code of their own that no service error names (they are about the HTTP
//! request, not the domain), in the project's one JSON error format.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::http::error::{ErrorBody, ErrorDetail};

pub fn refusal(status: StatusCode, code: &str, message: &str, message_zh: &str) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.into(), message: message.into(), message_zh: message_zh.into(), fields: Vec::new() } };
    (status, axum::Json(body)).into_response()
}
