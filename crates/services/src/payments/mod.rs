//! Paying orders through a payment gateway (the wallet path is in `charging`).
//!
//! A gateway payment is a row in `payments` from the moment the user asks to pay: `pending`
//! with the gateway's trade id, then moved only by what the gateway says (verified callbacks,
//! or query answers when callbacks do not come) and only forward:
//!
//! ```text
//! pending ─succeeded─► succeeded ─admin refund─► refunding ─gateway confirms─► refunded
//! pending ─failed / cancelled─► failed / cancelled        pending ─timeout, closed─► expired
//! pending ─succeeded, order already paid─► refunding      failed / cancelled / expired ─succeeded─► refunding
//! ```
//!
//! The gateway may say anything any number of times in any order; the rules that make a
//! payment count exactly once: a success pays the order only through the one shared commit
//! (`Services::commit_payment`), a payment that cannot pay the order (already paid, closed by
//! us) is given back, nothing ever moves a succeeded payment back, and every status change is a
//! compare-and-set so two deliveries racing cannot both act.

mod callbacks;
mod expiry;
mod refunds;
mod top_ups;

pub use callbacks::NoticeOutcome;
pub use refunds::RefundResult;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::money::Money;
use domain::order::{Order, OrderState, Ownership};
use rust_decimal::Decimal;
use serde::Serialize;
use store::orders;
use store::payments::{self, PaymentRecord};
use store::users::UserRecord;
use uuid::Uuid;

use crate::payment_gateway::{PaymentGateway, PaymentGatewayError, TradeRequest};
use crate::{Error, Result, Services};

/// What the app needs to send the user to the gateway.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GatewayPaymentStarted {
    pub payment_id: Uuid,
    /// The gateway's payment page.
    pub pay_url: String,
}

/// A payment as the app and the admin console show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    pub order_id: Uuid,
    /// `wallet` or the gateway's name (`sandbox`).
    pub method: String,
    #[schema(value_type = String, example = "29.52")]
    pub amount: Decimal,
    /// `pending`, `succeeded`, `failed`, `cancelled`, `expired`, `refunding`, `refunded`.
    pub status: String,
    pub status_label_zh: &'static str,
    /// The gateway's trade id.
    pub trade_id: Option<String>,
    /// Where to pay, while the payment is pending.
    pub pay_url: Option<String>,
    pub settled_at: Option<DateTime<Utc>>,
    pub refund_reason: Option<String>,
    pub refunded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<PaymentRecord> for PaymentView {
    fn from(p: PaymentRecord) -> Self {
        let status_label_zh = match p.status.as_str() {
            "pending" => "待支付",
            "succeeded" => "支付成功",
            "failed" => "支付失败",
            "cancelled" => "已取消",
            "expired" => "已超时关闭",
            "refunding" => "退款中",
            "refunded" => "已退款",
            _ => "未知",
        };
        Self {
            id: p.id,
            order_id: p.order_id,
            method: p.method,
            amount: Money::from_ten_thousandths(p.amount).yuan(),
            pay_url: p.pay_url.filter(|_| p.status == "pending"),
            status: p.status,
            status_label_zh,
            trade_id: p.external_ref,
            settled_at: p.settled_at,
            refund_reason: p.refund_reason,
            refunded_at: p.refunded_at,
            created_at: p.created_at,
        }
    }
}

pub(crate) fn gateway_unavailable(e: &PaymentGatewayError) -> Error {
    Error::Unavailable {
        message: format!("the payment gateway cannot be reached now; try again later ({e})"),
        message_zh: "支付渠道暂时不可用，请稍后重试".into(),
    }
}

impl Services {
    pub(crate) fn payment_gateway(&self) -> Result<Arc<dyn PaymentGateway>> {
        self.payment_gateway.clone().ok_or_else(|| Error::Unavailable {
            message: "no payment gateway is configured; pay from the wallet".into(),
            message_zh: "未配置支付渠道，请使用钱包支付".into(),
        })
    }

