//! The server role: `POST /evcs/{version}/{interface}`.
//!
//! Every request goes through the standard's order (§4.4): envelope → caller by OperatorID →
//! signature → token → replay / time window → decrypt → business fields → handler. Each
//! failure answers its own `Ret` with a `Msg` naming the problem, and the handler is not called.
//! Replies are encrypted and signed with the secret set that verified the request.

mod memory;
mod pipeline;
mod ports;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Duration, Utc};

pub use memory::{MemoryReplayGuard, MemoryTokenStore};
pub use ports::{Caller, OperatorHandler, PartnerDirectory, PartnerEntry, PlatformHandler, ReplayGuard, TokenStore};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Lifetime of tokens we issue.
    pub token_ttl: Duration,
    /// How far a request's TimeStamp may be from our clock.
    pub timestamp_window: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { token_ttl: Duration::hours(24), timestamp_window: Duration::minutes(5) }
    }
}

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The T/CEC 102 server; clone it freely.
#[derive(Clone)]
pub struct CecServer {
    pub(crate) directory: Arc<dyn PartnerDirectory>,
    pub(crate) tokens: Arc<dyn TokenStore>,
    pub(crate) replay: Arc<dyn ReplayGuard>,
    pub(crate) operator: Option<Arc<dyn OperatorHandler>>,
    pub(crate) platform: Option<Arc<dyn PlatformHandler>>,
    pub(crate) config: ServerConfig,
    pub(crate) clock: Clock,
}

impl CecServer {
    pub fn new(directory: Arc<dyn PartnerDirectory>, config: ServerConfig) -> Self {
        Self {
            directory,
            tokens: Arc::new(MemoryTokenStore::default()),
            replay: Arc::new(MemoryReplayGuard::default()),
            operator: None,
            platform: None,
            config,
            clock: Arc::new(Utc::now),
        }
    }

    /// Serve the interfaces of the operator of the piles.
    pub fn with_operator(mut self, handler: Arc<dyn OperatorHandler>) -> Self {
        self.operator = Some(handler);
        self
    }

    /// Serve the interfaces of the platform that owns the users.
    pub fn with_platform(mut self, handler: Arc<dyn PlatformHandler>) -> Self {
        self.platform = Some(handler);
        self
    }

    pub fn with_tokens(mut self, tokens: Arc<dyn TokenStore>) -> Self {
        self.tokens = tokens;
        self
    }

    pub fn with_replay_guard(mut self, replay: Arc<dyn ReplayGuard>) -> Self {
        self.replay = replay;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// `POST /evcs/{version}/{interface}`; merge it into the application's router.
    pub fn router(self) -> Router {
        Router::new().route("/evcs/{version}/{interface}", post(handle)).with_state(self)
    }
}

async fn handle(State(server): State<CecServer>, Path((version, interface)): Path<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    let reply = pipeline::process(&server, &version, &interface, bearer.as_deref(), &body).await;
    axum::Json(reply).into_response()
}
