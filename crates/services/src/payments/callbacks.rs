//! What the gateway says about a trade — a callback, or the answer to a query — applied to our
//! payment. Safe to receive any number of times, in any order.

use std::sync::Arc;

use domain::money::Money;
use domain::order::Ownership;
use serde::Serialize;
use store::orders;
use store::payments::{self, PaymentRecord};

use super::refunds::Refund;
use crate::charging::{Funding, PaidAttempt};
use crate::payment_gateway::{CallbackRequest, PaymentGateway, PaymentGatewayError, TradeNotice, TradeStatus};
use crate::{Error, Result, Services};

/// What we did with a notice; the callback endpoint answers OK for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeOutcome {
    /// The order is paid by this payment now.
    Paid,
    /// The payment was closed unpaid (failed, cancelled, expired).
    Closed,
    /// Money arrived that cannot pay the order (already paid, or we had closed the payment): it
    /// is being given back.
    RefundStarted,
    /// A refund is confirmed.
    Refunded,
    /// Nothing to do: a repeat, or news older than what we know (never moves a payment back).
    Ignored,
}

/// Why a payment can no longer pay its order although the gateway collected the money.
const REFUND_ALREADY_PAID: &str = "the order was already paid; this payment is given back";
const REFUND_CLOSED: &str = "the payment arrived after it was closed; it is given back";

impl Services {
    /// A callback from gateway `name`: verified first (a bad signature changes nothing), then
    /// applied to its payment.
    pub async fn on_gateway_callback(&self, name: &str, callback: &CallbackRequest) -> Result<NoticeOutcome> {
        let gateway = self.payment_gateway()?;
        if gateway.name() != name {
            return Err(Error::not_found("payment gateway"));
        }
        let notice = gateway.verify_callback(callback, self.now()).map_err(|e| match e {
            PaymentGatewayError::BadSignature(why) => {
                tracing::warn!(gateway = name, %why, "payment callback refused: bad signature");
                Error::forbidden(format!("the callback signature does not verify: {why}"), "回调签名校验失败，已拒绝")
            }
            other => Error::invalid("body", other.to_string(), "回调内容无法解析"),
        })?;
        self.apply_trade_notice(&gateway, &notice, "callback").await
    }

    /// Applies what the gateway says about a trade. `source` (callback, query) is for the log.
    pub(crate) async fn apply_trade_notice(&self, gateway: &Arc<dyn PaymentGateway>, notice: &TradeNotice, source: &str) -> Result<NoticeOutcome> {
        let mut payment = {
            let mut conn = self.db.acquire().await?;
            let found = payments::by_id(&mut conn, notice.payment_id).await?;
            match found {
                Some(payment) => payment,
                None => {
                    // Not an order's payment: a wallet top-up's, or nothing of ours.
                    let top_up = store::top_ups::by_id(&mut conn, notice.payment_id).await?.ok_or(Error::not_found("payment"))?;
                    drop(conn);
                    return self.apply_top_up_notice(gateway, top_up, notice, source).await;
                }
            }
        };
        if payment.method != gateway.name() || payment.external_ref.as_deref() != Some(notice.trade_id.as_str()) {
            return Err(Error::invalid("trade_id", "the trade does not belong to this payment", "交易号与支付单不符"));
        }
        let ours = Money::from_ten_thousandths(payment.amount);
        if notice.amount != ours {
            tracing::error!(payment = %payment.id, trade = %notice.trade_id, ours = %ours, theirs = %notice.amount, source, "gateway amount differs; refused");
            return Err(Error::Conflict {
                code: "amount_mismatch",
                field: Some("amount"),
                message: format!("the gateway reports {} but the payment is {ours}", notice.amount),
                message_zh: format!("支付渠道金额 {} 与支付单金额 {ours} 不符", notice.amount),
            });
        }
        for _ in 0..8 {
            let done = match (payment.status.as_str(), notice.status) {
                ("pending", TradeStatus::Succeeded) => self.gateway_success(&payment, notice).await?,
                ("pending", TradeStatus::Failed | TradeStatus::Cancelled | TradeStatus::Closed) => {
                    let to = match notice.status {
                        TradeStatus::Failed => "failed",
                        TradeStatus::Cancelled => "cancelled",
                        _ => "expired",
                    };
                    self.close_payment(&payment, to, notice, source).await?
                }
                // Money for a payment we had closed: the user was told it did not go through.
                ("failed" | "cancelled" | "expired", TradeStatus::Succeeded) => self.refund_late_payment(&payment, REFUND_CLOSED).await?,
                ("refunded", _) => Some(NoticeOutcome::Ignored),
                (_, TradeStatus::Refunded) => self.gateway_refunded(gateway, &payment, notice).await?,
                _ => Some(NoticeOutcome::Ignored),
            };
            match done {
                Some(outcome) => {
                    if outcome != NoticeOutcome::Ignored {
                        tracing::info!(payment = %payment.id, trade = %notice.trade_id, status = notice.status.as_str(), source, ?outcome, "payment notice applied");
                    } else {
                        tracing::info!(payment = %payment.id, trade = %notice.trade_id, status = notice.status.as_str(), ours = %payment.status, source, "payment notice is a repeat or out of date; nothing changes");
                    }
                    if outcome == NoticeOutcome::RefundStarted {
                        self.push_refund(gateway, payment.id).await;
                    }
                    return Ok(outcome);
                }
                None => {
                    let mut conn = self.db.acquire().await?;
                    payment = payments::by_id(&mut conn, payment.id).await?.ok_or(Error::not_found("payment"))?;
                }
            }
        }
        Err(Error::Internal("payment kept changing under us".into()))
    }

