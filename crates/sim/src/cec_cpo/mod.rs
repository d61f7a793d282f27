//! A third-party charge-point operator platform (基础设施运营商) speaking T/CEC 102.
//!
//! It is a real protocol peer built on the `cec` crate, not a mock: the platform under test
//! (the customer side, 客户归属运营商) pulls its catalog and status, starts, follows and stops
//! sessions through its `query_*` interfaces, and it pushes `notification_*` back with a
//! [`cec::CecClient`], exactly as a partner in the field would. On top of the happy path it can
//! misbehave on demand (drop or duplicate pushes, answer slowly, be down) because those are the
//! conditions the platform's delivery and repair paths exist for.
//!
//! Layout: [`data`] holds the deterministic catalog and the tariff arithmetic, `handlers` the
//! interfaces it serves, `sessions` the session life cycle and every push. All mutable state
//! sits in one mutex-protected struct that is never held across an `.await`; pushes run in
//! spawned tasks so a slow platform never blocks a reply.

pub mod data;
mod handlers;
mod sessions;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State as AxumState};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cec::messages::*;
use cec::server::{CecServer, ServerConfig};
use cec::{CecClient, ClientConfig, ClientError, Secrets};
use chrono::{DateTime, SubsecRound, Utc};
use parking_lot::{Mutex, MutexGuard};
use rust_decimal::Decimal;
use tokio::task::AbortHandle;

pub use data::TariffPeriod;
use data::{ConnectorSpec, SimRng};
pub use handlers::{FAIL_ALREADY_STOPPED, FAIL_FAULT, FAIL_OCCUPIED, FAIL_STILL_STARTING};

/// Where and how the simulator pushes to the platform: the platform's address and the secrets
/// the platform issued to us for calling it.
#[derive(Debug, Clone)]
pub struct PlatformLink {
    pub base_url: String,
    pub version: String,
    /// The OperatorID we present to the platform (normally our own).
    pub our_operator_id: String,
    pub secrets: Secrets,
}

/// Faults a real partner shows from time to time; switchable at runtime. Random decisions come
/// from the seeded generator, so a run is reproducible.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Misbehaviour {
    /// Fraction (0..=1) of `notification_stationStatus` pushes silently not sent.
    pub drop_status_pushes: f64,
    /// Send every push twice (same payload, new envelope), as partners that retry blindly do.
    pub duplicate_pushes: bool,
    /// Delay every reply by this long.
    pub slow_replies: Option<Duration>,
    /// Answer every request with HTTP 503 and push nothing (order bills keep being retried).
    pub down: bool,
    /// Send order bills whose `TotalMoney` is one yuan more than electricity + service fee, as
    /// a partner with a fee bug does (the platform should dispute them).
    pub unbalanced_orders: bool,
}

#[derive(Debug, Clone)]
pub struct CpoConfig {
    /// Our 9-character OperatorID; StationIDs, CheckOrderSeqs etc. are ours.
    pub operator_id: String,
    pub stations: usize,
    pub piles_per_station: usize,
    pub connectors_per_pile: usize,
    /// Seeds the catalog and every random decision.
    pub seed: u64,
    pub bind: SocketAddr,
    /// Our `/evcs/{version}/` segment.
    pub version: String,
    /// The secrets we issued to the platform; whoever holds them may call us.
    pub secrets_for_platform: Secrets,
    pub platform: Option<PlatformLink>,
    /// Period of `notification_equip_charge_status` while charging (≈50 s in the field).
    pub charge_status_interval: Duration,
    /// Time the pile takes to start (and to stop) after accepting the command.
    pub start_delay: Duration,
    /// Fraction (0..=1) of accepted starts that then fail at the pile.
    pub failure_rate: f64,
    pub tariff: Vec<TariffPeriod>,
    pub misbehaviour: Misbehaviour,
    /// Session times (start/end, bill lines, order periods) run on a simulated clock that starts
    /// here and advances `time_scale` times faster than the wall clock, so tests can charge
    /// across price periods in milliseconds. `None` = the wall clock at start.
    pub clock_origin: Option<DateTime<Utc>>,
    pub time_scale: f64,
    /// First pause before re-sending an unconfirmed order bill; doubles per attempt.
    pub order_retry_backoff: Duration,
    /// Attempts to deliver an order bill before giving up (recorded either way).
    pub order_max_attempts: u32,
    /// Timeout of every push.
    pub push_timeout: Duration,
    /// Largest page `query_stations_info` honours (servers cap PageSize in practice).
    pub max_page_size: i64,
}

