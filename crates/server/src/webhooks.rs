//! Delivering outbox messages to partners as signed webhooks.
//!
//! `POST {callback_base_url}/chargebridge/webhook` (a T/CEC 102 partner: the webhook URL it
//! registered with its endpoint, see `services::webhook_targets`) with a JSON body `{id, kind, created_at,
//! data}` and `X-Chargebridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>`, the secret being the partner's `webhook_secret` (for a while after the partner
//! rotates it, a second `v1=` made with the previous one follows). A 2xx answer acknowledges;
//! 4xx other than 408/429 is permanent (dead-lettered for an admin to replay after the partner
//! fixes it); anything else is retried with backoff.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::partner::Protocol;
use hmac::{Hmac, KeyInit, Mac};
use services::Services;
use services::delivery::{Deliverer, DeliveryError};
use sha2::Sha256;
use store::outbox::OutboxMessage;
use uuid::Uuid;

use crate::cec_adapter::{self, CecNotifier};

/// Sends each outbox message in the partner's protocol: T/CEC 102 partners get the standard's
/// notifications for what the standard covers; everything else is a signed webhook.
pub struct PartnerDeliverer {
    pub services: Services,
    pub webhooks: WebhookDeliverer,
    pub cec: CecNotifier,
}

#[async_trait]
impl Deliverer for PartnerDeliverer {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        if cec_adapter::notifier_handles(&message.kind) {
            let partner = self.services.partner(message.partner_id).await.map_err(|e| DeliveryError::Retry(e.to_string()))?;
            if partner.application.protocol == Protocol::Cec102 {
                return self.cec.deliver(message).await;
            }
        }
        self.webhooks.deliver(message).await
    }
}

pub struct WebhookDeliverer {
    pub services: Services,
    pub http: reqwest::Client,
}

/// The signature header value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    signatures(&[secret], timestamp, body)
}

/// The signature header with one `v1=` per key: during a key rotation's overlap the previous key
/// signs too, and a receiver accepts the message if any `v1` matches a key it holds.
pub fn signatures(secrets: &[impl AsRef<str>], timestamp: i64, body: &str) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_ref().as_bytes()).expect("HMAC accepts any key length");
        mac.update(format!("{timestamp}.{body}").as_bytes());
        header.push_str(&format!(",v1={}", hex::encode(mac.finalize().into_bytes())));
    }
    header
}

#[async_trait]
impl Deliverer for WebhookDeliverer {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        self.post(message.partner_id, message.id, &message.kind, message.created_at, &message.payload).await
    }
}

impl WebhookDeliverer {
    /// Posts one event to the partner's webhook URL, signed with every key that signs now; the
    /// receiver's answer says whether it is delivered, to retry, or permanently refused.
    pub async fn post(&self, partner_id: Uuid, id: Uuid, kind: &str, created_at: DateTime<Utc>, data: &serde_json::Value) -> Result<(), DeliveryError> {
        let partner = self.services.partner(partner_id).await.map_err(|e| DeliveryError::Retry(e.to_string()))?;
        let body = serde_json::json!({"id": id, "kind": kind, "created_at": created_at, "data": data}).to_string();
        let timestamp = self.services.now().timestamp();
        let Some(url) = self.services.webhook_target(&partner).await.map_err(|e| DeliveryError::Retry(e.to_string()))? else {
            return Err(DeliveryError::Permanent("the partner has registered no webhook URL".into()));
        };
        crate::partner_http::check_literal_address(&url, self.services.settings.allow_private_endpoints).map_err(DeliveryError::Permanent)?;
        let keys = self.services.webhook_keys(partner.id).await.map_err(|e| DeliveryError::Retry(e.to_string()))?;
        let keys: Vec<String> = std::iter::once(keys.current).chain(keys.previous).collect();
        let response = self
            .http
            .post(&url)
            .timeout(std::time::Duration::from_secs(10))
            .header("content-type", "application/json")
            .header("x-chargebridge-event", kind)
            .header("x-chargebridge-delivery", id.to_string())
            .header("x-chargebridge-signature", signatures(&keys, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Retry(format!("{url}: {e}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            Err(DeliveryError::Permanent(format!("{url} answered {status}")))
        } else {
            Err(DeliveryError::Retry(format!("{url} answered {status}")))
        }
    }
}
