//! Admin view of deliveries to a partner (the outbox): list by status, inspect attempts and
//! errors, replay what was dead-lettered.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use services::Error;
use services::onboarding::Actor;
use store::Page;
use store::outbox::{Attempt, OutboxMessage, OutboxStatus};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::admin::page_request;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Admin, Json, Path, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(show)).routes(routes!(replay))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// pending, delivering, delivered or dead
    pub status: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

/// Deliveries to one partner, newest first.
#[utoipa::path(get, path = "/partners/{id}/deliveries", tag = "admin", security(("admin_session" = [])), params(DeliveryParams),
    responses((status = 200, body = Page<OutboxMessage>), (status = 422, body = ErrorBody)))]
async fn list(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>, Query(p): Query<DeliveryParams>) -> ApiResult<Json<Page<OutboxMessage>>> {
    let status = p
        .status
        .map(|s| OutboxStatus::parse(&s).ok_or_else(|| Error::invalid("status", "must be pending, delivering, delivered or dead", "状态取值不合法")))
        .transpose()?;
    Ok(Json(state.services.deliveries(id, status, page_request(p.page, p.per_page)?).await?))
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub message: OutboxMessage,
    pub attempts: Vec<Attempt>,
}

/// One delivery with every attempt and its error.
#[utoipa::path(get, path = "/partners/{id}/deliveries/{delivery_id}", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = ErrorBody)))]
async fn show(State(state): State<AppState>, _admin: Admin, Path((id, delivery)): Path<(Uuid, Uuid)>) -> ApiResult<Json<DeliveryDetail>> {
    let (message, attempts) = state.services.delivery(id, delivery).await?;
    Ok(Json(DeliveryDetail { message, attempts }))
}

/// Replay a dead-lettered delivery with a fresh retry budget.
#[utoipa::path(post, path = "/partners/{id}/deliveries/{delivery_id}/replay", tag = "admin", security(("admin_session" = [])),
    responses((status = 202, description = "queued again"), (status = 409, body = ErrorBody, description = "not dead-lettered")))]
async fn replay(State(state): State<AppState>, admin: Admin, Path((id, delivery)): Path<(Uuid, Uuid)>) -> ApiResult<StatusCode> {
    state.services.replay_delivery(id, delivery, &Actor::Admin(admin.0)).await?;
    Ok(StatusCode::ACCEPTED)
}