impl CpoConfig {
    /// Field-like defaults: 50 s status interval, 2 s start, real time, a small catalog.
    pub fn new(operator_id: &str, secrets_for_platform: Secrets) -> Self {
        Self {
            operator_id: operator_id.into(),
            stations: 5,
            piles_per_station: 4,
            connectors_per_pile: 2,
            seed: 1,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            version: "v1.0".into(),
            secrets_for_platform,
            platform: None,
            charge_status_interval: Duration::from_secs(50),
            start_delay: Duration::from_secs(2),
            failure_rate: 0.0,
            tariff: TariffPeriod::default_periods(),
            misbehaviour: Misbehaviour::default(),
            clock_origin: None,
            time_scale: 1.0,
            order_retry_backoff: Duration::from_secs(5),
            order_max_attempts: 10,
            push_timeout: Duration::from_secs(10),
            max_page_size: 50,
        }
    }
}

/// A charging session as the pile side sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    pub start_charge_seq: Seq27,
    pub connector_id: String,
    /// OperatorID of the platform that started it.
    pub started_by: String,
    pub stat: StartChargeSeqStat,
    /// Constant charging power, kW.
    pub power_kw: Decimal,
    /// Simulated time the command was accepted.
    pub accepted_at: DateTime<Utc>,
    /// Simulated time charging began (set when the pile reports the start).
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub stop_reason: Option<StopReason>,
    /// Decided (from the seed) when the start is accepted.
    pub start_fails: bool,
}

/// One attempt to deliver an order bill.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    /// `Ok(ConfirmResult)` or the error the push ended with.
    pub outcome: Result<i64, String>,
}

/// The delivery record of one `notification_charge_order_info`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderDelivery {
    pub start_charge_seq: Seq27,
    pub attempts: Vec<DeliveryAttempt>,
    /// The platform's ConfirmResult once it answered.
    pub confirm_result: Option<i64>,
    /// True when the attempts ran out without an answer.
    pub gave_up: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReservationInfo {
    pub reserve_seq: Seq27,
    pub connector_id: String,
    pub reserved_by: String,
    pub stat: ReserveSeqStat,
    pub expire_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PushOutcome {
    /// Sent and answered with Ret 0.
    Delivered,
    /// Not sent: dropped on purpose (misbehaviour).
    Dropped,
    /// Not sent: we are "down".
    Suppressed,
    /// Not sent: no platform link configured.
    NoPlatform,
    Failed(String),
}

/// Every push decision, in order; tests use it to see what was (not) sent and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRecord {
    pub interface: &'static str,
    /// StartChargeSeq, ConnectorID or CheckOrderSeq the push is about.
    pub subject: String,
    pub outcome: PushOutcome,
    /// True for the second copy sent under `duplicate_pushes`.
    pub duplicate: bool,
}

/// The simulated clock of sessions (see [`CpoConfig::clock_origin`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimClock {
    origin: DateTime<Utc>,
    started: std::time::Instant,
    scale: f64,
}

impl SimClock {
    /// Whole seconds: the wire carries `yyyy-MM-dd HH:mm:ss`, so anything finer would make our
    /// bill lines disagree with the times the platform reads.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let elapsed = self.started.elapsed().as_secs_f64() * self.scale;
        (self.origin + chrono::Duration::microseconds((elapsed * 1e6) as i64)).trunc_subsecs(0)
    }

    /// Wall-clock time that corresponds to `simulated` of session time.
    pub(crate) fn real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.scale.max(f64::MIN_POSITIVE))
    }
}

pub(crate) struct StationEntry {
    pub info: StationInfo,
    /// Wall-clock time of the last change, compared with the caller's `LastQueryTime`.
    pub updated_at: DateTime<Utc>,
}

pub(crate) struct ConnectorState {
    pub spec: ConnectorSpec,
    pub status: ConnectorStatusCode,
}

pub(crate) struct State {
    pub stations: Vec<StationEntry>,
    pub connectors: BTreeMap<String, ConnectorState>,
    /// By StartChargeSeq, plus creation order for listing.
    pub sessions: HashMap<String, SessionInfo>,
    pub session_order: Vec<String>,
    /// The first answer to each StartChargeSeq, replayed for repeats.
    pub start_replies: HashMap<String, QueryStartChargeResponse>,
    pub orders: Vec<ChargeOrderInfo>,
    pub deliveries: Vec<OrderDelivery>,
    pub reservations: Vec<ReservationInfo>,
    pub reserve_replies: HashMap<String, QueryReserveResponse>,
    pub misbehaviour: Misbehaviour,
    pub link: Option<Arc<CecClient>>,
    pub rng: SimRng,
    pub pushes: Vec<PushRecord>,
    pub counter: u32,
    /// Prices the operator set for single stations after start, by StationID.
    pub station_tariffs: HashMap<String, Vec<TariffPeriod>>,
}

