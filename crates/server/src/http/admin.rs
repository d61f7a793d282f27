//! Admin API: log in, list and inspect partners, and review them (approve, reject with a
//! reason, suspend, reinstate). Every action is audited with the admin's name.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use domain::partner::Partner;
use domain::partner::{Protocol, ReviewAction, ReviewState};
use serde::Deserialize;
use services::Error;
use services::admin_auth::AdminSession;
use services::onboarding::{Actor, PartnerDetail};
use store::partners::PartnerFilter;
use store::{Page, PageRequest};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Admin, Json, Path, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(list_partners))
        .routes(routes!(show_partner))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(suspend))
        .routes(routes!(reinstate))
        .routes(routes!(download_document))
        .routes(routes!(sync_catalog))
        .routes(routes!(refresh_prices))
        .routes(routes!(terms, set_terms))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Log in; use the returned token as `Authorization: Bearer …`.
#[utoipa::path(post, path = "/login", tag = "admin", request_body = LoginRequest,
    responses((status = 200, body = AdminSession), (status = 401, body = ErrorBody)))]
async fn login(State(state): State<AppState>, Json(request): Json<LoginRequest>) -> ApiResult<Json<AdminSession>> {
    Ok(Json(state.services.admin_login(&request.username, &request.password).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// submitted, approved, rejected or suspended
    pub state: Option<String>,
    /// cec102, ocpi221 or rest_api
    pub protocol: Option<String>,
    /// Part of the company name, credit code or OperatorID.
    pub q: Option<String>,
    /// From 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// 1 to 200 (default 20).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

pub(crate) fn page_request(page: Option<u32>, per_page: Option<u32>) -> Result<PageRequest, Error> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(20);
    if page == 0 {
        return Err(Error::invalid("page", "counts from 1", "页码从 1 开始"));
    }
    if !(1..=200).contains(&per_page) {
        return Err(Error::invalid("per_page", "must be 1 to 200", "每页条数须为 1 至 200"));
    }
    Ok(PageRequest { page, per_page })
}

/// Partners, newest first, filtered and paged.
#[utoipa::path(get, path = "/partners", tag = "admin", security(("admin_session" = [])), params(ListParams),
    responses((status = 200, body = Page<Partner>), (status = 422, body = ErrorBody)))]
async fn list_partners(State(state): State<AppState>, _admin: Admin, Query(params): Query<ListParams>) -> ApiResult<Json<Page<Partner>>> {
    let filter = PartnerFilter {
        state: params
            .state
            .map(|s| ReviewState::parse(&s).ok_or_else(|| Error::invalid("state", "must be submitted, approved, rejected or suspended", "状态取值不合法")))
            .transpose()?,
        protocol: params
            .protocol
            .map(|p| Protocol::parse(&p).ok_or_else(|| Error::invalid("protocol", "must be cec102, ocpi221 or rest_api", "协议取值不合法")))
            .transpose()?,
        search: params.q.filter(|q| !q.trim().is_empty()),
    };
    let page = page_request(params.page, params.per_page)?;
    Ok(Json(state.services.list_partners(&filter, page).await?))
}

