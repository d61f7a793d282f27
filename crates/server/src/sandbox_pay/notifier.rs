//! Signed asynchronous callbacks to the merchant, the way gateways send them: after the page
//! has answered, possibly more than once, each delivery retried with backoff until the
//! merchant answers 2xx or the budget is spent.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use services::payment_gateway::TradeStatus;
use uuid::Uuid;

use super::{SandboxPay, Trade, signing};

/// Attempts per delivery before the sandbox gives up (real gateways go on for hours).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

impl SandboxPay {
    /// Sends `status` for `trade` `times` times, each after `delay`, in the background. The
    /// status need not be the trade's current one: test hooks send stale news on purpose, or
    /// none at all (`times` 0: a callback lost on the way).
    pub(super) fn notify(self: &Arc<Self>, trade: &Trade, status: TradeStatus, times: u32, delay: Duration) {
        let sandbox = self.clone();
        let trade = trade.clone();
        let notify_id = Uuid::now_v7();
        tokio::spawn(async move {
            for _ in 0..times {
                tokio::time::sleep(delay).await;
                sandbox.deliver(&trade, status, notify_id).await;
            }
        });
    }

    async fn deliver(&self, trade: &Trade, status: TradeStatus, notify_id: Uuid) {
        let body = json!({
            "notify_id": notify_id,
            "trade_id": trade.trade_id,
            "out_trade_no": trade.out_trade_no,
            "status": status.as_str(),
            "amount": trade.amount,
            "at": trade.at,
        })
        .to_string();
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            // Signed at each attempt, so a retry is not refused as too old.
            let signature = signing::sign(&self.key, self.now(), body.as_bytes());
            let sent = self
                .http
                .post(&trade.notify_url)
                .timeout(Duration::from_secs(10))
                .header("content-type", "application/json")
                .header(signing::HEADER, signature)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => tracing::info!(trade = %trade.trade_id, status = %response.status(), attempt, "sandbox callback not acknowledged"),
                Err(e) => tracing::info!(trade = %trade.trade_id, error = %e, attempt, "sandbox callback not delivered"),
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        tracing::warn!(trade = %trade.trade_id, status = status.as_str(), "sandbox gave up delivering a callback; the merchant must query");
    }
}
