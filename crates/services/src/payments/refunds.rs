//! Giving money back: an admin's refund of a paid order, and the automatic refund of money a
//! gateway collected that cannot pay its order. A gateway refund is two steps — `refunding`
//! recorded first, `refunded` once the gateway confirms — because the gateway may not answer;
//! the refund sweep asks again with the same refund id, so a retry is never a second refund.
//!
//! The partner's settlement line stands after a refund: it delivered the energy, and giving our
//! user their money back is between us and the user.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::money::Money;
use domain::order::{OrderEvent, OrderState};
use store::orders::{self, StoredOrder};
use store::payments::{self, PaymentRecord};
use uuid::Uuid;

use super::PaymentView;
use crate::payment_gateway::PaymentGateway;
use crate::{Error, Result, Services};

/// The facts of a confirmed refund.
pub(super) struct Refund<'a> {
    /// The gateway's refund id (or `wallet:<payment id>`).
    pub refund_ref: &'a str,
    pub at: DateTime<Utc>,
    /// Set when the payment was not yet marked `refunding` (which carries the reason).
    pub reason: Option<&'a str>,
    pub actor: &'a str,
    /// Put the money back into the wallet in the same transaction (wallet payments).
    pub credit_wallet: bool,
}

/// How an admin's refund request ended.
#[derive(Debug, Clone)]
pub enum RefundResult {
    /// The money is back with the user.
    Refunded(Vec<PaymentView>),
    /// Recorded; the gateway has not confirmed yet. The sweep keeps asking.
    InProgress(Vec<PaymentView>),
}

impl Services {
    /// An admin (finance) gives a paid order's payment back in full, with a reason for the
    /// audit log. Asking again while it is under way or done changes nothing.
    pub async fn refund_order(&self, admin: &str, order_id: Uuid, reason: &str) -> Result<RefundResult> {
        let reason = reason.trim();
        if !(2..=500).contains(&reason.chars().count()) {
            return Err(Error::invalid("reason", "say why, in 2 to 500 characters", "请填写退款原因（2 至 500 字）"));
        }
        let order = {
            let mut conn = self.db.acquire().await?;
            orders::by_id(&mut conn, order_id).await?.ok_or(Error::not_found("order"))?.order
        };
        if !matches!(order.state, OrderState::Paid | OrderState::Refunded) {
            return Err(Error::Conflict {
                code: "not_refundable",
                field: None,
                message: format!("the order is {} and has no payment to refund", order.state),
                message_zh: format!("订单当前为「{}」，没有可退款的支付", order.state.label_zh()),
            });
        }
        let payment_id =
            order.payment_id.as_deref().and_then(|p| Uuid::parse_str(p).ok()).ok_or_else(|| Error::Internal("a paid order without its payment id".into()))?;
        let payment = {
            let mut conn = self.db.acquire().await?;
            payments::by_id(&mut conn, payment_id).await?.ok_or_else(|| Error::Internal("a paid order's payment is missing".into()))?
        };
        let actor = format!("admin:{admin}");
        if payment.status == "succeeded" {
            let now = self.now();
            if payment.method == "wallet" {
                let refund_ref = format!("wallet:{}", payment.id);
                let refund = Refund { refund_ref: &refund_ref, at: now, reason: Some(reason), actor: &actor, credit_wallet: true };
                self.record_refund(&payment, "succeeded", &refund).await?;
            } else {
                let gateway = self.payment_gateway()?;
                {
                    // Closed before the gateway is called: no transaction (on SQLite, the write
                    // lock) is held across the network.
                    let mut tx = self.db.begin().await?;
                    if payments::start_refund(&mut tx, payment.id, "succeeded", reason, now).await? {
                        Self::audit_payment(&mut tx, &actor, "refund", &payment, "refunding", Some(reason), now).await?;
                        tx.commit().await.map_err(store::Error::from)?;
                        tracing::info!(order = %order_id, payment = %payment.id, admin, "refund requested");
                    }
                }
                self.push_refund(&gateway, payment.id).await;
            }
        }
        let views = self.payments_of_order(order_id).await?;
        let done = views.iter().find(|p| p.id == payment.id).is_some_and(|p| p.status == "refunded");
        Ok(if done { RefundResult::Refunded(views) } else { RefundResult::InProgress(views) })
    }

