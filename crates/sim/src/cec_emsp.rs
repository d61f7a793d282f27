//! A simulated third-party platform with its own users (an eMSP, 客户归属运营商) that uses our
//! piles over T/CEC 102 — the partner of flow B. It is built on the `cec` crate's *platform*
//! role: its `CecClient` calls the operator (us) and its `CecServer` receives our
//! notifications, so a bug on our operator side cannot be hidden by a matching bug here.
//!
//! It keeps what a real platform keeps: the stations it pulled, the live status we push, its
//! users' sessions and their bills, and — for tests — every notification in arrival order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cec::error::HandlerError;
use cec::messages::*;
use cec::server::{Caller, CecServer, PlatformHandler, ServerConfig};
use cec::{CecClient, ClientConfig, ClientError, Secrets};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rust_decimal::Decimal;

pub use crate::cec_cpo::PlatformLink;

#[derive(Debug, Clone)]
pub struct EmspConfig {
    /// Its own 9-character OperatorID (the first part of every StartChargeSeq it makes).
    pub operator_id: String,
    /// The `v{version}` segment it serves notifications under.
    pub version: String,
    /// What the platform signs its notifications to us with (issued by this simulator).
    pub secrets_for_platform: Secrets,
    /// How it reaches the platform (issued by the platform).
    pub platform: PlatformLink,
    pub page_size: i64,
}

impl EmspConfig {
    pub fn new(operator_id: &str, secrets_for_platform: Secrets, platform: PlatformLink) -> Self {
        Self { operator_id: operator_id.into(), version: "v1.0".into(), secrets_for_platform, platform, page_size: 10 }
    }
}

/// One notification as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub interface: &'static str,
    /// ConnectorID for status pushes, StartChargeSeq for session notices, ReserveSeq for
    /// reservation results.
    pub key: String,
    /// Status code, StartChargeSeqStat, ReserveSeqStat, or the total money, depending on the
    /// interface.
    pub value: String,
    /// When it arrived (for latency measurements).
    pub at: std::time::Instant,
}

/// A user's session as the eMSP sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    pub connector_id: String,
    pub stat: Option<StartChargeSeqStat>,
    pub energy: Decimal,
    pub money: Decimal,
    pub stopped: bool,
    /// The charge-end record, once received and accepted.
    pub order: Option<ChargeOrderInfo>,
    /// What the user was charged (once, whatever the repeats).
    pub billed: Option<Decimal>,
}

#[derive(Default)]
struct State_ {
    stations: HashMap<String, StationInfo>,
    connector_status: HashMap<String, ConnectorStatusCode>,
    sessions: HashMap<String, Session>,
    /// ReserveSeq → its last known state.
    reservations: HashMap<String, ReserveSeqStat>,
    received: Vec<Received>,
    last_pull: Option<DateTime<Utc>>,
    counter: u32,
    down: bool,
    refuse_orders: bool,
}

struct Inner {
    config: EmspConfig,
    state: Mutex<State_>,
}

impl Inner {
    fn state(&self) -> parking_lot::MutexGuard<'_, State_> {
        self.state.lock()
    }

    fn record(&self, interface: &'static str, key: &str, value: impl ToString) {
        self.state().received.push(Received { interface, key: key.to_owned(), value: value.to_string(), at: std::time::Instant::now() });
    }
}

pub struct EmspSimulator {
    inner: Arc<Inner>,
    client: CecClient,
    base_url: String,
}

