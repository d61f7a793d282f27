//! A simulated partner platform (flow B) that integrates through our partner REST API instead of
//! T/CEC 102. It is written from the published contract (`docs/partner-api.md`,
//! `docs/partner-api-platform.md`) with plain JSON values — it shares no type with the server, so
//! a test that drives it proves the documented API, not the server's own structs.
//!
//! It takes an OAuth2 token, pulls our stations page by page (cursor, ETag), starts sessions with
//! an `Idempotency-Key`, and runs the webhook receiver a real platform runs: the signature is
//! checked against its webhook secret (any `v1=` may match, as during a key rotation), events are
//! deduplicated on their id and kept in arrival order.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

/// How the simulator reaches the platform and checks what it hears.
#[derive(Debug, Clone)]
pub struct RestEmspConfig {
    /// The platform, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The `webhook_secret` of the portal's credentials answer.
    pub webhook_secret: String,
    /// Where its webhook receiver listens (`/chargebridge/webhook` under it).
    pub bind: SocketAddr,
}

/// One webhook event as it arrived (after its signature was checked and duplicates dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

#[derive(Default)]
struct Inbox {
    seen: HashSet<String>,
    events: Vec<Event>,
    /// Deliveries refused because no signature matched, and repeated ones (same id).
    bad_signatures: usize,
    duplicates: usize,
}

/// A running REST platform partner.
pub struct RestEmsp {
    config: RestEmspConfig,
    http: reqwest::Client,
    token: Mutex<Option<String>>,
    inbox: Arc<Mutex<Inbox>>,
    /// Where the receiver actually listens (the bind port may be 0).
    pub webhook_addr: SocketAddr,
}

/// An answer of the API: status and JSON body (`Null` when there is none).
pub type Answer = (u16, Value);

