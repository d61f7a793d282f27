//! Our stations a platform partner may see, with the prices its users get there: a cursor-paged
//! list (with `updated_since` for incremental pulls and an ETag so an unchanged page costs
//! nothing to re-read) and one station by its id.

use axum::extract::State;
use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::station::{ConnectorType, EquipmentType, StationStatus, StationType};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use services::Error;
use services::open_network::VisibleStation;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{SCOPE, cursor};
use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::{PartnerToken, Path, Query};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/// Far beyond any station count; keeps offsets well inside `i64`.
const MAX_OFFSET: i64 = 1_000_000_000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StationsQuery {
    /// `next_cursor` of the previous page, as received; absent for the first page. The cursor
    /// carries the page size and `updated_since` of the first request.
    pub cursor: Option<String>,
    /// Stations per page.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Only stations changed at or after this instant (RFC 3339), for incremental pulls.
    pub updated_since: Option<DateTime<Utc>>,
}

/// Where the next page starts.
#[derive(Serialize, Deserialize)]
struct Position {
    offset: i64,
    limit: i64,
    since: Option<DateTime<Utc>>,
}

/// One of our stations as this partner sees it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"station_id": "SZ-NS-001", "name": "南山科技园充电站", "address": "广东省深圳市南山区科技园南区 1 号", "area_code": "440305", "lat": 22.543536, "lng": 113.929636, "station_type": "public", "station_status": "operating", "service_tel": "0755-86000000", "business_hours": "24 小时", "reservations": true, "piles": [{"pile_id": "SZ-NS-001-P1", "equipment_type": "dc", "power_kw": "120", "connectors": [{"connector_id": "SZ-NS-001-P1-1", "connector_type": "dc_cable", "power_kw": "120"}]}], "tariff": {"currency": "CNY", "time_zone": "Asia/Shanghai", "periods": [{"start": "00:00", "elec_price": "0.7000", "service_price": "0.4000"}, {"start": "08:00", "elec_price": "1.1000", "service_price": "0.6000"}]}, "updated_at": "2026-12-04T08:00:00Z"}))]
pub struct StationView {
    pub station_id: String,
    pub name: String,
    pub address: String,
    /// Administrative area code (GB/T 2260).
    pub area_code: String,
    /// WGS-84 latitude.
    pub lat: f64,
    /// WGS-84 longitude.
    pub lng: f64,
    pub station_type: StationType,
    pub station_status: StationStatus,
    pub service_tel: String,
    pub business_hours: Option<String>,
    /// The prices this partner's users pay here (our tariff under the partner's terms);
    /// absent when the station has no valid tariff.
    pub tariff: Option<TariffView>,
    /// Whether this partner may reserve connectors here (agreed in its terms).
    pub reservations: bool,
    pub piles: Vec<PileView>,
    pub updated_at: DateTime<Utc>,
}

/// Time-of-day prices in yuan per kWh, periods by their Beijing start time.
#[derive(Serialize, ToSchema)]
pub struct TariffView {
    /// Always `CNY`.
    pub currency: &'static str,
    /// The time zone of the period starts: always `Asia/Shanghai`.
    pub time_zone: &'static str,
    pub periods: Vec<PeriodView>,
}

#[derive(Serialize, ToSchema)]
pub struct PeriodView {
    /// `HHmmss`, Beijing time; the first period starts at `000000`.
    #[schema(example = "000000")]
    pub start: String,
    /// Electricity price, yuan per kWh (4 decimals).
    #[schema(value_type = String, example = "0.8000")]
    pub elec_price: Decimal,
    /// Service fee, yuan per kWh (4 decimals).
    #[schema(value_type = String, example = "0.6000")]
    pub service_price: Decimal,
}

#[derive(Serialize, ToSchema)]
pub struct PileView {
    pub pile_id: String,
    pub equipment_type: EquipmentType,
    /// Rated power, kW (decimal text).
    pub power_kw: String,
    pub connectors: Vec<ConnectorView>,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectorView {
    /// What this partner starts sessions and asks status by.
    pub connector_id: String,
    pub connector_type: ConnectorType,
    /// Rated power, kW (decimal text).
    pub power_kw: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"station_id": "SZ-NS-001", "name": "南山科技园充电站", "address": "广东省深圳市南山区科技园南区 1 号", "area_code": "440305", "lat": 22.543536, "lng": 113.929636, "station_type": "public", "station_status": "operating", "service_tel": "0755-86000000", "business_hours": "24 小时", "reservations": true, "piles": [{"pile_id": "SZ-NS-001-P1", "equipment_type": "dc", "power_kw": "120", "connectors": [{"connector_id": "SZ-NS-001-P1-1", "connector_type": "dc_cable", "power_kw": "120"}]}], "updated_at": "2026-12-04T08:00:00Z"}], "next_cursor": "U1otTlMtMDAx", "total": 37}))]
pub struct StationPage {
    pub items: Vec<StationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Stations matching the query, over all pages.
    pub total: i64,
}

