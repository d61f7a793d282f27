//! A fleet of simulated OCPP 1.6J piles that behave like real firmware, built on
//! `ocpp::charge_point`.
//!
//! Each pile is one small actor task (plus the task of its WebSocket connection): it boots,
//! heartbeats, reports every status transition, answers remote start/stop, reservations,
//! triggers, unlock, availability, configuration and reset, samples its meter periodically, and
//! queues transaction messages (StartTransaction, MeterValues, StopTransaction) while offline,
//! delivering them in order after reconnecting with back-off. Faults can be injected through
//! [`PileHandle`]. Nothing here uses threads or per-pile timers beyond two tokio intervals, so
//! ten thousand piles fit in one process.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ocpp::charge_point::{ChargePoint, ChargePointConfig, ChargePointHandler};
use ocpp::enums::*;
use ocpp::messages::*;
use ocpp::{CallError, CallErrorCode, CommandError, IdToken};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::energy_meter::EnergyMeter;

/// Transaction messages kept while offline; the oldest meter values are dropped beyond this.
const OUTBOX_LIMIT: usize = 1000;
/// Attempts for a transaction message the central system answers with a CALLERROR.
const TRANSACTION_MESSAGE_ATTEMPTS: u32 = 3;

/// Basic auth password per identity; `None` = no Authorization header.
pub type PasswordFor = std::sync::Arc<dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync>;

/// How the fleet is built and behaves.
#[derive(Clone)]
pub struct FleetConfig {
    /// Central system endpoint without identity, e.g. `ws://127.0.0.1:8080/ocpp`.
    pub url_base: String,
    pub count: usize,
    /// Identities are `<prefix><index:05>`, index from 1.
    pub id_prefix: String,
    pub connectors_per_pile: u32,
    /// Basic auth password (AuthorizationKey) per identity; `None` = no Authorization header.
    pub password_for: PasswordFor,
    /// Period of MeterValues during a transaction (`MeterValueSampleInterval`).
    pub meter_interval: Duration,
    /// Power delivered while a transaction runs, in W: the meter integrates it over time, so a
    /// session's energy follows its length (30 s at 60 kW is 500 Wh).
    pub power_w: u32,
    /// `AuthorizeRemoteTxRequests`: send Authorize before starting a remote start.
    pub authorize_remote_start: bool,
    /// Granularity of housekeeping: reservation expiry, heartbeat and reconnect checks.
    pub tick: Duration,
    pub call_timeout: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Delay between starting consecutive piles, to avoid a thundering herd.
    pub start_spacing: Duration,
    pub vendor: String,
    pub model: String,
}

impl std::fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetConfig").field("url_base", &self.url_base).field("count", &self.count).field("id_prefix", &self.id_prefix).finish_non_exhaustive()
    }
}

impl FleetConfig {
    pub fn new(url_base: impl Into<String>, count: usize) -> Self {
        Self {
            url_base: url_base.into(),
            count,
            id_prefix: "SIM".into(),
            connectors_per_pile: 2,
            password_for: std::sync::Arc::new(|_| None),
            meter_interval: Duration::from_secs(60),
            power_w: 60_000,
            authorize_remote_start: false,
            tick: Duration::from_secs(1),
            call_timeout: Duration::from_secs(30),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            start_spacing: Duration::ZERO,
            vendor: "chargebridge".into(),
            model: "SimPile".into(),
        }
    }

    pub fn identity(&self, index: usize) -> String {
        format!("{}{:05}", self.id_prefix, index + 1)
    }
}

/// Observable state of one connector.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorSnapshot {
    pub status: ChargePointStatus,
    pub error_code: ChargePointErrorCode,
    /// Central system's id; `Some(-1)` while StartTransaction is not yet confirmed.
    pub transaction_id: Option<i32>,
    pub meter_wh: i64,
    pub reservation_id: Option<i32>,
}

/// Observable state of one pile.
#[derive(Debug, Clone, PartialEq)]
pub struct PileSnapshot {
    pub online: bool,
    pub accepted: bool,
    /// Index 0 is connector 1.
    pub connectors: Vec<ConnectorSnapshot>,
    /// Transaction messages waiting for delivery.
    pub queued: usize,
    pub connects: u32,
    pub boots: u32,
    /// ReserveNow requests received (for checking a central system does not repeat them).
    pub reserve_requests: u32,
    /// Messages sent because TriggerMessage asked for them (and answered by the central system).
    pub triggered: u32,
    /// CALLERRORs the central system answered this pile's messages with.
    pub call_errors: u32,
}

/// Fault injection and control of one pile.
#[derive(Debug)]
enum Control {
    RejectRemoteStart(bool),
    Silent(bool),
    Fault(u32, ChargePointErrorCode),
    ClearFault(u32),
    StopLocal(u32),
    HoldStarts(bool),
    DropConnection(Duration),
    Shutdown,
}

/// Handle to one simulated pile.
#[derive(Clone)]
pub struct PileHandle {
    id: String,
    control: mpsc::Sender<Control>,
    state: watch::Receiver<PileSnapshot>,
}

impl PileHandle {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn snapshot(&self) -> PileSnapshot {
        self.state.borrow().clone()
    }

    /// Waits until the pile's state satisfies `pred`; `None` on timeout.
    pub async fn wait_for(&self, timeout: Duration, pred: impl FnMut(&PileSnapshot) -> bool) -> Option<PileSnapshot> {
        let mut state = self.state.clone();
        let waited = tokio::time::timeout(timeout, state.wait_for(pred)).await;
        waited.ok()?.ok().map(|s| s.clone())
    }

    /// Answer RemoteStartTransaction with `Rejected`.
    pub async fn reject_remote_start(&self, reject: bool) {
        self.send(Control::RejectRemoteStart(reject)).await;
    }

    /// Stop answering the central system's CALLs (they time out on its side).
    pub async fn set_silent(&self, silent: bool) {
        self.send(Control::Silent(silent)).await;
    }

    /// Fault a connector: StatusNotification `Faulted`, then a running transaction stops with
    /// reason `Other`.
    pub async fn fault(&self, connector: u32, code: ChargePointErrorCode) {
        self.send(Control::Fault(connector, code)).await;
    }

    pub async fn clear_fault(&self, connector: u32) {
        self.send(Control::ClearFault(connector)).await;
    }

    /// The driver stops the transaction at the pile (reason `Local`), online or not.
    pub async fn stop_local(&self, connector: u32) {
        self.send(Control::StopLocal(connector)).await;
    }

    /// While held, an accepted remote start waits in `Preparing` (the driver has not plugged in
    /// yet) and its StartTransaction is sent only when the hold is released.
    pub async fn hold_starts(&self, hold: bool) {
        self.send(Control::HoldStarts(hold)).await;
    }

    /// Drop the connection and stay offline for `offline_for` before reconnecting.
    pub async fn drop_connection(&self, offline_for: Duration) {
        self.send(Control::DropConnection(offline_for)).await;
    }

    pub async fn shutdown(&self) {
        self.send(Control::Shutdown).await;
    }

    async fn send(&self, control: Control) {
        let _ = self.control.send(control).await;
    }
}

/// A running fleet.
pub struct PileFleet {
    piles: Vec<PileHandle>,
}

