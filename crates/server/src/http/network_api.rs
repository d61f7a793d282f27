//! Admin API for our own network (flow B): create stations with their piles, connectors and
//! tariff. Each pile's OCPP password is returned once.

use axum::extract::State;
use axum::http::StatusCode;
use services::network::{CreatedStation, OwnStationInput};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Admin, Json, Path};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_station)).routes(routes!(grant))
}

/// Create one of our stations with its piles (自营充电站). Piles connect to `/ocpp/{ocpp_id}`
/// with HTTP Basic auth using the returned passwords.
#[utoipa::path(post, path = "/stations", tag = "admin", security(("admin_session" = [])), request_body = OwnStationInput,
    responses((status = 201, body = CreatedStation), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_station(State(state): State<AppState>, _admin: Admin, Json(input): Json<OwnStationInput>) -> ApiResult<(StatusCode, Json<CreatedStation>)> {
    Ok((StatusCode::CREATED, Json(state.services.create_own_station(input).await?)))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct GrantRequest {
    pub partner_id: Uuid,
}

/// Let a platform partner see a non-public station.
#[utoipa::path(post, path = "/stations/{id}/visibility", tag = "admin", security(("admin_session" = [])), request_body = GrantRequest,
    responses((status = 204, description = "granted"), (status = 404, body = ErrorBody)))]
async fn grant(State(state): State<AppState>, _admin: Admin, Path(id): Path<Uuid>, Json(r): Json<GrantRequest>) -> ApiResult<StatusCode> {
    state.services.station_summary(id).ok_or(services::Error::not_found("station"))?;
    state.services.partner(r.partner_id).await?;
    state.services.grant_station(id, r.partner_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
