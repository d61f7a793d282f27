//! The sandbox's merchant API: open, query, close and refund trades. Every request must carry
//! the sandbox signature over its body, as real gateways require of merchants.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use domain::money::Money;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use services::payment_gateway::TradeStatus;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Refund, SandboxPay, Trade, TradeState, signing};

pub fn router() -> OpenApiRouter<Arc<SandboxPay>> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(query)).routes(routes!(close)).routes(routes!(refund))
}

/// The sandbox's error answer: `{"code", "message"}` (gateways speak English codes).
#[derive(Debug, Serialize, ToSchema)]
pub struct SandboxError {
    pub code: &'static str,
    pub message: String,
}

type Answer<T> = Result<(StatusCode, Json<T>), (StatusCode, Json<SandboxError>)>;

fn fail(status: StatusCode, code: &'static str, message: impl Into<String>) -> (StatusCode, Json<SandboxError>) {
    (status, Json(SandboxError { code, message: message.into() }))
}

impl SandboxPay {
    fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), (StatusCode, Json<SandboxError>)> {
        let header = headers.get(signing::HEADER).and_then(|v| v.to_str().ok());
        signing::verify(&self.key, header, body, self.now()).map_err(|why| fail(StatusCode::UNAUTHORIZED, "bad_signature", why))
    }

    fn signed_json<T: DeserializeOwned>(&self, headers: &HeaderMap, body: &[u8]) -> Result<T, (StatusCode, Json<SandboxError>)> {
        self.check_signature(headers, body)?;
        serde_json::from_slice(body).map_err(|e| fail(StatusCode::BAD_REQUEST, "bad_request", e.to_string()))
    }

    fn known(&self, trade: &str) -> Result<Trade, (StatusCode, Json<SandboxError>)> {
        self.expire_if_due(trade);
        self.trade(trade).ok_or_else(|| fail(StatusCode::NOT_FOUND, "trade_not_found", format!("no trade {trade}")))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateTrade {
    /// The merchant's payment id; the same id again returns the same trade.
    pub out_trade_no: Uuid,
    #[schema(value_type = String, example = "29.52")]
    pub amount: Money,
    pub subject: String,
    /// Where the callbacks go.
    pub notify_url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedTrade {
    pub trade_id: String,
    pub pay_url: String,
}

/// Open a trade (merchant API, signed).
#[utoipa::path(post, path = "/api/trades", tag = "sandbox", request_body = CreateTrade,
    responses((status = 201, body = CreatedTrade), (status = 401, body = SandboxError), (status = 422, body = SandboxError)))]
async fn create(State(sandbox): State<Arc<SandboxPay>>, headers: HeaderMap, body: Bytes) -> Answer<CreatedTrade> {
    let request: CreateTrade = sandbox.signed_json(&headers, &body)?;
    if request.amount.is_negative() || request.amount.is_zero() || request.amount.round_fen() != request.amount {
        return Err(fail(StatusCode::UNPROCESSABLE_ENTITY, "bad_amount", "the amount must be positive, in fen"));
    }
    if !request.notify_url.starts_with("http") {
        return Err(fail(StatusCode::UNPROCESSABLE_ENTITY, "bad_notify_url", "notify_url must be an http(s) URL"));
    }
    let now = sandbox.now();
    let mut trades = sandbox.trades.lock();
    if let Some(existing) = trades.values().find(|t| t.out_trade_no == request.out_trade_no) {
        return Ok((StatusCode::OK, Json(CreatedTrade { trade_id: existing.trade_id.clone(), pay_url: sandbox.pay_url(&existing.trade_id) })));
    }
    let trade_id = format!("SBX{}", Uuid::now_v7().simple()).to_uppercase();
    trades.insert(
        trade_id.clone(),
        Trade {
            trade_id: trade_id.clone(),
            out_trade_no: request.out_trade_no,
            amount: request.amount,
            subject: request.subject,
            notify_url: request.notify_url,
            status: TradeStatus::Pending,
            expires_at: request.expires_at,
            at: now,
            refund: None,
        },
    );
    Ok((StatusCode::CREATED, Json(CreatedTrade { pay_url: sandbox.pay_url(&trade_id), trade_id })))
}

