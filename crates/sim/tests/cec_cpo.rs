//! The CPO simulator against a small customer-side peer, over real HTTP on loopback: the peer
//! serves the platform's notification interfaces with `cec::server` and calls the simulator
//! with `cec::CecClient`, as the platform under test will.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cec::error::HandlerError;
use cec::messages::*;
use cec::server::{Caller, CecServer, PartnerDirectory, PartnerEntry, PlatformHandler, ServerConfig};
use cec::{CecClient, ClientConfig, ClientError, Secrets};
use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use sim::cec_cpo::{CpoConfig, CpoSimulator, Misbehaviour, PlatformLink, PushOutcome, TariffPeriod};

const CPO: &str = "MA5SIMCPO";
const PLATFORM: &str = "MA5PLAT01";

/// What the simulator issued to the platform (the platform calls the simulator with these).
fn issued_by_cpo() -> Secrets {
    Secrets::new("CpoOpSecret00001", "Cq3Vn8Rz2Lp6Xw1T", "Ck9Ts4Bm7Qc2Yd5J", "CpoSigSecret0001")
}

/// What the platform issued to the simulator (the simulator pushes with these).
fn issued_by_platform() -> Secrets {
    Secrets::new("PlOpSecret000001", "Pq3Vn8Rz2Lp6Xw1T", "Pk9Ts4Bm7Qc2Yd5J", "PlSigSecret00001")
}

struct Directory;

#[async_trait]
impl PartnerDirectory for Directory {
    async fn lookup(&self, operator_id: &str) -> Result<Option<PartnerEntry>, HandlerError> {
        Ok((operator_id == CPO).then(|| PartnerEntry {
            partner_ref: "sim-cpo".into(),
            secret_sets: vec![issued_by_platform()],
            versions: vec!["v1.0".into()],
            reservation_enabled: true,
            active: true,
        }))
    }
}

#[derive(Debug, Clone)]
enum Call {
    Status(NotificationStationStatus),
    Start(NotificationStartChargeResult),
    Charge(ChargeStatus),
    Stop(NotificationStopChargeResult),
    Order(ChargeOrderInfo),
    Check(CheckChargeOrders),
    Reserve(NotificationReserveResult),
}

/// The customer side: records every push in arrival order.
#[derive(Default)]
struct Peer {
    calls: Mutex<Vec<Call>>,
    /// How many order bills to answer with Ret 500 before confirming.
    refuse_orders: AtomicUsize,
}

impl Peer {
    fn push(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    fn statuses(&self, connector: &str) -> Vec<ConnectorStatusCode> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Status(s) if s.connector_status_info.connector_id == connector => Some(s.connector_status_info.status),
                _ => None,
            })
            .collect()
    }
    fn starts(&self, seq: &Seq27) -> Vec<NotificationStartChargeResult> {
        self.calls().into_iter().filter_map(|c| if let Call::Start(s) = c { (&s.start_charge_seq == seq).then_some(s) } else { None }).collect()
    }
    fn charges(&self, seq: &Seq27) -> Vec<ChargeStatus> {
        self.calls().into_iter().filter_map(|c| if let Call::Charge(s) = c { (&s.start_charge_seq == seq).then_some(s) } else { None }).collect()
    }
    fn stops(&self, seq: &Seq27) -> Vec<NotificationStopChargeResult> {
        self.calls().into_iter().filter_map(|c| if let Call::Stop(s) = c { (&s.start_charge_seq == seq).then_some(s) } else { None }).collect()
    }
    fn orders(&self, seq: &Seq27) -> Vec<ChargeOrderInfo> {
        self.calls().into_iter().filter_map(|c| if let Call::Order(s) = c { (&s.start_charge_seq == seq).then_some(s) } else { None }).collect()
    }
    fn reserves(&self) -> Vec<NotificationReserveResult> {
        self.calls().into_iter().filter_map(|c| if let Call::Reserve(s) = c { Some(s) } else { None }).collect()
    }
    /// Index of the first call matching `f`, to check ordering.
    fn position(&self, f: impl Fn(&Call) -> bool) -> Option<usize> {
        self.calls().iter().position(f)
    }
}

