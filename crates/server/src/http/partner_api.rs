//! The partner REST API (`/api/partner/v1`), authenticated with OAuth2 access tokens: `GET /me`
//! to check an integration end to end, the platform side (`partner_emsp`, scope `emsp`), the
//! operator side (`partner_cpo*`, scope `cpo`) and statements for either.

use chrono::{DateTime, Utc};
use domain::partner::PartnerRoles;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, PartnerToken};
use axum::extract::State;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .merge(super::partner_emsp::router())
        .merge(super::partner_cpo::router())
        .merge(super::partner_cpo_sessions::router())
        .merge(super::partner_statements::partner_api_router())
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"partner_id": "0193a5b2-7c1e-7d3a-9f00-2b1c4d5e6f70", "company_name": "深圳示例充电科技有限公司", "operator_id": "MA5FCTXX0", "roles": "both", "client_id": "cb_3f9a1c2e7d4b", "scopes": ["cpo", "emsp"], "token_expires_at": "2026-12-05T03:30:00Z"}))]
pub struct WhoAmI {
    pub partner_id: Uuid,
    pub company_name: String,
    pub operator_id: String,
    pub roles: PartnerRoles,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub token_expires_at: DateTime<Utc>,
}

/// Who the access token belongs to.
#[utoipa::path(get, path = "/me", tag = "partner", security(("oauth2" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "the token lacks the `partner` scope")))]
async fn me(State(state): State<AppState>, PartnerToken(principal): PartnerToken) -> ApiResult<Json<WhoAmI>> {
    principal.require_scope("partner")?;
    let partner = state.services.partner(principal.partner_id).await?;
    Ok(Json(WhoAmI {
        partner_id: partner.id,
        company_name: partner.application.company_name,
        operator_id: partner.operator_id,
        roles: partner.application.roles,
        client_id: principal.client_id,
        scopes: principal.scopes,
        token_expires_at: principal.expires_at,
    }))
}
