//! The operator's reports on the sessions we started at its connectors (flow A over REST, scope
//! `cpo`): session events, the charge record, and how a reservation ended. Sessions are named by
//! our id, as in the commands we sent (docs/partner-api.md, section 5). Each report is handed to
//! the same services the T/CEC 102 notifications reach, so the order state machine, billing,
//! commission and payment are one path whatever the protocol.

use axum::extract::State;
use chrono::{DateTime, FixedOffset, Utc};
use domain::order::{RemoteState, StopReason};
use serde::{Deserialize, Serialize};
use services::Error;
use services::charging::RecordVerdict;
use services::reservations::ReservationEnd;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, PartnerToken, Path};
use super::partner_cpo_figures::Figures;
use crate::rest_adapter::failure_reason;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(session_event)).routes(routes!(charge_record)).routes(routes!(reservation_event))
}

const SCOPE: &str = "cpo";
const SESSION_EVENTS: [&str; 5] = ["started", "failed", "charging", "stopped", "stop_failed"];

/// One event of a session at your connector.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"type": "charging", "at": "2026-12-05T09:35:00+08:00", "energy_kwh": "3.20", "cost": "4.10", "soc": 45}))]
pub struct SessionEventInput {
    /// `started`, `failed`, `charging`, `stopped` or `stop_failed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened at the charger.
    pub at: DateTime<FixedOffset>,
    /// `failed`: why (`connector_not_found`, `connector_offline`, `connector_occupied`,
    /// `connector_faulted`, `not_plugged_in`, `other`).
    pub reason: Option<String>,
    /// `failed` / `stop_failed`: what to tell the driver.
    pub message: Option<String>,
    /// `charging`: energy so far, kWh, decimal string.
    pub energy_kwh: Option<String>,
    /// `charging`: cost so far, yuan, decimal string.
    pub cost: Option<String>,
    /// `charging`: state of charge, percent.
    #[schema(minimum = 0, maximum = 100)]
    pub soc: Option<u8>,
}

/// Our state of the session after your report.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"session_id": "0193a5b3-1b22-7f30-84d5-e6f7a8b9c0d1", "state": "charging"}))]
pub struct SessionState {
    pub session_id: Uuid,
    /// `starting`, `charging`, `stopping`, `finished`, `billed`, `paid`, `failed`, …
    pub state: String,
}

/// Reports what happened to one of the sessions we started at your connector. Repeats and late
/// events change nothing and are answered with the current state.
#[utoipa::path(post, path = "/sessions/{session_id}/events", tag = "partner-cpo", security(("oauth2" = ["cpo"])),
    params(("session_id" = Uuid, Path, description = "our session id, as in the `start_session` command")),
    request_body = SessionEventInput,
    responses(
        (status = 200, body = SessionState, description = "recorded (or a repeat)"),
        (status = 403, body = ErrorBody, description = "the token lacks the `cpo` scope, or the partner is no approved operator"),
        (status = 404, body = ErrorBody, description = "no session of yours has this id"),
        (status = 409, body = ErrorBody, description = "`order_state`: the event cannot follow the session's state"),
        (status = 422, body = ErrorBody, description = "invalid event: every bad field is named")))]
async fn session_event(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Path(session_id): Path<Uuid>,
    Json(event): Json<SessionEventInput>,
) -> ApiResult<Json<SessionState>> {
    principal.require_scope(SCOPE)?;
    let mut figures = Figures::default();
    if !SESSION_EVENTS.contains(&event.kind.as_str()) {
        figures.problem("type", format!("{:?} is not one of {}", event.kind, SESSION_EVENTS.join(", ")), "事件类型无效");
    }
    figures.observed("at", event.at, state.services.now());
    // Progress figures are checked before anything is recorded, like every other field.
    let progress = (event.kind == "charging").then(|| {
        let energy = figures.energy("energy_kwh", event.energy_kwh.as_deref());
        let cost = event.cost.as_deref().map(|c| figures.money("cost", Some(c)).yuan());
        if event.soc.is_some_and(|soc| soc > 100) {
            figures.problem("soc", "must be 0 to 100", "须为 0 至 100");
        }
        (energy.value(), cost)
    });
    figures.done()?;
    let (s, partner) = (&state.services, principal.partner_id);
    let seq = s.operator_session_seq(partner, session_id).await?;
    let view = match (event.kind.as_str(), progress) {
        ("started", _) => s.on_start_result(partner, &seq, None).await?,
        ("failed", _) => s.on_start_result(partner, &seq, Some(failure_reason(event.reason.as_deref(), event.message))).await?,
        ("charging", Some((energy, cost))) => s.on_charge_status(partner, &seq, RemoteState::Charging, Some(energy), cost, event.soc.map(Into::into)).await?,
        ("stopped", _) => s.on_stop_result(partner, &seq, true).await?,
        ("stop_failed", _) => s.on_stop_result(partner, &seq, false).await?,
        _ => return Err(Error::Internal("the event type was checked above".into()).into()),
    };
    Ok(Json(SessionState { session_id, state: view.state.to_string() }))
}

/// One priced period of a charge record.
#[derive(Deserialize, ToSchema)]
pub struct ChargePeriodInput {
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    #[schema(example = "20.00")]
    pub energy_kwh: String,
    /// Yuan per kWh.
    #[schema(example = "0.6500")]
    pub electricity_price: String,
    #[schema(example = "0.5000")]
    pub service_price: String,
    #[schema(example = "13.00")]
    pub electricity_money: String,
    #[schema(example = "10.00")]
    pub service_money: String,
}