fn ack(seq: Seq27) -> NotificationStartChargeResultResponse {
    NotificationStartChargeResultResponse { start_charge_seq: seq, succ_stat: SuccStat::Success, fail_reason: 0 }
}

#[async_trait]
impl PlatformHandler for Peer {
    async fn notification_station_status(&self, _: &Caller, req: NotificationStationStatus) -> Result<NotificationStationStatusResponse, HandlerError> {
        self.push(Call::Status(req));
        Ok(NotificationStationStatusResponse { status: 0 })
    }
    async fn notification_start_charge_result(
        &self,
        _: &Caller,
        req: NotificationStartChargeResult,
    ) -> Result<NotificationStartChargeResultResponse, HandlerError> {
        let seq = req.start_charge_seq.clone();
        self.push(Call::Start(req));
        Ok(ack(seq))
    }
    async fn notification_equip_charge_status(&self, _: &Caller, req: ChargeStatus) -> Result<NotificationEquipChargeStatusResponse, HandlerError> {
        let seq = req.start_charge_seq.clone();
        self.push(Call::Charge(req));
        Ok(NotificationEquipChargeStatusResponse { start_charge_seq: seq, succ_stat: SuccStat::Success })
    }
    async fn notification_stop_charge_result(
        &self,
        _: &Caller,
        req: NotificationStopChargeResult,
    ) -> Result<NotificationStopChargeResultResponse, HandlerError> {
        let seq = req.start_charge_seq.clone();
        self.push(Call::Stop(req));
        Ok(ack(seq))
    }
    async fn notification_charge_order_info(&self, _: &Caller, req: ChargeOrderInfo) -> Result<ChargeOrderInfoResponse, HandlerError> {
        let reply = ChargeOrderInfoResponse { start_charge_seq: req.start_charge_seq.clone(), connector_id: req.connector_id.clone(), confirm_result: 0 };
        self.push(Call::Order(req));
        let refuse = self.refuse_orders.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if refuse { Err(HandlerError::Internal("bill store unavailable".into())) } else { Ok(reply) }
    }
    async fn check_charge_orders(&self, _: &Caller, req: CheckChargeOrders) -> Result<CheckChargeOrdersResponse, HandlerError> {
        // Dispute the first order: we saw one yuan less.
        let dispute_orders: Vec<DisputeOrder> = req
            .charge_orders
            .iter()
            .take(1)
            .map(|o| DisputeOrder {
                start_charge_seq: o.start_charge_seq.clone(),
                total_power: o.total_power,
                total_money: (o.total_money.value() - Decimal::ONE).into(),
                dispute_reason: 2,
            })
            .collect();
        let reply = CheckChargeOrdersResponse {
            check_order_seq: req.check_order_seq.clone(),
            start_time: req.start_time,
            end_time: req.end_time,
            total_dispute_order: dispute_orders.len() as i64,
            total_dispute_power: dispute_orders.iter().map(|d| d.total_power.value()).sum::<Decimal>().into(),
            total_dispute_money: dispute_orders.iter().map(|d| d.total_money.value()).sum::<Decimal>().into(),
            dispute_orders,
        };
        self.push(Call::Check(req));
        Ok(reply)
    }
    async fn notification_reserve_result(&self, _: &Caller, req: NotificationReserveResult) -> Result<NotificationReserveResultResponse, HandlerError> {
        let seq = req.reserve_seq.clone();
        self.push(Call::Reserve(req));
        Ok(NotificationReserveResultResponse { reserve_seq: seq, succ_stat: SuccStat::Success })
    }
}

fn beijing(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(2024, 3, 1, h, m, s).unwrap().with_timezone(&Utc)
}

struct World {
    sim: CpoSimulator,
    peer: Arc<Peer>,
    /// The platform calling the simulator.
    client: CecClient,
}

