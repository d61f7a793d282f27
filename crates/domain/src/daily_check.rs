//! Our own daily check of flow-A orders (每日对账): every session our driver started at a
//! partner's pile must end with the partner's charge record, a bill, a payment of exactly that
//! bill and a settlement line with the partner. What is missing or does not match is a
//! finding for an admin; nothing is corrected automatically.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::order::OrderState;

/// What we know of one flow-A order when the check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub seq: String,
    pub state: OrderState,
    /// Last change of state.
    pub updated_at: DateTime<Utc>,
    pub billed: Option<Money>,
    /// The partner's record did not add up (kept, not billed).
    pub disputed: bool,
    /// Sum of succeeded payments (refunds not subtracted: a refunded order is closed).
    pub paid: Money,
    pub has_settlement_line: bool,
}

/// One thing an admin has to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// The session has been open (or its outcome unknown) longer than the grace period and
    /// the partner's charge record has not come.
    NoPartnerRecord { order: String, state: OrderState, since: DateTime<Utc> },
    /// The partner's record did not add up; the driver has not been billed.
    DisputedRecord { order: String },
    /// The record came and added up, but no bill was made.
    NotBilled { order: String },
    /// Billed longer ago than the grace period and not paid.
    Unpaid { order: String, billed: Money },
    /// Paid, but not exactly the bill.
    PaymentMismatch { order: String, billed: Money, paid: Money },
    /// Paid, but no settlement line with the partner was booked.
    NoSettlementLine { order: String },
}

impl Finding {
    pub fn order(&self) -> &str {
        match self {
            Self::NoPartnerRecord { order, .. }
            | Self::DisputedRecord { order }
            | Self::NotBilled { order }
            | Self::Unpaid { order, .. }
            | Self::PaymentMismatch { order, .. }
            | Self::NoSettlementLine { order } => order,
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            Self::NoPartnerRecord { .. } => "运营商未推送充电订单",
            Self::DisputedRecord { .. } => "运营商订单金额/电量不符，待核实",
            Self::NotBilled { .. } => "已收到充电订单但未出账",
            Self::Unpaid { .. } => "已出账未支付",
            Self::PaymentMismatch { .. } => "支付金额与账单不符",
            Self::NoSettlementLine { .. } => "已支付但未生成结算明细",
        }
    }
}

/// The findings for `orders` at `now`. Orders still within `grace` of their last change are
/// given time (a record or a payment may be on its way). Sorted by order, so two runs over the
/// same facts give the same list.
pub fn check(orders: &[OrderFacts], now: DateTime<Utc>, grace: Duration) -> Vec<Finding> {
    let settled_down = |o: &OrderFacts| now - o.updated_at >= grace;
    let mut findings = Vec::new();
    for o in orders {
        let order = o.seq.clone();
        match o.state {
            OrderState::Starting | OrderState::Charging | OrderState::Stopping | OrderState::Interrupted | OrderState::UnknownOutcome if settled_down(o) => {
                findings.push(Finding::NoPartnerRecord { order, state: o.state, since: o.updated_at });
            }
            OrderState::Finished if o.disputed => findings.push(Finding::DisputedRecord { order }),
            OrderState::Finished if settled_down(o) => findings.push(Finding::NotBilled { order }),
            OrderState::Billed if settled_down(o) => {
                findings.push(Finding::Unpaid { order, billed: o.billed.unwrap_or(Money::ZERO) });
            }
            OrderState::Paid => {
                let billed = o.billed.unwrap_or(Money::ZERO);
                if o.paid != billed {
                    findings.push(Finding::PaymentMismatch { order: order.clone(), billed, paid: o.paid });
                }
                if !o.has_settlement_line {
                    findings.push(Finding::NoSettlementLine { order });
                }
            }
            _ => {}
        }
    }
    findings.sort_by(|a, b| a.order().cmp(b.order()));
    findings
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    use super::*;

    fn facts(seq: &str, state: OrderState, hours_ago: i64) -> OrderFacts {
        OrderFacts {
            seq: seq.into(),
            state,
            updated_at: now() - Duration::hours(hours_ago),
            billed: None,
            disputed: false,
            paid: Money::ZERO,
            has_settlement_line: false,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
    }

    #[test]
    fn a_complete_order_and_fresh_ones_are_fine() {
        let bill = Money::new(dec!(12.34));
        let paid = OrderFacts { billed: Some(bill), paid: bill, has_settlement_line: true, ..facts("A", OrderState::Paid, 30) };
        let orders = [paid, facts("B", OrderState::Charging, 1), facts("C", OrderState::Billed, 1), facts("D", OrderState::Failed, 40)];
        assert_eq!(check(&orders, now(), Duration::hours(6)), vec![]);
    }

    #[test]
    fn each_gap_is_found_once_and_in_order() {
        let bill = Money::new(dec!(20));
        let orders = [
            OrderFacts { billed: Some(bill), paid: Money::new(dec!(19.99)), ..facts("E", OrderState::Paid, 30) },
            facts("D", OrderState::UnknownOutcome, 7),
            OrderFacts { billed: Some(bill), ..facts("C", OrderState::Billed, 25) },
            OrderFacts { disputed: true, ..facts("B", OrderState::Finished, 1) },
            facts("A", OrderState::Charging, 8),
            facts("F", OrderState::Finished, 7),
        ];
        let found = check(&orders, now(), Duration::hours(6));
        let kinds: Vec<(&str, &str)> = found.iter().map(|f| (f.order(), f.label_zh())).collect();
        assert_eq!(
            kinds,
            [
                ("A", "运营商未推送充电订单"),
                ("B", "运营商订单金额/电量不符，待核实"),
                ("C", "已出账未支付"),
                ("D", "运营商未推送充电订单"),
                ("E", "支付金额与账单不符"),
                ("E", "已支付但未生成结算明细"),
                ("F", "已收到充电订单但未出账"),
            ]
        );
        assert_eq!(found[4], Finding::PaymentMismatch { order: "E".into(), billed: bill, paid: Money::new(dec!(19.99)) });
    }
}
