//! Our own piles over OCPP 1.6J (flow B's device side): pile authentication against the
//! passwords issued when the station was created, the central-system handler feeding the
//! status hub and binding transactions to flow-B orders, and the services' `PileControl`
//! port implemented with the central system's commands.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::station::ConnectorStatus;
use ocpp::central_system::{AuthDecision, DisconnectReason};
use ocpp::enums::{
    AuthorizationStatus, CancelReservationStatus, Measurand, MessageTrigger, RegistrationStatus, RemoteStartStopStatus, ReservationStatus,
    TriggerMessageStatus, UnitOfMeasure, UnlockStatus,
};
use ocpp::messages::*;
use ocpp::{CallError, CentralSystem, CentralSystemConfig, CentralSystemHandler, ChargePointAuth, ChargePointId, CommandError, IdToken};
use services::Services;
use services::pile_tags::IssuedTag;
use services::ports::{PileCommandError, PileControl, PileReply, ReservationReply, TriggerReply, TriggeredMessage, UnlockReply};

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
}

/// Cumulative active energy import in Wh from a meter value, if it carries one. A sampled
/// value without a measurand is that register (OCPP's default).
fn energy_wh(value: &MeterValue) -> Option<i64> {
    value.sampled_value.iter().find_map(|v| {
        if v.measurand.is_some_and(|m| m != Measurand::EnergyActiveImportRegister) {
            return None;
        }
        let number: rust_decimal::Decimal = v.value.trim().parse().ok()?;
        let wh = if v.unit == Some(UnitOfMeasure::KWh) { number * rust_decimal::Decimal::ONE_THOUSAND } else { number };
        i64::try_from(wh.round()).ok()
    })
}

fn soc(value: &MeterValue) -> Option<u8> {
    value
        .sampled_value
        .iter()
        .find(|v| v.measurand == Some(Measurand::SoC))
        .and_then(|v| v.value.trim().parse::<rust_decimal::Decimal>().ok())
        .and_then(|d| u8::try_from(d.round().mantissa()).ok())
        .filter(|p| *p <= 100)
}

fn samples(values: &[MeterValue]) -> Vec<(DateTime<Utc>, i64)> {
    values.iter().filter_map(|v| Some((v.timestamp, energy_wh(v)?))).collect()
}

fn internal(e: services::Error) -> CallError {
    CallError::internal(e.to_string())
}

#[async_trait]
impl CentralSystemHandler for PileHandler {
    async fn connected(&self, cp: &ChargePointId) {
        self.services.pile_connected(cp.as_str());
    }

    async fn disconnected(&self, cp: &ChargePointId, reason: DisconnectReason) {
        tracing::info!(pile = %cp.as_str(), ?reason, "pile disconnected");
        if reason == DisconnectReason::Replaced {
            // The pile opened a new connection (its `connected` follows): it is still online,
            // and the central system asks it for fresh statuses.
            return;
        }
        self.services.pile_disconnected(cp.as_str());
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
        // The status is recorded; a failure to interrupt its session is no reason to refuse it
        // (the StopTransaction that follows still ends the session).
        if status == ConnectorStatus::Faulted
            && let Err(e) = self.services.pile_connector_faulted(cp.as_str(), i64::from(req.connector_id), req.error_code.as_str()).await
        {
            tracing::warn!(pile = %cp.as_str(), error = %e, "interrupting the session of a faulted connector failed");
        }
        // OCPP 1.6 has no "reservation expired" message: a held connector going back to
        // Available is how the pile says its hold ended.
        if status == ConnectorStatus::Available
            && let Err(e) = self.services.pile_connector_released(cp.as_str(), i64::from(req.connector_id)).await
        {
            tracing::warn!(pile = %cp.as_str(), error = %e, "ending a released reservation failed; the deadline worker will");
        }
        Ok(StatusNotificationResponse {})
    }

    /// Only tags we issued for a session or reservation that is under way may charge (there
    /// are no RFID cards of ours yet); a card that merely looks like ours is `Invalid`.
    async fn authorize(&self, _cp: &ChargePointId, req: AuthorizeRequest) -> Result<AuthorizeResponse, CallError> {
        Ok(AuthorizeResponse { id_tag_info: self.id_tag_info(req.id_tag.as_str()).await? })
    }

