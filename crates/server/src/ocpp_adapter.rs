//! Our own piles over OCPP 1.6J (flow B's device side): pile authentication against the
//! passwords issued when the station was created, and the central-system handler feeding the
//! status hub. Transactions are accepted and logged; binding them to flow-B orders comes with
//! the partner control API.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use async_trait::async_trait;
use chrono::Utc;
use domain::station::ConnectorStatus;
use ocpp::central_system::{AuthDecision, DisconnectReason};
use ocpp::enums::{AuthorizationStatus, RegistrationStatus};
use ocpp::messages::*;
use ocpp::{CallError, CentralSystem, CentralSystemConfig, CentralSystemHandler, ChargePointAuth, ChargePointId};
use services::Services;

pub struct PileAuth {
    services: Services,
}

#[async_trait]
impl ChargePointAuth for PileAuth {
    async fn verify(&self, cp: &ChargePointId, password: Option<&[u8]>) -> AuthDecision {
        match self.services.verify_pile(cp.as_str(), password.unwrap_or_default()).await {
            Ok(Some(true)) => AuthDecision::Accept,
            Ok(Some(false)) => AuthDecision::Refuse,
            Ok(None) => AuthDecision::UnknownChargePoint,
            Err(e) => {
                tracing::error!(pile = %cp.as_str(), error = %e, "pile authentication failed");
                AuthDecision::Refuse
            }
        }
    }
}

pub struct PileHandler {
    services: Services,
    /// Transaction ids unique for this instance's lifetime (seeded from the clock).
    next_transaction: AtomicI32,
}

fn internal(e: services::Error) -> CallError {
    CallError::internal(e.to_string())
}

#[async_trait]
impl CentralSystemHandler for PileHandler {
    async fn disconnected(&self, cp: &ChargePointId, reason: DisconnectReason) {
        tracing::info!(pile = %cp.as_str(), ?reason, "pile disconnected");
        if let Err(e) = self.services.pile_status(cp.as_str(), 0, ConnectorStatus::Offline, Utc::now()).await {
            tracing::warn!(pile = %cp.as_str(), error = %e, "marking pile offline failed");
        }
    }

    async fn boot_notification(&self, cp: &ChargePointId, req: BootNotificationRequest) -> Result<BootNotificationResponse, CallError> {
        tracing::info!(pile = %cp.as_str(), vendor = %req.charge_point_vendor.as_str(), model = %req.charge_point_model.as_str(), "pile booted");
        Ok(BootNotificationResponse { status: RegistrationStatus::Accepted, current_time: Utc::now(), interval: 60 })
    }

    async fn status_notification(&self, cp: &ChargePointId, req: StatusNotificationRequest) -> Result<StatusNotificationResponse, CallError> {
        let status = ConnectorStatus::from_ocpp(req.status.as_str());
        let at = req.timestamp.unwrap_or_else(Utc::now);
        self.services.pile_status(cp.as_str(), i64::from(req.connector_id), status, at).await.map_err(internal)?;
        Ok(StatusNotificationResponse {})
    }

    async fn authorize(&self, _cp: &ChargePointId, req: AuthorizeRequest) -> Result<AuthorizeResponse, CallError> {
        // Our remote starts use id tags we generate ("CB…"); there are no RFID cards yet.
        let status = if req.id_tag.as_str().starts_with("CB") { AuthorizationStatus::Accepted } else { AuthorizationStatus::Invalid };
        Ok(AuthorizeResponse { id_tag_info: IdTagInfo::with_status(status) })
    }

    async fn start_transaction(&self, cp: &ChargePointId, req: StartTransactionRequest) -> Result<StartTransactionResponse, CallError> {
        let transaction_id = self.next_transaction.fetch_add(1, Ordering::Relaxed);
        tracing::info!(pile = %cp.as_str(), connector = req.connector_id, transaction_id, "transaction started");
        Ok(StartTransactionResponse { id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Accepted), transaction_id })
    }

    async fn stop_transaction(&self, cp: &ChargePointId, req: StopTransactionRequest) -> Result<StopTransactionResponse, CallError> {
        tracing::info!(pile = %cp.as_str(), transaction_id = req.transaction_id, meter_stop = req.meter_stop, "transaction stopped");
        Ok(StopTransactionResponse { id_tag_info: None })
    }
}

/// The central system serving `/ocpp/{chargePointId}`.
pub fn central_system(services: &Services) -> CentralSystem {
    let seed = (Utc::now().timestamp() % 1_000_000) as i32 * 1000;
    let handler = Arc::new(PileHandler { services: services.clone(), next_transaction: AtomicI32::new(seed.max(1)) });
    CentralSystem::new(CentralSystemConfig::default(), Arc::new(PileAuth { services: services.clone() }), handler)
}
