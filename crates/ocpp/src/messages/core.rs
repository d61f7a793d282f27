//! Core-profile messages a charge point sends: boot, heartbeat, status, authorize, data
//! transfer (either direction) and the firmware/diagnostics notifications.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{IdTagInfo, request};
use crate::enums::*;
use crate::types::{CiString, IdToken};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotificationRequest {
    pub charge_point_vendor: CiString<20>,
    pub charge_point_model: CiString<20>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_point_serial_number: Option<CiString<25>>,
    /// Deprecated by the specification, still sent by older firmware.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_box_serial_number: Option<CiString<25>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<CiString<50>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid: Option<CiString<20>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imsi: Option<CiString<20>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_type: Option<CiString<25>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_serial_number: Option<CiString<25>>,
}

/// Note: the field is `interval`, not `heartbeatInterval` as the OCPP-J example claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotificationResponse {
    pub status: RegistrationStatus,
    #[serde(with = "crate::time")]
    pub current_time: DateTime<Utc>,
    /// Accepted: heartbeat interval (s); otherwise the minimum wait before the next boot.
    pub interval: u32,
}
request!(BootNotificationRequest => BootNotificationResponse, "BootNotification");

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatResponse {
    #[serde(with = "crate::time")]
    pub current_time: DateTime<Utc>,
}
request!(HeartbeatRequest => HeartbeatResponse, "Heartbeat");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusNotificationRequest {
    /// 0 = the charge point main controller.
    pub connector_id: u32,
    pub error_code: ChargePointErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<CiString<50>>,
    pub status: ChargePointStatus,
    /// Absent = time of receipt. Use it to discard out-of-order updates.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::option")]
    pub timestamp: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<CiString<255>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_error_code: Option<CiString<50>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusNotificationResponse {}
request!(StatusNotificationRequest => StatusNotificationResponse, "StatusNotification");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeRequest {
    pub id_tag: IdToken,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeResponse {
    pub id_tag_info: IdTagInfo,
}
request!(AuthorizeRequest => AuthorizeResponse, "Authorize");

/// Vendor extension; may be sent by either side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataTransferRequest {
    pub vendor_id: CiString<255>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<CiString<50>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataTransferResponse {
    pub status: DataTransferStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}
request!(DataTransferRequest => DataTransferResponse, "DataTransfer");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticsStatusNotificationRequest {
    pub status: DiagnosticsStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticsStatusNotificationResponse {}
request!(DiagnosticsStatusNotificationRequest => DiagnosticsStatusNotificationResponse, "DiagnosticsStatusNotification");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirmwareStatusNotificationRequest {
    pub status: FirmwareStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FirmwareStatusNotificationResponse {}
request!(FirmwareStatusNotificationRequest => FirmwareStatusNotificationResponse, "FirmwareStatusNotification");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CallErrorCode;
    use crate::messages::decode;
    use serde_json::json;

    #[test]
    fn boot_notification_example_from_the_specification() {
        let req: BootNotificationRequest =
            decode("BootNotification", json!({"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"})).unwrap();
        assert_eq!(req.charge_point_vendor.as_str(), "VendorX");
        let conf: BootNotificationResponse =
            serde_json::from_value(json!({"status": "Accepted", "currentTime": "2013-02-01T20:53:32.486Z", "interval": 300})).unwrap();
        assert_eq!(conf.interval, 300);
        assert_eq!(serde_json::to_value(&conf).unwrap(), json!({"status": "Accepted", "currentTime": "2013-02-01T20:53:32.486Z", "interval": 300}));
    }

    #[test]
    fn decode_errors_map_to_specific_codes() {
        let missing = decode::<BootNotificationRequest>("BootNotification", json!({"chargePointVendor": "V"})).unwrap_err();
        assert_eq!(missing.code, CallErrorCode::OccurenceConstraintViolation);
        let wrong_type =
            decode::<StatusNotificationRequest>("StatusNotification", json!({"connectorId": "1", "errorCode": "NoError", "status": "Available"})).unwrap_err();
        assert_eq!(wrong_type.code, CallErrorCode::TypeConstraintViolation);
        let bad_enum =
            decode::<StatusNotificationRequest>("StatusNotification", json!({"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"})).unwrap_err();
        assert_eq!(bad_enum.code, CallErrorCode::PropertyConstraintViolation);
        let too_long = decode::<AuthorizeRequest>("Authorize", json!({"idTag": "123456789012345678901"})).unwrap_err();
        assert_eq!(too_long.code, CallErrorCode::PropertyConstraintViolation);
        let negative =
            decode::<StatusNotificationRequest>("StatusNotification", json!({"connectorId": -1, "errorCode": "NoError", "status": "Available"})).unwrap_err();
        assert_eq!(negative.code, CallErrorCode::PropertyConstraintViolation);
    }

    #[test]
    fn empty_payloads_are_empty_objects() {
        assert_eq!(serde_json::to_string(&HeartbeatRequest {}).unwrap(), "{}");
        assert_eq!(serde_json::to_string(&StatusNotificationResponse {}).unwrap(), "{}");
    }
}
