//! The HTTP surface: one router joining the user-facing APIs, protocol routers, docs and ops.

mod admin;
mod admin_orders;
mod app_api;
mod charging_api;
mod common_responses;
mod daily_checks;
mod deliveries;
pub(crate) mod error;
pub(crate) mod extract;
mod json_fields;
mod login_limits;
mod network_api;
mod oauth;
mod ops;
mod partner_api;
mod partner_cpo;
mod partner_cpo_figures;
mod partner_cpo_input;
mod partner_cpo_sessions;
pub(crate) mod partner_emsp;
mod partner_statements;
mod payments_api;
mod pile_commands;
mod portal;
mod portal_webhooks;
mod statements;
mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use services::Services;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use error::ApiError;
pub use ops::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub metrics: Arc<Metrics>,
    /// Cancelled at shutdown: long-lived responses (SSE) end on it.
    pub shutdown: tokio_util::sync::CancellationToken,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "chargebridge",
        description = "EV-charging interconnection platform (充电互联互通平台): partner portal, admin and partner APIs. \
                       Errors carry `code`, `message` (en) and `message_zh` (zh-CN).",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "portal", description = "Partner onboarding: register, documents, review status, credentials (合作商入驻)"),
        (name = "admin", description = "Platform operators: review partners (平台管理)"),
        (name = "settlement", description = "Finance: reconciled settlement statements, CSV, confirm and pay (对账结算)"),
        (name = "oauth", description = "OAuth2 client credentials"),
        (name = "app", description = "Driver app: account, stations, charging (用户 App)"),
        (name = "partner", description = "Partner REST API, OAuth2 bearer tokens (合作商接口)"),
        (name = "payments", description = "Payment gateway callbacks (支付回调)"),
        (name = "ops", description = "Liveness, readiness and metrics for operators and orchestrators (运维)"),
        (name = "sandbox", description = "The built-in sandbox payment gateway: payment page, merchant API, test hooks (沙箱支付)"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description)).build());
        components.add_security_scheme("portal_token", bearer("The portal token returned once at registration (cbp_…)."));
        components.add_security_scheme("user_session", bearer("The token from POST /api/app/v1/sessions (cbu_…)."));
        components.add_security_scheme("admin_session", bearer("The token from POST /api/admin/v1/login (cba_…)."));
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::ClientCredentials(ClientCredentials::new(
                "/oauth/token",
                Scopes::from_iter([("partner", "any partner"), ("cpo", "charge-point operator"), ("emsp", "platform with users")]),
            ))])),
        );
    }
}

/// `protocols` holds the protocol routers (T/CEC 102 at `/evcs/…`), which answer in their own
/// formats and are documented in `docs/`, not in the OpenAPI. `peers` holds documented routes
/// of built-in peers with their own state (the sandbox payment gateway).
pub fn router(state: AppState, max_body_bytes: usize, web: &crate::config::WebConfig, protocols: Router, peers: OpenApiRouter<AppState>) -> Router {
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/portal/v1", portal::router(&state).merge(partner_statements::portal_router()).merge(portal_webhooks::router()))
        .nest(
            "/api/admin/v1",
            admin::router()
                .merge(deliveries::router())
                .merge(network_api::router())
                .merge(pile_commands::router())
                .merge(statements::router())
                .merge(partner_statements::admin_router())
                .merge(daily_checks::router())
                .merge(admin_orders::router()),
        )
        .nest("/api/payments/v1", payments_api::router())
        .merge(peers)
        .nest("/api/partner/v1", partner_api::router())
        .nest("/api/app/v1", app_api::router().merge(charging_api::router()))
        .merge(oauth::router())
        .merge(ops::router())
        .split_for_parts();
    // After the routes are in: it adds to each operation what its inputs can be refused with.
    common_responses::CommonResponses.modify(&mut openapi);
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .with_state(state.clone())
        .merge(protocols)
        .merge(web::router(web))
        .layer(axum::middleware::from_fn_with_state(state.clone(), login_limits::by_address))
        .layer(axum::middleware::from_fn_with_state(state, ops::track))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(CatchPanicLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
}
