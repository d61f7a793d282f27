//! Charge records that do not add up (TotalMoney ≠ electricity + service fee, or detail lines
//! that do not sum to the totals). The order is held as `disputed` — never billed on figures
//! nobody can stand behind — until an admin decides: bill our figures computed from the detail
//! lines, bill the partner's figures, or write it off. Billing then takes the normal path once
//! (bill, payment, commission, settlement line). The partner learns the outcome through
//! reconciliation: `check_charge_orders` answers our figure for the order (docs/disputed-charge-records.md).

use domain::money::{Energy, Money};
use domain::order::{ChargeRecord, OrderEvent, OrderState, Ownership};
use domain::settlement::{SessionAmounts, user_fee};
use domain::tariff::PartnerDetail;
use serde::{Deserialize, Serialize};
use store::orders;
use uuid::Uuid;

use crate::admin_orders::AdminOrderDetail;
use crate::{Error, Result, Services};

/// How an admin settles a disputed charge record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Bill our figures: each detail line's energy at its prices, summed.
    BillComputed,
    /// Bill the partner's `TotalMoney` as it sent it: its electricity fee, and the service fee
    /// taking whatever the total says beyond that.
    BillPartner,
    /// Bill nothing: the driver pays nothing, the partner gets no settlement line.
    WriteOff,
}

impl Resolution {
    fn as_str(self) -> &'static str {
        match self {
            Self::BillComputed => "bill_computed",
            Self::BillPartner => "bill_partner",
            Self::WriteOff => "write_off",
        }
    }
}

/// Our figures for a record from its detail lines: energy summed, each line's fees at its
/// prices rounded to fen, summed. `None` without detail lines (nothing to compute from).
pub(crate) fn computed_from_detail(details: &[PartnerDetail]) -> Option<SessionAmounts> {
    if details.is_empty() {
        return None;
    }
    let energy: Energy = details.iter().map(|d| d.energy).sum();
    let elec: Money = details.iter().map(|d| d.energy.cost(d.elec_price).round_fen()).sum();
    let service: Money = details.iter().map(|d| d.energy.cost(d.service_price).round_fen()).sum();
    SessionAmounts::new(energy, elec, service).ok()
}

impl Services {
    /// Settles a disputed flow-A order as `resolution` says; audited with the admin and note.
    pub async fn resolve_dispute(&self, admin: &str, order_id: Uuid, resolution: Resolution, note: &str) -> Result<AdminOrderDetail> {
        let note = note.trim();
        if note.chars().count() < 2 || note.chars().count() > 500 {
            return Err(Error::invalid("note", "say why in 2 to 500 characters", "请用 2–500 个字说明处理理由"));
        }
        let (order, bill) = {
            let mut conn = self.db.acquire().await?;
            let order = orders::by_id(&mut conn, order_id).await?.ok_or(Error::not_found("order"))?.order;
            (order, orders::bill(&mut conn, order_id).await?)
        };
        let Ownership::PartnerPile { operator_partner_id, .. } = order.ownership else {
            return Err(Error::not_found("disputed order"));
        };
        if order.state != OrderState::Disputed {
            return Err(Error::Conflict {
                code: "not_disputed",
                field: None,
                message: format!("the order is {}, not disputed; nothing to resolve", order.state),
                message_zh: format!("订单当前为「{}」，不在争议中，无需处理", order.state.label_zh()),
            });
        }
        let record = order.record.clone().ok_or_else(|| Error::Internal("a disputed order without its record".into()))?;
        let event = match resolution {
            Resolution::WriteOff => OrderEvent::WrittenOff,
            Resolution::BillPartner => {
                let elec = record.elec_money.min(record.total_money);
                OrderEvent::DisputeResolved { record: ChargeRecord { elec_money: elec, service_money: record.total_money - elec, ..record.clone() } }
            }
            Resolution::BillComputed => {
                let ours: SessionAmounts = bill
                    .and_then(|b| b.detail_amounts)
                    .and_then(|v| serde_json::from_value(v).ok())
                    .ok_or_else(|| Error::invalid("resolution", "the record has no detail lines to compute from", "该订单没有分时段明细，无法按明细计算"))?;
                let record = ChargeRecord { energy: ours.energy, elec_money: ours.elec, service_money: ours.service, total_money: ours.total, ..record };
                OrderEvent::DisputeResolved { record }
            }
        };
        // The order's own state machine decides who wins a race between two admins.
        let order = self.apply(order_id, event, Some(format!("{}: {note}", resolution.as_str()))).await?;
        let now = self.now();
        let outcome = serde_json::json!({"resolution": resolution.as_str(), "note": note, "by": admin, "at": now});
        {
            let mut tx = self.db.begin().await?;
            orders::resolve_bill(&mut tx, order_id, &outcome).await?;
            let entry = store::audit::AuditEntry {
                at: now,
                actor: format!("admin:{admin}"),
                action: format!("resolve_dispute:{}", resolution.as_str()),
                subject_type: "order".into(),
                subject_id: order_id.to_string(),
                from_state: Some(OrderState::Disputed.as_str().into()),
                to_state: Some(order.state.as_str().into()),
                reason: Some(note.into()),
            };
            store::audit::record(&mut tx, &entry).await?;
            tx.commit().await.map_err(store::Error::from)?;
        }
        if order.state == OrderState::Finished {
            let record = order.record.clone().ok_or_else(|| Error::Internal("a resolved order without its record".into()))?;
            let amounts = SessionAmounts::new(record.energy, record.elec_money, record.service_money)
                .map_err(|e| Error::invalid("resolution", e.to_string(), e.message_zh()))?;
            let terms = self.partner_terms(operator_partner_id).await?;
            self.apply(order_id, OrderEvent::Billed { amount: user_fee(&amounts, &terms.user_pricing).total }, None).await?;
        }
        tracing::info!(order = %order_id, resolution = resolution.as_str(), admin, "disputed charge record resolved");
        self.admin_order(order_id).await
    }
}