/// A trade's state (merchant API, signed over an empty body).
#[utoipa::path(get, path = "/api/trades/{trade}", tag = "sandbox", params(("trade" = String, Path, description = "the sandbox trade id")),
    responses((status = 200, body = TradeState), (status = 401, body = SandboxError), (status = 404, body = SandboxError)))]
async fn query(State(sandbox): State<Arc<SandboxPay>>, headers: HeaderMap, Path(trade): Path<String>) -> Answer<TradeState> {
    sandbox.check_signature(&headers, b"")?;
    Ok((StatusCode::OK, Json(sandbox.known(&trade)?.state())))
}

/// Close an unpaid trade (merchant API, signed). Answers the trade's state afterwards: `closed`,
/// or whatever it already was (`succeeded` when the user paid first).
#[utoipa::path(post, path = "/api/trades/{trade}/close", tag = "sandbox", params(("trade" = String, Path, description = "the sandbox trade id")),
    request_body(content = String, description = "`{}` (signed like every merchant request)", content_type = "application/json"),
    responses((status = 200, body = TradeState), (status = 401, body = SandboxError), (status = 404, body = SandboxError)))]
async fn close(State(sandbox): State<Arc<SandboxPay>>, headers: HeaderMap, Path(trade): Path<String>, body: Bytes) -> Answer<TradeState> {
    sandbox.check_signature(&headers, &body)?;
    sandbox.known(&trade)?;
    let now = sandbox.now();
    let state = sandbox
        .update(&trade, |t| {
            if t.status == TradeStatus::Pending {
                t.status = TradeStatus::Closed;
                t.at = now;
            }
            t.state()
        })
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "trade_not_found", format!("no trade {trade}")))?;
    Ok((StatusCode::OK, Json(state)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundRequest {
    /// The merchant's refund id: asking again with it returns the same refund.
    pub refund_no: Uuid,
    /// Full refunds only: the trade's amount.
    #[schema(value_type = String, example = "29.52")]
    pub amount: Money,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefundAnswer {
    pub refund_id: String,
    pub at: DateTime<Utc>,
}

/// Refund a paid trade in full (merchant API, signed); a `refunded` callback follows.
#[utoipa::path(post, path = "/api/trades/{trade}/refund", tag = "sandbox", params(("trade" = String, Path, description = "the sandbox trade id")),
    request_body = RefundRequest,
    responses((status = 200, body = RefundAnswer), (status = 401, body = SandboxError), (status = 404, body = SandboxError),
              (status = 409, body = SandboxError, description = "not paid, or refunded under another refund id"), (status = 422, body = SandboxError)))]
async fn refund(State(sandbox): State<Arc<SandboxPay>>, headers: HeaderMap, Path(trade): Path<String>, body: Bytes) -> Answer<RefundAnswer> {
    let request: RefundRequest = sandbox.signed_json(&headers, &body)?;
    let current = sandbox.known(&trade)?;
    if request.amount != current.amount {
        return Err(fail(StatusCode::UNPROCESSABLE_ENTITY, "bad_amount", format!("full refunds only: {}", current.amount)));
    }
    let now = sandbox.now();
    let outcome = sandbox
        .update(&trade, |t| match (t.status, t.refund.clone()) {
            (TradeStatus::Refunded, Some(r)) if r.refund_no == request.refund_no => Ok((r, None)),
            (TradeStatus::Succeeded, _) => {
                let r = Refund { refund_no: request.refund_no, refund_id: format!("RFD{}", Uuid::now_v7().simple()).to_uppercase(), at: now };
                t.status = TradeStatus::Refunded;
                t.at = now;
                t.refund = Some(r.clone());
                Ok((r, Some(t.clone())))
            }
            (status, _) => Err(fail(StatusCode::CONFLICT, "not_refundable", format!("the trade is {}", status.as_str()))),
        })
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "trade_not_found", format!("no trade {trade}")))??;
    let (receipt, refunded) = outcome;
    if let Some(t) = refunded {
        tracing::info!(trade = %t.trade_id, reason = %request.reason, "sandbox refund");
        sandbox.notify(&t, TradeStatus::Refunded, 1, sandbox.settings.callback_delay);
    }
    Ok((StatusCode::OK, Json(RefundAnswer { refund_id: receipt.refund_id, at: receipt.at })))
}