impl State {
    /// The prices in force at a connector: its station's own if the operator changed them, else
    /// the catalog's.
    pub(crate) fn tariff_at<'a>(&'a self, config: &'a CpoConfig, connector_id: &str) -> &'a [TariffPeriod] {
        let station = self.connectors.get(connector_id).map(|c| &c.spec.station_id);
        station.and_then(|s| self.station_tariffs.get(s)).map_or(&config.tariff, Vec::as_slice)
    }
}

pub(crate) struct Inner {
    pub config: CpoConfig,
    pub clock: SimClock,
    pub state: Mutex<State>,
    pub tasks: Mutex<Vec<AbortHandle>>,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking push task must not take the whole simulator down with it.
        self.state.lock()
    }

    /// Spawns a task that `shutdown` will abort.
    pub(crate) fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, fut: F) {
        let handle = tokio::spawn(fut);
        let mut tasks = self.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle.abort_handle());
    }
}

fn push_client(link: &PlatformLink, timeout: Duration) -> Result<CecClient, ClientError> {
    let mut config = ClientConfig::new(&link.base_url, &link.version, &link.our_operator_id, link.secrets.clone());
    config.timeout = timeout;
    // One try per call: our own loops decide about repeats, so every attempt is visible.
    config.max_attempts = 1;
    let http = reqwest::Client::builder().build().map_err(|e| ClientError::Config(e.to_string()))?;
    CecClient::new(config, http)
}