/// Session time runs 600× faster (1 s = 10 min) from Beijing 07:55, so a session that lasts
/// past the first half second crosses the 08:00 valley → peak boundary.
async fn world(tweak: impl FnOnce(&mut CpoConfig)) -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let peer = Arc::new(Peer::default());
    let server = CecServer::new(Arc::new(Directory), ServerConfig::default()).with_platform(peer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let platform_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server.router()).await });

    let mut config = CpoConfig::new(CPO, issued_by_cpo());
    config.stations = 3;
    config.piles_per_station = 2;
    config.connectors_per_pile = 2;
    config.seed = 42;
    config.charge_status_interval = Duration::from_millis(60);
    config.start_delay = Duration::from_millis(30);
    config.clock_origin = Some(beijing(7, 55, 0));
    config.time_scale = 600.0;
    config.order_retry_backoff = Duration::from_millis(50);
    config.platform = Some(PlatformLink { base_url: platform_base, version: "v1.0".into(), our_operator_id: CPO.into(), secrets: issued_by_platform() });
    tweak(&mut config);
    let sim = CpoSimulator::start(config).await.unwrap();

    let mut client_config = ClientConfig::new(sim.base_url(), "v1.0", PLATFORM, issued_by_cpo());
    client_config.max_attempts = 1;
    let client = CecClient::new(client_config, reqwest::Client::new()).unwrap();
    World { sim, peer, client }
}

fn seq(n: u32) -> Seq27 {
    Seq27(format!("{PLATFORM}20240301080000{n:04}"))
}

/// Waits (up to 5 s) until `ready` holds.
async fn eventually(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The tariff period in force at `at` (Beijing), from the default periods.
fn period_at(at: DateTime<Utc>) -> TariffPeriod {
    let tod: NaiveTime = at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap()).time();
    TariffPeriod::default_periods().into_iter().rev().find(|p| p.start <= tod).unwrap()
}

/// Lines add up to the totals, and every line's money is its energy times the tariff price of
/// its period, rounded half-up.
fn assert_bill_consistent(order: &ChargeOrderInfo) {
    let details = &order.charge_details;
    assert_eq!(order.sum_period, Some(details.len() as i64));
    assert_eq!(details.iter().map(|d| d.detail_power.value()).sum::<Decimal>(), order.total_power.value());
    assert_eq!(details.iter().map(|d| d.detail_elec_money.value()).sum::<Decimal>(), order.total_elec_money.value());
    assert_eq!(details.iter().map(|d| d.detail_sevice_money.value()).sum::<Decimal>(), order.total_sevice_money.value());
    assert_eq!(order.total_elec_money.value() + order.total_sevice_money.value(), order.total_money.value());
    assert_eq!(details.first().unwrap().detail_start_time, order.start_time);
    assert_eq!(details.last().unwrap().detail_end_time, order.end_time);
    for d in details {
        let period = period_at(d.detail_start_time);
        assert_eq!(d.elec_price.value(), period.elec_price);
        assert_eq!(d.sevice_price.value(), period.service_price);
        assert_eq!(d.detail_elec_money.value(), round2(d.detail_power.value() * period.elec_price));
        assert_eq!(d.detail_sevice_money.value(), round2(d.detail_power.value() * period.service_price));
    }
}

async fn start(w: &World, n: u32, connector: &str) -> QueryStartChargeResponse {
    w.client.call(&QueryStartCharge { start_charge_seq: seq(n), connector_id: connector.into(), qr_code: String::new() }).await.unwrap()
}

/// Starts a session and waits until it has been charging for at least two status pushes.
async fn charging(w: &World, n: u32, connector: &str) {
    let reply = start(w, n, connector).await;
    assert_eq!((reply.succ_stat, reply.start_charge_seq_stat, reply.fail_reason), (SuccStat::Success, StartChargeSeqStat::Starting, 0));
    eventually("two charge-status pushes", || w.peer.charges(&seq(n)).len() >= 2).await;
}