async fn view(state: &AppState, partner_id: Uuid, visible: VisibleStation, reservations: bool) -> ApiResult<StationView> {
    let tariff = state.services.partner_tariff(partner_id, &visible.station).await?.map(|t| TariffView {
        currency: "CNY",
        time_zone: "Asia/Shanghai",
        periods: t
            .periods()
            .iter()
            .map(|p| PeriodView { start: p.start.hhmmss(), elec_price: p.elec_price.value(), service_price: p.service_price.value() })
            .collect(),
    });
    let s = visible.station;
    Ok(StationView {
        station_id: s.external_id,
        name: s.name,
        address: s.address,
        area_code: s.area_code,
        lat: s.lat,
        lng: s.lng,
        station_type: s.station_type,
        station_status: s.station_status,
        service_tel: s.service_tel,
        business_hours: s.business_hours,
        tariff,
        reservations,
        piles: visible
            .equipment
            .into_iter()
            .map(|(e, connectors)| PileView {
                pile_id: e.external_id,
                equipment_type: e.equipment_type,
                power_kw: e.power_kw,
                connectors: connectors
                    .into_iter()
                    .map(|c| ConnectorView { connector_id: c.external_id, connector_type: c.connector_type, power_kw: c.power_kw })
                    .collect(),
            })
            .collect(),
        updated_at: s.updated_at,
    })
}

/// A strong validator of exactly the bytes sent: a partner re-reading an unchanged page gets a
/// 304 and no body.
fn etag(body: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(body))[..32])
}

fn matches_etag(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t == tag || t.strip_prefix("W/") == Some(tag))
}

/// JSON with its ETag, or 304 when the caller already has it.
fn with_etag<T: Serialize>(headers: &HeaderMap, value: &T) -> ApiResult<Response> {
    let body = serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?;
    let tag = etag(&body);
    let tag_header = HeaderValue::from_str(&tag).map_err(|e| Error::Internal(e.to_string()))?;
    if matches_etag(headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, tag_header)]).into_response());
    }
    Ok((StatusCode::OK, [(ETAG, tag_header), (axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

/// Our stations this partner may see, with its prices, page by page (ordered by our internal
/// id, so pages neither skip nor repeat a station while the list does not change).
#[utoipa::path(get, path = "/stations", tag = "partner", security(("oauth2" = ["emsp"])),
    params(StationsQuery, ("If-None-Match" = Option<String>, Header, description = "the ETag of a copy the caller holds")),
    responses(
        (status = 200, body = StationPage, headers(("ETag" = String, description = "validator of this page"))),
        (status = 304, description = "the page is unchanged since the ETag given in If-None-Match", headers(("ETag" = String))),
        (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform")))]
pub async fn list_stations(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Query(q): Query<StationsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    principal.require_scope(SCOPE)?;
    let position = match &q.cursor {
        Some(c) => cursor::decode::<Position>(c)?,
        None => Position { offset: 0, limit: q.limit.unwrap_or(DEFAULT_LIMIT), since: q.updated_since },
    };
    if !(1..=MAX_LIMIT).contains(&position.limit) {
        return Err(Error::invalid("limit", format!("limit must be 1–{MAX_LIMIT}"), format!("limit 须在 1–{MAX_LIMIT} 之间")).into());
    }
    // Only positions we could have handed out (a decoded cursor is still the caller's input).
    if !(0..=MAX_OFFSET).contains(&position.offset) || position.offset % position.limit != 0 {
        return Err(cursor::invalid().into());
    }
    let partner = principal.partner_id;
    let page = position.offset / position.limit + 1;
    let (total, stations) = state.services.visible_stations(partner, position.since, page, position.limit).await?;
    let reservations = state.services.partner_terms(partner).await?.open.reservations;
    let mut items = Vec::with_capacity(stations.len());
    for s in stations {
        items.push(view(&state, partner, s, reservations).await?);
    }
    let next = position.offset + position.limit;
    let next_cursor = (next < total).then(|| cursor::encode(&Position { offset: next, ..position }));
    with_etag(&headers, &StationPage { items, next_cursor, total })
}

/// One of our stations by its id, if this partner may see it (else 404, as if it did not exist).
#[utoipa::path(get, path = "/stations/{station_id}", tag = "partner", security(("oauth2" = ["emsp"])),
    params(("station_id" = String, Path, description = "our station id"),
           ("If-None-Match" = Option<String>, Header, description = "the ETag of a copy the caller holds")),
    responses(
        (status = 200, body = StationView, headers(("ETag" = String, description = "validator of this station"))),
        (status = 304, description = "unchanged since the ETag given in If-None-Match", headers(("ETag" = String))),
        (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform")))]
pub async fn get_station(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Path(station_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    principal.require_scope(SCOPE)?;
    let partner = principal.partner_id;
    let visible = state.services.visible_station(partner, &station_id).await?.ok_or(Error::not_found("station"))?;
    let reservations = state.services.partner_terms(partner).await?.open.reservations;
    let station = view(&state, partner, visible, reservations).await?;
    with_etag(&headers, &station)
}
