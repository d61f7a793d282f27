//! Finance: settlement statements per partner and period — draw up (reconciled), list, view,
//! export as CSV, confirm, mark paid.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::settlement::StatementState;
use serde::Deserialize;
use services::onboarding::Actor;
use store::Page;
use store::statements::StatementRecord;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::admin::page_request;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Admin, Json, Path, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(draw_up, list)).routes(routes!(show)).routes(routes!(csv)).routes(routes!(confirm)).routes(routes!(mark_paid))
}

#[derive(Deserialize, ToSchema)]
pub struct PeriodRequest {
    /// Inclusive start, RFC 3339 (e.g. the first day of the month, 00:00 Beijing time).
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    #[param(minimum = 1)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

/// Draw up the statement for a period (again, while it is a draft): both flows' lines, netted,
/// with the differences reconciliation found (our payments; the partner's check of our orders).
#[utoipa::path(post, path = "/partners/{id}/statements", tag = "settlement", security(("admin_session" = [])), request_body = PeriodRequest,
    responses((status = 201, body = StatementRecord), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn draw_up(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<Uuid>,
    Json(p): Json<PeriodRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<StatementRecord>)> {
    let record = state.services.draw_up_statement(id, p.start, p.end, &Actor::Admin(admin.0)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(record)))
}

/// A partner's statements, newest period first.
#[utoipa::path(get, path = "/partners/{id}/statements", tag = "settlement", security(("admin_session" = [])), params(PageParams),
    responses((status = 200, body = Page<StatementRecord>)))]
async fn list(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>, Query(p): Query<PageParams>) -> ApiResult<Json<Page<StatementRecord>>> {
    Ok(Json(state.services.statements(id, page_request(p.page, p.per_page)?).await?))
}

#[utoipa::path(get, path = "/statements/{id}", tag = "settlement", security(("admin_session" = [])),
    responses((status = 200, body = StatementRecord), (status = 404, body = ErrorBody)))]
async fn show(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<StatementRecord>> {
    Ok(Json(state.services.statement(id).await?))
}

/// The statement as CSV: one row per order, then the totals.
#[utoipa::path(get, path = "/statements/{id}/csv", tag = "settlement", security(("admin_session" = [])),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 404, body = ErrorBody)))]
async fn csv(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Response> {
    let body = state.services.statement_csv(id).await?;
    let disposition = format!("attachment; filename=\"statement-{id}.csv\"");
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

/// Confirm a draft: it is frozen from now on.
#[utoipa::path(post, path = "/statements/{id}/confirm", tag = "settlement", security(("admin_session" = [])),
    responses((status = 200, body = StatementRecord), (status = 409, body = ErrorBody)))]
async fn confirm(State(state): State<AppState>, admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<StatementRecord>> {
    Ok(Json(state.services.advance_statement(id, StatementState::Confirmed, &Actor::Admin(admin.0)).await?))
}

/// Record that the net amount was transferred.
#[utoipa::path(post, path = "/statements/{id}/paid", tag = "settlement", security(("admin_session" = [])),
    responses((status = 200, body = StatementRecord), (status = 409, body = ErrorBody)))]
async fn mark_paid(State(state): State<AppState>, admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<StatementRecord>> {
    Ok(Json(state.services.advance_statement(id, StatementState::Paid, &Actor::Admin(admin.0)).await?))
}