    async fn start_transaction(&self, cp: &ChargePointId, req: StartTransactionRequest) -> Result<StartTransactionResponse, CallError> {
        let bound = self
            .services
            .pile_transaction_started(cp.as_str(), i64::from(req.connector_id), req.id_tag.as_str(), req.meter_start, req.timestamp)
            .await
            .map_err(internal)?;
        Ok(match bound {
            Some(transaction_id) => StartTransactionResponse {
                id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Accepted),
                transaction_id: i32::try_from(transaction_id).map_err(|_| CallError::internal("transaction id out of range"))?,
            },
            // Not a session we asked for: the pile is told to stop it (OCPP 1.6 §4.8), under a
            // transaction id of its own, as every StartTransaction answer needs one.
            None => {
                tracing::warn!(pile = %cp.as_str(), tag = %req.id_tag.as_str(), "transaction with an id tag we did not issue refused");
                let transaction_id = self.services.refused_transaction_id(cp.as_str()).await.map_err(internal)?;
                StartTransactionResponse {
                    id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Invalid),
                    transaction_id: i32::try_from(transaction_id).map_err(|_| CallError::internal("transaction id out of range"))?,
                }
            }
        })
    }

    async fn meter_values(&self, cp: &ChargePointId, req: MeterValuesRequest) -> Result<MeterValuesResponse, CallError> {
        if let Some(transaction) = req.transaction_id {
            let soc = req.meter_value.iter().rev().find_map(soc);
            self.services.pile_meter_values(cp.as_str(), i64::from(transaction), &samples(&req.meter_value), soc).await.map_err(internal)?;
        }
        Ok(MeterValuesResponse {})
    }

    async fn stop_transaction(&self, cp: &ChargePointId, req: StopTransactionRequest) -> Result<StopTransactionResponse, CallError> {
        let transaction = i64::from(req.transaction_id);
        // Read before the stop ends the session the tag belongs to.
        let id_tag_info = match &req.id_tag {
            Some(tag) => Some(self.id_tag_info(tag.as_str()).await?),
            None => None,
        };
        if let Some(data) = &req.transaction_data {
            self.services.pile_meter_values(cp.as_str(), transaction, &samples(data), None).await.map_err(internal)?;
        }
        let reason = req.reason.map(|r| r.as_str());
        let known = self.services.pile_transaction_stopped(cp.as_str(), transaction, req.meter_stop, req.timestamp, reason).await.map_err(internal)?;
        if !known {
            tracing::warn!(pile = %cp.as_str(), transaction, "stop of a transaction we do not know");
        }
        Ok(StopTransactionResponse { id_tag_info })
    }
}

impl PileHandler {
    /// What a pile is told about an id tag it presents.
    async fn id_tag_info(&self, tag: &str) -> Result<IdTagInfo, CallError> {
        let status = match self.services.pile_id_tag(tag).await.map_err(internal)? {
            IssuedTag::Usable => AuthorizationStatus::Accepted,
            IssuedTag::Spent => AuthorizationStatus::Expired,
            IssuedTag::NotIssued => AuthorizationStatus::Invalid,
        };
        Ok(IdTagInfo::with_status(status))
    }
}

/// The services' way to our piles: commands through the central system, which is built after
/// the services (its handler needs them), hence the cell.
#[derive(Default)]
pub struct OcppPileControl {
    central: OnceLock<CentralSystem>,
}

fn command_error(e: CommandError) -> PileCommandError {
    match e {
        CommandError::NotConnected | CommandError::NotAccepted => PileCommandError::Offline,
        other => PileCommandError::NoAnswer(other.to_string()),
    }
}

fn reply(status: RemoteStartStopStatus) -> PileReply {
    if status == RemoteStartStopStatus::Accepted { PileReply::Accepted } else { PileReply::Rejected }
}

impl OcppPileControl {
    fn central(&self) -> Result<&CentralSystem, PileCommandError> {
        self.central.get().ok_or(PileCommandError::Offline)
    }
}

#[async_trait]
impl PileControl for OcppPileControl {
    fn is_connected(&self, ocpp_id: &str) -> bool {
        self.central.get().is_some_and(|c| c.is_connected(ocpp_id))
    }

    async fn remote_start(&self, ocpp_id: &str, connector_no: i64, id_tag: &str) -> Result<PileReply, PileCommandError> {
        let request = RemoteStartTransactionRequest {
            connector_id: u32::try_from(connector_no).ok(),
            id_tag: IdToken::new(id_tag).map_err(|e| PileCommandError::NoAnswer(e.to_string()))?,
            charging_profile: None,
        };
        let answer = self.central()?.send(ocpp_id, request).await.map_err(command_error)?;
        Ok(reply(answer.status))
    }

