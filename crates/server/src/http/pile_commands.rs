//! Admin API for operating one of our piles (flow B's device side): OCPP TriggerMessage and
//! UnlockConnector, sent through the central system and answered with the pile's own status.
//! Each command that reaches the pile is audited with the admin's name.

use axum::extract::State;
use serde::Deserialize;
use services::pile_commands::PileCommandResult;
use store::audit::AuditEntry;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Admin, Json, Path};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(trigger)).routes(routes!(unlock)).routes(routes!(audit))
}

#[derive(Deserialize, ToSchema)]
pub struct TriggerRequest {
    /// `StatusNotification`, `MeterValues`, `Heartbeat`, `DiagnosticsStatusNotification` or
    /// `FirmwareStatusNotification` (`BootNotification` is refused for an accepted pile).
    pub requested_message: String,
    /// From 1; absent = every connector the message applies to.
    pub connector_id: Option<i64>,
}

/// Ask a pile to send a message now (OCPP TriggerMessage). `status` is the pile's answer:
/// `Accepted`, `Rejected` or `NotImplemented`.
#[utoipa::path(post, path = "/piles/{ocpp_id}/trigger", tag = "admin", security(("admin_session" = [])), request_body = TriggerRequest,
    responses((status = 200, body = PileCommandResult), (status = 404, body = ErrorBody, description = "no such pile"),
              (status = 409, body = ErrorBody, description = "`pile_offline`, or `trigger_not_allowed` (BootNotification)"),
              (status = 422, body = ErrorBody, description = "unknown message or connector"),
              (status = 504, body = ErrorBody, description = "`pile_no_answer`: sent, not answered in time")))]
async fn trigger(
    State(state): State<AppState>,
    admin: Admin,
    Path(ocpp_id): Path<String>,
    Json(r): Json<TriggerRequest>,
) -> ApiResult<Json<PileCommandResult>> {
    Ok(Json(state.services.trigger_pile_message(&admin.0, &ocpp_id, &r.requested_message, r.connector_id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct UnlockRequest {
    /// From 1.
    pub connector_id: i64,
}

/// Release a connector's cable lock (OCPP UnlockConnector). `status` is the pile's answer:
/// `Unlocked`, `UnlockFailed` or `NotSupported`. Refused while a session runs on the connector.
#[utoipa::path(post, path = "/piles/{ocpp_id}/unlock", tag = "admin", security(("admin_session" = [])), request_body = UnlockRequest,
    responses((status = 200, body = PileCommandResult), (status = 404, body = ErrorBody, description = "no such pile"),
              (status = 409, body = ErrorBody, description = "`pile_offline`, or `session_running` on the connector"),
              (status = 422, body = ErrorBody, description = "unknown connector"),
              (status = 504, body = ErrorBody, description = "`pile_no_answer`: sent, not answered in time")))]
async fn unlock(State(state): State<AppState>, admin: Admin, Path(ocpp_id): Path<String>, Json(r): Json<UnlockRequest>) -> ApiResult<Json<PileCommandResult>> {
    Ok(Json(state.services.unlock_pile_connector(&admin.0, &ocpp_id, r.connector_id).await?))
}

/// The commands sent to a pile, with who sent them and what it answered, oldest first.
#[utoipa::path(get, path = "/piles/{ocpp_id}/audit", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = Vec<AuditEntry>), (status = 404, body = ErrorBody)))]
async fn audit(State(state): State<AppState>, _admin: Admin, Path(ocpp_id): Path<String>) -> ApiResult<Json<Vec<AuditEntry>>> {
    Ok(Json(state.services.pile_audit(&ocpp_id).await?))
}