    /// The gateway collected a pending payment: it pays the order, or — when the order cannot
    /// take it (paid by other means meanwhile, refunded) — is given back. `None`: changed under
    /// us, read again.
    async fn gateway_success(&self, payment: &PaymentRecord, notice: &TradeNotice) -> Result<Option<NoticeOutcome>> {
        let order = {
            let mut conn = self.db.acquire().await?;
            orders::by_id(&mut conn, payment.order_id).await?.ok_or(Error::not_found("order"))?.order
        };
        let Ownership::PartnerPile { operator_partner_id, .. } = order.ownership else {
            return Err(Error::Internal("a gateway payment for an order we do not bill".into()));
        };
        let terms = self.partner_terms(operator_partner_id).await?;
        let funding = Funding::Gateway { payment_id: payment.id, settled_at: notice.at };
        let amount = Money::from_ten_thousandths(payment.amount);
        Ok(match self.commit_payment(payment.order_id, amount, &funding, operator_partner_id, &terms).await? {
            PaidAttempt::Paid(_) => Some(NoticeOutcome::Paid),
            // Paid by this very payment: a repeat that raced the first delivery.
            PaidAttempt::AlreadyPaid(order) if order.payment_id.as_deref() == Some(payment.id.to_string().as_str()) => Some(NoticeOutcome::Ignored),
            PaidAttempt::AlreadyPaid(_) => self.refund_late_payment(payment, REFUND_ALREADY_PAID).await?,
            PaidAttempt::NotPayable(order, why) => {
                tracing::warn!(payment = %payment.id, order = %order.id, state = %order.state, %why, "collected money cannot pay the order; giving it back");
                self.refund_late_payment(payment, REFUND_ALREADY_PAID).await?
            }
            PaidAttempt::Changed => None,
        })
    }

    /// Closes a pending payment unpaid. `None`: it was not pending any more.
    async fn close_payment(&self, payment: &PaymentRecord, to: &str, notice: &TradeNotice, source: &str) -> Result<Option<NoticeOutcome>> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !payments::settle(&mut tx, payment.id, "pending", to, notice.at, now).await? {
            return Ok(None);
        }
        Self::audit_payment(&mut tx, &format!("gateway:{}", payment.method), source, payment, to, None, now).await?;
        tx.commit().await.map_err(store::Error::from)?;
        Ok(Some(NoticeOutcome::Closed))
    }

    /// Marks collected money that cannot pay the order as to be given back. The refund itself
    /// is requested after the commit (and retried by the refund sweep if the gateway is down).
    async fn refund_late_payment(&self, payment: &PaymentRecord, reason: &str) -> Result<Option<NoticeOutcome>> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !payments::start_refund(&mut tx, payment.id, &payment.status, reason, now).await? {
            return Ok(None);
        }
        Self::audit_payment(&mut tx, "system", "auto_refund", payment, "refunding", Some(reason), now).await?;
        tx.commit().await.map_err(store::Error::from)?;
        tracing::warn!(payment = %payment.id, order = %payment.order_id, reason, "collected payment will be refunded");
        Ok(Some(NoticeOutcome::RefundStarted))
    }

    /// The gateway says the trade's money went back. For a refund we asked for, this confirms
    /// it; for one made at the gateway directly (its merchant console), we record it too.
    async fn gateway_refunded(&self, gateway: &Arc<dyn PaymentGateway>, payment: &PaymentRecord, notice: &TradeNotice) -> Result<Option<NoticeOutcome>> {
        if payment.status == "refunding" {
            // Our own request: ask again for its receipt (the refund id makes it the same one).
            self.push_refund(gateway, payment.id).await;
            return Ok(Some(NoticeOutcome::Refunded));
        }
        let refund_ref = format!("{}:{}", gateway.name(), notice.trade_id);
        let actor = format!("gateway:{}", gateway.name());
        let refund = Refund { refund_ref: &refund_ref, at: notice.at, reason: Some("refunded at the payment gateway"), actor: &actor, credit_wallet: false };
        let done = self.record_refund(payment, &payment.status, &refund).await?;
        Ok(done.then_some(NoticeOutcome::Refunded))
    }
}
