//! The live status of many of our connectors in one call, for partners that pull: by query
//! string for a few, by POST for up to 500. Each id asked gets an answer; ids that do not exist
//! and ids of stations this partner may not see both read `found: false`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::station::ConnectorStatus;
use serde::{Deserialize, Serialize};
use services::Error;
use utoipa::{IntoParams, ToSchema};

use super::SCOPE;
use crate::http::AppState;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::{Json, PartnerToken, Query};

/// The most connectors one call may ask about.
const MAX_IDS: usize = 500;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Our connector ids, comma-separated (at most 500).
    #[param(example = "CB0001-1,CB0001-2")]
    pub ids: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"ids": ["CB000100101", "CB000100102"]}))]
pub struct StatusRequest {
    /// Our connector ids (1–500).
    #[schema(min_items = 1, max_items = 500)]
    pub ids: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectorStatusView {
    pub connector_id: String,
    /// `false`: no such connector, or not one this partner may see.
    pub found: bool,
    /// Our station the connector belongs to (when found).
    pub station_id: Option<String>,
    /// Its live status (when found); `unknown` when we have not heard from it recently.
    pub status: Option<ConnectorStatus>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"at": "2026-12-05T02:00:00Z", "items": [{"connector_id": "SZ-NS-001-P1-1", "found": true, "station_id": "SZ-NS-001", "status": "available"}, {"connector_id": "SZ-NS-001-P9-9", "found": false}]}))]
pub struct ConnectorStatuses {
    /// One per id asked, in the order asked.
    pub items: Vec<ConnectorStatusView>,
    /// When these statuses were read.
    pub at: DateTime<Utc>,
}

async fn statuses(state: &AppState, partner_id: uuid::Uuid, ids: Vec<String>) -> ApiResult<Json<ConnectorStatuses>> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(Error::invalid(
            "ids",
            format!("give 1–{MAX_IDS} connector ids, got {}", ids.len()),
            format!("充电枪编号须为 1–{MAX_IDS} 个，收到 {} 个", ids.len()),
        )
        .into());
    }
    let at = state.services.now();
    let seen = state.services.partner_connector_statuses(partner_id, &ids).await?;
    let items = seen
        .into_iter()
        .map(|(connector_id, seen)| ConnectorStatusView {
            connector_id,
            found: seen.is_some(),
            station_id: seen.as_ref().map(|s| s.station_external.clone()),
            status: seen.map(|s| s.status),
        })
        .collect();
    Ok(Json(ConnectorStatuses { items, at }))
}

/// Live status of a few connectors, by query string.
#[utoipa::path(get, path = "/connectors/status", tag = "partner", security(("oauth2" = ["emsp"])), params(StatusQuery),
    responses((status = 200, body = ConnectorStatuses),
              (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform")))]
pub async fn connector_statuses(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Json<ConnectorStatuses>> {
    principal.require_scope(SCOPE)?;
    let ids = q.ids.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    statuses(&state, principal.partner_id, ids).await
}

/// Live status of up to 500 connectors, the list in the body.
#[utoipa::path(post, path = "/connectors/status", tag = "partner", security(("oauth2" = ["emsp"])), request_body = StatusRequest,
    responses((status = 200, body = ConnectorStatuses),
              (status = 403, body = ErrorBody, description = "the token lacks the `emsp` scope, or the partner is no approved platform")))]
pub async fn connector_statuses_batch(
    State(state): State<AppState>,
    PartnerToken(principal): PartnerToken,
    Json(request): Json<StatusRequest>,
) -> ApiResult<Json<ConnectorStatuses>> {
    principal.require_scope(SCOPE)?;
    statuses(&state, principal.partner_id, request.ids).await
}
