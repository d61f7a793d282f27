//! Partner portal API: register, upload qualification documents, follow the review, resubmit
//! after a rejection, and manage credentials once approved. Authenticated with the portal token
//! returned at registration.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use domain::partner::ApplicationInput;
use domain::partner::Partner;
use serde::{Deserialize, Serialize};
use services::Error;
use services::credentials::{CecPeerInput, CecPeerView, CredentialKind, CredentialsView};
use services::onboarding::{Actor, Registered};
use store::documents::DocumentRecord;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, Multipart, PortalPartner};

pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let upload_limit = state.services.settings.max_document_bytes + 64 * 1024;
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(me, resubmit))
        .routes(routes!(upload_document, list_documents).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(credentials))
        .routes(routes!(rotate_credentials))
        .routes(routes!(set_cec_peer))
        .routes(routes!(set_callback))
}

/// The partner's own record with its documents.
#[derive(Serialize, ToSchema)]
pub struct PortalView {
    #[serde(flatten)]
    pub partner: Partner,
    pub documents: Vec<DocumentRecord>,
}

/// Register as a partner (注册成为合作商). The response holds the portal token, shown only once.
#[utoipa::path(post, path = "/partners", tag = "portal", request_body = ApplicationInput,
    responses((status = 201, body = Registered), (status = 409, body = ErrorBody, description = "already registered"),
              (status = 422, body = ErrorBody, description = "invalid fields, all listed")))]
async fn register(State(state): State<AppState>, Json(input): Json<ApplicationInput>) -> ApiResult<(StatusCode, Json<Registered>)> {
    Ok((StatusCode::CREATED, Json(state.services.register(input).await?)))
}

/// The partner's status, including the reason of a rejection or suspension.
#[utoipa::path(get, path = "/partners/me", tag = "portal", security(("portal_token" = [])),
    responses((status = 200, body = PortalView), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, PortalPartner(partner): PortalPartner) -> ApiResult<Json<PortalView>> {
    let documents = state.services.documents(partner.id).await?;
    Ok(Json(PortalView { partner, documents }))
}

/// Resubmit a corrected application after a rejection (重新提交).
#[utoipa::path(put, path = "/partners/me", tag = "portal", security(("portal_token" = [])), request_body = ApplicationInput,
    responses((status = 200, body = Partner), (status = 409, body = ErrorBody, description = "not rejected"),
              (status = 422, body = ErrorBody)))]
async fn resubmit(State(state): State<AppState>, PortalPartner(partner): PortalPartner, Json(input): Json<ApplicationInput>) -> ApiResult<Json<Partner>> {
    Ok(Json(state.services.resubmit(partner.id, input).await?))
}

/// Multipart form: `kind` (business_license, operating_permit, legal_representative_id, other)
/// and `file` (PDF, PNG or JPEG).
#[derive(ToSchema)]
#[allow(dead_code)]
struct DocumentUpload {
    kind: String,
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
}

/// Upload a qualification document (资质文件).
#[utoipa::path(post, path = "/partners/me/documents", tag = "portal", security(("portal_token" = [])),
    request_body(content = DocumentUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = DocumentRecord), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn upload_document(
    State(state): State<AppState>,
    PortalPartner(partner): PortalPartner,
    Multipart(mut multipart): Multipart,
) -> ApiResult<(StatusCode, Json<DocumentRecord>)> {
    let limit = state.services.settings.max_document_bytes;
    let read_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge { limit_bytes: limit }
        } else {
            Error::invalid("file", format!("unreadable multipart body: {}", e.body_text()), "上传内容无法读取：请以 multipart/form-data 表单上传文件")
        }
    };
    let (mut kind, mut file) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(read_error)? {
        match field.name() {
            Some("kind") => kind = Some(field.text().await.map_err(read_error)?),
            Some("file") => {
                let name = field.file_name().unwrap_or("document").to_owned();
                file = Some((name, field.bytes().await.map_err(read_error)?));
            }
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| Error::invalid("kind", "is required", "必填"))?;
    let (name, bytes) = file.ok_or_else(|| Error::invalid("file", "is required", "必填"))?;
    let record = state.services.upload_document(partner.id, &kind, &name, &bytes).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(get, path = "/partners/me/documents", tag = "portal", security(("portal_token" = [])),
    responses((status = 200, body = Vec<DocumentRecord>)))]
