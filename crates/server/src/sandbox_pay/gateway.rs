//! Our side of the sandbox: the `PaymentGateway` port implemented over HTTP with reqwest,
//! exactly as an adapter for a real gateway would be — signed requests out, signed callbacks
//! verified in, no shortcut through memory even though the sandbox runs in the same process.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::money::Money;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use services::Clock;
use services::payment_gateway::{CallbackRequest, CreatedTrade, PaymentGateway, PaymentGatewayError, RefundReceipt, TradeNotice, TradeRequest, TradeStatus};
use uuid::Uuid;

use super::api::{CreateTrade, RefundAnswer, RefundRequest};
use super::{TradeState, signing};

pub struct SandboxGateway {
    /// The sandbox's base URL (`…/sandbox/pay`).
    base_url: String,
    /// Our callback endpoint, given to the sandbox with each trade.
    notify_url: String,
    key: String,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

/// A callback's body.
#[derive(Deserialize)]
struct Callback {
    trade_id: String,
    out_trade_no: Uuid,
    status: String,
    amount: Money,
    at: DateTime<Utc>,
}

impl SandboxGateway {
    /// `our_base_url` is where this application is reached (the sandbox is mounted on it).
    pub fn new(our_base_url: &str, key: String, clock: Arc<dyn Clock>, http: reqwest::Client) -> Self {
        let base = our_base_url.trim_end_matches('/');
        Self { base_url: format!("{base}/sandbox/pay"), notify_url: format!("{base}/api/payments/v1/callbacks/sandbox"), key, clock, http }
    }

    async fn call<T: DeserializeOwned>(&self, method: reqwest::Method, path: &str, body: Option<String>) -> Result<T, PaymentGatewayError> {
        let url = format!("{}{path}", self.base_url);
        let body = body.unwrap_or_default();
        let response = self
            .http
            .request(method, &url)
            .timeout(Duration::from_secs(10))
            .header("content-type", "application/json")
            .header(signing::HEADER, signing::sign(&self.key, self.clock.now(), body.as_bytes()))
            .body(body)
            .send()
            .await
            .map_err(|e| PaymentGatewayError::NoAnswer(format!("{url}: {e}")))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| PaymentGatewayError::NoAnswer(format!("{url}: {e}")))?;
        if status.is_server_error() {
            return Err(PaymentGatewayError::NoAnswer(format!("{url} answered {status}: {text}")));
        }
        if !status.is_success() {
            return Err(PaymentGatewayError::Refused(format!("{url} answered {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|e| PaymentGatewayError::Refused(format!("{url} answered something unreadable: {e}")))
    }

    fn notice(state: TradeState) -> Result<TradeNotice, PaymentGatewayError> {
        let status = TradeStatus::parse(&state.status).ok_or_else(|| PaymentGatewayError::Refused(format!("unknown trade status {:?}", state.status)))?;
        Ok(TradeNotice { trade_id: state.trade_id, payment_id: state.out_trade_no, status, amount: state.amount, at: state.at })
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("request bodies serialise")
}

#[async_trait]
impl PaymentGateway for SandboxGateway {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn create_trade(&self, request: &TradeRequest) -> Result<CreatedTrade, PaymentGatewayError> {
        let body = CreateTrade {
            out_trade_no: request.payment_id,
            amount: request.amount,
            subject: request.subject.clone(),
            notify_url: self.notify_url.clone(),
            expires_at: request.expires_at,
        };
        let created: super::api::CreatedTrade = self.call(reqwest::Method::POST, "/api/trades", Some(json(&body))).await?;
        Ok(CreatedTrade { trade_id: created.trade_id, pay_url: created.pay_url })
    }

    fn verify_callback(&self, callback: &CallbackRequest, now: DateTime<Utc>) -> Result<TradeNotice, PaymentGatewayError> {
        signing::verify(&self.key, callback.header(signing::HEADER), &callback.body, now).map_err(PaymentGatewayError::BadSignature)?;
        let body: Callback = serde_json::from_slice(&callback.body).map_err(|e| PaymentGatewayError::Malformed(e.to_string()))?;
        let status = TradeStatus::parse(&body.status)
            .filter(|s| *s != TradeStatus::Pending)
            .ok_or_else(|| PaymentGatewayError::Malformed(format!("unknown callback status {:?}", body.status)))?;
        Ok(TradeNotice { trade_id: body.trade_id, payment_id: body.out_trade_no, status, amount: body.amount, at: body.at })
    }

    async fn query_trade(&self, trade_id: &str) -> Result<TradeNotice, PaymentGatewayError> {
        Self::notice(self.call(reqwest::Method::GET, &format!("/api/trades/{trade_id}"), None).await?)
    }

    async fn close_trade(&self, trade_id: &str) -> Result<TradeNotice, PaymentGatewayError> {
        Self::notice(self.call(reqwest::Method::POST, &format!("/api/trades/{trade_id}/close"), Some("{}".into())).await?)
    }

    async fn refund(&self, trade_id: &str, refund_id: Uuid, amount: Money, reason: &str) -> Result<RefundReceipt, PaymentGatewayError> {
        let body = RefundRequest { refund_no: refund_id, amount, reason: reason.into() };
        let answer: RefundAnswer = self.call(reqwest::Method::POST, &format!("/api/trades/{trade_id}/refund"), Some(json(&body))).await?;
        Ok(RefundReceipt { refund_id: answer.refund_id, at: answer.at })
    }
}
