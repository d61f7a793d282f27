//! The two routes an operator serves under its `callback_base_url`:
//!
//! - `POST /chargebridge/commands`: signed like webhooks; a bad or old signature is `401` (the
//!   platform takes a 4xx as a refusal). A repeated `Idempotency-Key` is answered with the first
//!   answer without acting again — except `get_session`, which is a question asked again until
//!   the answer changes, so it is always answered fresh.
//! - `POST /chargebridge/webhook`: the same signature check; events deduplicated on `id`.
//!
//! Signatures are checked against the raw bytes, before any JSON parsing.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::state::{CommandLog, WebhookEvent};
use super::{Inner, sessions};

pub(crate) fn router(inner: Arc<Inner>) -> axum::Router {
    axum::Router::new().route("/chargebridge/commands", post(command)).route("/chargebridge/webhook", post(webhook)).with_state(inner)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The documented check under any of our webhook secrets (two during a rotation on our side).
fn signed(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> bool {
    let signature = header(headers, "x-chargebridge-signature").unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    inner.config.webhook_secrets.iter().any(|secret| verify(secret, signature, body, now, inner.config.signature_tolerance))
}

/// True when `header` (`t=…,v1=…[,v1=…]`) carries a `t` within `tolerance` seconds of `now`
/// and some `v1` equal to the hex HMAC-SHA256 of `"{t}.{body}"` under `secret`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance: i64) -> bool {
    use hmac::{Hmac, KeyInit, Mac};
    let mut t = None;
    let mut given = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => given.push(value),
            _ => {}
        }
    }
    let Some(t) = t.filter(|t| (now - t).abs() <= tolerance) else { return false };
    given.iter().any(|v1| {
        let Ok(v1) = hex::decode(v1) else { return false };
        let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else { return false };
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&v1).is_ok()
    })
}

/// A signature header for `body` at `t` under each secret: what the platform sends. Public so
/// tests (and peers of the simulator) can sign what they send it.
pub fn sign(secrets: &[&str], t: i64, body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut header = format!("t={t}");
    for secret in secrets {
        if let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
            mac.update(format!("{t}.").as_bytes());
            mac.update(body);
            header.push_str(&format!(",v1={}", hex::encode(mac.finalize().into_bytes())));
        }
    }
    header
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

async fn command(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if !signed(&inner, &headers, &body) {
        inner.state.lock().bad_signatures += 1;
        tracing::warn!("a command with a signature that does not verify (or is too old)");
        return error(StatusCode::UNAUTHORIZED, "bad_signature", "the X-Chargebridge-Signature does not verify");
    }
    if inner.state.lock().misbehaviour.never_answer {
        tracing::info!("holding a command without answering (misbehaviour)");
        tokio::time::sleep(inner.config.silence).await;
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "not answering (simulated)");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad_json", "the body is not JSON");
    };
    let name = request["command"].as_str().unwrap_or_default().to_owned();
    let key = header(&headers, "idempotency-key").map(str::to_owned);
    // The guide: a repeated start, reserve or cancel gets its first answer; a stop and
    // `get_session` are answered as things are now (a stop after `stop_failed` is a new attempt).
    let replayed = matches!(name.as_str(), "start_session" | "reserve" | "cancel_reservation");
    // One lock for the lookup, the decision and storing the answer: two copies of a retry that
    // arrive together cannot both act.
    let mut state = inner.state.lock();
    let replay = if replayed { key.as_ref().and_then(|k| state.answers.get(k).cloned()) } else { None };
    let (answer, repeat) = match replay {
        Some(answer) => (answer, true),
        None => {
            let answer = sessions::decide(&inner, &mut state, &name, &request);
            if let (Some(key), true) = (&key, replayed) {
                state.answers.insert(key.clone(), answer.clone());
            }
            (answer, false)
        }
    };
    tracing::info!(command = %name, key = key.as_deref().unwrap_or("-"), answer = %answer.1, repeat, "command answered");
    state.commands.push(CommandLog { command: name, idempotency_key: key, body: request, answer: answer.clone(), repeat });
    let status = StatusCode::from_u16(answer.0).unwrap_or(StatusCode::OK);
    (status, Json(answer.1)).into_response()
}

async fn webhook(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if !signed(&inner, &headers, &body) {
        inner.state.lock().bad_signatures += 1;
        tracing::warn!("a webhook with a signature that does not verify (or is too old)");
        return error(StatusCode::UNAUTHORIZED, "bad_signature", "the X-Chargebridge-Signature does not verify");
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad_json", "the body is not JSON");
    };
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["kind"].as_str()) else {
        return error(StatusCode::BAD_REQUEST, "bad_event", "an event has an id and a kind");
    };
    let mut state = inner.state.lock();
    if !state.webhook_ids.insert(id.to_owned()) {
        state.webhook_duplicates += 1;
        return StatusCode::NO_CONTENT.into_response();
    }
    tracing::info!(%kind, %id, data = %event["data"], "webhook received");
    state.webhooks.push(WebhookEvent { id: id.to_owned(), kind: kind.to_owned(), data: event["data"].clone() });
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_matching_v1_within_the_tolerance_verifies() {
        let body = br#"{"command":"get_session","session_id":"s1"}"#;
        let header = sign(&["new", "old"], 1000, body);
        assert!(verify("new", &header, body, 1000, 300));
        assert!(verify("old", &header, body, 1300, 300), "the previous key during a rotation, 5 minutes later");
        assert!(!verify("other", &header, body, 1000, 300), "wrong key");
        assert!(!verify("new", &header, body, 1301, 300), "too old");
        assert!(!verify("new", &header, body, 699, 300), "too far ahead");
        assert!(!verify("new", &header, b"{}", 1000, 300), "another body");
        assert!(!verify("new", &header.replace("t=1000", "t=1001"), body, 1000, 300), "another t");
        assert!(!verify("new", "v1=00", body, 1000, 300), "no timestamp");
        assert!(!verify("new", "t=1000,v1=zz", body, 1000, 300), "not hex");
    }
}
