//! A fault on one of our piles during a flow-B session.
//!
//! Firmware reports a fault as StatusNotification `Faulted` and then ends the transaction with
//! a StopTransaction whose reason is often just `Other`. Taken alone, that reason would reach
//! the partner as an operator-defined stop (`StopReason::Other`), and its user would be told
//! nothing useful. So the `Faulted` status interrupts the order first (`AbnormalStop` with
//! `StopReason::ChargerFault`, 设备故障, visible in the order's transitions), and the StopTransaction
//! that follows bills it with that reason (see `pile_transaction_stopped`).

use domain::order::{OrderEvent, OrderState, StopReason};
use store::pile_sessions;

use crate::{Result, Services};

impl Services {
    /// OCPP StatusNotification `Faulted` for `connector_no` (0: the whole pile). Sessions that
    /// are charging there become interrupted; returns how many. A session being stopped is
    /// left alone: the partner asked for that stop, and its result is what it waits for.
    pub async fn pile_connector_faulted(&self, ocpp_id: &str, connector_no: i64, error_code: &str) -> Result<usize> {
        let open = {
            let mut conn = self.db.acquire().await?;
            pile_sessions::open_on(&mut conn, ocpp_id, connector_no).await?
        };
        let mut interrupted = 0;
        for (session, _) in open.iter().filter(|(s, state)| state == OrderState::Charging.as_str() && s.transaction_id.is_some()) {
            let detail = format!("pile {ocpp_id} connector {} reported Faulted ({error_code})", session.connector_no);
            let order = self.advance_session(session.order_id, OrderEvent::AbnormalStop { reason: StopReason::ChargerFault }, Some(detail)).await?;
            if order.state == OrderState::Interrupted {
                tracing::warn!(order = %order.id, pile = ocpp_id, connector = session.connector_no, error_code, "charging session interrupted by a pile fault");
                interrupted += 1;
            }
        }
        Ok(interrupted)
    }
}
