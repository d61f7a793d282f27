//! `query_equip_auth` and `query_equip_business_policy` (§8.6, §8.7, §9.9).

use serde::{Deserialize, Serialize};

use super::common::{Price4, Seq27, SuccStat, int};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryEquipAuth {
    pub equip_auth_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryEquipAuthResponse {
    pub equip_auth_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub succ_stat: SuccStat,
    /// 0 none, 1 gun not plugged in, 2 device check failed, 3–99 custom.
    #[serde(with = "int")]
    pub fail_reason: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryEquipBusinessPolicy {
    pub equip_biz_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
}

/// One price period: from `StartTime` (Beijing `HHmmss`) to the next period's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyInfo {
    pub start_time: String,
    pub elec_price: Price4,
    /// The standard's spelling.
    pub sevice_price: Price4,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryEquipBusinessPolicyResponse {
    pub equip_biz_seq: Seq27,
    #[serde(rename = "ConnectorID")]
    pub connector_id: String,
    pub succ_stat: SuccStat,
    /// 0 none, 1 no policy for this connector.
    #[serde(with = "int")]
    pub fail_reason: i64,
    #[serde(with = "int")]
    pub sum_period: i64,
    #[serde(default)]
    pub policy_infos: Vec<PolicyInfo>,
}
