//! Live status: `notification_stationStatus` and `query_station_status` (§8.3, §8.4, §9.4–9.5).

use serde::{Deserialize, Serialize};

use super::common::{ConnectorStatusCode, int};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectorStatusInfo {
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub status: ConnectorStatusCode,
    /// §10.7: 0 unknown, 10 free, 50 occupied.
    #[serde(deserialize_with = "super::common::codes::park_status", default, skip_serializing_if = "Option::is_none")]
    pub park_status: Option<i64>,
    /// §10.7: 0 unknown, 10 unlocked, 50 locked.
    #[serde(deserialize_with = "super::common::codes::lock_status", default, skip_serializing_if = "Option::is_none")]
    pub lock_status: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationStationStatus {
    /// One object, not an array.
    pub connector_status_info: ConnectorStatusInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationStationStatusResponse {
    /// 0 accepted; 1 discarded — the sender must not retry.
    #[serde(with = "int")]
    pub status: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryStationStatus {
    /// 1 to 50 station IDs.
    #[serde(rename = "StationIDs")]
    pub station_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStationStatusResponse {
    #[serde(with = "int")]
    pub total: i64,
    #[serde(default)]
    pub station_status_infos: Vec<StationStatusInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StationStatusInfo {
    #[serde(rename = "StationID")]
    pub station_id: String,
    #[serde(default)]
    pub connector_status_infos: Vec<ConnectorStatusInfo>,
}
