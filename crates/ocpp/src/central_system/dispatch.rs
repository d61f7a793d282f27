//! Routes one incoming CALL to the typed handler method.

use serde_json::Value;

use super::registry::{CentralSystem, ConnectionState};
use crate::enums::RegistrationStatus;
use crate::error::{CallError, CallErrorCode};
use crate::messages::*;
use crate::types::ChargePointId;

/// Actions a charge point may send; anything else known to OCPP 1.6 is `NotSupported`,
/// anything unknown `NotImplemented`.
const CENTRAL_SYSTEM_BOUND_ONLY: &[&str] = &[
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
];

pub(crate) async fn dispatch(cs: &CentralSystem, state: &ConnectionState, cp: &ChargePointId, action: &str, payload: Value) -> Result<Value, CallError> {
    let handler = &*cs.inner.handler;
    if action != BootNotificationRequest::ACTION && matches!(state.registration(), Some(RegistrationStatus::Pending | RegistrationStatus::Rejected)) {
        return Err(CallError::new(CallErrorCode::SecurityError, "charge point is not Accepted; send BootNotification first"));
    }

    macro_rules! handle {
        ($req:ty, $method:ident) => {{
            let req: $req = decode(action, payload)?;
            let resp = handler.$method(cp, req).await?;
            Ok(encode(&resp))
        }};
    }

    match action {
        "BootNotification" => {
            let req: BootNotificationRequest = decode(action, payload)?;
            let resp = handler.boot_notification(cp, req).await?;
            state.set_registration(resp.status);
            if resp.status == RegistrationStatus::Accepted && resp.interval > 0 {
                let heartbeat = std::time::Duration::from_secs(resp.interval.into());
                state.control.set_idle(cs.inner.config.idle_limit(heartbeat));
            }
            Ok(encode(&resp))
        }
        "Heartbeat" => handle!(HeartbeatRequest, heartbeat),
        "StatusNotification" => handle!(StatusNotificationRequest, status_notification),
        "Authorize" => handle!(AuthorizeRequest, authorize),
        "StartTransaction" => handle!(StartTransactionRequest, start_transaction),
        "StopTransaction" => handle!(StopTransactionRequest, stop_transaction),
        "MeterValues" => handle!(MeterValuesRequest, meter_values),
        "DataTransfer" => handle!(DataTransferRequest, data_transfer),
        "DiagnosticsStatusNotification" => handle!(DiagnosticsStatusNotificationRequest, diagnostics_status_notification),
        "FirmwareStatusNotification" => handle!(FirmwareStatusNotificationRequest, firmware_status_notification),
        known if CENTRAL_SYSTEM_BOUND_ONLY.contains(&known) => {
            Err(CallError::new(CallErrorCode::NotSupported, format!("{known} is sent by the central system, not to it")))
        }
        unknown => Err(CallError::new(CallErrorCode::NotImplemented, format!("unknown action {unknown}"))),
    }
}