#[tokio::test]
async fn catalog_pages_and_incremental_sync() {
    let w = world(|c| c.stations = 23).await;
    let page = async |no: Option<i64>, size: Option<i64>, since: Option<DateTime<Utc>>| {
        w.client.call(&QueryStationsInfo { last_query_time: since, page_no: no, page_size: size }).await
    };

    let mut seen = Vec::new();
    for no in 1..=3 {
        let p = page(Some(no), Some(10), None).await.unwrap();
        assert_eq!((p.page_no, p.page_count, p.item_size), (no, 3, 23));
        assert_eq!(p.station_infos.len(), if no == 3 { 3 } else { 10 });
        seen.extend(p.station_infos);
    }
    assert_eq!(seen, w.sim.stations(), "the pages together are the whole catalog, in order, once");
    // Defaults (page 1 of 10), a page past the end (echoed, empty), an over-large page (capped).
    let first = page(None, None, None).await.unwrap();
    assert_eq!((first.page_no, first.page_count, first.station_infos.len()), (1, 3, 10));
    let beyond = page(Some(5), Some(10), None).await.unwrap();
    assert_eq!((beyond.page_no, beyond.page_count, beyond.item_size, beyond.station_infos.len()), (5, 3, 23, 0));
    let capped = page(Some(1), Some(500), None).await.unwrap();
    assert_eq!((capped.page_count, capped.station_infos.len()), (1, 23));
    let exact = page(Some(1), Some(23), None).await.unwrap();
    assert_eq!((exact.page_count, exact.station_infos.len()), (1, 23));

    // The generated data looks like a Shenzhen operator's.
    for s in &seen {
        assert_eq!(s.operator_id, CPO);
        assert!(s.address.starts_with("广东省深圳市"), "{}", s.address);
        assert!(s.station_name.ends_with('站'), "{}", s.station_name);
        let (lat, lng) = (s.station_lat.value(), s.station_lng.value());
        assert!(lat > Decimal::new(223, 1) && lat < Decimal::new(229, 1) && lng > Decimal::new(1137, 1) && lng < Decimal::new(1144, 1), "{lat},{lng}");
        for e in &s.equipment_infos {
            let dc = e.equipment_type == EquipmentType::Dc;
            assert_eq!(e.power.value(), Decimal::from(if dc { 120 } else { 7 }));
            for c in &e.connector_infos {
                assert!(c.connector_id.starts_with(&e.equipment_id) && c.connector_id.len() == e.equipment_id.len() + 2);
            }
        }
    }

    // Incremental: nothing changed since now; then exactly the renamed station.
    let since = Utc::now();
    let none = page(Some(1), Some(10), Some(since)).await.unwrap();
    assert_eq!((none.page_count, none.item_size, none.station_infos.len()), (0, 0, 0));
    let id = seen[6].station_id.clone();
    assert!(w.sim.rename_station(&id, "福田区车公庙新建超级充电站"));
    let changed = page(Some(1), Some(10), Some(since)).await.unwrap();
    assert_eq!((changed.page_count, changed.item_size), (1, 1));
    assert_eq!(changed.station_infos[0].station_id, id);
    assert_eq!(changed.station_infos[0].station_name, "福田区车公庙新建超级充电站");
}

