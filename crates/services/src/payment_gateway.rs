//! The payment gateway port: what the payment flow needs from any gateway (the built-in
//! sandbox, and later real ones), protocol-neutral. The `server` crate implements it over HTTP.
//!
//! Real gateways share one shape, and so does this trait: the merchant creates a trade and sends
//! the user to the gateway's page; the outcome arrives later as a signed, asynchronous callback
//! that may come several times, late or out of order, or never (then the merchant queries, and
//! closes what nobody paid); refunds are requested by the merchant. Everything the gateway says
//! is checked by the flow in `payments`, never trusted to be in order.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::money::Money;
use uuid::Uuid;

/// What we ask the gateway to collect.
#[derive(Debug, Clone)]
pub struct TradeRequest {
    /// Our payment id: the gateway echoes it in callbacks (its "out_trade_no").
    pub payment_id: Uuid,
    /// The order paid, or the top-up's own id for a wallet top-up.
    pub order_id: Uuid,
    pub amount: Money,
    /// Shown to the user on the payment page.
    pub subject: String,
    /// After this the trade should not be payable any more.
    pub expires_at: DateTime<Utc>,
}

/// A trade the gateway opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTrade {
    pub trade_id: String,
    /// Where to send the user to pay.
    pub pay_url: String,
}

/// A trade's state at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeStatus {
    /// Opened, not paid yet (only a query says this; callbacks report outcomes).
    Pending,
    Succeeded,
    Failed,
    /// The user cancelled on the payment page.
    Cancelled,
    /// Closed unpaid at the merchant's request (after a timeout).
    Closed,
    Refunded,
}

impl TradeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Closed => "closed",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed, Self::Cancelled, Self::Closed, Self::Refunded].into_iter().find(|t| t.as_str() == s)
    }
}

/// A verified callback, or a query answer: what the gateway says about one trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeNotice {
    pub trade_id: String,
    /// Our payment id as the gateway echoes it.
    pub payment_id: Uuid,
    pub status: TradeStatus,
    pub amount: Money,
    /// When the gateway says it happened.
    pub at: DateTime<Utc>,
}

/// A callback as it arrived, before anything is believed.
#[derive(Debug, Clone, Default)]
pub struct CallbackRequest {
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The raw body: signatures are over bytes, not over re-serialised JSON.
    pub body: Vec<u8>,
}

impl CallbackRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The gateway's confirmation of a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReceipt {
    pub refund_id: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentGatewayError {
    /// The callback's signature does not verify (or is missing, or too old): believe nothing.
    #[error("the callback signature does not verify: {0}")]
    BadSignature(String),
    /// Signed, but not a callback we understand.
    #[error("the callback cannot be read: {0}")]
    Malformed(String),
    /// No answer: the outcome of a request is unknown; ask again later.
    #[error("the payment gateway did not answer: {0}")]
    NoAnswer(String),
    /// The gateway answered no (e.g. refunding a trade that was never paid).
    #[error("the payment gateway refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// The name payments record as their method and callbacks arrive under (`sandbox`).
    fn name(&self) -> &'static str;

    /// Opens a trade; the user pays on the returned page.
    async fn create_trade(&self, request: &TradeRequest) -> Result<CreatedTrade, PaymentGatewayError>;

    /// Verifies a callback's signature (and freshness, against `now`) and reads it. Nothing in
    /// an unverified callback may be used.
    fn verify_callback(&self, callback: &CallbackRequest, now: DateTime<Utc>) -> Result<TradeNotice, PaymentGatewayError>;

    /// The trade's state now; for payments whose callback never came.
    async fn query_trade(&self, trade_id: &str) -> Result<TradeNotice, PaymentGatewayError>;

    /// Closes an unpaid trade so it cannot be paid any more. Answers the trade's state after
    /// the attempt: `Closed`, or `Succeeded` when the user paid just before.
    async fn close_trade(&self, trade_id: &str) -> Result<TradeNotice, PaymentGatewayError>;

    /// Gives a paid trade's money back in full. `refund_id` is ours and makes a repeated
    /// request (after no answer) the same refund, never a second one.
    async fn refund(&self, trade_id: &str, refund_id: Uuid, amount: Money, reason: &str) -> Result<RefundReceipt, PaymentGatewayError>;
}
