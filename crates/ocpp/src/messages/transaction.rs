//! Transaction-related messages: StartTransaction, StopTransaction, MeterValues.
//!
//! A charge point queues these while offline and retries them, so a central system should
//! answer them even when their content looks wrong (and deduplicate).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{IdTagInfo, MeterValue, request};
use crate::enums::Reason;
use crate::types::IdToken;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTransactionRequest {
    /// Must be > 0.
    pub connector_id: u32,
    pub id_tag: IdToken,
    /// Meter register at start, Wh.
    pub meter_start: i64,
    /// Set when the transaction consumes a reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<i32>,
    #[serde(with = "crate::time")]
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTransactionResponse {
    pub id_tag_info: IdTagInfo,
    /// Assigned by the central system; unique across all charge points.
    pub transaction_id: i32,
}
request!(StartTransactionRequest => StartTransactionResponse, "StartTransaction");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopTransactionRequest {
    /// Absent when the charge point stopped by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_tag: Option<IdToken>,
    /// Meter register at stop, Wh.
    pub meter_stop: i64,
    #[serde(with = "crate::time")]
    pub timestamp: DateTime<Utc>,
    /// From StartTransaction.conf, or -1 when the charge point never got one.
    pub transaction_id: i32,
    /// Absent means `Local` (the original schema wrongly required it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_data: Option<Vec<MeterValue>>,
}

impl StopTransactionRequest {
    pub fn reason(&self) -> Reason {
        self.reason.unwrap_or(Reason::Local)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopTransactionResponse {
    /// Include it when the request carried an idTag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_tag_info: Option<IdTagInfo>,
}
request!(StopTransactionRequest => StopTransactionResponse, "StopTransaction");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValuesRequest {
    /// 0 = main meter of the charge point.
    pub connector_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i32>,
    pub meter_value: Vec<MeterValue>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeterValuesResponse {}
request!(MeterValuesRequest => MeterValuesResponse, "MeterValues");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::*;
    use crate::messages::decode;
    use rust_decimal::Decimal;
    use serde_json::json;

    #[test]
    fn stop_transaction_without_reason_means_local() {
        let req: StopTransactionRequest =
            decode("StopTransaction", json!({"meterStop": 20000, "timestamp": "2024-05-01T10:00:00Z", "transactionId": -1})).unwrap();
        assert_eq!(req.reason(), Reason::Local);
        assert_eq!(req.transaction_id, -1);
    }

    #[test]
    fn meter_values_with_full_sampled_value() {
        let req: MeterValuesRequest = decode(
            "MeterValues",
            json!({"connectorId": 1, "transactionId": 42, "meterValue": [{
                "timestamp": "2024-05-01T10:00:00+08:00",
                "sampledValue": [
                    {"value": "1234.5", "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "location": "Outlet"},
                    {"value": "22.5", "measurand": "Temperature", "unit": "Celcius"}
                ]
            }]}),
        )
        .unwrap();
        let mv = &req.meter_value[0];
        assert_eq!(crate::time::format(&mv.timestamp), "2024-05-01T02:00:00.000Z");
        assert_eq!(mv.sampled_value[0].import_register_wh(), Some(Decimal::new(12345, 1)));
        assert_eq!(mv.sampled_value[1].unit(), UnitOfMeasure::Celsius);
    }

    #[test]
    fn start_transaction_round_trip() {
        let text = json!({"connectorId": 1, "idTag": "04A1B2C3", "meterStart": 0, "reservationId": 7, "timestamp": "2024-05-01T10:00:00.000Z"});
        let req: StartTransactionRequest = decode("StartTransaction", text.clone()).unwrap();
        assert_eq!(serde_json::to_value(&req).unwrap(), text);
    }
}