#[tokio::test]
async fn status_changes_are_pushed_dropped_and_duplicated_on_demand() {
    let w = world(|_| {}).await;
    let connector = w.sim.connector_ids()[1].clone();
    let station = w.sim.stations()[0].station_id.clone();

    assert!(w.sim.set_connector_status(&connector, ConnectorStatusCode::Offline));
    eventually("the offline push", || w.peer.statuses(&connector) == [ConnectorStatusCode::Offline]).await;
    let status = w.client.call(&QueryStationStatus { station_ids: vec![station.clone(), "NOSUCH".into()] }).await.unwrap();
    assert_eq!(status.total, 1);
    let listed = &status.station_status_infos[0].connector_status_infos;
    assert_eq!(listed.len(), 4);
    assert_eq!(listed.iter().find(|c| c.connector_id == connector).unwrap().status, ConnectorStatusCode::Offline);

    // Every status push dropped: the change is visible by query only.
    w.sim.set_misbehaviour(Misbehaviour { drop_status_pushes: 1.0, ..Default::default() });
    w.sim.set_connector_status(&connector, ConnectorStatusCode::Fault);
    eventually("the drop to be recorded", || w.sim.pushes().iter().any(|p| p.outcome == PushOutcome::Dropped)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(w.peer.statuses(&connector), [ConnectorStatusCode::Offline]);
    assert_eq!(w.sim.connector_status(&connector), Some(ConnectorStatusCode::Fault));

    // Duplicates: the same change arrives twice.
    w.sim.set_misbehaviour(Misbehaviour { duplicate_pushes: true, ..Default::default() });
    w.sim.set_connector_status(&connector, ConnectorStatusCode::Idle);
    eventually("the duplicate", || w.peer.statuses(&connector).len() == 3).await;
    assert_eq!(w.peer.statuses(&connector)[1..], [ConnectorStatusCode::Idle, ConnectorStatusCode::Idle]);

    // Slow, then down.
    w.sim.set_misbehaviour(Misbehaviour { slow_replies: Some(Duration::from_millis(300)), ..Default::default() });
    let began = Instant::now();
    w.client.call(&QueryStationStatus { station_ids: vec![station.clone()] }).await.unwrap();
    assert!(began.elapsed() >= Duration::from_millis(300));
    w.sim.set_misbehaviour(Misbehaviour { down: true, ..Default::default() });
    let err = w.client.call(&QueryStationStatus { station_ids: vec![station.clone()] }).await.unwrap_err();
    assert_eq!(err, ClientError::Http(503));
    w.sim.set_connector_status(&connector, ConnectorStatusCode::Offline);
    eventually("the suppressed push", || w.sim.pushes().iter().any(|p| p.outcome == PushOutcome::Suppressed)).await;
    w.sim.set_misbehaviour(Misbehaviour::default());
    w.client.call(&QueryStationStatus { station_ids: vec![station] }).await.unwrap();
    assert_eq!(w.peer.statuses(&connector).len(), 3, "nothing pushed while down");
}

#[tokio::test]
async fn pushes_wait_for_a_platform_link_set_at_runtime() {
    let mut link = None;
    let w = world(|c| link = c.platform.take()).await;
    let connector = w.sim.connector_ids()[0].clone();
    w.sim.set_connector_status(&connector, ConnectorStatusCode::Offline);
    eventually("the unsent push", || w.sim.pushes().iter().any(|p| p.outcome == PushOutcome::NoPlatform)).await;
    w.sim.set_platform(link.unwrap()).unwrap();
    w.sim.set_connector_status(&connector, ConnectorStatusCode::Idle);
    eventually("the push", || w.peer.statuses(&connector) == [ConnectorStatusCode::Idle]).await;
}

#[tokio::test]
async fn a_full_session_from_start_to_confirmed_bill() {
    let w = world(|_| {}).await;
    let connector = w.sim.connector_ids()[0].clone();
    let s = seq(1);

    // Tariff and auth first, as a platform does before starting.
    let policy = w.client.call(&QueryEquipBusinessPolicy { equip_biz_seq: seq(90), connector_id: connector.clone() }).await.unwrap();
    assert_eq!((policy.succ_stat, policy.sum_period), (SuccStat::Success, 3));
    assert_eq!(policy.policy_infos[1].start_time, "080000");
    assert_eq!((policy.policy_infos[1].elec_price.value(), policy.policy_infos[1].sevice_price.value()), (Decimal::new(9, 1), Decimal::new(6, 1)));
    let auth = w.client.call(&QueryEquipAuth { equip_auth_seq: seq(91), connector_id: connector.clone() }).await.unwrap();
    assert_eq!(auth.succ_stat, SuccStat::Success);

    charging(&w, 1, &connector).await;
    let started = w.peer.starts(&s);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].start_charge_seq_stat, StartChargeSeqStat::Charging);
    let charges = w.peer.charges(&s);
    assert!(charges[1].total_power.value() > charges[0].total_power.value(), "energy grows");
    assert!(charges.iter().all(|c| c.start_charge_seq_stat == StartChargeSeqStat::Charging && c.connector_status == ConnectorStatusCode::Charging));
    assert!(w.peer.statuses(&connector).contains(&ConnectorStatusCode::Charging));
    let now = w.client.call(&QueryEquipChargeStatus { start_charge_seq: s.clone() }).await.unwrap();
    assert_eq!(now.start_charge_seq_stat, StartChargeSeqStat::Charging);
    assert!(now.total_power.value() >= charges[1].total_power.value());

    // Keep charging past 08:00 on the session clock so the bill has two price periods.
    let boundary = beijing(8, 0, 0);
    eventually("the peak period", || w.sim.now() > boundary + chrono::Duration::minutes(1)).await;
    let stop = w.client.call(&QueryStopCharge { start_charge_seq: s.clone(), connector_id: connector.clone() }).await.unwrap();
    assert_eq!((stop.succ_stat, stop.start_charge_seq_stat, stop.fail_reason), (SuccStat::Success, StartChargeSeqStat::Stopping, 0));
    eventually("the bill", || !w.peer.orders(&s).is_empty()).await;
    eventually("the connector free again", || w.peer.statuses(&connector).last() == Some(&ConnectorStatusCode::Idle)).await;

    let stops = w.peer.stops(&s);
    assert_eq!(stops.len(), 1);
    assert_eq!((stops[0].start_charge_seq_stat, stops[0].succ_stat), (StartChargeSeqStat::Ended, SuccStat::Success));
    let order = &w.peer.orders(&s)[0];
    assert_eq!(order.stop_reason, StopReason::Platform);
    assert_eq!(order.charge_details.len(), 2, "valley then peak: {:?}", order.charge_details);
    assert_eq!(order.charge_details[0].detail_end_time, boundary);
    assert_bill_consistent(order);
    // Energy is the session's constant power over its duration (within the rounding of lines).
    let power = w.sim.sessions()[0].power_kw;
    let hours = Decimal::from((order.end_time - order.start_time).num_milliseconds()) / Decimal::from(3_600_000);
    assert!((order.total_power.value() - power * hours).abs() <= Decimal::new(2, 2));
    assert_eq!(&w.sim.orders()[0], order);
    assert_eq!(w.sim.order_deliveries()[0].confirm_result, Some(0));

    // Order of events as the platform saw them.
    let pos = |f: &dyn Fn(&Call) -> bool| w.peer.position(f).unwrap();
    assert!(pos(&|c| matches!(c, Call::Start(_))) < pos(&|c| matches!(c, Call::Charge(_))));
    assert!(pos(&|c| matches!(c, Call::Stop(_))) < pos(&|c| matches!(c, Call::Order(_))));

    // Afterwards: stopping again is "already stopped", the record says ended, unknown is 5.
    let again = w.client.call(&QueryStopCharge { start_charge_seq: s.clone(), connector_id: connector.clone() }).await.unwrap();
    assert_eq!((again.succ_stat, again.fail_reason, again.start_charge_seq_stat), (SuccStat::Failure, 3, StartChargeSeqStat::Ended));
    let ended = w.client.call(&QueryEquipChargeStatus { start_charge_seq: s.clone() }).await.unwrap();
    assert_eq!((ended.start_charge_seq_stat, ended.total_power), (StartChargeSeqStat::Ended, order.total_power));
    assert_eq!(ended.total_money, Some(order.total_money));
    let unknown = w.client.call(&QueryEquipChargeStatus { start_charge_seq: seq(77) }).await.unwrap();
    assert_eq!(unknown.start_charge_seq_stat, StartChargeSeqStat::Unknown);
    assert_eq!(w.sim.connector_status(&connector), Some(ConnectorStatusCode::Idle));

    // The energy shows in the station statistics of the day.
    let station = w.sim.stations()[0].station_id.clone();
    let day = cec::time::beijing_date(order.end_time);
    let stats = w.client.call(&QueryStationStats { station_id: station, start_time: day, end_time: day }).await.unwrap();
    assert_eq!(stats.station_stats.station_electricity.value(), order.total_power.value().round_dp(1));
}