/// Refuses everything while "down" and delays replies while "slow", in front of the protocol
/// router, so the platform sees exactly what an unreachable or overloaded partner looks like.
async fn gate(AxumState(inner): AxumState<Arc<Inner>>, request: Request, next: Next) -> Response {
    let (down, slow) = {
        let state = inner.lock();
        (state.misbehaviour.down, state.misbehaviour.slow_replies)
    };
    if down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

/// The running simulator. Dropping it (or [`CpoSimulator::shutdown`]) stops the server and every
/// task it spawned.
pub struct CpoSimulator {
    inner: Arc<Inner>,
    base_url: String,
}

impl CpoSimulator {
    /// Builds the catalog, binds `config.bind` and serves `/evcs/{version}/{interface}`.
    pub async fn start(config: CpoConfig) -> std::io::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut rng = SimRng::new(config.seed);
        let (stations, specs) =
            data::catalog(&config.operator_id, config.stations, config.piles_per_station, config.connectors_per_pile, &config.tariff, &mut rng);
        let now = Utc::now();
        let stations = stations.into_iter().enumerate().map(|(i, info)| StationEntry { info, updated_at: data::initial_update_time(now, i) }).collect();
        let connectors = specs.into_iter().map(|spec| (spec.connector_id.clone(), ConnectorState { spec, status: ConnectorStatusCode::Idle })).collect();
        let link = match &config.platform {
            Some(link) => Some(Arc::new(push_client(link, config.push_timeout).map_err(std::io::Error::other)?)),
            None => None,
        };
        let state = State {
            stations,
            connectors,
            sessions: HashMap::new(),
            session_order: Vec::new(),
            start_replies: HashMap::new(),
            orders: Vec::new(),
            deliveries: Vec::new(),
            reservations: Vec::new(),
            reserve_replies: HashMap::new(),
            misbehaviour: config.misbehaviour.clone(),
            link,
            // A separate stream from the catalog's, so catalog size does not shift behaviour.
            rng: SimRng::new(config.seed ^ 0x5EED_CAFE_F00D_BEEF),
            pushes: Vec::new(),
            counter: 0,
            station_tariffs: HashMap::new(),
        };
        let clock = SimClock { origin: config.clock_origin.unwrap_or(now), started: std::time::Instant::now(), scale: config.time_scale };
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Inner { config, clock, state: Mutex::new(state), tasks: Mutex::new(Vec::new()) });

        let handler = Arc::new(handlers::Handler { inner: inner.clone() });
        let directory = Arc::new(crate::directory::OnePartner { secrets: inner.config.secrets_for_platform.clone(), version: inner.config.version.clone() });
        let router =
            CecServer::new(directory, ServerConfig::default()).with_operator(handler).router().layer(axum::middleware::from_fn_with_state(inner.clone(), gate));
        inner.spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "CPO simulator server ended");
            }
        });
        Ok(Self { inner, base_url })
    }

    /// `http://127.0.0.1:port` (the `/evcs/{version}/` part is added by callers).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn operator_id(&self) -> &str {
        &self.inner.config.operator_id
    }

    /// The current time of the session clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Sets (or replaces) where pushes go; typically known only after the platform is up.
    pub fn set_platform(&self, link: PlatformLink) -> Result<(), ClientError> {
        let client = push_client(&link, self.inner.config.push_timeout)?;
        self.inner.lock().link = Some(Arc::new(client));
        Ok(())
    }

    pub fn set_misbehaviour(&self, misbehaviour: Misbehaviour) {
        self.inner.lock().misbehaviour = misbehaviour;
    }

    pub fn misbehaviour(&self) -> Misbehaviour {
        self.inner.lock().misbehaviour.clone()
    }

    /// Changes a connector's status as the pile would report it and pushes
    /// `notification_stationStatus` (unless dropped). False for an unknown connector.
    pub fn set_connector_status(&self, connector_id: &str, status: ConnectorStatusCode) -> bool {
        if !self.inner.set_status(connector_id, status) {
            return false;
        }
        let inner = self.inner.clone();
        let id = connector_id.to_owned();
        self.inner.spawn(async move { inner.push_status(&id, status).await });
        true
    }

    pub fn connector_status(&self, connector_id: &str) -> Option<ConnectorStatusCode> {
        self.inner.lock().connectors.get(connector_id).map(|c| c.status)
    }

    /// Every ConnectorID in catalog order (station by station, pile by pile).
    pub fn connector_ids(&self) -> Vec<String> {
        let state = self.inner.lock();
        let equipment = state.stations.iter().flat_map(|s| &s.info.equipment_infos);
        equipment.flat_map(|e| e.connector_infos.iter().map(|c| c.connector_id.clone())).collect()
    }

    pub fn stations(&self) -> Vec<StationInfo> {
        self.inner.lock().stations.iter().map(|s| s.info.clone()).collect()
    }

    /// Changes a station as its operator would; the change time makes it appear in the next
    /// incremental `query_stations_info`. False for an unknown station.
    pub fn modify_station(&self, station_id: &str, change: impl FnOnce(&mut StationInfo)) -> bool {
        let mut state = self.inner.lock();
        let Some(entry) = state.stations.iter_mut().find(|s| s.info.station_id == station_id) else {
            return false;
        };
        change(&mut entry.info);
        entry.updated_at = Utc::now();
        true
    }

    /// Changes a station's prices the way operators often do: without touching the station, so
    /// an incremental `query_stations_info` does not return it. `query_equip_business_policy`
    /// and the bills of sessions that end from now on use the new prices. False for an unknown
    /// station.
    pub fn set_station_tariff(&self, station_id: &str, periods: Vec<TariffPeriod>) -> bool {
        let mut state = self.inner.lock();
        if !state.stations.iter().any(|s| s.info.station_id == station_id) {
            return false;
        }
        state.station_tariffs.insert(station_id.to_owned(), periods);
        true
    }

    pub fn rename_station(&self, station_id: &str, name: &str) -> bool {
        self.modify_station(station_id, |s| s.station_name = name.to_owned())
    }

    /// The order bills produced so far, in the order sessions ended.
    pub fn orders(&self) -> Vec<ChargeOrderInfo> {
        self.inner.lock().orders.clone()
    }

    pub fn order_deliveries(&self) -> Vec<OrderDelivery> {
        self.inner.lock().deliveries.clone()
    }

    /// Sessions in the order they were accepted.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let state = self.inner.lock();
        state.session_order.iter().filter_map(|seq| state.sessions.get(seq).cloned()).collect()
    }

    pub fn reservations(&self) -> Vec<ReservationInfo> {
        self.inner.lock().reservations.clone()
    }

    pub fn pushes(&self) -> Vec<PushRecord> {
        self.inner.lock().pushes.clone()
    }

    /// Ends a charging session from the pile side (BMS full, fault, unplugged): no stop request,
    /// no stop result, straight to the bill. False if the session is not charging.
    pub fn end_session(&self, start_charge_seq: &str, reason: StopReason) -> bool {
        sessions::end_from_pile(&self.inner, start_charge_seq, reason)
    }

    /// Sends `check_charge_orders` with the orders that ended in `[start, end)` (session clock)
    /// and returns the platform's answer (its disputed orders).
    pub async fn send_check_charge_orders(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<CheckChargeOrdersResponse, ClientError> {
        sessions::check_orders(&self.inner, start, end).await
    }

    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for CpoSimulator {
    fn drop(&mut self) {
        for task in self.inner.tasks.lock().drain(..) {
            task.abort();
        }
    }
}
