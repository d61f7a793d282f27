//! What the simulated operator knows: connectors, sessions, reservations, the answers it gave
//! (replayed for repeated idempotency keys) and the webhooks it received.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::Notify;

use super::Misbehaviour;
use super::catalog::ConnectorSpec;
use crate::cec_cpo::data::SimRng;

/// A connector's live status, as section 4 spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorStatus {
    Offline,
    Available,
    /// A car is plugged in but not charging.
    Occupied,
    Charging,
    Reserved,
    Faulted,
}

impl ConnectorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Available => "available",
            Self::Occupied => "occupied",
            Self::Charging => "charging",
            Self::Reserved => "reserved",
            Self::Faulted => "faulted",
        }
    }
}

/// A session at the charger; the words are those of `get_session`'s `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Starting,
    Charging,
    Stopping,
    Ended,
    /// The start did not happen (`failed` was reported); `get_session` says `not_found`, as
    /// the guide asks for a start that never delivered energy.
    Failed,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Charging => "charging",
            Self::Stopping => "stopping",
            Self::Ended => "ended",
            Self::Failed => "not_found",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The platform's id (a UUID it chose).
    pub session_id: String,
    pub connector_id: String,
    pub state: SessionState,
    /// Constant charging power, kW.
    pub power_kw: Decimal,
    pub accepted_at: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// Set when a stop is asked for (`user` by command) or happens at the charger.
    pub stop_reason: Option<String>,
    /// Decided from the seed when the start is accepted.
    pub start_fails: bool,
    /// Whether the start used a reservation with the same id.
    pub from_reservation: bool,
    /// The charge record as sent, and the platform's answer to it.
    pub record: Option<Value>,
    pub record_answer: Option<(u16, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationState {
    Held,
    Used,
    Expired,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReservationInfo {
    pub reservation_id: String,
    pub connector_id: String,
    pub expires_at: DateTime<Utc>,
    pub state: ReservationState,
}

/// One command call that passed the signature check.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandLog {
    pub command: String,
    pub idempotency_key: Option<String>,
    pub body: Value,
    /// What we answered (status and body).
    pub answer: (u16, Value),
    /// True when the answer was replayed for a repeated idempotency key.
    pub repeat: bool,
}

/// One webhook event, after its signature was checked and duplicates dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

pub(crate) struct ConnectorState {
    pub spec: ConnectorSpec,
    pub status: ConnectorStatus,
}

pub(crate) struct State {
    pub connectors: BTreeMap<String, ConnectorState>,
    pub sessions: HashMap<String, SessionInfo>,
    pub session_order: Vec<String>,
    /// Wakes a session's task when it is asked to stop.
    pub stop_signals: HashMap<String, Arc<Notify>>,
    pub reservations: HashMap<String, ReservationInfo>,
    pub reservation_order: Vec<String>,
    /// The first answer per idempotency key.
    pub answers: HashMap<String, (u16, Value)>,
    pub commands: Vec<CommandLog>,
    pub webhooks: Vec<WebhookEvent>,
    pub webhook_ids: HashSet<String>,
    pub webhook_duplicates: usize,
    pub bad_signatures: usize,
    pub misbehaviour: Misbehaviour,
    pub rng: SimRng,
}

impl State {
    pub(crate) fn new(connectors: BTreeMap<String, ConnectorState>, misbehaviour: Misbehaviour, rng: SimRng) -> Self {
        Self {
            connectors,
            sessions: HashMap::new(),
            session_order: Vec::new(),
            stop_signals: HashMap::new(),
            reservations: HashMap::new(),
            reservation_order: Vec::new(),
            answers: HashMap::new(),
            commands: Vec::new(),
            webhooks: Vec::new(),
            webhook_ids: HashSet::new(),
            webhook_duplicates: 0,
            bad_signatures: 0,
            misbehaviour,
            rng,
        }
    }

    /// A session that holds the connector (not yet ended).
    pub(crate) fn active_session_on(&self, connector_id: &str) -> Option<&SessionInfo> {
        self.sessions
            .values()
            .find(|s| s.connector_id == connector_id && matches!(s.state, SessionState::Starting | SessionState::Charging | SessionState::Stopping))
    }

    /// A reservation that holds the connector.
    pub(crate) fn held_reservation_on(&self, connector_id: &str) -> Option<&ReservationInfo> {
        self.reservations.values().find(|r| r.connector_id == connector_id && r.state == ReservationState::Held)
    }
}
