//! What the application needs from the outside world, whatever the protocol: the `server`
//! crate implements these with each protocol's clients. Ports speak in domain values only.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::order::{FailureReason, StartChargeSeq};
use domain::partner::Partner;
use domain::settlement::DisputeKind;
use domain::station::{ConnectorStatus, Station};
use domain::tariff::Tariff;
use rust_decimal::Decimal;

/// The synchronous answer to a start command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartReply {
    Accepted,
    Refused(FailureReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReply {
    Accepted,
    AlreadyStopped,
    Refused(String),
}

/// The answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveReply {
    Reserved { until: DateTime<Utc> },
    Refused(FailureReason),
}

/// The answer to cancelling a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReserveReply {
    Cancelled,
    /// The partner has no such reservation: nothing is held.
    NotFound,
    /// It ended already (expired, used or cancelled before).
    AlreadyEnded,
}

/// What a query about a session found.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionReport {
    /// The partner knows no such session.
    NotFound,
    Starting,
    Charging {
        energy_kwh: Decimal,
        money: Option<Decimal>,
        soc: Option<Decimal>,
        at: DateTime<Utc>,
    },
    Stopping,
    Ended,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No answer (timeout, connection refused): the outcome of a command is unknown.
    #[error("the partner did not answer: {0}")]
    NoAnswer(String),
    /// The partner answered with an error.
    #[error("the partner refused: {0}")]
    Refused(String),
    /// We cannot talk to this partner (no endpoint or secrets configured).
    #[error("not configured: {0}")]
    NotConfigured(String),
}

/// A partner that operates charge points (flow A), reached over its own protocol.
#[async_trait]
pub trait OperatorGateway: Send + Sync + 'static {
    /// Stations changed since `since` (all when `None`).
    async fn stations(&self, partner: &Partner, since: Option<DateTime<Utc>>) -> Result<Vec<Station>, GatewayError>;
    /// Current connector statuses of the given stations: (connector external id, status).
    async fn statuses(&self, partner: &Partner, station_ids: &[String]) -> Result<Vec<(String, ConnectorStatus)>, GatewayError>;
    /// Time-of-day prices of a connector, if the partner publishes them.
    async fn tariff(&self, partner: &Partner, connector_id: &str) -> Result<Option<Tariff>, GatewayError>;
    async fn start(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<StartReply, GatewayError>;
    async fn stop(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<StopReply, GatewayError>;
    async fn session(&self, partner: &Partner, seq: &StartChargeSeq) -> Result<SessionReport, GatewayError>;
    /// Holds a connector for `minutes`; the same `seq` again returns the same reservation.
    async fn reserve(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str, minutes: u32) -> Result<ReserveReply, GatewayError>;
    async fn cancel_reserve(&self, partner: &Partner, seq: &StartChargeSeq, connector_id: &str) -> Result<CancelReserveReply, GatewayError>;
}

/// A pile's answer to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PileReply {
    Accepted,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PileCommandError {
    #[error("the pile is not connected")]
    Offline,
    /// Sent, but no answer in time: the pile may or may not act on it.
    #[error("the pile did not answer: {0}")]
    NoAnswer(String),
}

/// A pile's answer to a reservation (OCPP 1.6 `ReservationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationReply {
    Accepted,
    /// Someone is plugged in, charging, or holds another reservation.
    Occupied,
    Faulted,
    Unavailable,
    /// The pile does not do reservations (or not on this connector).
    Rejected,
}

/// A message an operator may ask a pile to send now (OCPP 1.6 `MessageTrigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub enum TriggeredMessage {
    BootNotification,
    DiagnosticsStatusNotification,
    FirmwareStatusNotification,
    Heartbeat,
    MeterValues,
    StatusNotification,
}

impl TriggeredMessage {
    pub const ALL: [TriggeredMessage; 6] = [
        Self::BootNotification,
        Self::DiagnosticsStatusNotification,
        Self::FirmwareStatusNotification,
        Self::Heartbeat,
        Self::MeterValues,
        Self::StatusNotification,
    ];

    /// The OCPP spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BootNotification => "BootNotification",
            Self::DiagnosticsStatusNotification => "DiagnosticsStatusNotification",
            Self::FirmwareStatusNotification => "FirmwareStatusNotification",
            Self::Heartbeat => "Heartbeat",
            Self::MeterValues => "MeterValues",
            Self::StatusNotification => "StatusNotification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A pile's answer to TriggerMessage (OCPP 1.6 `TriggerMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerReply {
    /// It will send the message.
    Accepted,
    Rejected,
    /// Its firmware does not send this message on request.
    NotImplemented,
}

/// A pile's answer to UnlockConnector (OCPP 1.6 `UnlockStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockReply {
    Unlocked,
    UnlockFailed,
    /// The connector has no lock (or the pile does not know the connector).
    NotSupported,
}

/// Our own piles (flow B), reached over OCPP by the central system.
#[async_trait]
pub trait PileControl: Send + Sync + 'static {
    fn is_connected(&self, ocpp_id: &str) -> bool;
    async fn remote_start(&self, ocpp_id: &str, connector_no: i64, id_tag: &str) -> Result<PileReply, PileCommandError>;
    async fn remote_stop(&self, ocpp_id: &str, transaction_id: i64) -> Result<PileReply, PileCommandError>;
    /// Holds a connector for `id_tag` until `expiry` (OCPP ReserveNow).
    async fn reserve(
        &self,
        ocpp_id: &str,
        connector_no: i64,
        reservation_id: i64,
        id_tag: &str,
        expiry: DateTime<Utc>,
    ) -> Result<ReservationReply, PileCommandError>;
    /// Releases a hold (OCPP CancelReservation); `Rejected` when the pile has no such hold.
    async fn cancel_reservation(&self, ocpp_id: &str, reservation_id: i64) -> Result<PileReply, PileCommandError>;
    /// Asks the pile to send `message` now, for one connector or (`None`) all that apply.
    async fn trigger_message(&self, ocpp_id: &str, message: TriggeredMessage, connector_no: Option<i64>) -> Result<TriggerReply, PileCommandError>;
    /// Releases the cable lock of a connector (OCPP UnlockConnector).
    async fn unlock_connector(&self, ocpp_id: &str, connector_no: i64) -> Result<UnlockReply, PileCommandError>;
}

/// A partner's disagreement with one of our orders (its answer to our list of orders), with
/// the partner's own figures for it: what goes on the statement as "theirs".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDispute {
    pub seq: String,
    pub kind: DisputeKind,
    pub energy: domain::money::Energy,
    pub amount: domain::money::Money,
}

/// Asking a partner to check our list of its users' orders for a settlement period (flow B).
#[async_trait]
pub trait PartnerLedger: Send + Sync + 'static {
    /// Whether this partner can be asked (its protocol has a way to check a list of orders).
    fn checks_orders(&self, partner: &Partner) -> bool;
    async fn check_orders(
        &self,
        partner: &Partner,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        orders: &[domain::settlement::LedgerEntry],
    ) -> Result<Vec<OrderDispute>, GatewayError>;
}