/// The record that closes a session: what it delivered and what it cost, per price period.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"connector_id": "P1-1", "start": "2026-12-05T09:30:00+08:00", "end": "2026-12-05T10:10:00+08:00",
    "energy_kwh": "20.00", "electricity_money": "13.00", "service_money": "10.00", "total_money": "23.00", "stop_reason": "user",
    "periods": [{"start": "2026-12-05T09:30:00+08:00", "end": "2026-12-05T10:10:00+08:00", "energy_kwh": "20.00",
                 "electricity_price": "0.6500", "service_price": "0.5000", "electricity_money": "13.00", "service_money": "10.00"}]}))]
pub struct ChargeRecordInput {
    /// Your connector id.
    pub connector_id: String,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    #[schema(example = "20.00")]
    pub energy_kwh: String,
    #[schema(example = "13.00")]
    pub electricity_money: String,
    #[schema(example = "10.00")]
    pub service_money: String,
    #[schema(example = "23.00")]
    pub total_money: String,
    /// `user`, `platform`, `bms` (the car is full), `charger_fault` or `disconnected`.
    pub stop_reason: String,
    pub periods: Vec<ChargePeriodInput>,
}

/// Whether the record was billed, or held because its figures do not add up.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"session_id": "0193a5b3-1b22-7f30-84d5-e6f7a8b9c0d1", "verdict": "accepted", "discrepancies": []}))]
pub struct RecordAnswer {
    pub session_id: Uuid,
    /// `accepted` (billed to our driver, once) or `disputed` (held for our operators).
    pub verdict: String,
    /// What does not add up, when disputed.
    #[schema(value_type = Vec<Object>)]
    pub discrepancies: Vec<serde_json::Value>,
}

/// Closes a session with its charge record. Sending the same record again gets the same answer
/// and bills nothing twice.
#[utoipa::path(post, path = "/sessions/{session_id}/charge-record", tag = "partner-cpo", security(("oauth2" = ["cpo"])),
    params(("session_id" = Uuid, Path, description = "our session id, as in the `start_session` command")),
    request_body = ChargeRecordInput,
    responses(
        (status = 200, body = RecordAnswer, description = "accepted, or disputed with what does not add up"),
        (status = 403, body = ErrorBody, description = "the token lacks the `cpo` scope, or the partner is no approved operator"),
        (status = 404, body = ErrorBody, description = "no session of yours has this id"),
        (status = 409, body = ErrorBody, description = "`order_state`: the session cannot take a record now"),
        (status = 422, body = ErrorBody, description = "invalid record: every bad field is named (e.g. `periods[1].energy_kwh`)")))]
async fn charge_record(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Path(session_id): Path<Uuid>,
    Json(input): Json<ChargeRecordInput>,
) -> ApiResult<Json<RecordAnswer>> {
    principal.require_scope(SCOPE)?;
    let seq = state.services.operator_session_seq(principal.partner_id, session_id).await?;
    let record = Figures::default().charge_record(seq, &input, state.services.now())?;
    let verdict = state.services.on_charge_order(principal.partner_id, record).await?;
    let (verdict, discrepancies) = match verdict {
        RecordVerdict::Accepted => ("accepted", Vec::new()),
        RecordVerdict::Disputed(list) => ("disputed", list.iter().map(|d| serde_json::to_value(d).unwrap_or_default()).collect()),
    };
    Ok(Json(RecordAnswer { session_id, verdict: verdict.into(), discrepancies }))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"type": "expired", "at": "2026-12-05T09:45:00+08:00"}))]
pub struct ReservationEventInput {
    /// `expired`, `used`, `cancelled` or `failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub at: DateTime<FixedOffset>,
}

/// Reports that a reservation we made at your connector ended without our asking.
#[utoipa::path(post, path = "/reservations/{reservation_id}/events", tag = "partner-cpo", security(("oauth2" = ["cpo"])),
    params(("reservation_id" = Uuid, Path, description = "our reservation id, as in the `reserve` command")),
    request_body = ReservationEventInput,
    responses(
        (status = 200, body = SessionState, description = "recorded (or a repeat)"),
        (status = 403, body = ErrorBody, description = "the token lacks the `cpo` scope, or the partner is no approved operator"),
        (status = 404, body = ErrorBody, description = "no reservation of yours has this id"),
        (status = 409, body = ErrorBody, description = "`order_state`: the reservation cannot end this way now"),
        (status = 422, body = ErrorBody, description = "invalid event")))]
async fn reservation_event(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Path(reservation_id): Path<Uuid>,
    Json(event): Json<ReservationEventInput>,
) -> ApiResult<Json<SessionState>> {
    principal.require_scope(SCOPE)?;
    let end = match event.kind.as_str() {
        "expired" => ReservationEnd::Expired,
        "used" => ReservationEnd::Used,
        "cancelled" => ReservationEnd::Cancelled,
        "failed" => ReservationEnd::Failed,
        other => return Err(Error::invalid("type", format!("{other:?} is not expired, used, cancelled or failed"), "预约结束类型无效").into()),
    };
    let mut figures = Figures::default();
    figures.observed("at", event.at, state.services.now());
    figures.done()?;
    let seq = state.services.operator_session_seq(principal.partner_id, reservation_id).await?;
    let view = state.services.on_reserve_result(principal.partner_id, &seq, end, event.at.with_timezone(&Utc)).await?;
    Ok(Json(SessionState { session_id: reservation_id, state: view.state.to_string() }))
}

/// The stop reasons of the guide.
pub(super) fn stop_reason(word: &str) -> Option<StopReason> {
    Some(match word {
        "user" => StopReason::User,
        "platform" => StopReason::Platform,
        "bms" => StopReason::Bms,
        "charger_fault" => StopReason::ChargerFault,
        "disconnected" => StopReason::Disconnected,
        _ => return None,
    })
}
