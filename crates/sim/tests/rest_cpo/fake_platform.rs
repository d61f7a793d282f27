//! A tiny stand-in for the platform's partner API, enough for the REST operator simulator to
//! talk to: it hands out tokens, takes every report with `200`, and records what it received
//! in order. It is written from the guide like the simulator, not from the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// One call the simulator made, in arrival order.
#[derive(Debug, Clone)]
pub struct Received {
    /// Under `/api/partner/v1`.
    pub path: String,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    tokens: AtomicUsize,
    /// Answer the next API call with 401 (an expired token).
    expire_token: AtomicBool,
}

pub struct FakePlatform {
    pub base_url: String,
    shared: Arc<Shared>,
}

impl FakePlatform {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let router = axum::Router::new().route("/oauth/token", post(token)).fallback(api).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { base_url, shared }
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().clone()
    }

    /// The bodies received on `path` (under `/api/partner/v1`), in order.
    pub fn bodies(&self, path: &str) -> Vec<Value> {
        self.received().into_iter().filter(|r| r.path == path).map(|r| r.body).collect()
    }

    /// The event types reported for a session, in order.
    pub fn event_types(&self, session_id: &str) -> Vec<String> {
        self.bodies(&format!("/sessions/{session_id}/events")).iter().map(|e| e["type"].as_str().unwrap_or_default().to_owned()).collect()
    }

    /// Every status change received for one connector, in order.
    pub fn statuses(&self, connector_id: &str) -> Vec<String> {
        self.bodies("/connectors/status:batch")
            .iter()
            .flat_map(|b| b["changes"].as_array().cloned().unwrap_or_default())
            .filter(|c| c["connector_id"] == connector_id)
            .map(|c| c["status"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub fn expire_token(&self) {
        self.shared.expire_token.store(true, Ordering::SeqCst);
    }

    pub fn tokens_issued(&self) -> usize {
        self.shared.tokens.load(Ordering::SeqCst)
    }
}

async fn token(State(shared): State<Arc<Shared>>, body: String) -> Json<Value> {
    assert!(body.contains("grant_type=client_credentials"), "form-encoded client credentials: {body}");
    let n = shared.tokens.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": 7200}))
}

async fn api(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let current = format!("Bearer tok-{}", shared.tokens.load(Ordering::SeqCst));
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(current.as_str());
    if !authorized || shared.expire_token.swap(false, Ordering::SeqCst) {
        return (StatusCode::UNAUTHORIZED, [("www-authenticate", "Bearer error=\"invalid_token\"")], Json(json!({"error": {"code": "invalid_token"}})))
            .into_response();
    }
    let Some(path) = uri.path().strip_prefix("/api/partner/v1") else { return StatusCode::NOT_FOUND.into_response() };
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    shared.received.lock().push(Received { path: path.to_owned(), body: body.clone() });
    let answer = if path == "/stations:batch" {
        let results: Vec<Value> = body["stations"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .enumerate()
            .map(|(index, s)| json!({"index": index, "station_id": s["id"], "id": format!("uuid-{index}"), "status": "created", "errors": []}))
            .collect();
        json!({ "results": results })
    } else if path == "/connectors/status:batch" {
        let results: Vec<Value> =
            body["changes"].as_array().unwrap_or(&Vec::new()).iter().map(|c| json!({"connector_id": c["connector_id"], "result": "applied"})).collect();
        json!({ "results": results })
    } else if path.ends_with("/charge-record") {
        json!({"verdict": "accepted"})
    } else {
        json!({"state": body["type"]})
    };
    Json(answer).into_response()
}
