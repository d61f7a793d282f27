//! `query_stations_info` and the catalog structures (§8.2, §9.1–9.3).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{Coord6, Power1, int, int_enum};
use crate::time::datetime;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStationsInfo {
    /// Only stations changed after this time; absent = all.
    #[serde(with = "datetime::option", default, skip_serializing_if = "Option::is_none")]
    pub last_query_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::tolerant::opt_int", default, skip_serializing_if = "Option::is_none")]
    pub page_no: Option<i64>,
    #[serde(deserialize_with = "crate::tolerant::opt_int", default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryStationsInfoResponse {
    #[serde(with = "int")]
    pub page_no: i64,
    #[serde(with = "int")]
    pub page_count: i64,
    #[serde(with = "int")]
    pub item_size: i64,
    #[serde(default)]
    pub station_infos: Vec<StationInfo>,
}

int_enum!(
    /// §10.1
    StationType "StationType" { Public = 1, Private = 50, Bus = 100, Sanitation = 101, Logistics = 102, Taxi = 103, Other255 = 255 }
);
int_enum!(
    /// §10.2
    StationStatus "StationStatus" { Unknown = 0, Building = 1, Closed = 5, Maintenance = 6, Normal = 50 }
);
int_enum!(
    /// §10.4
    EquipmentType "EquipmentType" { Dc = 1, Ac = 2, AcDc = 3, Wireless = 4, Other5 = 5 }
);
int_enum!(
    /// §10.5
    ConnectorType "ConnectorType" { HouseholdSocket = 1, AcSocket = 2, AcPlug = 3, DcGun = 4, WirelessPad = 5, Other6 = 6 }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StationInfo {
    #[serde(rename = "StationID")]
    pub station_id: String,
    #[serde(rename = "OperatorID")]
    pub operator_id: String,
    #[serde(rename = "EquipmentOwnerID")]
    pub equipment_owner_id: String,
    pub station_name: String,
    pub country_code: String,
    pub area_code: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station_tel: Option<String>,
    pub service_tel: String,
    pub station_type: StationType,
    pub station_status: StationStatus,
    #[serde(with = "int")]
    pub park_nums: i64,
    /// GCJ-02.
    pub station_lng: Coord6,
    /// GCJ-02.
    pub station_lat: Coord6,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_guide: Option<String>,
    #[serde(serialize_with = "int::serialize", deserialize_with = "super::common::codes::construction")]
    pub construction: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pictures: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_cars: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub park_info: Option<String>,
    /// The standard's spelling.
    #[serde(rename = "BusineHours", default, skip_serializing_if = "Option::is_none")]
    pub busine_hours: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electricity_fee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_fee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub park_fee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<String>,
    /// 0 no (the default), 1 reservations supported.
    #[serde(deserialize_with = "super::common::codes::support_order", default, skip_serializing_if = "Option::is_none")]
    pub support_order: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    #[serde(default)]
    pub equipment_infos: Vec<EquipmentInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EquipmentInfo {
    #[serde(rename = "EquipmentID")]
    pub equipment_id: String,
    #[serde(rename = "ManufacturerID", default, skip_serializing_if = "Option::is_none")]
    pub manufacturer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_date: Option<String>,
    pub equipment_type: EquipmentType,
    #[serde(default)]
    pub connector_infos: Vec<ConnectorInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment_lng: Option<Coord6>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment_lat: Option<Coord6>,
    pub power: Power1,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectorInfo {
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_name: Option<String>,
    pub connector_type: ConnectorType,
    #[serde(with = "int")]
    pub voltage_upper_limits: i64,
    #[serde(with = "int")]
    pub voltage_lower_limits: i64,
    #[serde(with = "int")]
    pub current: i64,
    pub power: Power1,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub park_no: Option<String>,
    #[serde(serialize_with = "int::serialize", deserialize_with = "super::common::codes::national_standard")]
    pub national_standard: i64,
}