impl EmspSimulator {
    /// Serves notifications on a random loopback port.
    pub async fn start(config: EmspConfig) -> std::io::Result<Self> {
        Self::start_on(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves notifications on `bind`, for a simulator the platform must reach at a known
    /// address (a standalone process, another host).
    pub async fn start_on(config: EmspConfig, bind: std::net::SocketAddr) -> std::io::Result<Self> {
        let link = &config.platform;
        let client_config = ClientConfig::new(&link.base_url, &link.version, &link.our_operator_id, link.secrets.clone());
        let client = CecClient::new(client_config, reqwest::Client::new()).map_err(std::io::Error::other)?;
        let inner = Arc::new(Inner { config, state: Mutex::default() });
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let directory = Arc::new(crate::directory::OnePartner { secrets: inner.config.secrets_for_platform.clone(), version: inner.config.version.clone() });
        let router = CecServer::new(directory, ServerConfig::default())
            .with_platform(Arc::new(Handler { inner: inner.clone() }))
            .router()
            .layer(axum::middleware::from_fn_with_state(inner.clone(), gate));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { inner, client, base_url })
    }

    /// Its OperatorID (the first 9 characters of every sequence it makes).
    pub fn operator_id(&self) -> &str {
        &self.inner.config.operator_id
    }

    /// `http://127.0.0.1:port` (the platform adds `/evcs/{version}/…`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// While down, every notification is answered 503 (the platform must retry later).
    pub fn set_down(&self, down: bool) {
        self.inner.state().down = down;
    }

    /// Answer charge-order notifications with ConfirmResult 1 (not accepted).
    pub fn refuse_charge_orders(&self, refuse: bool) {
        self.inner.state().refuse_orders = refuse;
    }

    /// The platform's own books say other figures for an order it was billed (what it will
    /// dispute in `check_charge_orders`). False if it holds no record of that order.
    pub fn amend_record(&self, seq: &str, total_power: Decimal, total_money: Decimal) -> bool {
        let mut state = self.inner.state();
        let Some(order) = state.sessions.get_mut(seq).and_then(|s| s.order.as_mut()) else { return false };
        order.total_power = total_power.into();
        order.total_money = total_money.into();
        true
    }

    /// Pulls the operator's stations, every page; incremental after the first pull.
    pub async fn sync_stations(&self) -> Result<usize, ClientError> {
        let since = self.inner.state().last_pull;
        let started = Utc::now();
        let mut page = 1;
        let mut pulled = 0;
        loop {
            let request = QueryStationsInfo { last_query_time: since, page_no: Some(page), page_size: Some(self.inner.config.page_size) };
            let answer = self.client.call(&request).await?;
            pulled += answer.station_infos.len();
            let mut state = self.inner.state();
            for s in answer.station_infos {
                state.stations.insert(s.station_id.clone(), s);
            }
            drop(state);
            if page >= answer.page_count {
                break;
            }
            page += 1;
        }
        self.inner.state().last_pull = Some(started);
        Ok(pulled)
    }

    pub fn stations(&self) -> Vec<StationInfo> {
        let mut list: Vec<_> = self.inner.state().stations.values().cloned().collect();
        list.sort_by(|a, b| a.station_id.cmp(&b.station_id));
        list
    }

    /// Asks for the status of stations (50 per call) and keeps it.
    pub async fn refresh_status(&self, station_ids: &[String]) -> Result<usize, ClientError> {
        let mut n = 0;
        for chunk in station_ids.chunks(50) {
            let answer = self.client.call(&QueryStationStatus { station_ids: chunk.to_vec() }).await?;
            let mut state = self.inner.state();
            for c in answer.station_status_infos.iter().flat_map(|s| &s.connector_status_infos) {
                state.connector_status.insert(c.connector_id.clone(), c.status);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Energy charged at a station over Beijing days `start..=end` (`query_station_stats`).
    pub async fn station_stats(&self, station_id: &str, start: chrono::NaiveDate, end: chrono::NaiveDate) -> Result<QueryStationStatsResponse, ClientError> {
        self.client.call(&QueryStationStats { station_id: station_id.into(), start_time: start, end_time: end }).await
    }

    pub fn connector_status(&self, connector_id: &str) -> Option<ConnectorStatusCode> {
        self.inner.state().connector_status.get(connector_id).copied()
    }

    pub async fn price(&self, connector_id: &str) -> Result<QueryEquipBusinessPolicyResponse, ClientError> {
        let seq = self.next_seq();
        self.client.call(&QueryEquipBusinessPolicy { equip_biz_seq: seq, connector_id: connector_id.into() }).await
    }

    /// Asks whether a connector is ready for its user (plugged in).
    pub async fn equip_auth(&self, connector_id: &str) -> Result<QueryEquipAuthResponse, ClientError> {
        let seq = self.next_seq();
        self.client.call(&QueryEquipAuth { equip_auth_seq: seq, connector_id: connector_id.into() }).await
    }

    fn next_seq(&self) -> Seq27 {
        let mut state = self.inner.state();
        state.counter += 1;
        Seq27::generate(&self.inner.config.operator_id, Utc::now(), state.counter)
    }

    /// A user starts charging: returns the sequence and the operator's synchronous answer.
    pub async fn start_charging(&self, connector_id: &str) -> Result<(String, QueryStartChargeResponse), ClientError> {
        let seq = self.next_seq();
        self.start_with(seq.as_str(), connector_id).await.map(|a| (seq.0, a))
    }

    /// Starts with a given sequence (a retried request reuses its sequence).
    pub async fn start_with(&self, seq: &str, connector_id: &str) -> Result<QueryStartChargeResponse, ClientError> {
        self.inner.state().sessions.entry(seq.to_owned()).or_insert_with(|| Session { connector_id: connector_id.into(), ..Default::default() });
        let request = QueryStartCharge { start_charge_seq: Seq27(seq.to_owned()), connector_id: connector_id.into(), qr_code: String::new() };
        let answer = self.client.call(&request).await?;
        self.inner.state().sessions.get_mut(seq).expect("session").stat = Some(answer.start_charge_seq_stat);
        Ok(answer)
    }

    pub async fn stop_charging(&self, seq: &str) -> Result<QueryStopChargeResponse, ClientError> {
        let connector_id = self.session(seq).map(|s| s.connector_id).unwrap_or_default();
        self.client.call(&QueryStopCharge { start_charge_seq: Seq27(seq.to_owned()), connector_id }).await
    }

    pub async fn query_session(&self, seq: &str) -> Result<ChargeStatus, ClientError> {
        self.client.call(&QueryEquipChargeStatus { start_charge_seq: Seq27(seq.to_owned()) }).await
    }

    /// A user holds a connector for `minutes`: returns the ReserveSeq and the operator's answer.
    pub async fn reserve(&self, connector_id: &str, minutes: i64) -> Result<(String, QueryReserveResponse), ClientError> {
        let seq = self.next_seq();
        self.reserve_with(seq.as_str(), connector_id, minutes).await.map(|a| (seq.0, a))
    }

    /// Reserves with a given ReserveSeq (a retried request reuses its sequence).
    pub async fn reserve_with(&self, seq: &str, connector_id: &str, minutes: i64) -> Result<QueryReserveResponse, ClientError> {
        let answer = self.client.call(&QueryReserve { reserve_seq: Seq27(seq.to_owned()), connector_id: connector_id.into(), minutes }).await?;
        self.inner.state().reservations.insert(seq.to_owned(), answer.reserve_seq_stat);
        Ok(answer)
    }

    pub async fn cancel_reserve(&self, seq: &str, connector_id: &str) -> Result<QueryCancelReserveResponse, ClientError> {
        let answer = self.client.call(&QueryCancelReserve { reserve_seq: Seq27(seq.to_owned()), connector_id: connector_id.into() }).await?;
        if answer.succ_stat == SuccStat::Success {
            self.inner.state().reservations.insert(seq.to_owned(), answer.reserve_seq_stat);
        }
        Ok(answer)
    }

    /// A reservation's state as the eMSP knows it (from answers and notifications).
    pub fn reservation(&self, seq: &str) -> Option<ReserveSeqStat> {
        self.inner.state().reservations.get(seq).copied()
    }

    pub fn session(&self, seq: &str) -> Option<Session> {
        self.inner.state().sessions.get(seq).cloned()
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.state().received.clone()
    }

    /// Polls until `done` holds for the session, up to `timeout`.
    pub async fn wait_session(&self, seq: &str, timeout: Duration, done: impl Fn(&Session) -> bool) -> Option<Session> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(s) = self.session(seq).filter(|s| done(s)) {
                return Some(s);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn gate(State(inner): State<Arc<Inner>>, request: axum::extract::Request, next: Next) -> Response {
    if inner.state().down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    next.run(request).await
}

struct Handler {
    inner: Arc<Inner>,
}

/// Whether the record's lines add up to its totals (energy to the hundredth, money to the fen).
fn adds_up(order: &ChargeOrderInfo) -> bool {
    let tolerance = Decimal::new(1, 2);
    let energy: Decimal = order.charge_details.iter().map(|d| d.detail_power.value()).sum();
    let elec: Decimal = order.charge_details.iter().map(|d| d.detail_elec_money.value()).sum();
    let service: Decimal = order.charge_details.iter().map(|d| d.detail_sevice_money.value()).sum();
    let totals_agree = (order.total_elec_money.value() + order.total_sevice_money.value() - order.total_money.value()).abs() <= tolerance;
    let lines_agree = order.charge_details.is_empty()
        || ((energy - order.total_power.value()).abs() <= tolerance
            && (elec - order.total_elec_money.value()).abs() <= tolerance
            && (service - order.total_sevice_money.value()).abs() <= tolerance);
    totals_agree && lines_agree
}

#[async_trait]
impl PlatformHandler for Handler {
    async fn notification_station_status(&self, _caller: &Caller, req: NotificationStationStatus) -> Result<NotificationStationStatusResponse, HandlerError> {
        let info = req.connector_status_info;
        self.inner.record("notification_stationStatus", &info.connector_id, info.status.code());
        self.inner.state().connector_status.insert(info.connector_id, info.status);
        Ok(NotificationStationStatusResponse { status: 0 })
    }

    async fn notification_start_charge_result(
        &self,
        _caller: &Caller,
        req: NotificationStartChargeResult,
    ) -> Result<NotificationStartChargeResultResponse, HandlerError> {
        self.inner.record("notification_start_charge_result", req.start_charge_seq.as_str(), req.start_charge_seq_stat.code());
        let known = {
            let mut state = self.inner.state();
            state.sessions.get_mut(req.start_charge_seq.as_str()).map(|s| s.stat = Some(req.start_charge_seq_stat)).is_some()
        };
        Ok(NotificationStartChargeResultResponse {
            start_charge_seq: req.start_charge_seq,
            succ_stat: if known { SuccStat::Success } else { SuccStat::Failure },
            fail_reason: if known { 0 } else { 1 },
        })
    }

    async fn notification_equip_charge_status(&self, _caller: &Caller, req: ChargeStatus) -> Result<NotificationEquipChargeStatusResponse, HandlerError> {
        self.inner.record("notification_equip_charge_status", req.start_charge_seq.as_str(), req.total_power.value());
        if let Some(s) = self.inner.state().sessions.get_mut(req.start_charge_seq.as_str()) {
            s.stat = Some(req.start_charge_seq_stat);
            s.energy = req.total_power.value();
            s.money = req.total_money.map(|m| m.value()).unwrap_or_default();
        }
        Ok(NotificationEquipChargeStatusResponse { start_charge_seq: req.start_charge_seq, succ_stat: SuccStat::Success })
    }

    async fn notification_stop_charge_result(
        &self,
        _caller: &Caller,
        req: NotificationStopChargeResult,
    ) -> Result<NotificationStopChargeResultResponse, HandlerError> {
        self.inner.record("notification_stop_charge_result", req.start_charge_seq.as_str(), req.succ_stat.code());
        if let Some(s) = self.inner.state().sessions.get_mut(req.start_charge_seq.as_str()) {
            s.stopped = req.succ_stat == SuccStat::Success;
            s.stat = Some(req.start_charge_seq_stat);
        }
        Ok(NotificationStartChargeResultResponse { start_charge_seq: req.start_charge_seq, succ_stat: SuccStat::Success, fail_reason: 0 })
    }

    async fn notification_charge_order_info(&self, _caller: &Caller, req: ChargeOrderInfo) -> Result<ChargeOrderInfoResponse, HandlerError> {
        self.inner.record("notification_charge_order_info", req.start_charge_seq.as_str(), req.total_money.value());
        let mut state = self.inner.state();
        let accept = !state.refuse_orders && adds_up(&req);
        if accept && let Some(s) = state.sessions.get_mut(req.start_charge_seq.as_str()) {
            // Billing is keyed by the sequence: a repeated record is confirmed, not billed again.
            s.billed.get_or_insert(req.total_money.value());
            s.stat = Some(StartChargeSeqStat::Ended);
            s.order = Some(req.clone());
        }
        Ok(ChargeOrderInfoResponse { start_charge_seq: req.start_charge_seq, connector_id: req.connector_id, confirm_result: if accept { 0 } else { 1 } })
    }

    async fn check_charge_orders(&self, _caller: &Caller, req: CheckChargeOrders) -> Result<CheckChargeOrdersResponse, HandlerError> {
        let state = self.inner.state();
        let disputes: Vec<DisputeOrder> = req
            .charge_orders
            .iter()
            .filter_map(|o| {
                let ours = state.sessions.get(o.start_charge_seq.as_str()).and_then(|s| s.order.as_ref());
                // §9.12: the disputing side states its own figures (none for an order it lacks).
                let (reason, power, money) = match ours {
                    None => (1, Decimal::ZERO.into(), Decimal::ZERO.into()),
                    Some(mine) if mine.total_money != o.total_money => (2, mine.total_power, mine.total_money),
                    Some(mine) if mine.total_power != o.total_power => (3, mine.total_power, mine.total_money),
                    Some(_) => return None,
                };
                Some(DisputeOrder { start_charge_seq: o.start_charge_seq.clone(), total_power: power, total_money: money, dispute_reason: reason })
            })
            .collect();
        drop(state);
        self.inner.record("check_charge_orders", req.check_order_seq.as_str(), format!("{} of {}", disputes.len(), req.charge_orders.len()));
        Ok(CheckChargeOrdersResponse {
            check_order_seq: req.check_order_seq,
            start_time: req.start_time,
            end_time: req.end_time,
            total_dispute_order: disputes.len() as i64,
            total_dispute_power: disputes.iter().map(|d| d.total_power.value()).sum::<Decimal>().into(),
            total_dispute_money: disputes.iter().map(|d| d.total_money.value()).sum::<Decimal>().into(),
            dispute_orders: disputes,
        })
    }

    async fn notification_reserve_result(&self, _caller: &Caller, req: NotificationReserveResult) -> Result<NotificationReserveResultResponse, HandlerError> {
        self.inner.record("notification_reserve_result", req.reserve_seq.as_str(), req.reserve_seq_stat.code());
        self.inner.state().reservations.insert(req.reserve_seq.0.clone(), req.reserve_seq_stat);
        Ok(NotificationReserveResultResponse { reserve_seq: req.reserve_seq, succ_stat: SuccStat::Success })
    }
}