#[tokio::test]
async fn starts_are_refused_for_unknown_offline_and_occupied_connectors_and_repeats_are_idempotent() {
    let w = world(|_| {}).await;
    let ids = w.sim.connector_ids();

    let unknown = start(&w, 1, "NOSUCHCONNECTOR01").await;
    assert_eq!((unknown.succ_stat, unknown.fail_reason), (SuccStat::Failure, 1));
    w.sim.set_connector_status(&ids[2], ConnectorStatusCode::Offline);
    let offline = start(&w, 2, &ids[2]).await;
    assert_eq!((offline.succ_stat, offline.fail_reason), (SuccStat::Failure, 2));

    let first = start(&w, 3, &ids[0]).await;
    assert_eq!(first.succ_stat, SuccStat::Success);
    let occupied = start(&w, 4, &ids[0]).await;
    assert_eq!((occupied.succ_stat, occupied.fail_reason), (SuccStat::Failure, 3));
    // The same StartChargeSeq again: the same answer, and still one session.
    let repeat = start(&w, 3, &ids[0]).await;
    assert_eq!(repeat, first);
    eventually("the start result", || !w.peer.starts(&seq(3)).is_empty()).await;
    let repeat_later = start(&w, 3, &ids[0]).await;
    assert_eq!(repeat_later, first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(w.peer.starts(&seq(3)).len(), 1, "started once");
    assert_eq!(w.sim.sessions().len(), 1);
    // Refusals are remembered too.
    assert_eq!(start(&w, 1, &ids[1]).await, unknown);
}

#[tokio::test]
async fn failed_starts_are_reported_and_leave_the_connector_free() {
    let w = world(|c| c.failure_rate = 1.0).await;
    let connector = w.sim.connector_ids()[0].clone();
    assert_eq!(start(&w, 1, &connector).await.succ_stat, SuccStat::Success);
    eventually("the start result", || !w.peer.starts(&seq(1)).is_empty()).await;
    assert_eq!(w.peer.starts(&seq(1))[0].start_charge_seq_stat, StartChargeSeqStat::Ended);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(w.peer.charges(&seq(1)).is_empty());
    assert_eq!(w.sim.connector_status(&connector), Some(ConnectorStatusCode::Idle));
    assert_eq!(start(&w, 2, &connector).await.succ_stat, SuccStat::Success, "free for the next start");
}

#[tokio::test]
async fn the_bill_is_resent_until_the_platform_confirms_it() {
    let w = world(|_| {}).await;
    w.peer.refuse_orders.store(2, Ordering::SeqCst);
    let connector = w.sim.connector_ids()[0].clone();
    charging(&w, 1, &connector).await;
    w.client.call(&QueryStopCharge { start_charge_seq: seq(1), connector_id: connector }).await.unwrap();
    eventually("confirmation", || w.sim.order_deliveries().first().is_some_and(|d| d.confirm_result == Some(0))).await;

    let delivery = &w.sim.order_deliveries()[0];
    assert_eq!(delivery.attempts.len(), 3);
    assert!(delivery.attempts[0].outcome.as_ref().unwrap_err().contains("500"), "{:?}", delivery.attempts[0]);
    assert!(delivery.attempts[1].outcome.is_err());
    assert_eq!(delivery.attempts[2].outcome, Ok(0));
    assert!(delivery.attempts[2].at - delivery.attempts[1].at >= delivery.attempts[1].at - delivery.attempts[0].at, "backoff grows");
    let received = w.peer.orders(&seq(1));
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|o| o == &received[0]), "the same bill each time");
}

