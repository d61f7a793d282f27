//! The driver app's charging API: find stations, watch live status, start / stop, orders,
//! wallet and payment.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::money::Money;
use futures::Stream;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use services::Error;
use services::catalog::{NearbyFilter, NearbyStation, StationSummary};
use services::charging::OrderView;
use services::payments::{GatewayPaymentStarted, PaymentView};
use services::prices::{PeriodPrice, PriceNow};
use store::users::WalletEntry;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::admin::page_request;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, Path, Query, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(nearby))
        .routes(routes!(station))
        .routes(routes!(status_stream))
        .routes(routes!(start))
        .routes(routes!(orders))
        .routes(routes!(order))
        .routes(routes!(stop))
        .routes(routes!(reserve))
        .routes(routes!(cancel_reservation))
        .routes(routes!(pay))
        .routes(routes!(payments))
        .routes(routes!(wallet))
        .routes(routes!(top_up))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyParams {
    /// Latitude, WGS-84 (or GCJ-02 with `coords=gcj02`).
    #[param(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[param(minimum = -180, maximum = 180)]
    pub lng: f64,
    /// Metres, 100 to 50,000 (default 5,000).
    #[param(minimum = 100, maximum = 50000)]
    pub radius_m: Option<f64>,
    /// Only stations with a free connector now.
    #[serde(default)]
    pub free_now: bool,
    pub min_power_kw: Option<Decimal>,
    #[serde(default)]
    pub dc_only: bool,
    /// Highest total price per kWh (yuan, electricity + service) the driver pays right now.
    pub max_price: Option<Decimal>,
    /// `wgs84` (default) or `gcj02` (Chinese maps): applies to the query and the results.
    pub coords: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct NearbyPage {
    pub items: Vec<NearbyStation>,
    pub page: u32,
    pub per_page: u32,
    /// Stations in the circle that pass the filters: exact when `total_exact`, otherwise an
    /// estimate (the search stops once the page is certain, without measuring the whole circle).
    pub total: usize,
    pub total_exact: bool,
}

fn gcj(params_coords: &Option<String>) -> Result<bool, Error> {
    match params_coords.as_deref() {
        None | Some("wgs84") => Ok(false),
        Some("gcj02") => Ok(true),
        Some(_) => Err(Error::invalid("coords", "must be wgs84 or gcj02", "坐标系须为 wgs84 或 gcj02")),
    }
}

/// Stations near a point, nearest first (附近充电站).
#[utoipa::path(get, path = "/stations/nearby", tag = "app", params(NearbyParams),
    responses((status = 200, body = NearbyPage), (status = 422, body = ErrorBody)))]
async fn nearby(State(state): State<AppState>, Query(p): Query<NearbyParams>) -> ApiResult<Json<NearbyPage>> {
    let to_gcj = gcj(&p.coords)?;
    let (lat, lng) = if to_gcj {
        let point = domain::geo::Gcj02::new(p.lat, p.lng).map_err(|e| Error::invalid("lat", e.to_string(), e.message_zh()))?.to_wgs84();
        (point.lat(), point.lng())
    } else {
        let point = domain::geo::Coordinate::new(p.lat, p.lng).map_err(|e| Error::invalid("lat", e.to_string(), e.message_zh()))?;
        (point.lat(), point.lng())
    };
    let radius = p.radius_m.unwrap_or(5_000.0);
    if !(100.0..=50_000.0).contains(&radius) {
        return Err(Error::invalid("radius_m", "must be 100 to 50000", "搜索半径须为 100 至 50000 米").into());
    }
    let page = page_request(p.page, p.per_page)?;
    if p.max_price.is_some_and(|m| m < Decimal::ZERO) {
        return Err(Error::invalid("max_price", "must not be negative", "最高电价不能为负数").into());
    }
    let filter = NearbyFilter { free_now: p.free_now, min_power_kw: p.min_power_kw, dc_only: p.dc_only, max_price: p.max_price };
    let found = state.services.nearby(lat, lng, radius, &filter, page.offset() as usize, page.per_page as usize);
    let mut items = found.items;
    if to_gcj {
        for item in &mut items {
            if let Ok(point) = domain::geo::Coordinate::new(item.station.lat, item.station.lng) {
                let g = point.to_gcj02();
                (item.station.lat, item.station.lng) = (g.lat(), g.lng());
            }
        }
    }
    Ok(Json(NearbyPage { items, page: page.page, per_page: page.per_page, total: found.total, total_exact: found.total_exact }))
}

