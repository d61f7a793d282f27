//! Payments nobody finished. A callback can be lost, so a pending payment past the timeout is
//! not simply declared dead: the gateway is asked first (the user may have paid a second ago),
//! and an unpaid trade is closed there before we mark it `expired`, so it cannot be paid after
//! we gave up on it. Whatever the gateway answers goes through the same rules as a callback.

use store::payments;

use crate::payment_gateway::TradeStatus;
use crate::{Result, Services};

impl Services {
    /// Queries and closes pending gateway payments older than `settings.payment_timeout`.
    /// Returns how many were settled one way or the other.
    pub async fn expire_stale_payments(&self) -> Result<usize> {
        let Some(gateway) = self.payment_gateway.clone() else { return Ok(0) };
        let deadline = self.now() - self.settings.payment_timeout;
        let stale = {
            let mut conn = self.db.acquire().await?;
            payments::with_status_before(&mut conn, "pending", deadline, 100).await?
        };
        let mut settled = 0;
        for payment in stale.iter().filter(|p| p.method == gateway.name()) {
            let Some(trade) = payment.external_ref.as_deref() else { continue };
            let notice = match gateway.query_trade(trade).await {
                Ok(n) if n.status == TradeStatus::Pending => gateway.close_trade(trade).await,
                other => other,
            };
            match notice {
                Ok(notice) if notice.status != TradeStatus::Pending => match self.apply_trade_notice(&gateway, &notice, "query").await {
                    Ok(_) => settled += 1,
                    Err(e) => tracing::warn!(payment = %payment.id, error = %e, "a stale payment's trade could not be applied"),
                },
                Ok(_) => tracing::info!(payment = %payment.id, trade, "the gateway would not close the trade yet; will ask again"),
                Err(e) => tracing::info!(payment = %payment.id, trade, error = %e, "the gateway did not answer about a stale payment; will ask again"),
            }
        }
        Ok(settled)
    }
}