#[tokio::test]
async fn the_pile_ends_a_session_on_its_own() {
    let w = world(|_| {}).await;
    let connector = w.sim.connector_ids()[3].clone();
    charging(&w, 1, &connector).await;
    assert!(!w.sim.end_session(seq(2).as_str(), StopReason::Bms), "unknown session");
    assert!(w.sim.end_session(seq(1).as_str(), StopReason::Bms));
    assert!(!w.sim.end_session(seq(1).as_str(), StopReason::Bms), "only once");
    eventually("the bill", || !w.peer.orders(&seq(1)).is_empty()).await;
    let order = &w.peer.orders(&seq(1))[0];
    assert_eq!(order.stop_reason, StopReason::Bms);
    assert_bill_consistent(order);
    assert!(w.peer.stops(&seq(1)).is_empty(), "no stop result without a stop request");
    eventually("the connector free", || w.peer.statuses(&connector).last() == Some(&ConnectorStatusCode::Idle)).await;
    let stop = w.client.call(&QueryStopCharge { start_charge_seq: seq(1), connector_id: connector }).await.unwrap();
    assert_eq!(stop.fail_reason, 3);
}

#[tokio::test]
async fn check_charge_orders_round_trip() {
    let w = world(|_| {}).await;
    let ids = w.sim.connector_ids();
    let from = w.sim.now();
    for (n, connector) in [(1, &ids[0]), (2, &ids[1])] {
        charging(&w, n, connector).await;
        assert!(w.sim.end_session(seq(n).as_str(), StopReason::Bms));
        eventually("the bill", || !w.peer.orders(&seq(n)).is_empty()).await;
    }
    let answer = w.sim.send_check_charge_orders(from, w.sim.now()).await.unwrap();
    let orders = w.sim.orders();
    assert_eq!(answer.total_dispute_order, 1);
    assert_eq!(answer.dispute_orders[0].start_charge_seq, orders[0].start_charge_seq);
    assert_eq!(answer.dispute_orders[0].dispute_reason, 2);
    assert_eq!(answer.dispute_orders[0].total_money.value(), orders[0].total_money.value() - Decimal::ONE);

    let sent = w.peer.calls().into_iter().find_map(|c| if let Call::Check(c) = c { Some(c) } else { None }).unwrap();
    assert_eq!(sent.check_order_seq, answer.check_order_seq);
    assert_eq!(sent.check_order_seq.creator(), CPO);
    assert_eq!(sent.order_count, 2);
    assert_eq!(sent.total_order_power.value(), orders.iter().map(|o| o.total_power.value()).sum::<Decimal>());
    assert_eq!(sent.total_order_money.value(), orders.iter().map(|o| o.total_money.value()).sum::<Decimal>());
    // A period before any session holds no orders.
    let empty = w.sim.send_check_charge_orders(from - chrono::Duration::hours(2), from).await.unwrap();
    assert_eq!(empty.total_dispute_order, 0);
}

