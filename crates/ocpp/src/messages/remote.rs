//! Commands the central system sends to control a charge point remotely.

use serde::{Deserialize, Serialize};

use super::{ChargingProfile, request};
use crate::enums::*;
use crate::types::IdToken;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteStartTransactionRequest {
    /// Absent = the charge point chooses (some refuse that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<u32>,
    pub id_tag: IdToken,
    /// Purpose must be `TxProfile`, without transactionId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charging_profile: Option<ChargingProfile>,
}

/// `Accepted` means "will try": the transaction exists only once StartTransaction arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteStartTransactionResponse {
    pub status: RemoteStartStopStatus,
}
request!(RemoteStartTransactionRequest => RemoteStartTransactionResponse, "RemoteStartTransaction");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteStopTransactionRequest {
    pub transaction_id: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteStopTransactionResponse {
    pub status: RemoteStartStopStatus,
}
request!(RemoteStopTransactionRequest => RemoteStopTransactionResponse, "RemoteStopTransaction");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerMessageRequest {
    pub requested_message: MessageTrigger,
    /// Must be > 0; absent = all relevant connectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerMessageResponse {
    pub status: TriggerMessageStatus,
}
request!(TriggerMessageRequest => TriggerMessageResponse, "TriggerMessage");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnlockConnectorRequest {
    /// Must be > 0.
    pub connector_id: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnlockConnectorResponse {
    pub status: UnlockStatus,
}
request!(UnlockConnectorRequest => UnlockConnectorResponse, "UnlockConnector");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeAvailabilityRequest {
    /// 0 = the whole charge point.
    pub connector_id: u32,
    #[serde(rename = "type")]
    pub kind: AvailabilityType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeAvailabilityResponse {
    pub status: AvailabilityStatus,
}
request!(ChangeAvailabilityRequest => ChangeAvailabilityResponse, "ChangeAvailability");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetRequest {
    #[serde(rename = "type")]
    pub kind: ResetType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetResponse {
    pub status: ResetStatus,
}
request!(ResetRequest => ResetResponse, "Reset");

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClearCacheRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClearCacheResponse {
    pub status: ClearCacheStatus,
}
request!(ClearCacheRequest => ClearCacheResponse, "ClearCache");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn remote_start_omits_absent_fields() {
        let req = RemoteStartTransactionRequest { connector_id: Some(1), id_tag: IdToken::new("TAG1").unwrap(), charging_profile: None };
        assert_eq!(serde_json::to_value(&req).unwrap(), json!({"connectorId": 1, "idTag": "TAG1"}));
    }

    #[test]
    fn type_fields_use_the_wire_name() {
        let req = ResetRequest { kind: ResetType::Soft };
        assert_eq!(serde_json::to_value(&req).unwrap(), json!({"type": "Soft"}));
        let req: ChangeAvailabilityRequest = serde_json::from_value(json!({"connectorId": 0, "type": "Inoperative"})).unwrap();
        assert_eq!(req.kind, AvailabilityType::Inoperative);
    }
}
