//! Commands that create things (a session, a reservation) under a required `Idempotency-Key`.
//!
//! A partner that did not hear our answer sends the request again with the same key and gets
//! the same answer — status and body, marked `Idempotent-Replayed: true` — never a second
//! session. The same key with another body is refused (`idempotency_key_reused`): it is a bug
//! on the partner's side that must not pass silently. Keys are per partner and per operation.

use std::future::Future;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use services::Error;
use services::idempotency::KeyClaim;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::refusal::refusal;
use crate::http::AppState;
use crate::http::error::ApiResult;

const MAX_KEY_LEN: usize = 255;
/// Answers kept for replay are small JSON documents.
const MAX_KEPT_BYTES: usize = 1024 * 1024;

/// What is wrong with an `Idempotency-Key` header.
enum KeyProblem {
    Missing,
    Invalid,
}

impl KeyProblem {
    fn response(self) -> Response {
        match self {
            Self::Missing => refusal(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "this command requires an Idempotency-Key header (a unique value per intended action)",
                "该操作须带 Idempotency-Key 请求头（每个意图执行的操作使用唯一值）",
            ),
            Self::Invalid => refusal(
                StatusCode::BAD_REQUEST,
                "idempotency_key_invalid",
                "the Idempotency-Key header must be 1–255 visible ASCII characters",
                "Idempotency-Key 请求头须为 1–255 个可见 ASCII 字符",
            ),
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, KeyProblem> {
    let value = headers.get("idempotency-key").ok_or(KeyProblem::Missing)?;
    match value.to_str() {
        Ok(key) if !key.trim().is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => Ok(key.trim().to_owned()),
        _ => Err(KeyProblem::Invalid),
    }
}

/// Runs `act` on the order number the key stands for (a fresh one on first use), or answers
/// as the first request with this key was answered.
pub async fn run<F, Fut>(state: &AppState, partner: Uuid, operation: &str, headers: &HeaderMap, request: &impl Serialize, act: F) -> ApiResult<Response>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Response>,
{
    let key = match idempotency_key(headers) {
        Ok(key) => key,
        Err(problem) => return Ok(problem.response()),
    };
    // The request as we read it, so spacing and field order do not make a retry "different".
    let request_hash = hex::encode(Sha256::digest(serde_json::to_vec(request).map_err(|e| Error::Internal(e.to_string()))?));
    let fresh_seq = state.services.rest_start_seq(partner).await?;
    let seq = match state.services.claim_idempotency_key(partner, operation, &key, &request_hash, &fresh_seq).await? {
        KeyClaim::Act { resource } => resource,
        KeyClaim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let headers = [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (HeaderName::from_static("idempotent-replayed"), HeaderValue::from_static("true")),
            ];
            return Ok((status, headers, body).into_response());
        }
        KeyClaim::Mismatch => {
            return Ok(refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body; use a new key for a new action",
                "该 Idempotency-Key 已用于另一请求体；新的操作请使用新的 Idempotency-Key",
            ));
        }
    };
    let response = act(seq).await;
    // Answers that settle the request are kept; a failure of ours (5xx) is not, so a retry
    // with the same key tries again (on the same order number).
    let status = response.status();
    if status.is_server_error() {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_KEPT_BYTES).await.map_err(|e| Error::Internal(e.to_string()))?;
    state.services.answer_idempotency_key(partner, operation, &key, status.as_u16(), &String::from_utf8_lossy(&bytes)).await?;
    Ok(Response::from_parts(parts, axum::body::Body::from(bytes)))
}
