//! The built-in sandbox payment gateway: a real HTTP peer mounted at `/sandbox/pay`, behaving
//! the way real gateways do so the payment flow is exercised end to end without one.
//!
//! - merchant API (signed requests): open a trade, query it, close it, refund it;
//! - a payment page (`GET /sandbox/pay/{trade}`, zh-CN / en) with Pay and Cancel buttons;
//! - the outcome is sent afterwards as a signed callback over HTTP to the trade's notify URL,
//!   possibly several times (`duplicate_callbacks`), after a delay, retried on failure;
//! - test hooks (`test_hooks = true`) to make it misbehave on purpose: force a trade's outcome
//!   (a payment that lands after we closed it) or send a stale, out-of-order callback.
//!
//! Trades live in memory: a sandbox restart forgets them, as a test gateway may.

mod api;
mod gateway;
mod hooks;
mod notifier;
mod page;
pub mod signing;
mod wallet_hook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::money::Money;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use services::Clock;
use services::payment_gateway::TradeStatus;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub use gateway::SandboxGateway;

/// How the sandbox behaves (`[sandbox_pay]` in the configuration).
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// Every callback is delivered this many times (real gateways repeat themselves).
    pub duplicate_callbacks: u32,
    /// Wait before each delivery.
    pub callback_delay: Duration,
    /// Mount `/sandbox/pay/test/...`.
    pub test_hooks: bool,
    /// Where the payment page is reached from a browser.
    pub public_base_url: String,
}

/// One trade as the sandbox keeps it.
#[derive(Debug, Clone)]
struct Trade {
    trade_id: String,
    /// The merchant's payment id (`out_trade_no`).
    out_trade_no: Uuid,
    amount: Money,
    subject: String,
    notify_url: String,
    status: TradeStatus,
    expires_at: DateTime<Utc>,
    /// When the status last changed.
    at: DateTime<Utc>,
    refund: Option<Refund>,
}

#[derive(Debug, Clone)]
struct Refund {
    /// The merchant's refund request id: the same id again is the same refund.
    refund_no: Uuid,
    refund_id: String,
    at: DateTime<Utc>,
}

/// A trade's state as the merchant API reports it (and as callbacks carry it).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TradeState {
    pub trade_id: String,
    pub out_trade_no: Uuid,
    /// `pending`, `succeeded`, `failed`, `cancelled`, `closed`, `refunded`.
    pub status: String,
    #[schema(value_type = String, example = "29.52")]
    pub amount: Money,
    pub at: DateTime<Utc>,
}

impl Trade {
    fn state(&self) -> TradeState {
        TradeState { trade_id: self.trade_id.clone(), out_trade_no: self.out_trade_no, status: self.status.as_str().into(), amount: self.amount, at: self.at }
    }
}

/// The sandbox gateway's state, shared by its handlers.
pub struct SandboxPay {
    key: String,
    clock: Arc<dyn Clock>,
    settings: SandboxSettings,
    http: reqwest::Client,
    trades: Mutex<HashMap<String, Trade>>,
}

impl SandboxPay {
    pub fn new(key: String, clock: Arc<dyn Clock>, settings: SandboxSettings, http: reqwest::Client) -> Arc<Self> {
        Arc::new(Self { key, clock, settings, http, trades: Mutex::default() })
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn trade(&self, trade_id: &str) -> Option<Trade> {
        self.trades.lock().get(trade_id).cloned()
    }

    /// Changes a trade under the lock; `None` when there is no such trade.
    fn update<T>(&self, trade_id: &str, change: impl FnOnce(&mut Trade) -> T) -> Option<T> {
        self.trades.lock().get_mut(trade_id).map(change)
    }

    /// A pending trade past its expiry is closed, as a real gateway closes it on its own.
    fn expire_if_due(&self, trade_id: &str) {
        let now = self.now();
        self.update(trade_id, |t| {
            if t.status == TradeStatus::Pending && now >= t.expires_at {
                t.status = TradeStatus::Closed;
                t.at = now;
            }
        });
    }

    fn pay_url(&self, trade_id: &str) -> String {
        format!("{}/sandbox/pay/{trade_id}", self.settings.public_base_url.trim_end_matches('/'))
    }
}

/// The sandbox's routes under `/sandbox/pay`, with their OpenAPI, ready to merge into the
/// application router.
pub fn router(sandbox: Arc<SandboxPay>) -> OpenApiRouter<crate::http::AppState> {
    let mut routes = page::router().merge(api::router());
    let test_hooks = sandbox.settings.test_hooks;
    if test_hooks {
        routes = routes.merge(hooks::router());
    }
    let router = OpenApiRouter::new().nest("/sandbox/pay", routes.with_state(sandbox));
    if test_hooks { router.merge(wallet_hook::router()) } else { router }
}
