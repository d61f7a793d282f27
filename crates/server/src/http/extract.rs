//! Extractors: JSON, query strings and path segments with our error format, and the three kinds of caller
//! (partner portal token, partner OAuth2 token, admin session), each read from
//! `Authorization: Bearer …`.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::partner::Partner;
use services::oauth::PartnerPrincipal;
use services::{AuthFailure, Error};

use super::AppState;
use super::error::ApiError;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// A multipart form with our error format (axum's own rejection is plain text).
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = ApiError;
    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(axum::extract::Multipart::from_request(request, state).await?))
    }
}

/// Path segments (ids) with our error format: axum's own answer to `/orders/not-a-uuid` is
/// plain text, which clients of a JSON API cannot parse.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or(Error::Unauthorized(AuthFailure::Missing))?;
    let value = value.to_str().map_err(|_| Error::Unauthorized(AuthFailure::InvalidToken))?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or(Error::Unauthorized(AuthFailure::Missing))?;
    Ok(token.trim())
}

/// A partner using the portal with the token it got at registration.
pub struct PortalPartner(pub Partner);

impl FromRequestParts<AppState> for PortalPartner {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        Ok(Self(state.services.partner_by_portal_token(token).await?))
    }
}

/// A partner system calling the partner API with an OAuth2 access token.
pub struct PartnerToken(pub PartnerPrincipal);

impl FromRequestParts<AppState> for PartnerToken {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let principal = state.services.authenticate_partner(token).await?;
        state.services.check_partner_rate(&principal.client_id)?;
        Ok(Self(principal))
    }
}

/// A logged-in admin; holds the username for the audit log.
pub struct Admin(pub String);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        Ok(Self(state.services.authenticate_admin(token).await?))
    }
}

/// A logged-in driver of our app.
pub struct User(pub store::users::UserRecord);

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        Ok(Self(state.services.authenticate_user(token).await?))
    }
}