#[derive(Serialize, ToSchema)]
pub struct StationDetail {
    #[serde(flatten)]
    pub station: StationSummary,
    pub connectors_live: Vec<ConnectorLive>,
    /// What the driver pays per kWh now (`None`: the operator has not published prices).
    pub price: Option<PriceNow>,
    /// The day's price periods as the driver pays them (Beijing time).
    pub prices: Vec<PeriodPrice>,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectorLive {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub status: domain::station::ConnectorStatus,
    pub status_label_zh: &'static str,
}

/// A station with its connectors, their live status and the prices the driver pays.
#[utoipa::path(get, path = "/stations/{id}", tag = "app", responses((status = 200, body = StationDetail), (status = 404, body = ErrorBody)))]
async fn station(State(state): State<AppState>, Path(id): Path<Uuid>) -> ApiResult<Json<StationDetail>> {
    let station = state.services.station_summary(id).ok_or(Error::not_found("station"))?;
    let now = state.services.now();
    let connectors_live = station
        .connectors
        .iter()
        .map(|c| {
            let status = state.services.hub.effective(c.id, now);
            ConnectorLive { id: c.id, status, status_label_zh: status.label_zh() }
        })
        .collect();
    let (price, prices) = state.services.station_prices(id).map_or((None, Vec::new()), |(now, day)| (Some(now), day));
    Ok(Json(StationDetail { station, connectors_live, price, prices }))
}

/// Live connector status changes as Server-Sent Events (`event: status`).
#[utoipa::path(get, path = "/status/stream", tag = "app", responses((status = 200, description = "text/event-stream of status changes")))]
async fn status_stream(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut changes = state.services.hub.subscribe();
    let shutdown = state.shutdown.clone();
    let stream = async_stream::stream! {
        loop {
            // The stream ends at shutdown, so the connection can close and the process exit.
            let received = tokio::select! {
                received = changes.recv() => received,
                () = shutdown.cancelled() => break,
            };
            match received {
                Ok(change) => {
                    if let Ok(event) = Event::default().event("status").json_data(&change) {
                        yield Ok(event);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    yield Ok(Event::default().event("lagged").data(missed.to_string()));
                }
                Err(_) => break,
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Deserialize, ToSchema)]
pub struct StartRequest {
    pub connector_id: Uuid,
}

/// Start charging (启动充电). The order is created first; its state and message say what happened.
#[utoipa::path(post, path = "/charging/start", tag = "app", security(("user_session" = [])), request_body = StartRequest,
    responses((status = 201, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "connector not free")))]
async fn start(State(state): State<AppState>, User(user): User, Json(r): Json<StartRequest>) -> ApiResult<(StatusCode, Json<OrderView>)> {
    Ok((StatusCode::CREATED, Json(state.services.start_charging(&user, r.connector_id).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct ReserveRequest {
    pub connector_id: Uuid,
    /// How long to hold the connector, 1 to 60 minutes (default 15).
    pub minutes: Option<u32>,
}

/// Reserve a connector (预约充电枪). The hold is an order in state `reserved` until
/// `reserved_until`; starting on that connector uses it.
#[utoipa::path(post, path = "/reservations", tag = "app", security(("user_session" = [])), request_body = ReserveRequest,
    responses((status = 201, body = OrderView), (status = 404, body = ErrorBody, description = "no such connector"),
              (status = 409, body = ErrorBody, description = "connector not free, or a reservation is already held"), (status = 422, body = ErrorBody)))]
async fn reserve(State(state): State<AppState>, User(user): User, Json(r): Json<ReserveRequest>) -> ApiResult<(StatusCode, Json<OrderView>)> {
    Ok((StatusCode::CREATED, Json(state.services.reserve(&user, r.connector_id, r.minutes.unwrap_or(15)).await?)))
}

/// Cancel a held reservation (取消预约).
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "app", security(("user_session" = [])),
    responses((status = 200, body = OrderView), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody, description = "the operator did not answer; the hold stays")))]
async fn cancel_reservation(State(state): State<AppState>, User(user): User, Path(id): Path<Uuid>) -> ApiResult<Json<OrderView>> {
    Ok(Json(state.services.cancel_reservation(&user, id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersParams {
    #[param(minimum = 1)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u32>,
}

/// The driver's orders, newest first (订单记录).
#[utoipa::path(get, path = "/orders", tag = "app", security(("user_session" = [])), params(OrdersParams), responses((status = 200, body = Vec<OrderView>)))]
async fn orders(State(state): State<AppState>, User(user): User, Query(p): Query<OrdersParams>) -> ApiResult<Json<Vec<OrderView>>> {
    let page = page_request(p.page, p.per_page)?;
    Ok(Json(state.services.orders_for_user(&user, page.limit(), page.offset()).await?))
}

/// One order: state, energy and cost so far, or the bill.
#[utoipa::path(get, path = "/orders/{id}", tag = "app", security(("user_session" = [])), responses((status = 200, body = OrderView), (status = 404, body = ErrorBody)))]
async fn order(State(state): State<AppState>, User(user): User, Path(id): Path<Uuid>) -> ApiResult<Json<OrderView>> {
    Ok(Json(state.services.order_for_user(&user, id).await?))
}

/// Stop charging (停止充电).
#[utoipa::path(post, path = "/orders/{id}/stop", tag = "app", security(("user_session" = [])),
    responses((status = 200, body = OrderView), (status = 409, body = ErrorBody)))]
async fn stop(State(state): State<AppState>, User(user): User, Path(id): Path<Uuid>) -> ApiResult<Json<OrderView>> {
    Ok(Json(state.services.stop_charging(&user, id).await?))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct PayRequest {
    /// `wallet` (default) or a payment gateway (`sandbox`).
    pub method: Option<String>,
}

/// Pay a billed order (支付): from the wallet (the default, answered with the paid order), or
/// through a payment gateway (`{"method": "sandbox"}`, answered with the page to pay on; the
/// order becomes paid when the gateway confirms). The body may be empty.
#[utoipa::path(post, path = "/orders/{id}/pay", tag = "app", security(("user_session" = [])),
    request_body(content = PayRequest, description = "optional: an empty body pays from the wallet"),
    responses((status = 200, body = OrderView, description = "paid from the wallet"),
              (status = 201, body = GatewayPaymentStarted, description = "gateway payment opened: send the user to `pay_url`"),
              (status = 409, body = ErrorBody, description = "not billed yet, already paid, or balance too low"),
              (status = 422, body = ErrorBody, description = "unknown method"),
              (status = 503, body = ErrorBody, description = "the payment gateway cannot be reached")))]
async fn pay(State(state): State<AppState>, User(user): User, Path(id): Path<Uuid>, body: Bytes) -> ApiResult<Response> {
    let request: PayRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PayRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Error::Malformed(format!("the body must be JSON such as {{\"method\": \"sandbox\"}}: {e}")))?
    };
    match request.method.as_deref().unwrap_or("wallet") {
        "wallet" => Ok(Json(state.services.pay_with_wallet(&user, id).await?).into_response()),
        method if state.services.payment_gateway.as_ref().is_some_and(|g| g.name() == method) => {
            Ok((StatusCode::CREATED, Json(state.services.start_gateway_payment(&user, id).await?)).into_response())
        }
        method => {
            let gateway = state.services.payment_gateway.as_ref().map(|g| g.name()).unwrap_or("none configured");
            Err(Error::invalid(
                "method",
                format!("unknown payment method {method:?}: use wallet or the gateway ({gateway})"),
                format!("不支持的支付方式 {method:?}：请使用 wallet（钱包）或已配置的支付渠道（{gateway}）"),
            )
            .into())
        }
    }
}

