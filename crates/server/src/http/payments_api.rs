//! Where payment gateways call us: `POST /api/payments/v1/callbacks/{gateway}`.
//!
//! The raw body and headers go to the services untouched (signatures are over bytes). A
//! verified callback is answered 200 whatever it changed — a repeat or stale news included —
//! because a gateway keeps resending anything it did not see acknowledged; a bad signature is
//! refused (403) and changes nothing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use services::payment_gateway::CallbackRequest;
use services::payments::NoticeOutcome;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, Path};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(callback))
}

#[derive(Serialize, ToSchema)]
pub struct CallbackAck {
    /// Always `SUCCESS`: what gateways look for to stop resending.
    pub code: &'static str,
    pub outcome: NoticeOutcome,
}

/// A payment gateway's asynchronous notification (支付结果回调).
#[utoipa::path(post, path = "/callbacks/{gateway}", tag = "payments",
    params(("gateway" = String, Path, description = "the gateway's name, e.g. `sandbox`")),
    request_body(content = String, description = "the gateway's own signed body", content_type = "application/json"),
    responses((status = 200, body = CallbackAck, description = "acknowledged (also for repeats and stale news)"),
              (status = 403, body = ErrorBody, description = "the signature does not verify; nothing changed"),
              (status = 404, body = ErrorBody, description = "unknown gateway or payment"),
              (status = 409, body = ErrorBody, description = "the amount differs from the payment's")))]
async fn callback(State(state): State<AppState>, Path(gateway): Path<String>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<CallbackAck>> {
    let request = CallbackRequest {
        headers: headers.iter().filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned()))).collect(),
        body: body.to_vec(),
    };
    let outcome = state.services.on_gateway_callback(&gateway, &request).await?;
    Ok(Json(CallbackAck { code: "SUCCESS", outcome }))
}
