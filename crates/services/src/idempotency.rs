//! Idempotency keys of partner commands that create things (our REST API's `Idempotency-Key`).
//!
//! A partner that did not hear our answer (timeout, dropped connection) sends the same request
//! again with the same key and must get the same answer, never a second session. The key is
//! claimed before anything is done, together with a hash of the request and the resource the
//! command will act on (the session's order number); the answer is kept once given. A request
//! that finds the key claimed but unanswered (the first one crashed or is still running) acts on
//! the same resource, which the command itself treats idempotently.

use uuid::Uuid;

use crate::{Result, Services};

/// What to do with a request carrying an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// Act on `resource` (first use of the key, or a retry of an unanswered one).
    Act { resource: String },
    /// Answer what the first request answered.
    Replay { status: u16, body: String },
    /// The key was used for a different request.
    Mismatch,
}

impl Services {
    /// Claims `key` for `request_hash`; `resource` is what a first request will act on.
    pub async fn claim_idempotency_key(&self, partner_id: Uuid, operation: &str, key: &str, request_hash: &str, resource: &str) -> Result<KeyClaim> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let claimed = store::idempotency_keys::claim(&mut conn, partner_id, operation, key, request_hash, resource, now).await?;
        Ok(match claimed {
            None => KeyClaim::Act { resource: resource.to_owned() },
            Some(c) if c.request_hash != request_hash => KeyClaim::Mismatch,
            Some(c) => match c.answer {
                Some((status, body)) => KeyClaim::Replay { status, body },
                None => KeyClaim::Act { resource: c.resource },
            },
        })
    }

    /// Keeps the answer given under `key` (the first one stays).
    pub async fn answer_idempotency_key(&self, partner_id: Uuid, operation: &str, key: &str, status: u16, body: &str) -> Result<()> {
        let mut conn = self.db.acquire().await?;
        store::idempotency_keys::answer(&mut conn, partner_id, operation, key, status, body).await?;
        Ok(())
    }
}
