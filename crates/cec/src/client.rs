//! The client role: we call a partner's interfaces.
//!
//! Tokens are fetched on first use, cached until shortly before they expire, and refreshed once
//! when the partner answers `Ret 4002`. Transport failures, `Ret -1` and `Ret 500` are retried
//! with exponential backoff only for interfaces that are safe to repeat (see
//! [`Interface::IDEMPOTENT`]).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::crypto::Keys;
use crate::envelope::{RequestEnvelope, ResponseEnvelope, SeqCounter};
use crate::error::Ret;
use crate::messages::{Interface, QueryToken, SuccStat};
use crate::secrets::Secrets;
use crate::tolerant;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The partner's base, e.g. `https://cpo.example.cn` (the `/evcs/{version}/` part is added).
    pub base_url: String,
    /// The partner's version segment, e.g. `v1.0` or `20160701`.
    pub version: String,
    /// Our OperatorID.
    pub operator_id: String,
    /// The secrets the partner issued to us.
    pub secrets: Secrets,
    pub timeout: StdDuration,
    /// Attempts for interfaces safe to repeat (1 = no retry).
    pub max_attempts: usize,
    pub min_backoff: StdDuration,
}

impl ClientConfig {
    pub fn new(base_url: &str, version: &str, operator_id: &str, secrets: Secrets) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            version: version.into(),
            operator_id: operator_id.into(),
            secrets,
            timeout: StdDuration::from_secs(10),
            max_attempts: 3,
            min_backoff: StdDuration::from_millis(200),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("configuration: {0}")]
    Config(String),
    /// No answer: refused, reset, timed out. The outcome of a command is unknown.
    #[error("no answer from the partner: {0}")]
    Transport(String),
    #[error("the partner answered HTTP {0}")]
    Http(u16),
    /// The partner refused the envelope.
    #[error("the partner answered Ret {}: {msg}", ret.code())]
    Ret { ret: Ret, msg: String },
    #[error("the partner's reply signature does not verify")]
    Signature,
    #[error("the partner's reply cannot be read: {0}")]
    Decode(String),
    #[error("the partner refused our token request (FailReason {0})")]
    TokenRefused(i64),
}

impl ClientError {
    /// Worth repeating later (for interfaces safe to repeat).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Http(status) => *status >= 500 || *status == 429,
            Self::Ret { ret, .. } => matches!(ret, Ret::Busy | Ret::System),
            _ => false,
        }
    }

    /// The request may have reached the partner and been acted on.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Transport(_)) || matches!(self, Self::Http(status) if *status >= 500)
    }
}

struct CachedToken {
    token: String,
    refresh_at: DateTime<Utc>,
}

pub struct CecClient {
    http: reqwest::Client,
    config: ClientConfig,
    keys: Keys,
    token: Mutex<Option<CachedToken>>,
    seq: SeqCounter,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl std::fmt::Debug for CecClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CecClient").field("base_url", &self.config.base_url).field("operator_id", &self.config.operator_id).finish()
    }
}

impl CecClient {
    pub fn new(config: ClientConfig, http: reqwest::Client) -> Result<Self, ClientError> {
        let keys = Keys::new(&config.secrets).map_err(|e| ClientError::Config(e.to_string()))?;
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(ClientError::Config(format!("base URL {} must start with http:// or https://", config.base_url)));
        }
        Ok(Self { http, config, keys, token: Mutex::new(None), seq: SeqCounter::default(), clock: Arc::new(Utc::now) })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>) -> Self {
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn url(&self, interface: &str) -> String {
        format!("{}/evcs/{}/{interface}", self.config.base_url, self.config.version)
    }

    /// Calls `I` and returns the partner's business answer; retries as the interface allows.
    pub async fn call<I: Interface>(&self, request: &I) -> Result<I::Response, ClientError> {
        let attempts = if I::IDEMPOTENT { self.config.max_attempts.max(1) } else { 1 };
        let backoff = ExponentialBuilder::default().with_min_delay(self.config.min_backoff).with_max_times(attempts - 1).with_jitter();
        (|| self.call_once(request)).retry(backoff).when(ClientError::is_retryable).await
    }

    async fn call_once<I: Interface>(&self, request: &I) -> Result<I::Response, ClientError> {
        let payload = serde_json::to_vec(request).map_err(|e| ClientError::Config(e.to_string()))?;
        if I::NAME == QueryToken::NAME {
            return self.exchange(I::NAME, &payload, None).await;
        }
        let token = self.token().await?;
        match self.exchange(I::NAME, &payload, Some(&token)).await {
            Err(ClientError::Ret { ret: Ret::Token, .. }) => {
                // Expired or revoked early: one fresh token, one more try.
                self.forget_token(&token).await;
                let token = self.token().await?;
                self.exchange(I::NAME, &payload, Some(&token)).await
            }
            other => other,
        }
    }

    /// Gets (or reuses) an access token.
    pub async fn token(&self) -> Result<String, ClientError> {
        let mut cached = self.token.lock().await;
        let now = (self.clock)();
        if let Some(t) = cached.as_ref().filter(|t| t.refresh_at > now) {
            return Ok(t.token.clone());
        }
        let request = QueryToken { operator_id: self.config.operator_id.clone(), operator_secret: self.config.secrets.operator_secret.clone() };
        let payload = serde_json::to_vec(&request).map_err(|e| ClientError::Config(e.to_string()))?;
        let response: crate::messages::QueryTokenResponse = self.exchange(QueryToken::NAME, &payload, None).await?;
        if response.succ_stat != SuccStat::Success || response.access_token.is_empty() {
            return Err(ClientError::TokenRefused(response.fail_reason.code()));
        }
        // Refresh at 80 % of the lifetime so a token never expires in flight.
        let lifetime = Duration::seconds(response.token_available_time.max(1));
        *cached = Some(CachedToken { token: response.access_token.clone(), refresh_at: now + lifetime * 4 / 5 });
        Ok(response.access_token)
    }

    async fn forget_token(&self, token: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.token == token) {
            *cached = None;
        }
    }

    async fn exchange<R: serde::de::DeserializeOwned>(&self, interface: &str, payload: &[u8], token: Option<&str>) -> Result<R, ClientError> {
        let now = (self.clock)();
        let envelope = RequestEnvelope::seal(&self.keys, &self.config.operator_id, payload, now, self.seq.next(now));
        let mut request = self
            .http
            .post(self.url(interface))
            .timeout(self.config.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json;charset=utf-8")
            .json(&envelope);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| ClientError::Transport(describe(&e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| ClientError::Transport(describe(&e)))?;
        let reply = match ResponseEnvelope::parse(&body) {
            Ok(reply) => reply,
            Err(_) if !status.is_success() => return Err(ClientError::Http(status.as_u16())),
            Err(e) => return Err(ClientError::Decode(e)),
        };
        if reply.ret != 0 {
            // Error bodies are unauthenticated diagnostics; never decrypt them.
            return Err(ClientError::Ret { ret: Ret::from_code(reply.ret), msg: reply.msg });
        }
        if !reply.verify(&self.keys) {
            return Err(ClientError::Signature);
        }
        let plaintext = self.keys.decrypt(&reply.data).map_err(|e| ClientError::Decode(e.to_string()))?;
        let value: Value = serde_json::from_slice(&plaintext).map_err(|e| ClientError::Decode(format!("Data is not JSON: {e}")))?;
        let value = if tolerant::is_canonical(&value) { value } else { tolerant::normalise(value) };
        serde_json::from_value(value).map_err(|e| ClientError::Decode(format!("{interface}: {e}")))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        e.to_string()
    }
}
