//! Delivery to partners through the outbox: the dispatcher loop, backoff, dead letters, replay.
//!
//! Protocol adapters implement [`Deliverer`] (a T/CEC 102 notification, an OCPI push, a signed
//! webhook); the dispatcher only knows that a message was delivered, should be retried, or can
//! never succeed.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::Duration;
use futures::StreamExt;
use store::outbox::{self, Attempt, OutboxMessage, OutboxStatus};
use store::{Page, PageRequest};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::onboarding::Actor;
use crate::{Error, Result, Services};

#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (network, timeout, partner busy or down).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed as it is (partner refused the content); dead-lettered at once.
    #[error("{0}")]
    Permanent(String),
}

/// Sends one outbox message to its partner. Must return only once the partner acknowledged it.
#[async_trait]
pub trait Deliverer: Send + Sync + 'static {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError>;
}

/// Wait before attempt n+1 after n failures: quick at first, then up to an hour.
pub fn backoff(failures: i64) -> Duration {
    const STEPS: [i64; 10] = [1, 2, 5, 15, 30, 60, 120, 300, 900, 3600];
    Duration::seconds(STEPS[(failures.max(1) as usize - 1).min(STEPS.len() - 1)])
}

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Attempts before a message is dead-lettered.
    pub max_attempts: i64,
    /// How long a claimed message is reserved for this worker.
    pub lease: Duration,
    /// Poll interval when nothing wakes the dispatcher.
    pub poll: StdDuration,
    pub batch: i64,
    /// Messages delivered at the same time (each ordering key still one at a time).
    pub concurrency: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self { max_attempts: 12, lease: Duration::seconds(60), poll: StdDuration::from_millis(500), batch: 200, concurrency: 32 }
    }
}

/// Wakes the dispatcher when something was enqueued in this process.
#[derive(Clone, Default)]
pub struct DeliveryWaker(Arc<Notify>);

impl DeliveryWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

pub struct Dispatcher {
    services: Services,
    deliverer: Arc<dyn Deliverer>,
    config: DispatcherConfig,
    waker: DeliveryWaker,
}

impl Dispatcher {
    pub fn new(services: Services, deliverer: Arc<dyn Deliverer>, config: DispatcherConfig, waker: DeliveryWaker) -> Self {
        Self { services, deliverer, config, waker }
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        self.run_until(std::future::pending()).await
    }

    /// Runs until `stop` completes; a pass under way when it does finishes first (what it
    /// claimed is delivered and recorded, not left to the lease).
    pub async fn run_until(&self, stop: impl std::future::Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        loop {
            let busy = match self.run_once().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox dispatch failed; will retry");
                    false
                }
            };
            tokio::select! {
                biased;
                _ = &mut stop => return,
                // A full pass may have left more: go again at once.
                _ = std::future::ready(()), if busy => {}
                _ = self.waker.0.notified() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }

    /// One pass: release stale leases, claim the due heads, deliver them. Returns how many
    /// messages were attempted.
    pub async fn run_once(&self) -> Result<usize> {
        let now = self.services.now();
        let mut conn = self.services.db.acquire().await?;
        outbox::release_expired_leases(&mut conn, now).await?;
        let due = outbox::due_heads(&mut conn, now, self.config.batch).await?;
        let seqs: Vec<i64> = due.iter().map(|m| m.seq).collect();
        let taken: std::collections::HashSet<i64> = outbox::claim_many(&mut conn, &seqs, now, now + self.config.lease).await?.into_iter().collect();
        drop(conn);
        let claimed: Vec<_> = due.into_iter().filter(|m| taken.contains(&m.seq)).collect();
        let count = claimed.len();
        futures::stream::iter(claimed)
            .for_each_concurrent(self.config.concurrency, |message| async move {
                if let Err(e) = self.attempt(message).await {
                    tracing::warn!(error = %e, "recording a delivery outcome failed");
                }
            })
            .await;
        Ok(count)
    }

    async fn attempt(&self, mut message: OutboxMessage) -> Result<()> {
        message.attempts += 1;
        let outcome = self.deliverer.deliver(&message).await;
        let now = self.services.now();
        let mut conn = self.services.db.acquire().await?;
        match outcome {
            Ok(()) => outbox::mark_delivered(&mut conn, message.seq, now).await?,
            Err(e) => {
                let retry_at = match &e {
                    DeliveryError::Retry(_) if message.attempts < self.config.max_attempts => Some(now + backoff(message.attempts)),
                    _ => None,
                };
                if retry_at.is_none() {
                    tracing::warn!(partner = %message.partner_id, kind = %message.kind, id = %message.id, error = %e, "delivery dead-lettered");
                }
                outbox::mark_failed(&mut conn, message.seq, now, &e.to_string(), retry_at).await?;
            }
        }
        Ok(())
    }
}

impl Services {
    pub async fn deliveries(&self, partner_id: Uuid, status: Option<OutboxStatus>, page: PageRequest) -> Result<Page<OutboxMessage>> {
        let mut conn = self.db.acquire().await?;
        Ok(outbox::list(&mut conn, partner_id, status, page).await?)
    }

    pub async fn delivery(&self, partner_id: Uuid, id: Uuid) -> Result<(OutboxMessage, Vec<Attempt>)> {
        let mut conn = self.db.acquire().await?;
        outbox::get(&mut conn, partner_id, id).await?.ok_or(Error::not_found("delivery"))
    }

    /// Puts a dead-lettered message back in the queue with a fresh retry budget.
    pub async fn replay_delivery(&self, partner_id: Uuid, id: Uuid, actor: &Actor) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !outbox::replay(&mut tx, partner_id, id, now).await? {
            return Err(Error::Conflict {
                code: "not_dead_lettered",
                field: None,
                message: "only dead-lettered deliveries can be replayed".into(),
                message_zh: "仅可重放已进入死信的投递".into(),
            });
        }
        store::audit::record(
            &mut tx,
            &store::audit::AuditEntry {
                at: now,
                actor: actor.label(),
                action: "replay_delivery".into(),
                subject_type: "delivery".into(),
                subject_id: id.to_string(),
                from_state: Some("dead".into()),
                to_state: Some("pending".into()),
                reason: None,
            },
        )
        .await?;
        tx.commit().await.map_err(store::Error::from)?;
        Ok(())
    }
}
