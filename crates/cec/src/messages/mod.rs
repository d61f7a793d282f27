//! Typed payloads (`Data`, decrypted) of every T/CEC 102 interface, plus our reservation
//! extension. Field names are the standard's, misspellings included; reading goes through
//! [`crate::tolerant::normalise`] first.

mod charge;
mod common;
mod order;
mod policy;
mod reserve;
mod stations;
mod stats;
mod status;
mod token;

pub use charge::*;
pub use common::*;
pub use order::*;
pub use policy::*;
pub use reserve::*;
pub use stations::*;
pub use stats::*;
pub use status::*;
pub use token::*;

/// A request payload and what its interface answers.
pub trait Interface: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static {
    /// The path segment, e.g. `query_start_charge`.
    const NAME: &'static str;
    type Response: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static;
    /// Safe to send again after a timeout without changing the outcome.
    const IDEMPOTENT: bool;
}

macro_rules! interfaces {
    ($($req:ty => $resp:ty, $name:literal, $idempotent:literal;)*) => {
        $(impl Interface for $req {
            const NAME: &'static str = $name;
            type Response = $resp;
            const IDEMPOTENT: bool = $idempotent;
        })*
        /// Every interface name this crate knows.
        pub const ALL_INTERFACES: &[&str] = &[$($name),*];
    };
}

// Queries are read-only and notifications carry the sequence number that lets the receiver
// recognise a repeat, so both are retried on transport errors. Start, stop and reserve are not:
// after a timeout their outcome is unknown and must be resolved by asking
// (`query_equip_charge_status`), never by sending the command again blindly.
interfaces! {
    QueryToken => QueryTokenResponse, "query_token", true;
    QueryStationsInfo => QueryStationsInfoResponse, "query_stations_info", true;
    NotificationStationStatus => NotificationStationStatusResponse, "notification_stationStatus", true;
    QueryStationStatus => QueryStationStatusResponse, "query_station_status", true;
    QueryStationStats => QueryStationStatsResponse, "query_station_stats", true;
    QueryEquipAuth => QueryEquipAuthResponse, "query_equip_auth", true;
    QueryEquipBusinessPolicy => QueryEquipBusinessPolicyResponse, "query_equip_business_policy", true;
    QueryStartCharge => QueryStartChargeResponse, "query_start_charge", false;
    NotificationStartChargeResult => NotificationStartChargeResultResponse, "notification_start_charge_result", true;
    QueryEquipChargeStatus => ChargeStatus, "query_equip_charge_status", true;
    ChargeStatus => NotificationEquipChargeStatusResponse, "notification_equip_charge_status", true;
    QueryStopCharge => QueryStopChargeResponse, "query_stop_charge", false;
    NotificationStopChargeResult => NotificationStopChargeResultResponse, "notification_stop_charge_result", true;
    ChargeOrderInfo => ChargeOrderInfoResponse, "notification_charge_order_info", true;
    CheckChargeOrders => CheckChargeOrdersResponse, "check_charge_orders", true;
    QueryReserve => QueryReserveResponse, "query_reserve", false;
    QueryCancelReserve => QueryCancelReserveResponse, "query_cancel_reserve", false;
    NotificationReserveResult => NotificationReserveResultResponse, "notification_reserve_result", true;
}
