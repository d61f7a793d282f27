//! What the server needs from the application: who a caller is, where tokens and replay
//! records live, and the business handlers of each role.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::HandlerError;
use crate::messages::*;
use crate::secrets::Secrets;

/// What we know of a caller, found by its OperatorID.
#[derive(Debug, Clone)]
pub struct PartnerEntry {
    /// The application's identifier of the partner (opaque to this crate).
    pub partner_ref: String,
    /// Secret sets the caller may use now, newest first; more than one during a rotation overlap.
    pub secret_sets: Vec<Secrets>,
    /// Accepted `v{version}` path segments, e.g. `["v1.0"]`.
    pub versions: Vec<String>,
    /// Whether the reservation extension is enabled for this partner.
    pub reservation_enabled: bool,
    /// False for suspended partners: they are refused with 4003.
    pub active: bool,
}

/// The authenticated caller of a business interface.
#[derive(Debug, Clone)]
pub struct Caller {
    pub partner_ref: String,
    pub operator_id: String,
}

#[async_trait]
pub trait PartnerDirectory: Send + Sync + 'static {
    async fn lookup(&self, operator_id: &str) -> Result<Option<PartnerEntry>, HandlerError>;

    /// Like `lookup` but bypassing any cache; called once when no known secret set verifies a
    /// signature, so a partner that has just rotated its secrets is not refused.
    async fn refresh(&self, operator_id: &str) -> Result<Option<PartnerEntry>, HandlerError> {
        self.lookup(operator_id).await
    }
}

/// Access tokens issued by `query_token`. Shared storage lets several instances accept each
/// other's tokens.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    async fn issue(&self, operator_id: &str, expires_at: DateTime<Utc>) -> Result<String, HandlerError>;
    /// The OperatorID a token was issued to, if it is known and unexpired at `now`.
    async fn holder(&self, token: &str, now: DateTime<Utc>) -> Result<Option<String>, HandlerError>;
}

/// Remembers recent requests to refuse exact repeats (kept where the tokens are, so a restart
/// or another instance does not forget them).
#[async_trait]
pub trait ReplayGuard: Send + Sync + 'static {
    /// True the first time `key` is seen; entries may be forgotten after `keep_until`.
    async fn first_time(&self, key: &str, now: DateTime<Utc>, keep_until: DateTime<Utc>) -> Result<bool, HandlerError>;
}

/// Interfaces the operator of the piles (基础设施运营商) serves: we, in flow B.
#[async_trait]
pub trait OperatorHandler: Send + Sync + 'static {
    async fn query_stations_info(&self, caller: &Caller, req: QueryStationsInfo) -> Result<QueryStationsInfoResponse, HandlerError>;
    async fn query_station_status(&self, caller: &Caller, req: QueryStationStatus) -> Result<QueryStationStatusResponse, HandlerError>;
    async fn query_station_stats(&self, caller: &Caller, req: QueryStationStats) -> Result<QueryStationStatsResponse, HandlerError>;
    async fn query_equip_auth(&self, caller: &Caller, req: QueryEquipAuth) -> Result<QueryEquipAuthResponse, HandlerError>;
    async fn query_equip_business_policy(&self, caller: &Caller, req: QueryEquipBusinessPolicy) -> Result<QueryEquipBusinessPolicyResponse, HandlerError>;
    async fn query_start_charge(&self, caller: &Caller, req: QueryStartCharge) -> Result<QueryStartChargeResponse, HandlerError>;
    async fn query_equip_charge_status(&self, caller: &Caller, req: QueryEquipChargeStatus) -> Result<ChargeStatus, HandlerError>;
    async fn query_stop_charge(&self, caller: &Caller, req: QueryStopCharge) -> Result<QueryStopChargeResponse, HandlerError>;
    async fn query_reserve(&self, caller: &Caller, req: QueryReserve) -> Result<QueryReserveResponse, HandlerError>;
    async fn query_cancel_reserve(&self, caller: &Caller, req: QueryCancelReserve) -> Result<QueryCancelReserveResponse, HandlerError>;
}

/// Interfaces the platform that owns the users (客户归属运营商) serves: we, in flow A.
#[async_trait]
pub trait PlatformHandler: Send + Sync + 'static {
    async fn notification_station_status(&self, caller: &Caller, req: NotificationStationStatus) -> Result<NotificationStationStatusResponse, HandlerError>;
    async fn notification_start_charge_result(
        &self,
        caller: &Caller,
        req: NotificationStartChargeResult,
    ) -> Result<NotificationStartChargeResultResponse, HandlerError>;
    async fn notification_equip_charge_status(&self, caller: &Caller, req: ChargeStatus) -> Result<NotificationEquipChargeStatusResponse, HandlerError>;
    async fn notification_stop_charge_result(
        &self,
        caller: &Caller,
        req: NotificationStopChargeResult,
    ) -> Result<NotificationStopChargeResultResponse, HandlerError>;
    async fn notification_charge_order_info(&self, caller: &Caller, req: ChargeOrderInfo) -> Result<ChargeOrderInfoResponse, HandlerError>;
    async fn check_charge_orders(&self, caller: &Caller, req: CheckChargeOrders) -> Result<CheckChargeOrdersResponse, HandlerError>;
    async fn notification_reserve_result(&self, caller: &Caller, req: NotificationReserveResult) -> Result<NotificationReserveResultResponse, HandlerError>;
}