async fn list_documents(State(state): State<AppState>, PortalPartner(partner): PortalPartner) -> ApiResult<Json<Vec<DocumentRecord>>> {
    Ok(Json(state.services.documents(partner.id).await?))
}

/// Credentials once approved. A new API client secret is included exactly once.
#[utoipa::path(get, path = "/partners/me/credentials", tag = "portal", security(("portal_token" = [])),
    responses((status = 200, body = CredentialsView), (status = 403, body = ErrorBody, description = "not approved")))]
async fn credentials(State(state): State<AppState>, PortalPartner(partner): PortalPartner) -> ApiResult<Json<CredentialsView>> {
    Ok(Json(state.services.credentials(partner.id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct RotateRequest {
    /// `api` (REST client credentials), `cec` (T/CEC 102 secrets we issued) or `webhook` (the
    /// key our webhooks are signed with: the previous one signs too through the overlap window).
    pub kind: CredentialKind,
}

/// Rotate credentials; the previous ones keep working through the overlap window.
#[utoipa::path(post, path = "/partners/me/credentials/rotate", tag = "portal", security(("portal_token" = [])),
    request_body = RotateRequest, responses((status = 200, body = CredentialsView), (status = 403, body = ErrorBody)))]
async fn rotate_credentials(
    State(state): State<AppState>,
    PortalPartner(partner): PortalPartner,
    Json(request): Json<RotateRequest>,
) -> ApiResult<Json<CredentialsView>> {
    Ok(Json(state.services.rotate(partner.id, request.kind, &Actor::Partner(partner.id)).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct CallbackInput {
    /// Where our commands (`{callback_base_url}/chargebridge/commands`) and webhooks
    /// (`{callback_base_url}/chargebridge/webhook`) go.
    #[schema(example = "https://api.example.cn/cb")]
    pub callback_base_url: String,
}

/// Move your callback base (REST API partners): our commands and webhooks go there from now on.
#[utoipa::path(put, path = "/partners/me/callback", tag = "portal", security(("portal_token" = [])),
    request_body = CallbackInput,
    responses((status = 200, body = Partner), (status = 403, body = ErrorBody, description = "not approved"),
              (status = 409, body = ErrorBody, description = "`wrong_protocol`: T/CEC 102 partners use `/partners/me/cec-peer`"),
              (status = 422, body = ErrorBody, description = "not an absolute http(s) URL, or not a public address")))]
async fn set_callback(State(state): State<AppState>, PortalPartner(partner): PortalPartner, Json(input): Json<CallbackInput>) -> ApiResult<Json<Partner>> {
    Ok(Json(state.services.set_callback_base_url(partner.id, &input.callback_base_url, &Actor::Partner(partner.id)).await?))
}

/// Tell us your own T/CEC 102 endpoint and the secrets you issued to us, so we can call you, and
/// optionally where to send settlement notices (signed webhooks; none are sent without one).
#[utoipa::path(put, path = "/partners/me/cec-peer", tag = "portal", security(("portal_token" = [])),
    request_body = CecPeerInput, responses((status = 200, body = CecPeerView), (status = 422, body = ErrorBody)))]
async fn set_cec_peer(State(state): State<AppState>, PortalPartner(partner): PortalPartner, Json(input): Json<CecPeerInput>) -> ApiResult<Json<CecPeerView>> {
    Ok(Json(state.services.set_cec_peer(partner.id, input, &Actor::Partner(partner.id)).await?))
}
