//! The final bill and reconciliation (§8.14, §8.15, §9.10–9.12).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{Energy2, Money2, Price4, Seq27, StopReason, int};
use crate::time::datetime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChargeDetail {
    #[serde(with = "datetime")]
    pub detail_start_time: DateTime<Utc>,
    #[serde(with = "datetime")]
    pub detail_end_time: DateTime<Utc>,
    #[serde(default)]
    pub elec_price: Price4,
    /// The standard's spelling.
    #[serde(default)]
    pub sevice_price: Price4,
    pub detail_power: Energy2,
    #[serde(default)]
    pub detail_elec_money: Money2,
    /// The standard's spelling.
    #[serde(default)]
    pub detail_sevice_money: Money2,
}

/// `notification_charge_order_info`: the final bill of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChargeOrderInfo {
    pub start_charge_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    #[serde(with = "datetime")]
    pub start_time: DateTime<Utc>,
    #[serde(with = "datetime")]
    pub end_time: DateTime<Utc>,
    pub total_power: Energy2,
    pub total_elec_money: Money2,
    /// The standard's spelling.
    pub total_sevice_money: Money2,
    pub total_money: Money2,
    pub stop_reason: StopReason,
    #[serde(deserialize_with = "crate::tolerant::opt_int", default, skip_serializing_if = "Option::is_none")]
    pub sum_period: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charge_details: Vec<ChargeDetail>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChargeOrderInfoResponse {
    pub start_charge_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    /// 0 accepted, 1 disputed, 2–99 custom.
    #[serde(with = "int")]
    pub confirm_result: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChargeOrder {
    pub start_charge_seq: Seq27,
    pub total_power: Energy2,
    pub total_money: Money2,
}

/// `check_charge_orders`: the operator's list of orders for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckChargeOrders {
    pub check_order_seq: Seq27,
    #[serde(with = "datetime")]
    pub start_time: DateTime<Utc>,
    #[serde(with = "datetime")]
    pub end_time: DateTime<Utc>,
    #[serde(with = "int")]
    pub order_count: i64,
    pub total_order_power: Energy2,
    pub total_order_money: Money2,
    #[serde(default)]
    pub charge_orders: Vec<ChargeOrder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisputeOrder {
    pub start_charge_seq: Seq27,
    pub total_power: Energy2,
    pub total_money: Money2,
    /// 1 no such transaction, 2 wrong amount, 3 wrong energy, 4–99 custom.
    #[serde(with = "int")]
    pub dispute_reason: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckChargeOrdersResponse {
    pub check_order_seq: Seq27,
    #[serde(with = "datetime")]
    pub start_time: DateTime<Utc>,
    #[serde(with = "datetime")]
    pub end_time: DateTime<Utc>,
    #[serde(with = "int")]
    pub total_dispute_order: i64,
    pub total_dispute_power: Energy2,
    pub total_dispute_money: Money2,
    #[serde(default)]
    pub dispute_orders: Vec<DisputeOrder>,
}
