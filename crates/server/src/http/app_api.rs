//! The driver app API (`/api/app/v1`): accounts now; stations, charging and orders with flow A.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use services::users::UserSession;
use store::users::UserRecord;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_up)).routes(routes!(log_in)).routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
pub struct SignUpRequest {
    /// 11-digit mainland mobile number.
    pub phone: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
    pub display_name: Option<String>,
}

/// Create a driver account (注册); returns a session.
#[utoipa::path(post, path = "/users", tag = "app", request_body = SignUpRequest,
    responses((status = 201, body = UserSession), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sign_up(State(state): State<AppState>, Json(r): Json<SignUpRequest>) -> ApiResult<(StatusCode, Json<UserSession>)> {
    Ok((StatusCode::CREATED, Json(state.services.sign_up(&r.phone, &r.password, r.display_name.as_deref()).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct LogInRequest {
    pub phone: String,
    pub password: String,
}

/// Log in (登录).
#[utoipa::path(post, path = "/sessions", tag = "app", request_body = LogInRequest,
    responses((status = 200, body = UserSession), (status = 401, body = ErrorBody)))]
async fn log_in(State(state): State<AppState>, Json(r): Json<LogInRequest>) -> ApiResult<Json<UserSession>> {
    Ok(Json(state.services.log_in(&r.phone, &r.password).await?))
}

/// The logged-in driver.
#[utoipa::path(get, path = "/me", tag = "app", security(("user_session" = [])),
    responses((status = 200, body = UserRecord), (status = 401, body = ErrorBody)))]
async fn me(User(user): User) -> ApiResult<Json<UserRecord>> {
    Ok(Json(user))
}
