//! `POST /oauth/token`: OAuth2 client credentials grant (RFC 6749 §4.4), answering errors in
//! the RFC's own format (`{"error": "invalid_client", "error_description": …}`) because OAuth2
//! client libraries parse exactly that.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use services::oauth::IssuedToken;
use services::{AuthFailure, Error};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(token))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Space-separated subset of the partner's scopes (`partner`, `cpo`, `emsp`).
    pub scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OAuthError {
    pub error: &'static str,
    pub error_description: String,
}

fn oauth_error(status: StatusCode, error: &'static str, description: impl Into<String>) -> Response {
    let mut response = (status, Json(OAuthError { error, error_description: description.into() })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"chargebridge\""));
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Client credentials from HTTP Basic (preferred by the RFC) or the form body.
fn client_credentials(headers: &HeaderMap, form: &TokenRequest) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| pair.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned())));
    basic.or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)))
}

/// Exchange client credentials for an access token (form-encoded, as RFC 6749 requires).
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = IssuedToken), (status = 400, body = OAuthError), (status = 401, body = OAuthError)))]
async fn token(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    // Parsed here rather than with axum's `Form` so a bad body gets OAuth2's error format.
    let form: TokenRequest = match serde_urlencoded::from_str(&body) {
        Ok(form) => form,
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", format!("body must be application/x-www-form-urlencoded: {e}")),
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required"),
        Some(other) => {
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", format!("grant_type `{other}` is not supported; use client_credentials"));
        }
    }
    let Some((client_id, client_secret)) = client_credentials(&headers, &form) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "send client_id and client_secret (HTTP Basic or form fields)");
    };
    match state.services.issue_token(&client_id, &client_secret, form.scope.as_deref()).await {
        Ok(issued) => {
            let mut response = Json(issued).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(Error::Unauthorized(AuthFailure::InvalidClient)) => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", AuthFailure::InvalidClient.message()),
        Err(Error::Invalid(fields)) => oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", fields[0].message.clone()),
        Err(Error::Forbidden { message, .. }) => oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client", message),
        Err(other) => super::error::ApiError(other).into_response(),
    }
}