impl PileFleet {
    /// Starts `count` piles (spaced by `start_spacing`); returns at once.
    pub fn start(config: FleetConfig) -> PileFleet {
        let config = Arc::new(config);
        let piles = (0..config.count)
            .map(|index| {
                let id = config.identity(index);
                let (control_tx, control_rx) = mpsc::channel(16);
                let (state_tx, state_rx) = watch::channel(initial_snapshot(&config));
                let pile = Pile::new(id.clone(), index, config.clone(), state_tx);
                let delay = config.start_spacing * index as u32;
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    pile.run(control_rx).await;
                });
                PileHandle { id, control: control_tx, state: state_rx }
            })
            .collect();
        PileFleet { piles }
    }

    pub fn piles(&self) -> &[PileHandle] {
        &self.piles
    }

    pub fn pile(&self, index: usize) -> &PileHandle {
        &self.piles[index]
    }

    pub fn by_id(&self, id: &str) -> Option<&PileHandle> {
        self.piles.iter().find(|p| p.id == id)
    }

    pub fn len(&self) -> usize {
        self.piles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.piles.is_empty()
    }

    /// How many piles are connected and accepted right now.
    pub fn online_count(&self) -> usize {
        self.piles.iter().filter(|p| p.state.borrow().online && p.state.borrow().accepted).count()
    }

    /// Waits until every pile is online and accepted; returns whether that happened in time.
    pub async fn wait_all_online(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        for pile in &self.piles {
            let left = deadline.saturating_duration_since(Instant::now());
            if pile.wait_for(left, |s| s.online && s.accepted).await.is_none() {
                return false;
            }
        }
        true
    }

    pub async fn shutdown(&self) {
        for pile in &self.piles {
            pile.shutdown().await;
        }
    }
}

fn initial_snapshot(config: &FleetConfig) -> PileSnapshot {
    let connector = ConnectorSnapshot {
        status: ChargePointStatus::Available,
        error_code: ChargePointErrorCode::NoError,
        transaction_id: None,
        meter_wh: 0,
        reservation_id: None,
    };
    PileSnapshot {
        online: false,
        accepted: false,
        connectors: vec![connector; config.connectors_per_pile as usize],
        queued: 0,
        connects: 0,
        boots: 0,
        reserve_requests: 0,
        triggered: 0,
        call_errors: 0,
    }
}

/// A CALL from the central system waiting for the pile's answer.
struct Inbound {
    action: String,
    payload: Value,
    reply: oneshot::Sender<Result<Value, CallError>>,
}

/// Forwards the central system's CALLs to the pile actor.
struct Forwarder(mpsc::Sender<Inbound>);

#[async_trait]
impl ChargePointHandler for Forwarder {
    async fn handle(&self, action: &str, payload: Value) -> Result<Value, CallError> {
        let (reply, answer) = oneshot::channel();
        let inbound = Inbound { action: action.to_owned(), payload, reply };
        if self.0.send(inbound).await.is_err() {
            return Err(CallError::internal("pile is shutting down"));
        }
        answer.await.unwrap_or_else(|_| Err(CallError::internal("pile dropped the request")))
    }
}

struct Transaction {
    /// Our key until the central system assigns its id.
    local: u64,
    id_tag: IdToken,
}

struct Reservation {
    id: i32,
    id_tag: IdToken,
    expiry: DateTime<Utc>,
}

struct Connector {
    status: ChargePointStatus,
    error: ChargePointErrorCode,
    tx: Option<Transaction>,
    reservation: Option<Reservation>,
    meter: EnergyMeter,
    /// ChangeAvailability(Inoperative) arrived during a transaction.
    unavailable_after_tx: bool,
}

/// Queued transaction message; the transaction id is resolved when it is sent.
#[derive(Clone)]
enum TxMessage {
    Start(u64, StartTransactionRequest),
    Meter(u64, MeterValuesRequest),
    Stop(u64, StopTransactionRequest),
}

/// Work to do after the answer to a central system CALL went out.
enum FollowUp {
    None,
    RemoteStart {
        connector: u32,
        id_tag: IdToken,
    },
    Stop {
        connector: u32,
        reason: Reason,
    },
    /// Report the current state (after a command changed it).
    Trigger(MessageTrigger, Option<u32>),
    /// Send what the central system asked for with TriggerMessage.
    Requested(MessageTrigger, Option<u32>),
    Reset(Reason),
}

struct Pile {
    id: String,
    index: usize,
    config: Arc<FleetConfig>,
    state: watch::Sender<PileSnapshot>,
    connectors: Vec<Connector>,
    link: Option<ChargePoint>,
    inbound_tx: mpsc::Sender<Inbound>,
    accepted: bool,
    heartbeat: Duration,
    next_heartbeat: Instant,
    next_boot: Instant,
    reconnect_at: Instant,
    backoff: Duration,
    password: Option<Vec<u8>>,
    outbox: VecDeque<TxMessage>,
    failed_attempts: u32,
    next_local: u64,
    tx_ids: HashMap<u64, i32>,
    authorize_remote_start: bool,
    meter_interval: Duration,
    reject_remote_start: bool,
    hold_starts: bool,
    /// Accepted remote starts waiting for the hold to be released.
    held_starts: Vec<(u32, IdToken)>,
    silent: bool,
    silenced: Vec<oneshot::Sender<Result<Value, CallError>>>,
    connects: u32,
    boots: u32,
    reserve_requests: u32,
    triggered: u32,
    call_errors: u32,
}

impl Pile {
    fn new(id: String, index: usize, config: Arc<FleetConfig>, state: watch::Sender<PileSnapshot>) -> Self {
        let connectors = (0..config.connectors_per_pile)
            .map(|_| Connector {
                status: ChargePointStatus::Available,
                error: ChargePointErrorCode::NoError,
                tx: None,
                reservation: None,
                meter: EnergyMeter::new(config.power_w),
                unavailable_after_tx: false,
            })
            .collect();
        let now = Instant::now();
        let password = (config.password_for)(&id);
        Self {
            id,
            index,
            state,
            connectors,
            link: None,
            inbound_tx: mpsc::channel(1).0,
            accepted: false,
            heartbeat: Duration::from_secs(300),
            next_heartbeat: now,
            next_boot: now,
            reconnect_at: now,
            backoff: config.reconnect_min,
            password,
            outbox: VecDeque::new(),
            failed_attempts: 0,
            next_local: 1,
            tx_ids: HashMap::new(),
            authorize_remote_start: config.authorize_remote_start,
            meter_interval: config.meter_interval,
            reject_remote_start: false,
            hold_starts: false,
            held_starts: Vec::new(),
            silent: false,
            silenced: Vec::new(),
            connects: 0,
            boots: 0,
            reserve_requests: 0,
            triggered: 0,
            call_errors: 0,
            config,
        }
    }

    async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        let (inbound_tx, mut inbound) = mpsc::channel(4);
        self.inbound_tx = inbound_tx;
        let mut meter = new_interval(self.meter_interval);
        let mut housekeeping = new_interval(self.config.tick);
        self.connect().await;
        loop {
            let link = self.link.clone();
            let link_closed = async move {
                match link {
                    Some(link) => link.closed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // Injected faults first, so a fault set before a command applies to it.
                biased;
                ctrl = control.recv() => match ctrl {
                    Some(Control::Shutdown) | None => {
                        if let Some(link) = self.link.take() {
                            link.close();
                        }
                        return;
                    }
                    Some(ctrl) => self.on_control(ctrl).await,
                },
                Some(call) = inbound.recv() => {
                    let before = self.meter_interval;
                    self.on_inbound(call).await;
                    if self.meter_interval != before {
                        meter = new_interval(self.meter_interval);
                    }
                }
                _ = meter.tick() => self.on_meter_tick().await,
                _ = housekeeping.tick() => self.on_housekeeping().await,
                _ = link_closed => {
                    tracing::debug!(pile = %self.id, "connection closed");
                    self.link = None;
                    self.reconnect_at = Instant::now() + self.backoff;
                    self.publish();
                }
            }
        }
    }

    // ---- connection, boot, heartbeat -------------------------------------------------------

