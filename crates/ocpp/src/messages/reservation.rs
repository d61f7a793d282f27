//! Reservation profile: ReserveNow and CancelReservation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request;
use crate::enums::*;
use crate::types::IdToken;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReserveNowRequest {
    /// 0 = any connector (only with `ReserveConnectorZeroSupported`).
    pub connector_id: u32,
    #[serde(with = "crate::time")]
    pub expiry_date: DateTime<Utc>,
    pub id_tag: IdToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id_tag: Option<IdToken>,
    /// Chosen by the central system; the same id replaces an existing reservation.
    pub reservation_id: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReserveNowResponse {
    pub status: ReservationStatus,
}
request!(ReserveNowRequest => ReserveNowResponse, "ReserveNow");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelReservationRequest {
    pub reservation_id: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelReservationResponse {
    pub status: CancelReservationStatus,
}
request!(CancelReservationRequest => CancelReservationResponse, "CancelReservation");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserve_now_wire_form() {
        let text = json!({"connectorId": 1, "expiryDate": "2024-05-01T10:15:00.000Z", "idTag": "TAG1", "reservationId": 9});
        let req: ReserveNowRequest = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(serde_json::to_value(&req).unwrap(), text);
    }
}
