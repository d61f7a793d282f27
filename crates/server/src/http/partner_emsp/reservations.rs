//! Reservations: a platform partner holds one of our connectors for its user for 1–60 minutes
//! (if its terms allow). Unlike a start, a reservation is answered once the pile answered, so
//! the answer says whether the hold is in place. The partner's next start on that connector
//! takes the hold over (`reservation.used`); a hold that runs out ends as `reservation.expired`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use services::Error;
use services::pile_reservations::{CancelAnswer, ReserveAnswer, ReserveFailure, ReserveOutcome};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{SCOPE, idempotent};
use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::{Json, PartnerToken, Path};

/// The operation idempotency keys of reservations are kept under.
const RESERVE: &str = "reservation.create";

#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"connector_id": "CB000100101", "minutes": 15}))]
pub struct ReserveRequest {
    /// Our connector id (from `GET /stations`).
    #[schema(min_length = 1, max_length = 64, example = "CB0001-1")]
    pub connector_id: String,
    /// How long to hold it (at most what the partner's terms allow, and 60).
    #[schema(minimum = 1, maximum = 60, example = 15)]
    pub minutes: i64,
}

/// A hold in place.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b3-0a11-7e2f-b3c4-d5e6f7a8b9c0", "connector_id": "SZ-NS-001-P1-1", "state": "reserving", "expires_at": "2026-12-05T01:45:00Z"}))]
pub struct ReservationView {
    /// Our reservation id (what `DELETE /reservations/{id}` takes).
    pub id: Uuid,
    pub connector_id: String,
    /// Always `reserved` in this answer.
    pub state: &'static str,
    pub expires_at: DateTime<Utc>,
}

/// The outcome in the words of this API (also the suffix of `reservation.*` webhooks).
pub fn outcome_word(outcome: ReserveOutcome) -> &'static str {
    match outcome {
        ReserveOutcome::Reserved => "confirmed",
        ReserveOutcome::Cancelled => "cancelled",
        ReserveOutcome::Expired => "expired",
        ReserveOutcome::Used => "used",
        ReserveOutcome::Failed => "failed",
    }
}

fn conflict(code: &'static str, message: impl Into<String>, message_zh: impl Into<String>) -> Error {
    Error::Conflict { code, field: None, message: message.into(), message_zh: message_zh.into() }
}

fn answer(connector_id: String, answer: ReserveAnswer, id: Option<Uuid>) -> Result<ReservationView, Error> {
    match (answer.outcome, answer.failure, answer.expires_at, id) {
        (ReserveOutcome::Reserved, _, Some(expires_at), Some(id)) => Ok(ReservationView { id, connector_id, state: "reserved", expires_at }),
        (ReserveOutcome::Failed, Some(ReserveFailure::UnknownConnector), ..) => Err(Error::not_found("connector")),
        (ReserveOutcome::Failed, Some(ReserveFailure::Offline), ..) => {
            Err(conflict("pile_offline", "the pile of this connector is not connected to us or did not answer", "该充电枪所在的充电桩离线或未应答"))
        }
        (ReserveOutcome::Failed, Some(ReserveFailure::NotFree), ..) => Err(conflict("connector_busy", "the connector is not free", "该充电枪当前不可预约")),
        (ReserveOutcome::Failed, ..) => Err(conflict("reservation_refused", "the pile refused the reservation", "充电桩拒绝了预约")),
        (outcome, ..) => Err(conflict(
            "reservation_not_active",
            format!("the reservation has already ended ({})", outcome_word(outcome)),
            format!("该预约已结束（{}）", outcome_word(outcome)),
        )),
    }
}

/// Holds a connector for this partner's user. Answered once the pile answered: 201 with the
/// hold, or why not.
#[utoipa::path(post, path = "/reservations", tag = "partner", security(("oauth2" = ["emsp"])), request_body = ReserveRequest,
    params(("Idempotency-Key" = String, Header, description = "unique per intended reservation, 1–255 characters; kept so retries get the first answer", min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7E]([\\x20-\\x7E]*[\\x21-\\x7E])?$")),
    responses(
        (status = 201, body = ReservationView, description = "the connector is held until `expires_at`"),
        (status = 400, body = ErrorBody, description = "`idempotency_key_required` / `idempotency_key_invalid`, or an unreadable body"),
        (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, the partner is no approved platform, or reservations are not in its terms"),
        (status = 404, body = ErrorBody, description = "no such connector, or not one this partner may use"),
        (status = 409, body = ErrorBody, description = "`pile_offline`, `connector_busy`, `reservation_refused` or `reservation_not_active`"),
        (status = 422, body = ErrorBody, description = "`idempotency_key_reused`, or invalid input (minutes beyond the partner's limit)")))]
pub async fn reserve(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    headers: HeaderMap,
    Json(body): Json<ReserveRequest>,
) -> ApiResult<Response> {
    principal.require_scope(SCOPE)?;
    let partner = principal.partner_id;
    let (state, body) = (&state, &body);
    idempotent::run(state, partner, RESERVE, &headers, body, |seq| async move {
        let made = state.services.rest_reserve(partner, &seq, &body.connector_id, body.minutes).await;
        match made.and_then(|(a, id)| answer(body.connector_id.clone(), a, id)) {
            Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
            Err(e) => crate::http::error::ApiError(e).into_response(),
        }
    })
    .await
}

/// Releases a hold of this partner's.
#[utoipa::path(delete, path = "/reservations/{id}", tag = "partner", security(("oauth2" = ["emsp"])),
    params(("id" = Uuid, Path, description = "our reservation id")),
    responses(
        (status = 204, description = "released"),
        (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform"),
        (status = 409, body = ErrorBody, description = "`reservation_not_active`: it has already ended (expired, used or cancelled)")))]
pub async fn cancel_reservation(State(state): State<AppState>, PartnerToken(principal): PartnerToken, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    principal.require_scope(SCOPE)?;
    match state.services.rest_cancel_reservation(principal.partner_id, id).await? {
        None | Some(CancelAnswer::NoSuchReservation) => Err(Error::not_found("reservation").into()),
        Some(CancelAnswer::Cancelled) => Ok(StatusCode::NO_CONTENT),
        Some(CancelAnswer::AlreadyEnded(outcome)) => Err(conflict(
            "reservation_not_active",
            format!("the reservation has already ended ({})", outcome_word(outcome)),
            format!("该预约已结束（{}）", outcome_word(outcome)),
        )
        .into()),
    }
}
