//! Partners' own statements (对方对账单) as CSV: the partner uploads its statement of a period
//! through the portal, or finance uploads the one it received; flow-B statements of exactly
//! that period are reconciled against it.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use services::Error;
use services::onboarding::Actor;
use store::Page;
use store::partner_statements::PartnerStatementSummary;
use store::statements::StatementRecord;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::admin::page_request;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Admin, Json, PartnerToken, Path, PortalPartner, Query};
use super::statements::{LinesParams, PageParams, StatementLinesPage};

/// Largest CSV accepted (about 200,000 rows).
const MAX_CSV_BYTES: usize = 16 * 1024 * 1024;

pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(admin_upload, admin_list).layer(DefaultBodyLimit::max(MAX_CSV_BYTES)))
}

pub fn portal_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(portal_upload, portal_list).layer(DefaultBodyLimit::max(MAX_CSV_BYTES)))
}

/// Statements over the partner API (either role): ours, as issued, and the partner's own upload.
pub fn partner_api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issued_list))
        .routes(routes!(issued_one))
        .routes(routes!(issued_lines))
        .routes(routes!(api_upload, api_list).layer(DefaultBodyLimit::max(MAX_CSV_BYTES)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Period {
    /// Inclusive start of the settlement period, RFC 3339 — the same period finance draws the
    /// statement up for.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// Partners' spreadsheets are often saved in GBK; say so rather than misreading them.
fn utf8(body: &Bytes) -> Result<&str, Error> {
    std::str::from_utf8(body)
        .map_err(|_| Error::invalid("csv", "the file is not UTF-8 text; save it as \"CSV UTF-8\"", "文件不是 UTF-8 编码，请另存为「CSV UTF-8」格式"))
}

/// Upload the partner's statement of a period (text/csv body: `order_seq,energy_kwh,amount`,
/// header required, columns in any order; Chinese headers `订单号,充电量,金额` also work). A new
/// upload for the same period replaces the earlier one until our statement is confirmed.
#[utoipa::path(put, path = "/partners/{id}/partner-statements", tag = "settlement", security(("admin_session" = [])), params(Period),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = PartnerStatementSummary), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "every bad row, with its line number")))]
async fn admin_upload(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<Uuid>,
    Query(p): Query<Period>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<PartnerStatementSummary>)> {
    let summary = state.services.upload_partner_statement(id, p.start, p.end, utf8(&body)?, &Actor::Admin(admin.0)).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

/// A partner's uploaded statements, newest period first.
#[utoipa::path(get, path = "/partners/{id}/partner-statements", tag = "settlement", security(("admin_session" = [])), params(PageParams),
    responses((status = 200, body = Page<PartnerStatementSummary>, example = json!({"items": [{"id": "0193a5b2-9a10-7c55-8e21-5f6a7b8c9d01", "partner_id": "0193a5b2-7c1e-7d3a-9f00-2b1c4d5e6f70", "period_start": "2026-10-31T16:00:00Z", "period_end": "2026-11-30T16:00:00Z", "entry_count": 1284, "total_energy": "25318.420", "total_amount": "30961.57", "uploaded_by": "partner", "uploaded_at": "2026-12-01T02:00:00Z"}], "page": 1, "per_page": 50, "total": 1}))))]
async fn admin_list(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<Uuid>,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<PartnerStatementSummary>>> {
    Ok(Json(state.services.partner_statements(id, page_request(p.page, p.per_page)?).await?))
}

/// Upload your statement of a settlement period (上传对账单): your users' sessions on our piles,
/// one row per StartChargeSeq. Body `text/csv` with header `order_seq,energy_kwh,amount`.
#[utoipa::path(put, path = "/partners/me/statements", tag = "portal", security(("portal_token" = [])), params(Period),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = PartnerStatementSummary), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "every bad row, with its line number")))]
async fn portal_upload(
    State(state): State<AppState>,
    PortalPartner(partner): PortalPartner,
    Query(p): Query<Period>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<PartnerStatementSummary>)> {
    let summary = state.services.upload_partner_statement(partner.id, p.start, p.end, utf8(&body)?, &Actor::Partner(partner.id)).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

/// The statements you uploaded, newest period first.
#[utoipa::path(get, path = "/partners/me/statements", tag = "portal", security(("portal_token" = [])), params(PageParams),
    responses((status = 200, body = Page<PartnerStatementSummary>, example = json!({"items": [{"id": "0193a5b2-9a10-7c55-8e21-5f6a7b8c9d01", "partner_id": "0193a5b2-7c1e-7d3a-9f00-2b1c4d5e6f70", "period_start": "2026-10-31T16:00:00Z", "period_end": "2026-11-30T16:00:00Z", "entry_count": 1284, "total_energy": "25318.420", "total_amount": "30961.57", "uploaded_by": "partner", "uploaded_at": "2026-12-01T02:00:00Z"}], "page": 1, "per_page": 50, "total": 1}))))]
async fn portal_list(
    State(state): State<AppState>,
    PortalPartner(partner): PortalPartner,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<PartnerStatementSummary>>> {
    Ok(Json(state.services.partner_statements(partner.id, page_request(p.page, p.per_page)?).await?))
}

/// Our statements issued to you (confirmed or paid), newest period first: what we owe you for
/// our drivers' sessions at your chargers, or you owe us for your users' sessions at ours.
#[utoipa::path(get, path = "/statements", tag = "partner", security(("oauth2" = [])), params(PageParams),
    responses((status = 200, body = Page<StatementRecord>, example = json!({"items": [{"id": "0193a5b4-2c33-7a41-95e6-f7a8b9c0d1e2", "partner_id": "0193a5b2-7c1e-7d3a-9f00-2b1c4d5e6f70", "period_start": "2026-10-31T16:00:00Z", "period_end": "2026-11-30T16:00:00Z", "state": "confirmed", "body": {"order_count": 1284, "total_energy": "25318.420", "gross": "30961.57", "partner_amount": "28794.26", "our_amount": "2167.31", "net_to_partner": "28794.26"}, "differences": [], "reconciled_with": "partner_statement", "created_at": "2026-12-01T01:00:00Z", "updated_at": "2026-12-01T03:00:00Z"}], "page": 1, "per_page": 50, "total": 1})), (status = 401, body = ErrorBody)))]
async fn issued_list(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<StatementRecord>>> {
    Ok(Json(state.services.issued_statements(principal.partner_id, page_request(p.page, p.per_page)?).await?))
}

/// One of our statements issued to you, with its lines and what reconciliation found.
#[utoipa::path(get, path = "/statements/{id}", tag = "partner", security(("oauth2" = [])),
    params(("id" = Uuid, Path, description = "the statement id (as in `statement.ready`)")),
    responses((status = 200, body = StatementRecord), (status = 404, body = ErrorBody, description = "no statement issued to you has this id")))]