    /// The user's own order (someone else's is "not found", not "forbidden": ids do not leak).
    async fn order_of_user(&self, user: &UserRecord, order_id: Uuid) -> Result<Order> {
        let mut conn = self.db.acquire().await?;
        let order = orders::by_id(&mut conn, order_id).await?.ok_or(Error::not_found("order"))?.order;
        match order.ownership {
            Ownership::PartnerPile { user_id, .. } | Ownership::Own { user_id } if user_id == user.id => Ok(order),
            _ => Err(Error::not_found("order")),
        }
    }

    /// Opens a gateway trade for a billed order and returns its payment page. Asking again
    /// while a trade is open returns the same page, so a double tap does not open two trades.
    pub async fn start_gateway_payment(&self, user: &UserRecord, order_id: Uuid) -> Result<GatewayPaymentStarted> {
        let gateway = self.payment_gateway()?;
        let order = self.order_of_user(user, order_id).await?;
        let amount = match (order.state, order.billed_amount) {
            (OrderState::Billed, Some(amount)) => amount,
            (state, _) => {
                return Err(Error::Conflict {
                    code: if state == OrderState::Paid { "already_paid" } else { "not_payable" },
                    field: None,
                    message: format!("the order is {state} and cannot be paid now"),
                    message_zh: format!("订单当前为「{}」，暂不能支付", state.label_zh()),
                });
            }
        };
        if !matches!(order.ownership, Ownership::PartnerPile { .. }) {
            return Err(Error::forbidden("not a partner order", "非第三方桩订单"));
        }
        let now = self.now();
        let open_since = now - self.settings.payment_timeout;
        let units = crate::charging::storable(amount)?;
        {
            let mut conn = self.db.acquire().await?;
            let open = payments::for_order(&mut conn, order_id)
                .await?
                .into_iter()
                .find(|p| p.status == "pending" && p.method == gateway.name() && p.created_at > open_since && p.amount == units);
            if let Some(PaymentRecord { id, pay_url: Some(pay_url), .. }) = open {
                return Ok(GatewayPaymentStarted { payment_id: id, pay_url });
            }
        }
        let payment_id = Uuid::now_v7();
        let request = TradeRequest {
            payment_id,
            order_id,
            amount,
            subject: format!("充电订单 {} / charging order", order.seq),
            expires_at: now + self.settings.payment_timeout,
        };
        let trade = gateway.create_trade(&request).await.map_err(|e| gateway_unavailable(&e))?;
        let mut payment = PaymentRecord::new(payment_id, order_id, user.id, gateway.name(), units, "pending", now);
        payment.external_ref = Some(trade.trade_id.clone());
        payment.pay_url = Some(trade.pay_url.clone());
        let mut conn = self.db.acquire().await?;
        payments::insert(&mut conn, &payment).await?;
        tracing::info!(order = %order_id, payment = %payment_id, trade = %trade.trade_id, amount = %amount, "gateway payment started");
        Ok(GatewayPaymentStarted { payment_id, pay_url: trade.pay_url })
    }

    /// Every payment of the user's order, oldest first.
    pub async fn payments_for_user(&self, user: &UserRecord, order_id: Uuid) -> Result<Vec<PaymentView>> {
        self.order_of_user(user, order_id).await?;
        self.payments_of_order(order_id).await
    }

    pub async fn payments_of_order(&self, order_id: Uuid) -> Result<Vec<PaymentView>> {
        let mut conn = self.db.acquire().await?;
        Ok(payments::for_order(&mut conn, order_id).await?.into_iter().map(PaymentView::from).collect())
    }

    /// Records a payment's change in the audit log, in the caller's transaction.
    pub(crate) async fn audit_payment(
        conn: &mut store::Conn,
        actor: &str,
        action: &str,
        payment: &PaymentRecord,
        to: &str,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let entry = store::audit::AuditEntry {
            at,
            actor: actor.into(),
            action: action.into(),
            subject_type: "payment".into(),
            subject_id: payment.id.to_string(),
            from_state: Some(payment.status.clone()),
            to_state: Some(to.into()),
            reason: reason.map(str::to_owned),
        };
        store::audit::record(conn, &entry).await?;
        Ok(())
    }
}
