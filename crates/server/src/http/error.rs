//! The one place where errors become HTTP responses.
//!
//! Body: `{"error": {"code", "message", "message_zh", "fields": [{"field", "message", "message_zh"}]}}`
//! so a partner's code can branch on `code` and a person can read either language.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Malformed(_) => StatusCode::BAD_REQUEST,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Conflict { .. } | Error::Review(_) => StatusCode::CONFLICT,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::NoAnswer { .. } => StatusCode::GATEWAY_TIMEOUT,
        Error::Store(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(&e);
        // A device that did not answer is no internal failure: say which and what that means.
        let message = if status.is_server_error() && !matches!(e, Error::NoAnswer { .. }) {
            tracing::error!(error = %e, "request failed");
            "internal error; it has been logged".to_owned()
        } else {
            e.to_string()
        };
        let fields = match &e {
            Error::Invalid(list) => {
                list.iter().map(|f| FieldDetail { field: f.field.into(), message: f.message.clone(), message_zh: f.message_zh.clone() }).collect()
            }
            Error::Conflict { field: Some(field), message, message_zh, .. } => {
                vec![FieldDetail { field: (*field).into(), message: message.clone(), message_zh: message_zh.clone() }]
            }
            _ => Vec::new(),
        };
        let body = ErrorBody { error: ErrorDetail { code: e.code().into(), message, message_zh: e.message_zh(), fields } };
        let mut response = (status, Json(body)).into_response();
        if let Error::Unauthorized(failure) = e {
            let challenge = match failure {
                AuthFailure::ExpiredToken => r#"Bearer error="invalid_token", error_description="token expired""#,
                AuthFailure::InvalidToken => r#"Bearer error="invalid_token""#,
                AuthFailure::InsufficientScope(_) => r#"Bearer error="insufficient_scope""#,
                _ => "Bearer",
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// Malformed JSON, a wrong content type or a missing field all get a 400/422 naming the problem.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Well-formed JSON with a wrong field type: name the field like other validation errors.
            JsonRejection::JsonDataError(e) => Self(Error::invalid("body", e.body_text(), "字段类型不符")),
            other => Self(Error::Malformed(other.body_text())),
        }
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
