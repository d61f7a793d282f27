//! Starting, following and stopping a session (§8.8–8.13).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{ConnectorStatusCode, Energy2, Fixed, Money2, Seq27, StartChargeSeqStat, SuccStat, int};
use super::order::ChargeDetail;
use crate::time::datetime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStartCharge {
    /// Created by the customer side; the idempotency key of the whole session.
    pub start_charge_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    #[serde(rename = "QRCode", default)]
    pub qr_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStartChargeResponse {
    pub start_charge_seq: Seq27,
    pub start_charge_seq_stat: StartChargeSeqStat,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub succ_stat: SuccStat,
    /// 0 none, 1 device does not exist, 2 device offline, 3–99 custom.
    #[serde(with = "int")]
    pub fail_reason: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationStartChargeResult {
    pub start_charge_seq: Seq27,
    /// 2 (charging) on success; 4/5 mean the start failed.
    pub start_charge_seq_stat: StartChargeSeqStat,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    #[serde(with = "datetime")]
    pub start_time: DateTime<Utc>,
}

/// The shape of the acknowledgement of start/stop results: received or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationStartChargeResultResponse {
    pub start_charge_seq: Seq27,
    pub succ_stat: SuccStat,
    #[serde(with = "int")]
    pub fail_reason: i64,
}

pub type NotificationStopChargeResultResponse = NotificationStartChargeResultResponse;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryEquipChargeStatus {
    pub start_charge_seq: Seq27,
}

/// Current / voltage / SOC keep one decimal.
pub type Num1 = Fixed<1>;

/// The charge-status record: the answer to `query_equip_charge_status` and the payload of
/// `notification_equip_charge_status` (every ~50 s while charging).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChargeStatus {
    pub start_charge_seq: Seq27,
    pub start_charge_seq_stat: StartChargeSeqStat,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub connector_status: ConnectorStatusCode,
    #[serde(rename = "CurrentA")]
    pub current_a: Num1,
    #[serde(rename = "CurrentB", default, skip_serializing_if = "Option::is_none")]
    pub current_b: Option<Num1>,
    #[serde(rename = "CurrentC", default, skip_serializing_if = "Option::is_none")]
    pub current_c: Option<Num1>,
    #[serde(rename = "VoltageA")]
    pub voltage_a: Num1,
    #[serde(rename = "VoltageB", default, skip_serializing_if = "Option::is_none")]
    pub voltage_b: Option<Num1>,
    #[serde(rename = "VoltageC", default, skip_serializing_if = "Option::is_none")]
    pub voltage_c: Option<Num1>,
    /// Percent, 0–100.
    pub soc: Num1,
    #[serde(with = "datetime")]
    pub start_time: DateTime<Utc>,
    /// The time of this sample (not the end of charging).
    #[serde(with = "datetime")]
    pub end_time: DateTime<Utc>,
    pub total_power: Energy2,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elec_money: Option<Money2>,
    /// The standard's spelling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sevice_money: Option<Money2>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_money: Option<Money2>,
    #[serde(deserialize_with = "crate::tolerant::opt_int", default, skip_serializing_if = "Option::is_none")]
    pub sum_period: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charge_details: Vec<ChargeDetail>,
}

impl ChargeStatus {
    /// The answer to `query_equip_charge_status` for a session the operator does not know:
    /// Ret 0 with StartChargeSeqStat 5, as the standard recommends, rather than an error.
    pub fn unknown(seq: Seq27, now: DateTime<Utc>) -> Self {
        let zero = rust_decimal::Decimal::ZERO;
        Self {
            start_charge_seq: seq,
            start_charge_seq_stat: StartChargeSeqStat::Unknown,
            connector_id: String::new(),
            connector_status: ConnectorStatusCode::Offline,
            current_a: zero.into(),
            current_b: None,
            current_c: None,
            voltage_a: zero.into(),
            voltage_b: None,
            voltage_c: None,
            soc: zero.into(),
            start_time: now,
            end_time: now,
            total_power: zero.into(),
            elec_money: None,
            sevice_money: None,
            total_money: None,
            sum_period: None,
            charge_details: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationEquipChargeStatusResponse {
    pub start_charge_seq: Seq27,
    pub succ_stat: SuccStat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStopCharge {
    pub start_charge_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStopChargeResponse {
    pub start_charge_seq: Seq27,
    pub start_charge_seq_stat: StartChargeSeqStat,
    pub succ_stat: SuccStat,
    /// 0 none, 1 no device, 2 offline, 3 already stopped, 4–99 custom.
    #[serde(with = "int")]
    pub fail_reason: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationStopChargeResult {
    pub start_charge_seq: Seq27,
    pub start_charge_seq_stat: StartChargeSeqStat,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub succ_stat: SuccStat,
    /// As in `query_stop_charge`: 0 none, 1 no device, 2 offline, 3 already stopped, 4–99 custom.
    #[serde(serialize_with = "int::serialize", deserialize_with = "super::common::codes::stop_fail_reason")]
    pub fail_reason: i64,
}