    async fn remote_stop(&self, ocpp_id: &str, transaction_id: i64) -> Result<PileReply, PileCommandError> {
        let transaction_id = i32::try_from(transaction_id).map_err(|_| PileCommandError::NoAnswer("transaction id out of range".into()))?;
        let answer = self.central()?.send(ocpp_id, RemoteStopTransactionRequest { transaction_id }).await.map_err(command_error)?;
        Ok(reply(answer.status))
    }

    async fn reserve(
        &self,
        ocpp_id: &str,
        connector_no: i64,
        reservation_id: i64,
        id_tag: &str,
        expiry: DateTime<Utc>,
    ) -> Result<ReservationReply, PileCommandError> {
        let request = ReserveNowRequest {
            connector_id: u32::try_from(connector_no).map_err(|_| PileCommandError::NoAnswer("connector number out of range".into()))?,
            expiry_date: expiry,
            id_tag: IdToken::new(id_tag).map_err(|e| PileCommandError::NoAnswer(e.to_string()))?,
            parent_id_tag: None,
            reservation_id: reservation_id_i32(reservation_id)?,
        };
        let answer = self.central()?.send(ocpp_id, request).await.map_err(command_error)?;
        Ok(match answer.status {
            ReservationStatus::Accepted => ReservationReply::Accepted,
            ReservationStatus::Occupied => ReservationReply::Occupied,
            ReservationStatus::Faulted => ReservationReply::Faulted,
            ReservationStatus::Unavailable => ReservationReply::Unavailable,
            _ => ReservationReply::Rejected,
        })
    }

    async fn cancel_reservation(&self, ocpp_id: &str, reservation_id: i64) -> Result<PileReply, PileCommandError> {
        let request = CancelReservationRequest { reservation_id: reservation_id_i32(reservation_id)? };
        let answer = self.central()?.send(ocpp_id, request).await.map_err(command_error)?;
        Ok(if answer.status == CancelReservationStatus::Accepted { PileReply::Accepted } else { PileReply::Rejected })
    }

    async fn trigger_message(&self, ocpp_id: &str, message: TriggeredMessage, connector_no: Option<i64>) -> Result<TriggerReply, PileCommandError> {
        let requested_message = match message {
            TriggeredMessage::BootNotification => MessageTrigger::BootNotification,
            TriggeredMessage::DiagnosticsStatusNotification => MessageTrigger::DiagnosticsStatusNotification,
            TriggeredMessage::FirmwareStatusNotification => MessageTrigger::FirmwareStatusNotification,
            TriggeredMessage::Heartbeat => MessageTrigger::Heartbeat,
            TriggeredMessage::MeterValues => MessageTrigger::MeterValues,
            TriggeredMessage::StatusNotification => MessageTrigger::StatusNotification,
        };
        let connector_id = connector_no.map(connector_u32).transpose()?;
        let answer = self.central()?.send(ocpp_id, TriggerMessageRequest { requested_message, connector_id }).await.map_err(command_error)?;
        Ok(match answer.status {
            TriggerMessageStatus::Accepted => TriggerReply::Accepted,
            TriggerMessageStatus::Rejected => TriggerReply::Rejected,
            TriggerMessageStatus::NotImplemented => TriggerReply::NotImplemented,
        })
    }

    async fn unlock_connector(&self, ocpp_id: &str, connector_no: i64) -> Result<UnlockReply, PileCommandError> {
        let request = UnlockConnectorRequest { connector_id: connector_u32(connector_no)? };
        let answer = self.central()?.send(ocpp_id, request).await.map_err(command_error)?;
        Ok(match answer.status {
            UnlockStatus::Unlocked => UnlockReply::Unlocked,
            UnlockStatus::UnlockFailed => UnlockReply::UnlockFailed,
            UnlockStatus::NotSupported => UnlockReply::NotSupported,
        })
    }
}

fn connector_u32(connector_no: i64) -> Result<u32, PileCommandError> {
    u32::try_from(connector_no).map_err(|_| PileCommandError::NoAnswer("connector number out of range".into()))
}

fn reservation_id_i32(id: i64) -> Result<i32, PileCommandError> {
    i32::try_from(id).map_err(|_| PileCommandError::NoAnswer("reservation id out of range".into()))
}

/// The central system serving `/ocpp/{chargePointId}`; `control` is bound to it.
pub fn central_system(services: &Services, control: &OcppPileControl, config: CentralSystemConfig) -> CentralSystem {
    let handler = Arc::new(PileHandler { services: services.clone() });
    let central = CentralSystem::new(config, Arc::new(PileAuth { services: services.clone() }), handler);
    let _ = control.central.set(central.clone());
    central
}
