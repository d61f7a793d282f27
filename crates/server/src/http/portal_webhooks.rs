//! `POST /partners/me/webhooks/ping`: a partner engineer checks its webhook receiver from the
//! portal. One signed `webhook.ping` event is posted at once (not through the outbox: nothing is
//! retried or dead-lettered), and the answer says what the receiver did.

use axum::extract::State;
use serde::Serialize;
use services::Error;
use services::delivery::DeliveryError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, PortalPartner};
use crate::webhooks::WebhookDeliverer;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ping))
}

/// What happened to the test event.
#[derive(Serialize, ToSchema)]
pub struct WebhookPing {
    /// The id of the `webhook.ping` event sent (what `X-Chargebridge-Delivery` carried).
    pub event_id: Uuid,
    /// Where it went; absent when the partner has registered no webhook URL.
    pub url: Option<String>,
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// The receiver's answer or why nothing was sent.
    pub detail: String,
    pub detail_zh: String,
}

/// Send a signed test event to the webhook URL (测试 Webhook).
#[utoipa::path(post, path = "/partners/me/webhooks/ping", tag = "portal", security(("portal_token" = [])),
    responses((status = 200, body = WebhookPing), (status = 403, body = ErrorBody, description = "not approved yet")))]
async fn ping(State(state): State<AppState>, PortalPartner(partner): PortalPartner) -> ApiResult<Json<WebhookPing>> {
    if !partner.state.may_operate() {
        return Err(Error::forbidden("webhooks are sent once the partner is approved", "审核通过后方可发送 Webhook").into());
    }
    let event_id = Uuid::now_v7();
    let url = state.services.webhook_target(&partner).await?;
    let Some(target) = url.clone() else {
        return Ok(Json(WebhookPing {
            event_id,
            url,
            delivered: false,
            detail: "no webhook URL is registered (REST partners: callback_base_url + /chargebridge/webhook; T/CEC 102 partners: webhook_url of the endpoint)"
                .into(),
            detail_zh: "尚未登记 Webhook 地址".into(),
        }));
    };
    let http = crate::partner_http::partner_client(state.services.settings.allow_private_endpoints).map_err(|e| Error::Internal(e.to_string()))?;
    let sender = WebhookDeliverer { services: state.services.clone(), http };
    let data = serde_json::json!({"partner_id": partner.id, "message": "chargebridge webhook test"});
    let (delivered, detail, detail_zh) = match sender.post(partner.id, event_id, "webhook.ping", state.services.now(), &data).await {
        Ok(()) => (true, format!("{target} acknowledged the event"), "接收方已确认".to_owned()),
        Err(DeliveryError::Retry(e) | DeliveryError::Permanent(e)) => (false, e, "接收方未确认，请检查地址、签名校验与返回码".to_owned()),
    };
    Ok(Json(WebhookPing { event_id, url, delivered, detail, detail_zh }))
}
