//! Orders for admins and finance: the list across flows and partners, one order's story, and
//! refunds. Every refund names the admin and the reason in the audit log.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use services::admin_orders::{AdminOrderDetail, AdminOrderView};
use services::disputes::Resolution;
use services::payments::{PaymentView, RefundResult};
use store::Page;
use store::orders::OrderFilter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::admin::page_request;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Admin, Json, Path, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(show)).routes(routes!(refund)).routes(routes!(payments)).routes(routes!(resolve))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The operator (flow A) or platform (flow B) partner.
    pub partner_id: Option<Uuid>,
    /// `a`, `b` or `own`.
    pub flow: Option<String>,
    /// An order state such as `charging`, `billed`, `unknown_outcome`.
    pub state: Option<String>,
    /// A StartChargeSeq, exactly.
    pub seq: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

/// Orders of every flow, newest first, by partner, flow, state or seq (订单查询).
#[utoipa::path(get, path = "/orders", tag = "admin", security(("admin_session" = [])), params(ListParams),
    responses((status = 200, body = Page<AdminOrderView>), (status = 422, body = ErrorBody)))]
async fn list(State(state): State<AppState>, _admin: Admin, Query(p): Query<ListParams>) -> ApiResult<Json<Page<AdminOrderView>>> {
    let filter = OrderFilter { partner_id: p.partner_id, flow: p.flow, state: p.state, seq: p.seq };
    Ok(Json(state.services.admin_orders(&filter, page_request(p.page, p.per_page)?).await?))
}

/// One order with every transition and its bill.
#[utoipa::path(get, path = "/orders/{id}", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = AdminOrderDetail), (status = 404, body = ErrorBody)))]
async fn show(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<AdminOrderDetail>> {
    Ok(Json(state.services.admin_order(id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RefundRequest {
    /// Why the money goes back (2 to 500 characters); kept in the audit log.
    pub reason: String,
}

/// Refund a paid order in full (退款): back to the wallet, or through the gateway it was paid
/// with. 200 when the money is back; 202 when the gateway has not confirmed yet (it is asked
/// again until it does). Asking again changes nothing.
#[utoipa::path(post, path = "/orders/{id}/refund", tag = "admin", security(("admin_session" = [])), request_body = RefundRequest,
    responses((status = 200, body = Vec<PaymentView>, description = "refunded"),
              (status = 202, body = Vec<PaymentView>, description = "refund under way at the gateway"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the order is not paid"),
              (status = 422, body = ErrorBody, description = "no reason given")))]
async fn refund(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<Uuid>,
    Json(r): Json<RefundRequest>,
) -> ApiResult<(StatusCode, Json<Vec<PaymentView>>)> {
    Ok(match state.services.refund_order(&admin.0, id, &r.reason).await? {
        RefundResult::Refunded(payments) => (StatusCode::OK, Json(payments)),
        RefundResult::InProgress(payments) => (StatusCode::ACCEPTED, Json(payments)),
    })
}

/// An order's payments, oldest first (for finance).
#[utoipa::path(get, path = "/orders/{id}/payments", tag = "admin", security(("admin_session" = [])),
    responses((status = 200, body = Vec<PaymentView>)))]
async fn payments(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>) -> ApiResult<Json<Vec<PaymentView>>> {
    Ok(Json(state.services.payments_of_order(id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ResolveRequest {
    /// `bill_computed` (our figures from the record's detail lines), `bill_partner` (the
    /// partner's totals) or `write_off` (the driver pays nothing).
    pub resolution: Resolution,
    /// Why (2 to 500 characters); kept in the audit log and shown with the order.
    pub note: String,
}

/// Settle a disputed charge record (争议订单处理): the order is billed once on the chosen
/// figures and goes on to payment and settlement as usual, or is written off. Audited.
#[utoipa::path(post, path = "/orders/{id}/resolve", tag = "admin", security(("admin_session" = [])), request_body = ResolveRequest,
    responses((status = 200, body = AdminOrderDetail, description = "billed or written off"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the order is not disputed"),
              (status = 422, body = ErrorBody, description = "no note, or nothing to compute from")))]
async fn resolve(State(state): State<AppState>, admin: Admin, Path(id): Path<Uuid>, Json(r): Json<ResolveRequest>) -> ApiResult<Json<AdminOrderDetail>> {
    Ok(Json(state.services.resolve_dispute(&admin.0, id, r.resolution, &r.note).await?))
}
