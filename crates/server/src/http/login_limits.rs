//! Per-address rate limit in front of the endpoints that check a password or a client secret.
//! The per-account limits and lockouts are the services' (`services::login_guard`); this layer
//! only knows the caller's address, which it reads from the connection.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// The endpoints guessing would go through: admin login, driver sign-up and login, OAuth2 tokens.
pub(crate) const GUARDED: [&str; 4] = ["/api/admin/v1/login", "/api/app/v1/users", "/api/app/v1/sessions", "/oauth/token"];

pub async fn by_address(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() == Method::POST && GUARDED.contains(&request.uri().path()) {
        // Served without connection info (an in-process router), there is no address to limit.
        let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        if let Some(address) = address
            && let Err(e) = state.services.check_login_address(address)
        {
            tracing::warn!(%address, path = request.uri().path(), "login attempts over the per-address limit");
            return ApiError(e).into_response();
        }
    }
    next.run(request).await
}
