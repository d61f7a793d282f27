//! Finance: settlement statements per partner and period — draw up (reconciled), list, view,
//! export as CSV, confirm, mark paid.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::settlement::StatementState;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
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
    OpenApiRouter::new()
        .routes(routes!(draw_up, list))
        .routes(routes!(show))
        .routes(routes!(csv))
        .routes(routes!(lines))
        .routes(routes!(confirm))
        .routes(routes!(mark_paid))
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

/// The statement as CSV: one row per order, then the totals; streamed, however long the period.
#[utoipa::path(get, path = "/statements/{id}/csv", tag = "settlement", security(("admin_session" = [])),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 404, body = ErrorBody)))]
async fn csv(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Response> {
    let chunks = state.services.statement_csv(id).await?;
    let body = axum::body::Body::from_stream(futures::StreamExt::map(chunks, |chunk| chunk.map(axum::body::Bytes::from)));
    let disposition = format!("attachment; filename=\"statement-{id}.csv\"");
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

/// One line of a statement: one paid (flow A) or billed (flow B) order.
#[derive(Serialize, ToSchema)]
pub struct StatementLineView {
    pub order_seq: String,
    /// `A`: our driver at the partner's pile; `B`: the partner's user at ours.
    pub flow: String,
    #[schema(value_type = String, example = "20.00")]
    pub energy_kwh: Decimal,
    #[schema(value_type = String, example = "23.0000")]
    pub gross: Decimal,
    #[schema(value_type = String, example = "22.0000")]
    pub partner_amount: Decimal,
    #[schema(value_type = String, example = "1.0000")]
    pub our_amount: Decimal,
    pub at: DateTime<Utc>,
}

/// A page of lines; `next_cursor` is absent on the last page.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"order_seq": "CB20261105093012000001", "flow": "A", "energy_kwh": "20.500", "gross": "22.55", "partner_amount": "20.97", "our_amount": "1.58", "at": "2026-11-05T01:30:12Z"}], "next_cursor": "MTI4NA"}))]
pub struct StatementLinesPage {
    pub items: Vec<StatementLineView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinesParams {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Lines per page (default 500).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<i64>,
}

/// A page of a statement's lines, for the statement `record` (already checked as the caller's).
pub async fn lines_page(state: &AppState, record: &StatementRecord, params: &LinesParams) -> ApiResult<StatementLinesPage> {
    let limit = params.limit.unwrap_or(500);
    if !(1..=5_000).contains(&limit) {
        return Err(services::Error::invalid("limit", "must be 1 to 5000", "须为 1 至 5000").into());
    }
    let after = match params.cursor.as_deref() {
        None => None,
        Some(cursor) => {
            let parsed = cursor.split_once('.').and_then(|(at, id)| Some((DateTime::from_timestamp_millis(at.parse().ok()?)?, id.parse::<Uuid>().ok()?)));
            Some(parsed.ok_or_else(|| services::Error::invalid("cursor", "is not a cursor this API gave", "游标无效"))?)
        }
    };
    let page = state.services.statement_lines(record, after, limit).await?;
    let next_cursor = (page.len() as i64 == limit).then(|| page.last().map(|l| format!("{}.{}", l.line.at.timestamp_millis(), l.line.order_id))).flatten();
    let items = page
        .into_iter()
        .map(|l| StatementLineView {
            order_seq: l.seq,
            flow: if l.line.flow == domain::settlement::Flow::A { "A".into() } else { "B".into() },
            energy_kwh: l.line.energy.value(),
            gross: l.line.gross.yuan(),
            partner_amount: l.line.partner_amount.yuan(),
            our_amount: l.line.our_amount.yuan(),
            at: l.line.at,
        })
        .collect();
    Ok(StatementLinesPage { items, next_cursor })
}

/// A statement's lines, by page (the statement itself carries only its totals).
#[utoipa::path(get, path = "/statements/{id}/lines", tag = "settlement", security(("admin_session" = [])), params(LinesParams),
    responses((status = 200, body = StatementLinesPage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn lines(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>, Query(p): Query<LinesParams>) -> ApiResult<Json<StatementLinesPage>> {
    let record = state.services.statement(id).await?;
    Ok(Json(lines_page(&state, &record, &p).await?))
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
