//! Test hooks (only with `test_hooks = true`): make the sandbox do what real gateways do on
//! their bad days, on demand — money that lands after the merchant closed the payment, and
//! callbacks that arrive late, repeated or out of order.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use services::payment_gateway::TradeStatus;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::SandboxError;
use super::{SandboxPay, TradeState};

pub fn router() -> OpenApiRouter<Arc<SandboxPay>> {
    OpenApiRouter::new().routes(routes!(settle)).routes(routes!(notify))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct HookRequest {
    /// `succeeded`, `failed`, `cancelled`, `closed` or `refunded`.
    pub status: String,
    /// How many times to deliver the callback (default: the configured duplicate count; 0 sends
    /// none, as if it were lost).
    pub times: Option<u32>,
    /// Wait before each delivery, in milliseconds (default: the configured delay).
    pub delay_ms: Option<u64>,
}

type Answer = Result<Json<TradeState>, (StatusCode, Json<SandboxError>)>;

fn parse(request: &HookRequest) -> Result<TradeStatus, (StatusCode, Json<SandboxError>)> {
    TradeStatus::parse(&request.status)
        .filter(|s| *s != TradeStatus::Pending)
        .ok_or_else(|| (StatusCode::UNPROCESSABLE_ENTITY, Json(SandboxError { code: "bad_status", message: format!("unknown status {:?}", request.status) })))
}

fn missing(trade: &str) -> (StatusCode, Json<SandboxError>) {
    (StatusCode::NOT_FOUND, Json(SandboxError { code: "trade_not_found", message: format!("no trade {trade}") }))
}

impl SandboxPay {
    fn hook_timing(&self, request: &HookRequest) -> (u32, Duration) {
        (request.times.unwrap_or(self.settings.duplicate_callbacks), request.delay_ms.map(Duration::from_millis).unwrap_or(self.settings.callback_delay))
    }
}

/// Force a trade into a status whatever it was (e.g. `succeeded` after it was cancelled: the
/// user's money landed anyway) and send the callback.
#[utoipa::path(post, path = "/test/trades/{trade}/settle", tag = "sandbox", request_body = HookRequest,
    params(("trade" = String, Path, description = "the sandbox trade id")),
    responses((status = 200, body = TradeState), (status = 404, body = SandboxError), (status = 422, body = SandboxError)))]
async fn settle(State(sandbox): State<Arc<SandboxPay>>, Path(trade): Path<String>, Json(request): Json<HookRequest>) -> Answer {
    let status = parse(&request)?;
    let now = sandbox.now();
    let forced = sandbox
        .update(&trade, |t| {
            t.status = status;
            t.at = now;
            t.clone()
        })
        .ok_or_else(|| missing(&trade))?;
    let (times, delay) = sandbox.hook_timing(&request);
    sandbox.notify(&forced, status, times, delay);
    Ok(Json(forced.state()))
}

/// Send a callback saying `status` without changing the trade: stale news arriving late and
/// out of order (e.g. `cancelled` after the trade succeeded).
#[utoipa::path(post, path = "/test/trades/{trade}/notify", tag = "sandbox", request_body = HookRequest,
    params(("trade" = String, Path, description = "the sandbox trade id")),
    responses((status = 200, body = TradeState), (status = 404, body = SandboxError), (status = 422, body = SandboxError)))]
async fn notify(State(sandbox): State<Arc<SandboxPay>>, Path(trade): Path<String>, Json(request): Json<HookRequest>) -> Answer {
    let status = parse(&request)?;
    let current = sandbox.trade(&trade).ok_or_else(|| missing(&trade))?;
    let (times, delay) = sandbox.hook_timing(&request);
    sandbox.notify(&current, status, times, delay);
    Ok(Json(current.state()))
}
