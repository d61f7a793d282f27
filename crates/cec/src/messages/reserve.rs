//! Reservation extension (not in T/CEC 102-2016; see docs/cec-reservation-extension.md).
//! Same envelope and conventions; enabled per partner.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{Seq27, SuccStat, int, int_enum};
use crate::time::datetime;

/// `query_reserve`: hold a connector for the caller's user for `Minutes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryReserve {
    /// Caller's OperatorID + 18 characters; idempotency key of the reservation.
    pub reserve_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    /// 1 to 60.
    #[serde(with = "int")]
    pub minutes: i64,
}

int_enum!(
    /// State of a reservation.
    ReserveSeqStat "ReserveSeqStat" { Reserved = 1, Cancelled = 2, Expired = 3, Used = 4, Failed = 5 }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryReserveResponse {
    pub reserve_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub succ_stat: SuccStat,
    pub reserve_seq_stat: ReserveSeqStat,
    /// When the hold ends (set on success).
    #[serde(with = "datetime::option", default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<DateTime<Utc>>,
    /// 0 none, 1 no such connector, 2 offline, 3 not free, 4 reservations not supported.
    #[serde(with = "int")]
    pub fail_reason: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryCancelReserve {
    pub reserve_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryCancelReserveResponse {
    pub reserve_seq: Seq27,
    pub succ_stat: SuccStat,
    pub reserve_seq_stat: ReserveSeqStat,
    /// 0 none, 1 no such reservation, 2 already ended.
    #[serde(with = "int")]
    pub fail_reason: i64,
}

/// `notification_reserve_result`: the operator tells the platform how a reservation ended
/// (expired, used by a start, cancelled at the pile, failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationReserveResult {
    pub reserve_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub reserve_seq_stat: ReserveSeqStat,
    #[serde(with = "datetime")]
    pub end_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationReserveResultResponse {
    pub reserve_seq: Seq27,
    pub succ_stat: SuccStat,
}
