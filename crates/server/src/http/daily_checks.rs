//! Finance: our daily check of flow-A orders (每日对账) — the findings per partner and day, and
//! running the check for a day now.

use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use store::Page;
use store::daily_checks::{DailyCheckFilter, DailyCheckRecord};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::admin::page_request;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Admin, Json, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run, list))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub partner_id: Option<Uuid>,
    /// Beijing day, `YYYY-MM-DD`.
    pub day: Option<NaiveDate>,
    /// Only checks that found something.
    #[serde(default)]
    pub with_findings: bool,
    #[param(minimum = 1)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

/// Daily checks, newest day first: for each partner and day, the orders looked at and what was
/// found (no charge record, disputed record, not billed, unpaid, payment mismatch, no
/// settlement line).
#[utoipa::path(get, path = "/daily-checks", tag = "settlement", security(("admin_session" = [])), params(ListParams),
    responses((status = 200, body = Page<DailyCheckRecord>)))]
async fn list(State(state): State<AppState>, _admin: Admin, Query(p): Query<ListParams>) -> ApiResult<Json<Page<DailyCheckRecord>>> {
    let filter = DailyCheckFilter { partner_id: p.partner_id, day: p.day, with_findings: p.with_findings };
    Ok(Json(state.services.daily_checks(&filter, page_request(p.page, p.per_page)?).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RunRequest {
    /// Beijing day to check (default: yesterday). Checking a day again replaces its results.
    #[schema(value_type = Option<String>, example = "2026-11-22")]
    pub day: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct RunReport {
    #[schema(value_type = String)]
    pub day: NaiveDate,
    pub checks: Vec<DailyCheckRecord>,
}

/// Run the daily check for a day now (the worker runs it for yesterday every hour).
#[utoipa::path(post, path = "/daily-checks", tag = "settlement", security(("admin_session" = [])), request_body = RunRequest,
    responses((status = 200, body = RunReport), (status = 422, body = ErrorBody)))]
async fn run(State(state): State<AppState>, _admin: Admin, Json(r): Json<RunRequest>) -> ApiResult<Json<RunReport>> {
    let day = r.day.unwrap_or_else(|| state.services.yesterday());
    Ok(Json(RunReport { day, checks: state.services.run_daily_check(day).await? }))
}
