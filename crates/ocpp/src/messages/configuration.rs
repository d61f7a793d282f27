//! GetConfiguration and ChangeConfiguration.

use serde::{Deserialize, Serialize};

use super::request;
use crate::enums::ConfigurationStatus;
use crate::types::CiString;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetConfigurationRequest {
    /// Absent or empty = all keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<CiString<50>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetConfigurationResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_key: Option<Vec<KeyValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_key: Option<Vec<CiString<50>>>,
}
request!(GetConfigurationRequest => GetConfigurationResponse, "GetConfiguration");

/// One configuration entry; `value` absent = known but not set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: CiString<50>,
    pub readonly: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<CiString<500>>,
}

/// The value is always a string, also for numbers and booleans (`"300"`, `"true"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeConfigurationRequest {
    pub key: CiString<50>,
    pub value: CiString<500>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeConfigurationResponse {
    pub status: ConfigurationStatus,
}
request!(ChangeConfigurationRequest => ChangeConfigurationResponse, "ChangeConfiguration");
