//! `query_station_stats` (§8.5, §9.6–9.8).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::common::Fixed;
use crate::time::date;

/// Statistics energy has 1 decimal.
pub type Energy1 = Fixed<1>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStationStats {
    #[serde(rename = "StationID")]
    pub station_id: String,
    #[serde(with = "date")]
    pub start_time: NaiveDate,
    #[serde(with = "date")]
    pub end_time: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStationStatsResponse {
    pub station_stats: StationStatsInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StationStatsInfo {
    #[serde(rename = "StationID")]
    pub station_id: String,
    #[serde(with = "date")]
    pub start_time: NaiveDate,
    #[serde(with = "date")]
    pub end_time: NaiveDate,
    pub station_electricity: Energy1,
    #[serde(default)]
    pub equipment_stats_infos: Vec<EquipmentStatsInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EquipmentStatsInfo {
    #[serde(rename = "EquipmentID")]
    pub equipment_id: String,
    pub equipment_electricity: Energy1,
    #[serde(default)]
    pub connector_stats_infos: Vec<ConnectorStatsInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectorStatsInfo {
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub connector_electricity: Energy1,
}
