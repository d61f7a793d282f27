//! The status reporter: one task sends every connector status change as it happens, in the
//! order they happened, and every connector's status periodically (the platform shows a
//! connector nobody reported on for a while as unknown, never as free).
//!
//! One task for both keeps the reports in order; `at` carries milliseconds so two changes in
//! the same second (a session that fails at once) are not taken as stale repeats.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{ConnectorStatus, Inner};

/// Most changes in one `status:batch` call (the contract's limit).
const MAX_BATCH: usize = 1_000;

pub(crate) struct Change {
    pub connector_id: String,
    pub status: ConnectorStatus,
    pub at: DateTime<Utc>,
}

fn item(change: &Change) -> Value {
    json!({"connector_id": change.connector_id, "status": change.status.as_str(), "at": change.at.to_rfc3339_opts(SecondsFormat::Millis, true)})
}

/// Queues every connector's current status, observed now.
pub(crate) fn report_all(inner: &Inner) {
    let now = Utc::now();
    let state = inner.state.lock();
    for (id, connector) in &state.connectors {
        let _ = inner.status_tx.send(Change { connector_id: id.clone(), status: connector.status, at: now });
    }
}

async fn send(inner: &Inner, changes: &[Change]) {
    for chunk in changes.chunks(MAX_BATCH) {
        let body = json!({ "changes": chunk.iter().map(item).collect::<Vec<_>>() });
        let report = inner.client.report("status", "/connectors/status:batch".into(), body).await;
        if let Ok((200, answer)) = &report.outcome {
            let not_taken = answer["results"].as_array().map_or(0, |r| r.iter().filter(|r| r["result"] != "applied").count());
            if not_taken > 0 {
                tracing::debug!(not_taken, "status changes not applied (stale or unknown)");
            }
        }
    }
}

pub(crate) async fn run(inner: Arc<Inner>, mut changes: mpsc::UnboundedReceiver<Change>) {
    let mut ticker = tokio::time::interval(inner.config.status_interval);
    // The first tick is immediate; the catalog upload reports everything anyway.
    ticker.tick().await;
    loop {
        tokio::select! {
            first = changes.recv() => {
                let Some(first) = first else { return };
                let mut batch = vec![first];
                while let Ok(more) = changes.try_recv() {
                    batch.push(more);
                }
                send(&inner, &batch).await;
            }
            _ = ticker.tick() => report_all(&inner),
        }
    }
}