impl RestEmsp {
    /// Starts the webhook receiver; the API is called on demand.
    pub async fn start(config: RestEmspConfig) -> std::io::Result<Arc<Self>> {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let receiver = axum::Router::new().route("/chargebridge/webhook", post(receive)).with_state((inbox.clone(), Arc::new(config.webhook_secret.clone())));
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let webhook_addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, receiver).await });
        tracing::info!(%webhook_addr, "REST platform partner: webhook receiver listening");
        Ok(Arc::new(Self { config, http: reqwest::Client::new(), token: Mutex::new(None), inbox, webhook_addr }))
    }

    /// The callback base to register (`callback_base_url`): the receiver's address.
    pub fn callback_base_url(&self) -> String {
        format!("http://{}", self.webhook_addr)
    }

    /// An OAuth2 access token (client credentials), kept until the platform says it expired.
    async fn token(&self) -> Result<String, String> {
        if let Some(token) = self.token.lock().clone() {
            return Ok(token);
        }
        let response = self
            .http
            .post(format!("{}/oauth/token", self.config.base_url))
            .form(&[("grant_type", "client_credentials"), ("client_id", &self.config.client_id), ("client_secret", &self.config.client_secret)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        let token = body["access_token"].as_str().ok_or_else(|| format!("token refused ({status}): {body}"))?.to_owned();
        *self.token.lock() = Some(token.clone());
        Ok(token)
    }

    /// Calls `/api/partner/v1{path}`; a 401 drops the token and tries once more with a new one.
    pub async fn call(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Result<(u16, HeaderMap, Value), String> {
        for attempt in 0..2 {
            let mut request = self.http.request(method.clone(), format!("{}/api/partner/v1{path}", self.config.base_url)).bearer_auth(self.token().await?);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            if status == 401 && attempt == 0 {
                *self.token.lock() = None;
                continue;
            }
            let headers = response.headers().clone();
            let text = response.text().await.map_err(|e| e.to_string())?;
            let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).map_err(|e| format!("{status}: {e}: {text}"))? };
            return Ok((status, headers, body));
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Every station open to it, following `next_cursor` pages of `limit`.
    pub async fn pull_stations(&self, limit: u32) -> Result<Vec<Value>, String> {
        let mut stations = Vec::new();
        let mut path = format!("/stations?limit={limit}");
        loop {
            let (status, _, page) = self.call(Method::GET, &path, &[], None).await?;
            if status != 200 {
                return Err(format!("stations page answered {status}: {page}"));
            }
            stations.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/stations?cursor={cursor}"),
                None => return Ok(stations),
            }
        }
    }

    /// Starts a session on `connector_id` under `idempotency_key`.
    pub async fn start_session(&self, connector_id: &str, idempotency_key: &str) -> Result<Answer, String> {
        let (status, _, body) =
            self.call(Method::POST, "/sessions", &[("idempotency-key", idempotency_key)], Some(&json!({"connector_id": connector_id}))).await?;
        Ok((status, body))
    }

    pub async fn stop_session(&self, session_id: &str) -> Result<Answer, String> {
        let (status, _, body) = self.call(Method::POST, &format!("/sessions/{session_id}/stop"), &[], Some(&json!({}))).await?;
        Ok((status, body))
    }

    pub async fn session(&self, session_id: &str) -> Result<Answer, String> {
        let (status, _, body) = self.call(Method::GET, &format!("/sessions/{session_id}"), &[], None).await?;
        Ok((status, body))
    }

    /// The webhook events received so far, in arrival order, each once.
    pub fn events(&self) -> Vec<Event> {
        self.inbox.lock().events.clone()
    }

    /// Deliveries refused for a bad signature, and duplicates dropped.
    pub fn refused_and_duplicates(&self) -> (usize, usize) {
        let inbox = self.inbox.lock();
        (inbox.bad_signatures, inbox.duplicates)
    }

    /// The events of one session, in order.
    pub fn session_events(&self, session_id: &str) -> Vec<Event> {
        self.events().into_iter().filter(|e| e.data["session_id"].as_str() == Some(session_id)).collect()
    }

    /// Waits until an event of `kind` for `session_id` has arrived.
    pub async fn wait_for(&self, session_id: &str, kind: &str, timeout: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.session_events(session_id).into_iter().find(|e| e.kind == kind) {
                return Some(event);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

type ReceiverState = (Arc<Mutex<Inbox>>, Arc<String>);

/// `POST /chargebridge/webhook`: 401 for a bad signature (so the platform retries and an
/// operator sees it), 204 for a good one, duplicates acknowledged and dropped.
async fn receive(State((inbox, secret)): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers.get("x-chargebridge-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !verify(&secret, header, &body, chrono::Utc::now().timestamp()) {
        inbox.lock().bad_signatures += 1;
        tracing::warn!("webhook with a signature that does not verify");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else { return StatusCode::BAD_REQUEST };
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let kind = event["kind"].as_str().unwrap_or_default().to_owned();
    let mut inbox = inbox.lock();
    if !inbox.seen.insert(id.clone()) {
        inbox.duplicates += 1;
        return StatusCode::NO_CONTENT;
    }
    tracing::info!(%kind, %id, "webhook received");
    inbox.events.push(Event { id, kind, data: event["data"].clone() });
    StatusCode::NO_CONTENT
}

/// The documented check: `t` within 5 minutes of `now`, and some `v1` equal to the hex
/// HMAC-SHA256 of `"{t}.{body}"` under the secret.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> bool {
    let mut t = None;
    let mut given = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => given.push(value),
            _ => {}
        }
    }
    let Some(t) = t.filter(|t| (now - t).abs() <= 300) else { return false };
    given.iter().any(|v1| {
        let Ok(v1) = hex::decode(v1) else { return false };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&v1).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn any_matching_signature_within_five_minutes_verifies() {
        let body = br#"{"id":"e1","kind":"webhook.ping","data":{}}"#;
        let header = format!("t=1000,v1={},v1={}", sign("new", 1000, body), sign("old", 1000, body));
        assert!(verify("new", &header, body, 1000));
        assert!(verify("old", &header, body, 1200), "the previous key during a rotation");
        assert!(!verify("other", &header, body, 1000));
        assert!(!verify("new", &header, body, 1301), "too old");
        assert!(!verify("new", &header, b"{}", 1000), "another body");
        assert!(!verify("new", "v1=00", body, 1000), "no timestamp");
    }
}