    /// Asks the gateway to give a `refunding` payment back and records its confirmation. A
    /// gateway that does not answer leaves the payment `refunding` for the sweep; nothing is
    /// lost, so this only logs.
    pub(crate) async fn push_refund(&self, gateway: &Arc<dyn PaymentGateway>, payment_id: Uuid) {
        if let Err(e) = self.try_push_refund(gateway, payment_id).await {
            tracing::warn!(payment = %payment_id, error = %e, "refund not confirmed yet; the sweep will ask again");
        }
    }

    async fn try_push_refund(&self, gateway: &Arc<dyn PaymentGateway>, payment_id: Uuid) -> Result<()> {
        let payment = {
            let mut conn = self.db.acquire().await?;
            payments::by_id(&mut conn, payment_id).await?.ok_or(Error::not_found("payment"))?
        };
        if payment.status != "refunding" || payment.method != gateway.name() {
            return Ok(());
        }
        let trade = payment.external_ref.as_deref().ok_or_else(|| Error::Internal("a gateway payment without its trade id".into()))?;
        let reason = payment.refund_reason.as_deref().unwrap_or("refund");
        let receipt =
            gateway.refund(trade, payment.id, Money::from_ten_thousandths(payment.amount), reason).await.map_err(|e| super::gateway_unavailable(&e))?;
        let actor = format!("gateway:{}", gateway.name());
        let refund = Refund { refund_ref: &receipt.refund_id, at: receipt.at, reason: None, actor: &actor, credit_wallet: false };
        self.record_refund(&payment, "refunding", &refund).await?;
        Ok(())
    }

    /// Gateway refunds still waiting for the gateway: ask again. Returns how many were asked.
    pub async fn retry_refunds(&self) -> Result<usize> {
        let Some(gateway) = self.payment_gateway.clone() else { return Ok(0) };
        let waiting = {
            let mut conn = self.db.acquire().await?;
            payments::with_status_before(&mut conn, "refunding", self.now(), 100).await?
        };
        for payment in &waiting {
            self.push_refund(&gateway, payment.id).await;
        }
        Ok(waiting.len())
    }

    /// Records a confirmed refund: the payment becomes `refunded` and, when it is the payment
    /// that paid the order, the order becomes `refunded` — in one transaction. False when the
    /// payment was no longer in `from` (someone recorded it first).
    pub(super) async fn record_refund(&self, payment: &PaymentRecord, from: &str, refund: &Refund<'_>) -> Result<bool> {
        for _ in 0..8 {
            let now = self.now();
            let mut tx = self.db.begin().await?;
            if from != "refunding" && !payments::start_refund(&mut tx, payment.id, from, refund.reason.unwrap_or("refund"), now).await? {
                return Ok(false);
            }
            if !payments::finish_refund(&mut tx, payment.id, "refunding", refund.refund_ref, refund.at, now).await? {
                return Ok(false);
            }
            if refund.credit_wallet {
                let credited =
                    store::users::move_wallet(&mut tx, payment.user_id, payment.amount, "order_refund", Some(&payment.order_id.to_string()), now).await?;
                credited.ok_or_else(|| Error::Internal("a refund cannot make a balance negative".into()))?;
            }
            let StoredOrder { mut order, version } = orders::by_id(&mut tx, payment.order_id).await?.ok_or(Error::not_found("order"))?;
            if order.state == OrderState::Paid && order.payment_id.as_deref() == Some(payment.id.to_string().as_str()) {
                let event = OrderEvent::Refunded { payment_id: payment.id.to_string(), amount: Money::from_ten_thousandths(payment.amount) };
                let transition = order.apply(event, now).map_err(|e| Error::Conflict {
                    code: "order_state",
                    field: None,
                    message: e.to_string(),
                    message_zh: e.message_zh(),
                })?;
                if !orders::update(&mut tx, &order, version).await? {
                    continue;
                }
                orders::record_transition(&mut tx, &transition, refund.reason).await?;
            }
            let mut before = payment.clone();
            before.status = from.into();
            Self::audit_payment(&mut tx, refund.actor, "refunded", &before, "refunded", refund.reason, now).await?;
            tx.commit().await.map_err(store::Error::from)?;
            tracing::info!(payment = %payment.id, order = %payment.order_id, refund = refund.refund_ref, "refund recorded");
            return Ok(true);
        }
        Err(Error::Internal("order kept changing under us".into()))
    }
}