#[tokio::test]
async fn reservations_hold_expire_cancel_and_are_used_by_a_start() {
    let w = world(|_| {}).await;
    let ids = w.sim.connector_ids();
    let reserve =
        async |n: u32, connector: &str, minutes: i64| w.client.call(&QueryReserve { reserve_seq: seq(n), connector_id: connector.into(), minutes }).await;

    // Held, then expired after 5 simulated minutes (0.5 s here).
    let held = reserve(10, &ids[0], 5).await.unwrap();
    assert_eq!((held.succ_stat, held.reserve_seq_stat), (SuccStat::Success, ReserveSeqStat::Reserved));
    let expire = held.expire_time.unwrap();
    assert_eq!(reserve(10, &ids[0], 5).await.unwrap(), held, "same ReserveSeq, same reservation");
    let taken = reserve(11, &ids[0], 5).await.unwrap();
    assert_eq!((taken.succ_stat, taken.fail_reason), (SuccStat::Failure, 3));
    assert_eq!(w.sim.connector_status(&ids[0]), Some(ConnectorStatusCode::Reserved));
    eventually("the expiry", || !w.peer.reserves().is_empty()).await;
    let result = &w.peer.reserves()[0];
    assert_eq!((&result.reserve_seq, result.reserve_seq_stat), (&seq(10), ReserveSeqStat::Expired));
    assert!(result.end_time >= expire - chrono::Duration::seconds(1));
    assert_eq!(w.sim.reservations()[0].stat, ReserveSeqStat::Expired);
    eventually("the connector free", || w.peer.statuses(&ids[0]) == [ConnectorStatusCode::Reserved, ConnectorStatusCode::Idle]).await;

    // Cancelled by the caller: no result push, the connector is free again.
    reserve(12, &ids[1], 30).await.unwrap();
    let cancel = w.client.call(&QueryCancelReserve { reserve_seq: seq(12), connector_id: ids[1].clone() }).await.unwrap();
    assert_eq!((cancel.succ_stat, cancel.reserve_seq_stat), (SuccStat::Success, ReserveSeqStat::Cancelled));
    let twice = w.client.call(&QueryCancelReserve { reserve_seq: seq(12), connector_id: ids[1].clone() }).await.unwrap();
    assert_eq!((twice.succ_stat, twice.fail_reason), (SuccStat::Failure, 2));
    assert_eq!(w.sim.connector_status(&ids[1]), Some(ConnectorStatusCode::Idle));

    // Used by our own start.
    reserve(13, &ids[2], 30).await.unwrap();
    assert_eq!(start(&w, 14, &ids[2]).await.succ_stat, SuccStat::Success);
    eventually("the used result", || w.peer.reserves().iter().any(|r| r.reserve_seq == seq(13))).await;
    assert_eq!(w.peer.reserves().iter().find(|r| r.reserve_seq == seq(13)).unwrap().reserve_seq_stat, ReserveSeqStat::Used);
    assert_eq!(w.peer.reserves().len(), 2, "cancel by the caller is not pushed");
    eventually("charging", || w.sim.connector_status(&ids[2]) == Some(ConnectorStatusCode::Charging)).await;
}
