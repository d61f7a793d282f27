//! The one place where errors become HTTP responses.
//!
//! Body: `{"error": {"code", "message", "message_zh", "fields": [{"field", "message", "message_zh"}]}}`
//! so a partner's code can branch on `code` and a person can read either language.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::partner::ReviewError;
use serde::Serialize;
use services::{AuthFailure, Error};
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    pub message_zh: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDetail>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldDetail {
    pub field: String,
    pub message: String,
    pub message_zh: String,
}

/// When a client should try again after "database unavailable": long enough for a restart
/// or a failover, short enough that nobody gives up.
const RETRY_AFTER_SECONDS: &str = "5";

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Malformed(_) => StatusCode::BAD_REQUEST,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        // A missing or unusable reason is bad input; only a review step the state forbids conflicts.
        Error::Review(ReviewError::IllegalTransition { .. }) => StatusCode::CONFLICT,
        Error::Review(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        // The caller is known, it may just not do this (RFC 6750 §3.1).
        Error::Unauthorized(AuthFailure::InsufficientScope(_)) => StatusCode::FORBIDDEN,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::NoAnswer { .. } => StatusCode::GATEWAY_TIMEOUT,
        Error::TooManyAttempts { .. } | Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        e if e.is_database_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        Error::Store(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(&e);
        // A device that did not answer is no internal failure: say which and what that means.
        // Neither is a database that cannot be reached: say so, and when to try again.
        let unavailable = e.is_database_unavailable();
        let message = if unavailable {
            tracing::warn!(error = %e, "request refused: database unavailable");
            services::DATABASE_UNAVAILABLE_EN.to_owned()
        } else if status.is_server_error() && !matches!(e, Error::NoAnswer { .. }) {
            tracing::error!(error = %e, "request failed");
            "internal error; it has been logged".to_owned()
        } else {
            e.to_string()
        };
        let fields = match &e {
            Error::Invalid(list) => {
                list.iter().map(|f| FieldDetail { field: f.field.to_string(), message: f.message.clone(), message_zh: f.message_zh.clone() }).collect()
            }
            Error::Conflict { field: Some(field), message, message_zh, .. } => {
                vec![FieldDetail { field: (*field).into(), message: message.clone(), message_zh: message_zh.clone() }]
            }
            Error::Review(review @ (ReviewError::ReasonRequired { .. } | ReviewError::ReasonTooShort { .. } | ReviewError::ReasonTooLong { .. })) => {
                vec![FieldDetail { field: "reason".into(), message: review.to_string(), message_zh: review.message_zh() }]
            }
            _ => Vec::new(),
        };
        let body = ErrorBody { error: ErrorDetail { code: e.code().into(), message, message_zh: e.message_zh(), fields } };
        let mut response = (status, Json(body)).into_response();
        if unavailable {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        if let Error::TooManyAttempts { retry_after_secs } | Error::RateLimited { retry_after_secs } = e {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
        }
        if let Error::Unauthorized(failure) = e {
            let challenge = match failure {
                AuthFailure::ExpiredToken => r#"Bearer error="invalid_token", error_description="token expired""#,
                AuthFailure::InvalidToken => r#"Bearer error="invalid_token""#,
                AuthFailure::PartnerSuspended => r#"Bearer error="invalid_token", error_description="partner suspended""#,
                AuthFailure::InsufficientScope(_) => r#"Bearer error="insufficient_scope""#,
                _ => "Bearer",
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// Malformed JSON or a wrong content type is a 400; well-formed JSON with a field missing, of the
/// wrong type or with an unknown value is a 422 naming that field (see `json_fields`).
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Self(crate::http::json_fields::data_error(&e)),
            JsonRejection::JsonSyntaxError(e) => Self(crate::http::json_fields::syntax_error(&e)),
            other => Self(Error::Malformed(other.body_text())),
        }
    }
}

/// A multipart body that is not one (no boundary, wrong content type) is malformed, like bad JSON.
impl From<MultipartRejection> for ApiError {
    fn from(rejection: MultipartRejection) -> Self {
        Self(Error::Malformed(rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self(Error::invalid("query", rejection.body_text(), "查询参数不合法"))
    }
}

/// A path segment that is not what the route takes (an id that is no UUID) names no resource.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self(Error::invalid("path", rejection.body_text(), "路径参数不合法"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
