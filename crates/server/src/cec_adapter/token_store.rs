//! The T/CEC 102 server's token store and replay guard, in the database (`store::cec_tokens`):
//! a restart does not invalidate every partner's token, and a request replayed after a restart
//! (or to another instance) is still refused. Expired rows are pruned as we go, at most once a
//! minute.

use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use cec::error::HandlerError;
use cec::server::{ReplayGuard, TokenStore};
use chrono::{DateTime, Utc};
use services::Services;
use services::secrets::{random_token, sha256_hex};

pub struct DbTokens {
    services: Services,
    /// When expired rows were last pruned (UTC milliseconds).
    last_prune: AtomicI64,
}

impl DbTokens {
    pub fn new(services: Services) -> Self {
        Self { services, last_prune: AtomicI64::new(0) }
    }

    async fn prune_now_and_then(&self, now: DateTime<Utc>) {
        let last = self.last_prune.load(Ordering::Relaxed);
        if now.timestamp_millis() - last < 60_000
            || self.last_prune.compare_exchange(last, now.timestamp_millis(), Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let pruned = match self.services.db.acquire().await {
            Ok(mut conn) => store::cec_tokens::prune(&mut conn, now).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match pruned {
            Ok(0) => {}
            Ok(rows) => tracing::debug!(rows, "expired T/CEC 102 tokens and request keys pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning T/CEC 102 tokens failed; will try again"),
        }
    }
}

/// Storage errors in T/CEC terms, as every other service error: "busy, retry" when the
/// database cannot be reached now, a system error otherwise.
fn store_error(e: store::Error) -> HandlerError {
    super::errors::to_handler(services::Error::Store(e))
}

#[async_trait]
impl TokenStore for DbTokens {
    async fn issue(&self, operator_id: &str, expires_at: DateTime<Utc>) -> Result<String, HandlerError> {
        let token = random_token("");
        let mut conn = self.services.db.acquire().await.map_err(store_error)?;
        store::cec_tokens::insert_token(&mut conn, &sha256_hex(&token), operator_id, expires_at).await.map_err(store_error)?;
        drop(conn);
        self.prune_now_and_then(Utc::now()).await;
        Ok(token)
    }

    async fn holder(&self, token: &str, now: DateTime<Utc>) -> Result<Option<String>, HandlerError> {
        let mut conn = self.services.db.acquire().await.map_err(store_error)?;
        store::cec_tokens::token_holder(&mut conn, &sha256_hex(token), now).await.map_err(store_error)
    }
}

#[async_trait]
impl ReplayGuard for DbTokens {
    async fn first_time(&self, key: &str, now: DateTime<Utc>, keep_until: DateTime<Utc>) -> Result<bool, HandlerError> {
        let mut conn = self.services.db.acquire().await.map_err(store_error)?;
        let first = store::cec_tokens::first_request(&mut conn, &sha256_hex(key), now, keep_until).await.map_err(store_error)?;
        drop(conn);
        self.prune_now_and_then(now).await;
        Ok(first)
    }
}