    async fn connect(&mut self) {
        let mut config = ChargePointConfig::new(&self.config.url_base, &self.id, self.password.clone());
        config.call_timeout = self.config.call_timeout;
        let handler = Arc::new(Forwarder(self.inbound_tx.clone()));
        match ChargePoint::connect(&config, handler).await {
            Ok(link) => {
                self.link = Some(link);
                self.connects += 1;
                self.backoff = self.config.reconnect_min;
                if self.accepted {
                    // Reconnect without reboot: no BootNotification, current statuses, then the queue.
                    self.send_all_statuses().await;
                    self.flush().await;
                } else {
                    self.boot().await;
                }
            }
            Err(e) => {
                tracing::debug!(pile = %self.id, error = %e, "connect failed");
                // Deterministic jitter of up to 25 % so a restarted central system is not stormed.
                let jitter = self.backoff.mul_f64(((self.index * 7919) % 100) as f64 / 400.0);
                self.reconnect_at = Instant::now() + self.backoff + jitter;
                self.backoff = (self.backoff * 2).min(self.config.reconnect_max);
            }
        }
        self.publish();
    }

    async fn boot(&mut self) {
        let request = BootNotificationRequest {
            charge_point_vendor: ci(&self.config.vendor),
            charge_point_model: ci(&self.config.model),
            charge_point_serial_number: ocpp::CiString::new(self.id.clone()).ok(),
            charge_box_serial_number: None,
            firmware_version: ocpp::CiString::new("sim-1.0").ok(),
            iccid: None,
            imsi: None,
            meter_type: None,
            meter_serial_number: None,
        };
        self.boots += 1;
        match self.call(request).await {
            Ok(conf) if conf.status == RegistrationStatus::Accepted => {
                self.accepted = true;
                if conf.interval > 0 {
                    self.heartbeat = Duration::from_secs(conf.interval.into());
                }
                self.next_heartbeat = Instant::now() + self.heartbeat;
                self.publish();
                self.send_all_statuses().await;
                self.flush().await;
            }
            Ok(conf) => {
                // Pending/Rejected: send nothing but the next BootNotification after `interval`.
                self.accepted = false;
                let wait = Duration::from_secs(conf.interval.max(1).into());
                self.next_boot = Instant::now() + wait;
            }
            Err(e) => {
                tracing::debug!(pile = %self.id, error = %e, "boot failed");
                self.next_boot = Instant::now() + self.config.reconnect_min;
            }
        }
        self.publish();
    }

    async fn on_housekeeping(&mut self) {
        let now = Instant::now();
        if self.link.is_none() {
            if now >= self.reconnect_at {
                self.connect().await;
            }
            return;
        }
        if !self.accepted {
            if now >= self.next_boot {
                self.boot().await;
            }
            return;
        }
        self.expire_reservations().await;
        if now >= self.next_heartbeat {
            let _ = self.call(HeartbeatRequest {}).await;
        }
        if !self.outbox.is_empty() {
            self.flush().await;
        }
    }

    /// Every CALL goes through here: it counts as traffic, so the heartbeat is postponed.
    async fn call<R: Request>(&mut self, request: R) -> Result<R::Response, CommandError> {
        let Some(link) = self.link.clone() else {
            return Err(CommandError::NotConnected);
        };
        self.next_heartbeat = Instant::now() + self.heartbeat;
        let answer = link.call(request).await;
        if matches!(answer, Err(CommandError::CallError { .. })) {
            self.call_errors += 1;
        }
        answer
    }

    fn online(&self) -> bool {
        self.link.as_ref().is_some_and(ChargePoint::is_connected) && self.accepted
    }

    // ---- statuses -------------------------------------------------------------------------

    async fn send_all_statuses(&mut self) -> bool {
        let mut sent = self.send_status(0, ChargePointStatus::Available, ChargePointErrorCode::NoError).await;
        for n in 1..=self.connectors.len() as u32 {
            let c = &self.connectors[n as usize - 1];
            let (status, error) = (c.status, c.error);
            sent &= self.send_status(n, status, error).await;
        }
        sent
    }

    async fn send_status(&mut self, connector: u32, status: ChargePointStatus, error_code: ChargePointErrorCode) -> bool {
        if !self.online() {
            return false; // Statuses are not queued: the current one is sent after reconnecting.
        }
        let request = StatusNotificationRequest {
            connector_id: connector,
            error_code,
            info: None,
            status,
            timestamp: Some(Utc::now()),
            vendor_id: None,
            vendor_error_code: None,
        };
        self.call(request).await.is_ok()
    }

    /// Changes a connector's status and reports it when it actually changed.
    async fn set_status(&mut self, connector: u32, status: ChargePointStatus, error: ChargePointErrorCode) {
        let c = &mut self.connectors[connector as usize - 1];
        if c.status == status && c.error == error {
            return;
        }
        c.status = status;
        c.error = error;
        self.publish();
        let _ = self.send_status(connector, status, error).await;
    }

    async fn expire_reservations(&mut self) {
        let now = Utc::now();
        for n in 1..=self.connectors.len() as u32 {
            let c = &mut self.connectors[n as usize - 1];
            if c.reservation.as_ref().is_some_and(|r| r.expiry <= now) {
                c.reservation = None;
                if c.status == ChargePointStatus::Reserved {
                    self.set_status(n, ChargePointStatus::Available, ChargePointErrorCode::NoError).await;
                }
                self.publish();
            }
        }
    }

    // ---- transactions ---------------------------------------------------------------------

    async fn start_transaction(&mut self, connector: u32, id_tag: IdToken) {
        let local = self.next_local;
        self.next_local += 1;
        let c = &mut self.connectors[connector as usize - 1];
        let reservation_id = c.reservation.take().map(|r| r.id);
        c.tx = Some(Transaction { local, id_tag: id_tag.clone() });
        // Energy flows from the moment the transaction begins (the meterStart reading).
        let now = Instant::now();
        c.meter.start(now);
        let request = StartTransactionRequest { connector_id: connector, id_tag, meter_start: c.meter.wh(now), reservation_id, timestamp: Utc::now() };
        self.enqueue(TxMessage::Start(local, request));
        self.flush().await;
        if self.connectors[connector as usize - 1].tx.is_some() {
            self.set_status(connector, ChargePointStatus::Charging, ChargePointErrorCode::NoError).await;
        }
    }

    async fn stop_transaction(&mut self, connector: u32, reason: Reason) {
        let c = &mut self.connectors[connector as usize - 1];
        let Some(tx) = c.tx.take() else { return };
        let id_tag = matches!(reason, Reason::Local | Reason::DeAuthorized).then_some(tx.id_tag);
        let now = Instant::now();
        c.meter.stop(now);
        let request = StopTransactionRequest {
            id_tag,
            meter_stop: c.meter.wh(now),
            timestamp: Utc::now(),
            transaction_id: -1,
            reason: Some(reason),
            transaction_data: None,
        };
        let next = if c.status == ChargePointStatus::Faulted {
            None
        } else if std::mem::take(&mut c.unavailable_after_tx) {
            Some(ChargePointStatus::Unavailable)
        } else {
            Some(ChargePointStatus::Available)
        };
        self.enqueue(TxMessage::Stop(tx.local, request));
        self.flush().await;
        if let Some(next) = next {
            // The simulated driver unplugs at once: Finishing, then free.
            self.set_status(connector, ChargePointStatus::Finishing, ChargePointErrorCode::NoError).await;
            self.set_status(connector, next, ChargePointErrorCode::NoError).await;
        }
    }

    async fn on_meter_tick(&mut self) {
        let (now, instant) = (Utc::now(), Instant::now());
        let mut any = false;
        for n in 1..=self.connectors.len() as u32 {
            let c = &mut self.connectors[n as usize - 1];
            let Some(tx) = &c.tx else { continue };
            if c.status != ChargePointStatus::Charging {
                continue;
            }
            let request = MeterValuesRequest {
                connector_id: n,
                transaction_id: None,
                meter_value: vec![MeterValue { timestamp: now, sampled_value: vec![SampledValue::energy_register_wh(c.meter.wh(instant))] }],
            };
            let local = tx.local;
            self.enqueue(TxMessage::Meter(local, request));
            any = true;
        }
        if any {
            self.publish();
            self.flush().await;
        }
    }