/// The order's payments, oldest first: what was tried, what succeeded, what was refunded.
#[utoipa::path(get, path = "/orders/{id}/payments", tag = "app", security(("user_session" = [])),
    responses((status = 200, body = Vec<PaymentView>), (status = 404, body = ErrorBody)))]
async fn payments(State(state): State<AppState>, User(user): User, Path(id): Path<Uuid>) -> ApiResult<Json<Vec<PaymentView>>> {
    Ok(Json(state.services.payments_for_user(&user, id).await?))
}

#[derive(Serialize, ToSchema)]
pub struct WalletView {
    #[schema(value_type = String)]
    pub balance: Money,
    pub entries: Vec<WalletEntry>,
}

/// Wallet balance and recent movements.
#[utoipa::path(get, path = "/wallet", tag = "app", security(("user_session" = [])), responses((status = 200, body = WalletView)))]
async fn wallet(State(state): State<AppState>, User(user): User) -> ApiResult<Json<WalletView>> {
    let mut conn = state.services.db.acquire().await.map_err(Error::from)?;
    let entries = store::users::wallet_entries(&mut conn, user.id, 50).await.map_err(Error::from)?;
    Ok(Json(WalletView { balance: Money::from_ten_thousandths(user.wallet_balance), entries }))
}

#[derive(Deserialize, ToSchema)]
pub struct TopUpRequest {
    /// Yuan, e.g. "100.00".
    #[schema(value_type = String)]
    pub amount: Money,
}

/// Top up the wallet: opens a payment at the payment gateway for the amount and answers where
/// to pay. The wallet is credited when the gateway reports the payment settled, not before.
#[utoipa::path(post, path = "/wallet/top-up", tag = "app", security(("user_session" = [])), request_body = TopUpRequest,
    responses((status = 200, body = GatewayPaymentStarted), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn top_up(State(state): State<AppState>, User(user): User, Json(r): Json<TopUpRequest>) -> ApiResult<Json<GatewayPaymentStarted>> {
    Ok(Json(state.services.start_top_up(&user, r.amount).await?))
}