async fn issued_one(State(state): State<AppState>, PartnerToken(principal): PartnerToken, Path(id): Path<Uuid>) -> ApiResult<Json<StatementRecord>> {
    Ok(Json(state.services.issued_statement(principal.partner_id, id).await?))
}

/// Upload your statement of a settlement period, as in the portal: `text/csv` with header
/// `order_seq,energy_kwh,amount`; our statement of exactly that period is reconciled against it.
#[utoipa::path(put, path = "/partner-statements", tag = "partner", security(("oauth2" = [])), params(Period),
    request_body(content = String, content_type = "text/csv",
        example = json!("order_seq,energy_kwh,amount\nMA5FCTXX0202612051030000001,20.00,23.00\nMA5FCTXX0202612051412000002,7.50,8.63\n")),
    responses((status = 201, body = PartnerStatementSummary), (status = 409, body = ErrorBody, description = "our statement of the period is confirmed already"),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "every bad row, with its line number")))]
async fn api_upload(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Query(p): Query<Period>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<PartnerStatementSummary>)> {
    let id = principal.partner_id;
    let summary = state.services.upload_partner_statement(id, p.start, p.end, utf8(&body)?, &Actor::Partner(id)).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

/// The statements you uploaded, newest period first.
#[utoipa::path(get, path = "/partner-statements", tag = "partner", security(("oauth2" = [])), params(PageParams),
    responses((status = 200, body = Page<PartnerStatementSummary>, example = json!({"items": [{"id": "0193a5b2-9a10-7c55-8e21-5f6a7b8c9d01", "partner_id": "0193a5b2-7c1e-7d3a-9f00-2b1c4d5e6f70", "period_start": "2026-10-31T16:00:00Z", "period_end": "2026-11-30T16:00:00Z", "entry_count": 1284, "total_energy": "25318.420", "total_amount": "30961.57", "uploaded_by": "partner", "uploaded_at": "2026-12-01T02:00:00Z"}], "page": 1, "per_page": 50, "total": 1}))))]
async fn api_list(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Query(p): Query<PageParams>,
) -> ApiResult<Json<Page<PartnerStatementSummary>>> {
    Ok(Json(state.services.partner_statements(principal.partner_id, page_request(p.page, p.per_page)?).await?))
}

/// The lines of a statement issued to you, by page: one per order, in time order.
#[utoipa::path(get, path = "/statements/{id}/lines", tag = "partner", security(("oauth2" = [])), params(("id" = Uuid, Path), LinesParams),
    responses((status = 200, body = StatementLinesPage), (status = 404, body = ErrorBody, description = "no statement issued to you has this id"),
              (status = 422, body = ErrorBody)))]
async fn issued_lines(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Path(id): Path<Uuid>,
    Query(p): Query<LinesParams>,
) -> ApiResult<Json<StatementLinesPage>> {
    let record = state.services.issued_statement(principal.partner_id, id).await?;
    Ok(Json(super::statements::lines_page(&state, &record, &p).await?))
}