    fn enqueue(&mut self, message: TxMessage) {
        if self.outbox.len() >= OUTBOX_LIMIT
            && let Some(pos) = self.outbox.iter().position(|m| matches!(m, TxMessage::Meter(..)))
        {
            self.outbox.remove(pos);
        }
        self.outbox.push_back(message);
        self.publish();
    }

    /// The central system's id for a local transaction, or -1 if it never confirmed one.
    fn resolve(&self, local: u64) -> i32 {
        self.tx_ids.get(&local).copied().unwrap_or(-1)
    }

    /// Delivers queued transaction messages in order while online. A CALLERROR is retried a
    /// few times and then the message is dropped (as firmware does); no answer keeps it queued.
    async fn flush(&mut self) {
        let mut deauthorized = Vec::new();
        while self.online() {
            let Some(message) = self.outbox.front().cloned() else { break };
            let result = match message {
                TxMessage::Start(local, request) => match self.call(request).await {
                    Ok(conf) => {
                        self.tx_ids.insert(local, conf.transaction_id);
                        if conf.id_tag_info.status != AuthorizationStatus::Accepted {
                            deauthorized.push(local);
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                TxMessage::Meter(local, mut request) => {
                    request.transaction_id = Some(self.resolve(local));
                    self.call(request).await.map(drop)
                }
                TxMessage::Stop(local, mut request) => {
                    request.transaction_id = self.resolve(local);
                    self.call(request).await.map(drop)
                }
            };
            match result {
                Ok(()) => {
                    self.outbox.pop_front();
                    self.failed_attempts = 0;
                }
                Err(CommandError::CallError { .. }) if self.failed_attempts + 1 < TRANSACTION_MESSAGE_ATTEMPTS => {
                    self.failed_attempts += 1;
                    break;
                }
                Err(CommandError::CallError { code, description }) => {
                    tracing::warn!(pile = %self.id, %code, %description, "dropping transaction message after retries");
                    self.outbox.pop_front();
                    self.failed_attempts = 0;
                }
                Err(_) => break,
            }
        }
        self.publish();
        for local in deauthorized {
            let connector = self.connectors.iter().position(|c| c.tx.as_ref().is_some_and(|t| t.local == local));
            if let Some(i) = connector {
                Box::pin(self.stop_transaction(i as u32 + 1, Reason::DeAuthorized)).await;
            }
        }
    }

    // ---- the central system's commands ----------------------------------------------------

    async fn on_inbound(&mut self, call: Inbound) {
        if self.silent {
            self.silenced.push(call.reply);
            return;
        }
        let (answer, follow_up) = match self.answer(&call.action, call.payload) {
            Ok((payload, follow_up)) => (Ok(payload), follow_up),
            Err(e) => (Err(e), FollowUp::None),
        };
        let _ = call.reply.send(answer);
        match follow_up {
            FollowUp::None => {}
            FollowUp::RemoteStart { connector, id_tag } => self.remote_start(connector, id_tag).await,
            FollowUp::Stop { connector, reason } => self.stop_transaction(connector, reason).await,
            FollowUp::Trigger(what, connector) => {
                self.triggered(what, connector).await;
            }
            FollowUp::Requested(what, connector) => {
                if self.triggered(what, connector).await {
                    self.triggered += 1;
                    self.publish();
                }
            }
            FollowUp::Reset(reason) => {
                for n in 1..=self.connectors.len() as u32 {
                    self.stop_transaction(n, reason).await;
                }
                self.accepted = false;
                if let Some(link) = self.link.take() {
                    link.close();
                }
                self.reconnect_at = Instant::now();
                self.publish();
            }
        }
    }

    /// Computes the `.conf` of a central system CALL and what to do after sending it.
    fn answer(&mut self, action: &str, payload: Value) -> Result<(Value, FollowUp), CallError> {
        let n = self.connectors.len() as u32;
        let valid = |c: u32| (1..=n).contains(&c);
        Ok(match action {
            "RemoteStartTransaction" => {
                let req: RemoteStartTransactionRequest = decode(action, payload)?;
                let free_for = |c: &Connector| {
                    c.tx.is_none()
                        && (c.status == ChargePointStatus::Available
                            || (c.status == ChargePointStatus::Reserved && c.reservation.as_ref().is_some_and(|r| r.id_tag == req.id_tag)))
                };
                let chosen = match req.connector_id {
                    Some(c) if valid(c) && free_for(&self.connectors[c as usize - 1]) => Some(c),
                    Some(_) => None,
                    None => self.connectors.iter().position(free_for).map(|i| i as u32 + 1),
                };
                match chosen {
                    Some(connector) if !self.reject_remote_start => {
                        (status(RemoteStartStopStatus::Accepted), FollowUp::RemoteStart { connector, id_tag: req.id_tag })
                    }
                    _ => (status(RemoteStartStopStatus::Rejected), FollowUp::None),
                }
            }
            "RemoteStopTransaction" => {
                let req: RemoteStopTransactionRequest = decode(action, payload)?;
                let found = self.connectors.iter().position(|c| c.tx.as_ref().is_some_and(|t| self.resolve(t.local) == req.transaction_id));
                match found {
                    Some(i) => (status(RemoteStartStopStatus::Accepted), FollowUp::Stop { connector: i as u32 + 1, reason: Reason::Remote }),
                    None => (status(RemoteStartStopStatus::Rejected), FollowUp::None),
                }
            }
            "ReserveNow" => {
                let req: ReserveNowRequest = decode(action, payload)?;
                self.reserve_requests += 1;
                self.publish();
                if !valid(req.connector_id) {
                    // connectorId 0 needs ReserveConnectorZeroSupported, which we do not offer.
                    return Ok((status(ReservationStatus::Rejected), FollowUp::None));
                }
                let c = &mut self.connectors[req.connector_id as usize - 1];
                let same = c.reservation.as_ref().is_some_and(|r| r.id == req.reservation_id);
                let result = match c.status {
                    ChargePointStatus::Faulted => ReservationStatus::Faulted,
                    ChargePointStatus::Unavailable => ReservationStatus::Unavailable,
                    ChargePointStatus::Available => ReservationStatus::Accepted,
                    ChargePointStatus::Reserved if same => ReservationStatus::Accepted,
                    _ => ReservationStatus::Occupied,
                };
                if result == ReservationStatus::Accepted {
                    c.reservation = Some(Reservation { id: req.reservation_id, id_tag: req.id_tag, expiry: req.expiry_date });
                    c.status = ChargePointStatus::Reserved;
                    self.publish();
                    (status(result), FollowUp::Trigger(MessageTrigger::StatusNotification, Some(req.connector_id)))
                } else {
                    (status(result), FollowUp::None)
                }
            }
            "CancelReservation" => {
                let req: CancelReservationRequest = decode(action, payload)?;
                let found = self.connectors.iter().position(|c| c.reservation.as_ref().is_some_and(|r| r.id == req.reservation_id));
                match found {
                    Some(i) => {
                        let c = &mut self.connectors[i];
                        c.reservation = None;
                        if c.status == ChargePointStatus::Reserved {
                            c.status = ChargePointStatus::Available;
                        }
                        self.publish();
                        (status(CancelReservationStatus::Accepted), FollowUp::Trigger(MessageTrigger::StatusNotification, Some(i as u32 + 1)))
                    }
                    None => (status(CancelReservationStatus::Rejected), FollowUp::None),
                }
            }
            "TriggerMessage" => {
                let req: TriggerMessageRequest = decode(action, payload)?;
                match (req.requested_message, req.connector_id) {
                    (_, Some(c)) if !valid(c) => (status(TriggerMessageStatus::Rejected), FollowUp::None),
                    (
                        what
                        @ (MessageTrigger::StatusNotification | MessageTrigger::Heartbeat | MessageTrigger::MeterValues | MessageTrigger::BootNotification),
                        c,
                    ) => (status(TriggerMessageStatus::Accepted), FollowUp::Requested(what, c)),
                    _ => (status(TriggerMessageStatus::NotImplemented), FollowUp::None),
                }
            }
            "UnlockConnector" => {
                let req: UnlockConnectorRequest = decode(action, payload)?;
                if !valid(req.connector_id) {
                    return Ok((status(UnlockStatus::NotSupported), FollowUp::None));
                }
                let follow = if self.connectors[req.connector_id as usize - 1].tx.is_some() {
                    FollowUp::Stop { connector: req.connector_id, reason: Reason::UnlockCommand }
                } else {
                    FollowUp::None
                };
                (status(UnlockStatus::Unlocked), follow)
            }
            "ChangeAvailability" => {
                let req: ChangeAvailabilityRequest = decode(action, payload)?;
                if req.connector_id != 0 && !valid(req.connector_id) {
                    return Ok((status(AvailabilityStatus::Rejected), FollowUp::None));
                }
                let mut scheduled = false;
                for (i, c) in self.connectors.iter_mut().enumerate() {
                    if req.connector_id != 0 && req.connector_id as usize != i + 1 {
                        continue;
                    }
                    match req.kind {
                        AvailabilityType::Inoperative if c.tx.is_some() => {
                            c.unavailable_after_tx = true;
                            scheduled = true;
                        }
                        AvailabilityType::Inoperative => c.status = ChargePointStatus::Unavailable,
                        AvailabilityType::Operative if c.status == ChargePointStatus::Unavailable => c.status = ChargePointStatus::Available,
                        AvailabilityType::Operative => c.unavailable_after_tx = false,
                    }
                }
                self.publish();
                let result = if scheduled { AvailabilityStatus::Scheduled } else { AvailabilityStatus::Accepted };
                let connector = (req.connector_id != 0).then_some(req.connector_id);
                (status(result), FollowUp::Trigger(MessageTrigger::StatusNotification, connector))
            }
            "ChangeConfiguration" => {
                let req: ChangeConfigurationRequest = decode(action, payload)?;
                let value = req.value.as_str();
                let result = match req.key.as_str() {
                    "HeartbeatInterval" => set_parsed(value, |v: u64| self.heartbeat = Duration::from_secs(v.max(1))),
                    "MeterValueSampleInterval" => set_parsed(value, |v: u64| self.meter_interval = Duration::from_secs(v.max(1))),
                    "AuthorizeRemoteTxRequests" => set_parsed(value, |v: bool| self.authorize_remote_start = v),
                    "AuthorizationKey" => {
                        self.password = Some(value.as_bytes().to_vec());
                        ConfigurationStatus::Accepted
                    }
                    _ => ConfigurationStatus::NotSupported,
                };
                (status(result), FollowUp::None)
            }
            "GetConfiguration" => (encode(&self.configuration()), FollowUp::None),
            "Reset" => {
                let req: ResetRequest = decode(action, payload)?;
                let reason = if req.kind == ResetType::Hard { Reason::HardReset } else { Reason::SoftReset };
                (status(ResetStatus::Accepted), FollowUp::Reset(reason))
            }
            "DataTransfer" => (encode(&DataTransferResponse { status: DataTransferStatus::UnknownVendorId, data: None }), FollowUp::None),
            "ClearCache" => (status(ClearCacheStatus::Accepted), FollowUp::None),
            other => return Err(CallError::new(CallErrorCode::NotImplemented, format!("{other} not implemented by the simulator"))),
        })
    }

    fn configuration(&self) -> GetConfigurationResponse {
        let entry = |key: &str, readonly: bool, value: String| KeyValue { key: ci(key), readonly, value: ocpp::CiString::new(value).ok() };
        GetConfigurationResponse {
            configuration_key: Some(vec![
                entry("HeartbeatInterval", false, self.heartbeat.as_secs().to_string()),
                entry("MeterValueSampleInterval", false, self.meter_interval.as_secs().to_string()),
                entry("AuthorizeRemoteTxRequests", false, self.authorize_remote_start.to_string()),
                entry("NumberOfConnectors", true, self.connectors.len().to_string()),
                entry("MeterValuesSampledData", true, "Energy.Active.Import.Register".into()),
                entry("SupportedFeatureProfiles", true, "Core,Reservation,RemoteTrigger".into()),
            ]),
            unknown_key: None,
        }
    }

    async fn remote_start(&mut self, connector: u32, id_tag: IdToken) {
        self.set_status(connector, ChargePointStatus::Preparing, ChargePointErrorCode::NoError).await;
        if self.hold_starts {
            self.held_starts.push((connector, id_tag));
            return;
        }
        if self.authorize_remote_start {
            let authorized = self.call(AuthorizeRequest { id_tag: id_tag.clone() }).await;
            if !matches!(&authorized, Ok(conf) if conf.id_tag_info.status == AuthorizationStatus::Accepted) {
                let back =
                    if self.connectors[connector as usize - 1].reservation.is_some() { ChargePointStatus::Reserved } else { ChargePointStatus::Available };
                self.set_status(connector, back, ChargePointErrorCode::NoError).await;
                return;
            }
        }
        self.start_transaction(connector, id_tag).await;
    }

    /// Sends what a trigger asks for; whether the central system answered all of it.
    async fn triggered(&mut self, what: MessageTrigger, connector: Option<u32>) -> bool {
        match what {
            MessageTrigger::StatusNotification => match connector {
                Some(n) => {
                    let c = &self.connectors[n as usize - 1];
                    let (status, error) = (c.status, c.error);
                    self.send_status(n, status, error).await
                }
                None => self.send_all_statuses().await,
            },
            MessageTrigger::Heartbeat => self.call(HeartbeatRequest {}).await.is_ok(),
            MessageTrigger::BootNotification => {
                self.boot().await;
                self.accepted
            }
            MessageTrigger::MeterValues => {
                let mut sent = true;
                for n in 1..=self.connectors.len() as u32 {
                    if connector.is_some_and(|c| c != n) {
                        continue;
                    }
                    let c = &self.connectors[n as usize - 1];
                    let mut sample = SampledValue::energy_register_wh(c.meter.wh(Instant::now()));
                    sample.context = Some(ReadingContext::Trigger);
                    let transaction_id = c.tx.as_ref().map(|t| self.resolve(t.local));
                    let request = MeterValuesRequest {
                        connector_id: n,
                        transaction_id,
                        meter_value: vec![MeterValue { timestamp: Utc::now(), sampled_value: vec![sample] }],
                    };
                    sent &= self.call(request).await.is_ok();
                }
                sent
            }
            _ => false,
        }
    }

    // ---- injected faults ------------------------------------------------------------------

    async fn on_control(&mut self, control: Control) {
        let n = self.connectors.len() as u32;
        match control {
            Control::RejectRemoteStart(reject) => self.reject_remote_start = reject,
            Control::HoldStarts(hold) => {
                self.hold_starts = hold;
                if !hold {
                    for (connector, id_tag) in std::mem::take(&mut self.held_starts) {
                        self.remote_start(connector, id_tag).await;
                    }
                }
            }
            Control::Silent(silent) => {
                self.silent = silent;
                if !silent {
                    self.silenced.clear(); // The held CALLs get an InternalError.
                }
            }
            Control::Fault(c, code) if (1..=n).contains(&c) => {
                // As firmware does: the fault is reported first, then the transaction it ended
                // (reason `Other`; the connector stays Faulted, no Finishing).
                self.connectors[c as usize - 1].reservation = None;
                self.set_status(c, ChargePointStatus::Faulted, code).await;
                self.stop_transaction(c, Reason::Other).await;
            }
            Control::ClearFault(c) if (1..=n).contains(&c) => {
                if self.connectors[c as usize - 1].status == ChargePointStatus::Faulted {
                    self.set_status(c, ChargePointStatus::Available, ChargePointErrorCode::NoError).await;
                }
            }
            Control::StopLocal(c) if (1..=n).contains(&c) => self.stop_transaction(c, Reason::Local).await,
            Control::DropConnection(offline_for) => {
                if let Some(link) = self.link.take() {
                    link.close();
                }
                self.reconnect_at = Instant::now() + offline_for;
                self.publish();
            }
            Control::Fault(..) | Control::ClearFault(_) | Control::StopLocal(_) | Control::Shutdown => {}
        }
    }

    fn publish(&self) {
        let now = Instant::now();
        let snapshot = PileSnapshot {
            online: self.link.as_ref().is_some_and(ChargePoint::is_connected),
            accepted: self.accepted,
            connectors: self
                .connectors
                .iter()
                .map(|c| ConnectorSnapshot {
                    status: c.status,
                    error_code: c.error,
                    transaction_id: c.tx.as_ref().map(|t| self.resolve(t.local)),
                    meter_wh: c.meter.wh(now),
                    reservation_id: c.reservation.as_ref().map(|r| r.id),
                })
                .collect(),
            queued: self.outbox.len(),
            connects: self.connects,
            boots: self.boots,
            reserve_requests: self.reserve_requests,
            triggered: self.triggered,
            call_errors: self.call_errors,
        };
        self.state.send_if_modified(|current| {
            let changed = *current != snapshot;
            if changed {
                *current = snapshot;
            }
            changed
        });
    }
}

fn new_interval(period: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

/// `{"status": ...}` from a wire enum (their `Display` is the wire string).
fn status(status: impl std::fmt::Display) -> Value {
    serde_json::json!({ "status": status.to_string() })
}

fn ci<const N: usize>(text: &str) -> ocpp::CiString<N> {
    let truncated: String = text.chars().take(N).collect();
    ocpp::CiString::new(truncated).unwrap_or_else(|_| unreachable!("truncated to the bound"))
}

fn set_parsed<T: std::str::FromStr>(value: &str, apply: impl FnOnce(T)) -> ConfigurationStatus {
    match value.trim().parse() {
        Ok(v) => {
            apply(v);
            ConfigurationStatus::Accepted
        }
        Err(_) => ConfigurationStatus::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocpp::central_system::{AuthDecision, DisconnectReason};
    use ocpp::{CentralSystem, CentralSystemConfig, CentralSystemHandler, ChargePointId};
    use std::sync::atomic::{AtomicI32, Ordering};

    #[derive(Debug)]
    enum Seen {
        Connected,
        Disconnected,
        Boot,
        Status(u32, ChargePointStatus, ChargePointErrorCode),
        Authorize,
        Start(StartTransactionRequest),
        Meter(MeterValuesRequest),
        Stop(StopTransactionRequest),
    }

    struct Recorder {
        seen: mpsc::UnboundedSender<(String, Seen)>,
        next_tx: AtomicI32,
    }

    impl Recorder {
        fn note(&self, cp: &ChargePointId, seen: Seen) {
            let _ = self.seen.send((cp.to_string(), seen));
        }
    }

    #[async_trait]
    impl CentralSystemHandler for Recorder {
        async fn connected(&self, cp: &ChargePointId) {
            self.note(cp, Seen::Connected);
        }
        async fn disconnected(&self, cp: &ChargePointId, _reason: DisconnectReason) {
            self.note(cp, Seen::Disconnected);
        }
        async fn boot_notification(&self, cp: &ChargePointId, _req: BootNotificationRequest) -> Result<BootNotificationResponse, CallError> {
            self.note(cp, Seen::Boot);
            Ok(BootNotificationResponse { status: RegistrationStatus::Accepted, current_time: Utc::now(), interval: 60 })
        }
        async fn status_notification(&self, cp: &ChargePointId, req: StatusNotificationRequest) -> Result<StatusNotificationResponse, CallError> {
            self.note(cp, Seen::Status(req.connector_id, req.status, req.error_code));
            Ok(StatusNotificationResponse {})
        }
        async fn authorize(&self, cp: &ChargePointId, _req: AuthorizeRequest) -> Result<AuthorizeResponse, CallError> {
            self.note(cp, Seen::Authorize);
            Ok(AuthorizeResponse { id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Accepted) })
        }
        async fn start_transaction(&self, cp: &ChargePointId, req: StartTransactionRequest) -> Result<StartTransactionResponse, CallError> {
            self.note(cp, Seen::Start(req));
            let transaction_id = self.next_tx.fetch_add(1, Ordering::SeqCst);
            Ok(StartTransactionResponse { id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Accepted), transaction_id })
        }
        async fn stop_transaction(&self, cp: &ChargePointId, req: StopTransactionRequest) -> Result<StopTransactionResponse, CallError> {
            self.note(cp, Seen::Stop(req));
            Ok(StopTransactionResponse::default())
        }
        async fn meter_values(&self, cp: &ChargePointId, req: MeterValuesRequest) -> Result<MeterValuesResponse, CallError> {
            self.note(cp, Seen::Meter(req));
            Ok(MeterValuesResponse {})
        }
    }

    struct Harness {
        cs: CentralSystem,
        seen: mpsc::UnboundedReceiver<(String, Seen)>,
        fleet: PileFleet,
    }

    impl Harness {
        async fn start(count: usize, tweak: impl FnOnce(&mut FleetConfig)) -> Harness {
            let (tx, seen) = mpsc::unbounded_channel();
            let handler = Arc::new(Recorder { seen: tx, next_tx: AtomicI32::new(500) });
            let auth = |cp: &ChargePointId, pw: Option<&[u8]>| {
                if pw == Some(format!("key-{cp}").as_bytes()) { AuthDecision::Accept } else { AuthDecision::Refuse }
            };
            let config = CentralSystemConfig { call_timeout: Duration::from_millis(500), ..Default::default() };
            let cs = CentralSystem::new(config, Arc::new(auth), handler);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = cs.clone();
            tokio::spawn(async move { server.serve(listener).await });
            let mut config = FleetConfig::new(format!("ws://{addr}/ocpp"), count);
            config.password_for = std::sync::Arc::new(|id| Some(format!("key-{id}").into_bytes()));
            config.meter_interval = Duration::from_millis(100);
            config.tick = Duration::from_millis(50);
            config.reconnect_min = Duration::from_millis(100);
            config.call_timeout = Duration::from_secs(1);
            tweak(&mut config);
            let fleet = PileFleet::start(config);
            assert!(fleet.wait_all_online(Duration::from_secs(5)).await, "fleet did not come online");
            Harness { cs, seen, fleet }
        }

        /// Next event of `pile` matching `pred`, skipping others; fails after 5 s.
        async fn expect(&mut self, pile: &str, mut pred: impl FnMut(&Seen) -> bool) -> Seen {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let next = tokio::time::timeout_at(deadline, self.seen.recv()).await;
                let (cp, seen) = next.expect("expected event did not arrive").expect("closed");
                if cp == pile && pred(&seen) {
                    return seen;
                }
            }
        }
    }

    fn remote_start(connector: u32) -> RemoteStartTransactionRequest {
        RemoteStartTransactionRequest { connector_id: Some(connector), id_tag: IdToken::new("APPUSER1").unwrap(), charging_profile: None }
    }

    #[tokio::test]
    async fn fleet_boots_and_reports_every_connector() {
        let mut h = Harness::start(3, |c| c.connectors_per_pile = 2).await;
        assert_eq!(h.cs.connected_count(), 3);
        // Per pile, in order: Boot, then Available for connector 0, 1 and 2.
        let mut progress: HashMap<String, Vec<String>> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while progress.values().filter(|v| v.len() == 4).count() < 3 {
            let (cp, seen) = tokio::time::timeout_at(deadline, h.seen.recv()).await.expect("events missing").unwrap();
            let entry = match seen {
                Seen::Boot => "boot".to_owned(),
                Seen::Status(c, ChargePointStatus::Available, ChargePointErrorCode::NoError) => format!("available {c}"),
                _ => continue,
            };
            progress.entry(cp).or_default().push(entry);
        }
        for pile in ["SIM00001", "SIM00002", "SIM00003"] {
            assert_eq!(progress[pile], ["boot", "available 0", "available 1", "available 2"], "{pile}");
        }
    }

    #[tokio::test]
    async fn remote_start_meter_values_remote_stop() {
        let mut h = Harness::start(1, |c| c.authorize_remote_start = true).await;
        let conf = h.cs.send("SIM00001", remote_start(2)).await.unwrap();
        assert_eq!(conf.status, RemoteStartStopStatus::Accepted);
        h.expect("SIM00001", |s| matches!(s, Seen::Status(2, ChargePointStatus::Preparing, _))).await;
        h.expect("SIM00001", |s| matches!(s, Seen::Authorize)).await;
        let Seen::Start(start) = h.expect("SIM00001", |s| matches!(s, Seen::Start(_))).await else { unreachable!() };
        assert_eq!((start.connector_id, start.id_tag.as_str()), (2, "APPUSER1"));
        h.expect("SIM00001", |s| matches!(s, Seen::Status(2, ChargePointStatus::Charging, _))).await;
        // A sample right after the start may still read meterStart (60 kW is one Wh per 60 ms).
        let register = |mv: &MeterValuesRequest| mv.meter_value[0].sampled_value[0].import_register_wh().unwrap();
        let grown = |s: &Seen| matches!(s, Seen::Meter(mv) if register(mv) > start.meter_start.into());
        let Seen::Meter(mv) = h.expect("SIM00001", grown).await else { unreachable!() };
        assert_eq!(mv.transaction_id, Some(500));
        let wh = register(&mv);

        let conf = h.cs.send("SIM00001", RemoteStopTransactionRequest { transaction_id: 500 }).await.unwrap();
        assert_eq!(conf.status, RemoteStartStopStatus::Accepted);
        let Seen::Stop(stop) = h.expect("SIM00001", |s| matches!(s, Seen::Stop(_))).await else { unreachable!() };
        assert_eq!((stop.transaction_id, stop.reason()), (500, Reason::Remote));
        assert!(rust_decimal::Decimal::from(stop.meter_stop) >= wh, "meterStop {} after a sample of {wh}", stop.meter_stop);
        h.expect("SIM00001", |s| matches!(s, Seen::Status(2, ChargePointStatus::Finishing, _))).await;
        h.expect("SIM00001", |s| matches!(s, Seen::Status(2, ChargePointStatus::Available, _))).await;
        // An unknown transaction cannot be stopped.
        let conf = h.cs.send("SIM00001", RemoteStopTransactionRequest { transaction_id: 500 }).await.unwrap();
        assert_eq!(conf.status, RemoteStartStopStatus::Rejected);
    }

    /// A real meter: energy is the pile's power over the time it charged, in whole Wh, and the
    /// samples and the final meterStop tell the same story (checked against the pile's own
    /// timestamps, 60 kW being one Wh per 60 ms).
    #[tokio::test]
    async fn a_session_meters_the_energy_its_power_delivers() {
        let mut h = Harness::start(1, |c| c.meter_interval = Duration::from_millis(200)).await;
        h.cs.send("SIM00001", remote_start(1)).await.unwrap();
        let Seen::Start(start) = h.expect("SIM00001", |s| matches!(s, Seen::Start(_))).await else { unreachable!() };
        let expected = |at: DateTime<Utc>| start.meter_start + (at - start.timestamp).num_milliseconds() * 60_000 / 3_600_000;
        let mut last = start.meter_start;
        for _ in 0..4 {
            let Seen::Meter(mv) = h.expect("SIM00001", |s| matches!(s, Seen::Meter(_))).await else { unreachable!() };
            let sample = &mv.meter_value[0];
            let wh = i64::try_from(sample.sampled_value[0].import_register_wh().unwrap().mantissa()).unwrap();
            assert!((wh - expected(sample.timestamp)).abs() <= 2, "{wh} Wh at {} after the start", sample.timestamp - start.timestamp);
            assert!(wh >= last, "the register only grows");
            last = wh;
        }
        h.cs.send("SIM00001", RemoteStopTransactionRequest { transaction_id: 500 }).await.unwrap();
        let Seen::Stop(stop) = h.expect("SIM00001", |s| matches!(s, Seen::Stop(_))).await else { unreachable!() };
        assert!(stop.meter_stop >= last && (stop.meter_stop - expected(stop.timestamp)).abs() <= 2, "meterStop {} after {last}", stop.meter_stop);
        assert_eq!(h.fleet.pile(0).snapshot().connectors[0].meter_wh, stop.meter_stop, "the pile shows what it reported");
    }

    #[tokio::test]
    async fn injected_rejection_and_fault() {
        let mut h = Harness::start(1, |_| {}).await;
        let pile = h.fleet.pile(0).clone();
        pile.reject_remote_start(true).await;
        let conf = h.cs.send("SIM00001", remote_start(1)).await.unwrap();
        assert_eq!(conf.status, RemoteStartStopStatus::Rejected);
        pile.fault(1, ChargePointErrorCode::GroundFailure).await;
        h.expect("SIM00001", |s| matches!(s, Seen::Status(1, ChargePointStatus::Faulted, ChargePointErrorCode::GroundFailure))).await;
        pile.reject_remote_start(false).await;
        let conf = h.cs.send("SIM00001", remote_start(1)).await.unwrap();
        assert_eq!(conf.status, RemoteStartStopStatus::Rejected, "a faulted connector cannot start");
        let reserve = ReserveNowRequest {
            connector_id: 1,
            expiry_date: Utc::now() + chrono::Duration::minutes(5),
            id_tag: IdToken::new("X").unwrap(),
            parent_id_tag: None,
            reservation_id: 1,
        };
        assert_eq!(h.cs.send("SIM00001", reserve).await.unwrap().status, ReservationStatus::Faulted);
        pile.clear_fault(1).await;
        h.expect("SIM00001", |s| matches!(s, Seen::Status(1, ChargePointStatus::Available, ChargePointErrorCode::NoError))).await;
    }

    #[tokio::test]
    async fn reservation_is_accepted_and_expires() {
        let mut h = Harness::start(1, |_| {}).await;
        let reserve = |id, secs| ReserveNowRequest {
            connector_id: 1,
            expiry_date: Utc::now() + chrono::Duration::milliseconds(secs),
            id_tag: IdToken::new("RES1").unwrap(),
            parent_id_tag: None,
            reservation_id: id,
        };
        assert_eq!(h.cs.send("SIM00001", reserve(7, 400)).await.unwrap().status, ReservationStatus::Accepted);
        h.expect("SIM00001", |s| matches!(s, Seen::Status(1, ChargePointStatus::Reserved, _))).await;
        assert_eq!(h.cs.send("SIM00001", reserve(8, 400)).await.unwrap().status, ReservationStatus::Occupied);
        let reserved_at = Instant::now();
        h.expect("SIM00001", |s| matches!(s, Seen::Status(1, ChargePointStatus::Available, _))).await;
        assert!(reserved_at.elapsed() >= Duration::from_millis(250), "expired too early");
        assert_eq!(h.fleet.pile(0).snapshot().connectors[0].reservation_id, None);
        // Cancel: accepted for a live reservation, rejected for an unknown one.
        assert_eq!(h.cs.send("SIM00001", reserve(9, 60_000)).await.unwrap().status, ReservationStatus::Accepted);
        let cancel = |id| CancelReservationRequest { reservation_id: id };
        assert_eq!(h.cs.send("SIM00001", cancel(9)).await.unwrap().status, CancelReservationStatus::Accepted);
        assert_eq!(h.cs.send("SIM00001", cancel(9)).await.unwrap().status, CancelReservationStatus::Rejected);
    }

    #[tokio::test]
    async fn trigger_and_unlock_are_answered_like_firmware() {
        let mut h = Harness::start(1, |_| {}).await;
        let pile = h.fleet.pile(0).clone();
        let trigger = |what, connector| TriggerMessageRequest { requested_message: what, connector_id: connector };
        let conf = h.cs.send("SIM00001", trigger(MessageTrigger::StatusNotification, Some(2))).await.unwrap();
        assert_eq!(conf.status, TriggerMessageStatus::Accepted);
        h.expect("SIM00001", |s| matches!(s, Seen::Status(2, ChargePointStatus::Available, _))).await;
        let conf = h.cs.send("SIM00001", trigger(MessageTrigger::MeterValues, Some(1))).await.unwrap();
        assert_eq!(conf.status, TriggerMessageStatus::Accepted);
        let Seen::Meter(mv) = h.expect("SIM00001", |s| matches!(s, Seen::Meter(_))).await else { unreachable!() };
        assert_eq!((mv.connector_id, mv.transaction_id, mv.meter_value[0].sampled_value[0].context), (1, None, Some(ReadingContext::Trigger)));
        assert_eq!(h.cs.send("SIM00001", trigger(MessageTrigger::Heartbeat, None)).await.unwrap().status, TriggerMessageStatus::Accepted);
        assert!(pile.wait_for(Duration::from_secs(5), |s| s.triggered == 3).await.is_some(), "{:?}", pile.snapshot());
        assert_eq!(h.cs.send("SIM00001", trigger(MessageTrigger::BootNotification, None)).await.unwrap().status, TriggerMessageStatus::Accepted);
        h.expect("SIM00001", |s| matches!(s, Seen::Boot)).await;
        assert!(pile.wait_for(Duration::from_secs(5), |s| s.triggered == 4 && s.boots == 2).await.is_some());
        assert_eq!(
            h.cs.send("SIM00001", trigger(MessageTrigger::DiagnosticsStatusNotification, None)).await.unwrap().status,
            TriggerMessageStatus::NotImplemented
        );
        assert_eq!(h.cs.send("SIM00001", trigger(MessageTrigger::Heartbeat, Some(3))).await.unwrap().status, TriggerMessageStatus::Rejected);

        // Unlocking an idle connector stops nothing; under a transaction it ends it first.
        let unlock = |connector| UnlockConnectorRequest { connector_id: connector };
        assert_eq!(h.cs.send("SIM00001", unlock(1)).await.unwrap().status, UnlockStatus::Unlocked);
        assert_eq!(h.cs.send("SIM00001", unlock(3)).await.unwrap().status, UnlockStatus::NotSupported);
        h.cs.send("SIM00001", remote_start(1)).await.unwrap();
        h.expect("SIM00001", |s| matches!(s, Seen::Start(_))).await;
        assert_eq!(h.cs.send("SIM00001", unlock(1)).await.unwrap().status, UnlockStatus::Unlocked);
        let Seen::Stop(stop) = h.expect("SIM00001", |s| matches!(s, Seen::Stop(_))).await else { unreachable!() };
        assert_eq!(stop.reason(), Reason::UnlockCommand);
        assert!(pile.snapshot().connectors.iter().all(|c| c.transaction_id.is_none()));
    }

    #[tokio::test]
    async fn silent_pile_makes_commands_time_out() {
        let h = Harness::start(1, |_| {}).await;
        h.fleet.pile(0).set_silent(true).await;
        let err = h.cs.send("SIM00001", UnlockConnectorRequest { connector_id: 1 }).await.unwrap_err();
        assert_eq!(err, CommandError::Timeout);
    }

    #[tokio::test]
    async fn transaction_messages_queued_offline_are_delivered_after_reconnect() {
        let mut h = Harness::start(1, |_| {}).await;
        let pile = h.fleet.pile(0).clone();
        h.cs.send("SIM00001", remote_start(1)).await.unwrap();
        h.expect("SIM00001", |s| matches!(s, Seen::Start(_))).await;
        h.expect("SIM00001", |s| matches!(s, Seen::Status(1, ChargePointStatus::Charging, _))).await;

        pile.drop_connection(Duration::from_millis(600)).await;
        h.expect("SIM00001", |s| matches!(s, Seen::Disconnected)).await;
        // While offline: meter ticks queue MeterValues, the driver stops locally.
        let queued = pile.wait_for(Duration::from_secs(2), |s| !s.online && s.queued >= 2).await;
        assert!(queued.is_some(), "meter values not queued offline: {:?}", pile.snapshot());
        pile.stop_local(1).await;
        let offline = pile.wait_for(Duration::from_secs(2), |s| s.connectors[0].transaction_id.is_none()).await.unwrap();
        assert!(!offline.online, "should still be offline");
        let queued = offline.queued;

        h.expect("SIM00001", |s| matches!(s, Seen::Connected)).await;
        let mut meters = 0;
        let stop = loop {
            match h.expect("SIM00001", |s| matches!(s, Seen::Meter(_) | Seen::Stop(_) | Seen::Boot)).await {
                Seen::Meter(mv) => {
                    assert_eq!(mv.transaction_id, Some(500));
                    meters += 1;
                }
                Seen::Stop(stop) => break stop,
                other => panic!("a reconnect must not boot again: {other:?}"),
            }
        };
        assert_eq!(meters + 1, queued, "every queued message delivered once, in order");
        assert_eq!((stop.transaction_id, stop.reason()), (500, Reason::Local));
        assert_eq!(stop.id_tag.map(|t| t.into_string()), Some("APPUSER1".to_owned()));
        let settled = pile.wait_for(Duration::from_secs(2), |s| s.online && s.queued == 0).await;
        assert!(settled.is_some_and(|s| s.connects == 2 && s.boots == 1));
    }
}

/// A fleet comes online against an in-process central system. With `PILES=10000` and
/// `--release -- many_piles --nocapture` it doubles as a scale probe that prints resident memory
/// (the benchmark proper is `chargebridge bench piles`).
#[cfg(test)]
mod scale {
    use super::*;
    use ocpp::central_system::AuthDecision;
    use ocpp::{CentralSystem, CentralSystemConfig, CentralSystemHandler, ChargePointId};

    struct AcceptAll;

    #[async_trait]
    impl CentralSystemHandler for AcceptAll {
        async fn boot_notification(&self, _: &ChargePointId, _: BootNotificationRequest) -> Result<BootNotificationResponse, CallError> {
            Ok(BootNotificationResponse { status: RegistrationStatus::Accepted, current_time: Utc::now(), interval: 300 })
        }
        async fn authorize(&self, _: &ChargePointId, _: AuthorizeRequest) -> Result<AuthorizeResponse, CallError> {
            Ok(AuthorizeResponse { id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Accepted) })
        }
        async fn start_transaction(&self, _: &ChargePointId, _: StartTransactionRequest) -> Result<StartTransactionResponse, CallError> {
            Ok(StartTransactionResponse { id_tag_info: IdTagInfo::with_status(AuthorizationStatus::Accepted), transaction_id: 1 })
        }
        async fn stop_transaction(&self, _: &ChargePointId, _: StopTransactionRequest) -> Result<StopTransactionResponse, CallError> {
            Ok(StopTransactionResponse::default())
        }
    }

    fn resident_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn many_piles() {
        let count: usize = std::env::var("PILES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
        let auth = |_: &ChargePointId, _: Option<&[u8]>| AuthDecision::Accept;
        let cs = CentralSystem::new(CentralSystemConfig::default(), Arc::new(auth), Arc::new(AcceptAll));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = cs.clone();
        tokio::spawn(async move { server.serve(listener).await });
        let before = resident_kib();
        let started = Instant::now();
        let mut config = FleetConfig::new(format!("ws://{addr}/ocpp"), count);
        config.start_spacing = Duration::from_micros(200);
        let fleet = PileFleet::start(config);
        assert!(fleet.wait_all_online(Duration::from_secs(120)).await, "only {} online", fleet.online_count());
        let after = resident_kib();
        println!(
            "{count} piles online in {:?}; RSS {} MiB -> {} MiB (both sides of every connection in this process)",
            started.elapsed(),
            before / 1024,
            after / 1024
        );
        assert_eq!(cs.connected_count(), count);
    }
}