/// One partner with its documents and review history.
#[utoipa::path(get, path = "/partners/{id}", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = PartnerDetail), (status = 404, body = ErrorBody)))]
async fn show_partner(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<PartnerDetail>> {
    Ok(Json(state.services.partner_detail(id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ReasonRequest {
    /// Shown to the partner; say what to fix (2 to 500 characters).
    pub reason: String,
}

async fn act(state: &AppState, admin: Admin, id: Uuid, action: ReviewAction) -> ApiResult<Json<Partner>> {
    Ok(Json(state.services.review(id, action, &Actor::Admin(admin.0)).await?))
}

/// Approve (审核通过): credentials are issued.
#[utoipa::path(post, path = "/partners/{id}/approve", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = Partner), (status = 409, body = ErrorBody, description = "not in review")))]
async fn approve(State(state): State<AppState>, admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<Partner>> {
    act(&state, admin, id, ReviewAction::Approve).await
}

/// Reject with a reason the partner reads (审核不通过).
#[utoipa::path(post, path = "/partners/{id}/reject", tag = "admin", security(("admin_session" = [])), request_body = ReasonRequest,
    responses((status = 200, body = Partner), (status = 409, body = ErrorBody, description = "not in a state to do this"),
        (status = 422, body = ErrorBody, description = "the reason is missing, too short or too long")))]
async fn reject(State(state): State<AppState>, admin: Admin, Path(id): Path<Uuid>, Json(r): Json<ReasonRequest>) -> ApiResult<Json<Partner>> {
    act(&state, admin, id, ReviewAction::Reject { reason: r.reason }).await
}

/// Suspend an approved partner: its tokens stop working at once.
#[utoipa::path(post, path = "/partners/{id}/suspend", tag = "admin", security(("admin_session" = [])), request_body = ReasonRequest,
    responses((status = 200, body = Partner), (status = 409, body = ErrorBody, description = "not in a state to do this"),
        (status = 422, body = ErrorBody, description = "the reason is missing, too short or too long")))]
async fn suspend(State(state): State<AppState>, admin: Admin, Path(id): Path<Uuid>, Json(r): Json<ReasonRequest>) -> ApiResult<Json<Partner>> {
    act(&state, admin, id, ReviewAction::Suspend { reason: r.reason }).await
}

#[utoipa::path(post, path = "/partners/{id}/reinstate", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = Partner), (status = 409, body = ErrorBody)))]
async fn reinstate(State(state): State<AppState>, admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<Partner>> {
    act(&state, admin, id, ReviewAction::Reinstate).await
}

/// Download a qualification document.
#[utoipa::path(get, path = "/partners/{id}/documents/{document_id}", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, description = "the file"), (status = 404, body = ErrorBody)))]
async fn download_document(State(state): State<AppState>, _admin: Admin, Path((id, document_id)): Path<(Uuid, Uuid)>) -> ApiResult<Response> {
    let (record, bytes) = state.services.document(id, document_id).await?;
    let disposition = format!("attachment; filename=\"{}\"", record.file_name.replace(['"', '\\'], "_"));
    Response::builder()
        .header(header::CONTENT_TYPE, record.content_type)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header("x-content-type-options", "nosniff")
        .body(Body::from(bytes))
        .map_err(|e| Error::Internal(e.to_string()).into())
}

/// Pull the partner's stations now (flow A catalog sync; incremental after the first time).
#[utoipa::path(post, path = "/partners/{id}/sync", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = services::catalog::SyncReport), (status = 503, body = ErrorBody, description = "partner unreachable")))]
async fn sync_catalog(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<services::catalog::SyncReport>> {
    Ok(Json(state.services.sync_catalog(id).await?))
}

/// Ask the partner for the prices of all its stations now (what the daily price refresh does):
/// prices changed without a change to the station are noticed this way. A station whose prices
/// cannot be had keeps the last known.
#[utoipa::path(post, path = "/partners/{id}/prices/refresh", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = services::price_refresh::PriceRefreshReport), (status = 403, body = ErrorBody, description = "not an approved operator"),
        (status = 404, body = ErrorBody)))]
async fn refresh_prices(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<services::price_refresh::PriceRefreshReport>> {
    Ok(Json(state.services.refresh_prices(id).await?))
}

/// The commercial terms with a partner: our commission (flow A), its revenue share and the
/// price policy for its users at our stations (flow B).
#[utoipa::path(get, path = "/partners/{id}/terms", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = services::charging::PartnerTerms), (status = 404, body = ErrorBody)))]
async fn terms(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<services::charging::PartnerTerms>> {
    state.services.partner(id).await?;
    Ok(Json(state.services.partner_terms(id).await?))
}

/// Replace the terms; they apply to orders from now on and the change is audited.
#[utoipa::path(put, path = "/partners/{id}/terms", tag = "admin", security(("admin_session" = [])),
    request_body = services::charging::PartnerTerms,
    responses((status = 200, body = services::charging::PartnerTerms), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_terms(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<Uuid>,
    Json(terms): Json<services::charging::PartnerTerms>,
) -> ApiResult<Json<services::charging::PartnerTerms>> {
    Ok(Json(state.services.set_partner_terms(id, &terms, &Actor::Admin(admin.0)).await?))
}
