//! Wallet top-ups. Money enters a wallet only through a payment the gateway settled: a top-up
//! opens a gateway trade for the amount, and the gateway's verified "succeeded" (callback or
//! query answer) credits the wallet, once, however often it is repeated. The direct credit used
//! by tests and demos exists only behind the sandbox gateway's test hooks.

use std::sync::Arc;

use domain::money::Money;
use rust_decimal::Decimal;
use store::top_ups::{self, TopUpRecord};
use store::users::UserRecord;
use uuid::Uuid;

use super::{GatewayPaymentStarted, NoticeOutcome, gateway_unavailable};
use crate::payment_gateway::{PaymentGateway, TradeNotice, TradeRequest, TradeStatus};
use crate::{Error, Result, Services};

/// The largest single top-up, in yuan.
const MAX_TOP_UP_YUAN: i64 = 10_000;

fn checked_amount(amount: Money) -> Result<Money> {
    if amount.yuan() <= Decimal::ZERO || amount.yuan() > Decimal::from(MAX_TOP_UP_YUAN) {
        return Err(Error::invalid("amount", "must be more than 0 and at most 10000 yuan", "充值金额须大于 0 且不超过 10000 元"));
    }
    let rounded = amount.round_fen();
    if rounded != amount {
        return Err(Error::invalid("amount", "must have at most 2 decimals (fen)", "充值金额最多两位小数（分）"));
    }
    Ok(rounded)
}

impl Services {
    /// Opens a gateway trade for a top-up; the wallet is credited when the gateway reports the
    /// trade paid. Without a gateway there is no way to top up.
    pub async fn start_top_up(&self, user: &UserRecord, amount: Money) -> Result<GatewayPaymentStarted> {
        let amount = checked_amount(amount)?;
        let gateway = self.payment_gateway()?;
        let now = self.now();
        let id = Uuid::now_v7();
        let request =
            TradeRequest {
                payment_id: id, order_id: id, amount, subject: "钱包充值 / wallet top-up".into(), expires_at: now + self.settings.payment_timeout
            };
        let trade = gateway.create_trade(&request).await.map_err(|e| gateway_unavailable(&e))?;
        let record = TopUpRecord {
            id,
            user_id: user.id,
            method: gateway.name().into(),
            amount: crate::charging::storable(amount)?,
            status: "pending".into(),
            external_ref: Some(trade.trade_id.clone()),
            pay_url: Some(trade.pay_url.clone()),
            settled_at: None,
            created_at: now,
        };
        let mut conn = self.db.acquire().await?;
        top_ups::insert(&mut conn, &record).await?;
        tracing::info!(user = %user.id, top_up = %id, trade = %trade.trade_id, %amount, "wallet top-up started");
        Ok(GatewayPaymentStarted { payment_id: id, pay_url: trade.pay_url })
    }

    /// What the gateway says about a top-up's trade. Only a success credits the wallet, in the
    /// same transaction as the compare-and-set from the status we read; a repeat finds the
    /// top-up settled and changes nothing. Money that lands after we closed the top-up still
    /// belongs to the user: it is credited too.
    pub(crate) async fn apply_top_up_notice(
        &self,
        gateway: &Arc<dyn PaymentGateway>,
        top_up: TopUpRecord,
        notice: &TradeNotice,
        source: &str,
    ) -> Result<NoticeOutcome> {
        if top_up.method != gateway.name() || top_up.external_ref.as_deref() != Some(notice.trade_id.as_str()) {
            return Err(Error::invalid("trade_id", "the trade does not belong to this top-up", "交易号与充值单不符"));
        }
        let ours = Money::from_ten_thousandths(top_up.amount);
        if notice.amount != ours {
            tracing::error!(top_up = %top_up.id, trade = %notice.trade_id, ours = %ours, theirs = %notice.amount, source, "gateway amount differs; refused");
            return Err(Error::Conflict {
                code: "amount_mismatch",
                field: Some("amount"),
                message: format!("the gateway reports {} but the top-up is {ours}", notice.amount),
                message_zh: format!("支付渠道金额 {} 与充值金额 {ours} 不符", notice.amount),
            });
        }
        let mut top_up = top_up;
        for _ in 0..8 {
            let to = match (top_up.status.as_str(), notice.status) {
                ("pending" | "failed" | "cancelled" | "expired", TradeStatus::Succeeded) => "succeeded",
                ("pending", TradeStatus::Failed) => "failed",
                ("pending", TradeStatus::Cancelled) => "cancelled",
                ("pending", TradeStatus::Closed) => "expired",
                _ => {
                    tracing::info!(top_up = %top_up.id, status = notice.status.as_str(), ours = %top_up.status, source, "top-up notice is a repeat or out of date; nothing changes");
                    return Ok(NoticeOutcome::Ignored);
                }
            };
            let now = self.now();
            let mut tx = self.db.begin().await?;
            if top_ups::settle(&mut tx, top_up.id, &top_up.status, to, notice.at, now).await? {
                if to == "succeeded" {
                    store::users::move_wallet(&mut tx, top_up.user_id, top_up.amount, "top_up", Some(&top_up.id.to_string()), now)
                        .await?
                        .ok_or_else(|| Error::Internal("a top-up cannot make a balance negative".into()))?;
                }
                tx.commit().await.map_err(store::Error::from)?;
                tracing::info!(top_up = %top_up.id, trade = %notice.trade_id, to, source, "top-up notice applied");
                return Ok(if to == "succeeded" { NoticeOutcome::Paid } else { NoticeOutcome::Closed });
            }
            drop(tx);
            let mut conn = self.db.acquire().await?;
            top_up = top_ups::by_id(&mut conn, top_up.id).await?.ok_or(Error::not_found("top-up"))?;
        }
        Err(Error::Internal("top-up kept changing under us".into()))
    }

    /// Credits a wallet without any payment: for tests and demos only, reachable solely through
    /// the sandbox gateway's test hooks.
    pub async fn sandbox_credit_wallet(&self, user_id: Uuid, amount: Money) -> Result<Money> {
        let amount = checked_amount(amount)?;
        let mut tx = self.db.begin().await?;
        let balance = store::users::move_wallet(&mut tx, user_id, crate::charging::storable(amount)?, "sandbox_credit", None, self.now())
            .await?
            .ok_or_else(|| Error::Internal("a credit cannot make a balance negative".into()))?;
        tx.commit().await.map_err(store::Error::from)?;
        Ok(Money::from_ten_thousandths(balance))
    }
}
