//! Flow B as the seed flowchart draws it (我方充电桩对第三方平台开放流程), over real HTTP and
//! WebSocket: the simulated partner platform (eMSP) → us over T/CEC 102 → our simulated OCPP
//! pile and back — start, charge status, stop, the charge-end record billed at the partner's
//! price, a settlement line with its revenue share, status pushes, and reservations (our
//! T/CEC 102 extension, OCPP ReserveNow on the pile).

use crate::common;

use std::time::Duration;

use cec::Secrets;
use cec::messages::{ConnectorStatusCode, ReserveSeqStat, StartChargeSeqStat, SuccStat};
use cec::{ClientError, Ret};
use common::{Backend, CODE_B, CODE_C, TestApp, application};
use ocpp::enums::ChargePointErrorCode;
use rust_decimal::Decimal;
use serde_json::json;
use services::clock::Clock;
use sim::cec_emsp::{EmspConfig, EmspSimulator, PlatformLink, Session};
use sim::piles::PileFleet;

struct World {
    app: TestApp,
    emsp: EmspSimulator,
    fleet: PileFleet,
    admin: String,
    partner_id: String,
    /// The partner's portal token.
    portal: String,
}

const WAIT: Duration = Duration::from_secs(20);
/// Our test pile is a 120 kW DC pile (`common::station_with_one_pile`); the simulated one
/// delivers that, so a session of a second or two meters a few tens of Wh.
const PILE_POWER_W: u32 = 120_000;

async fn world(backend: Backend) -> World {
    world_with(backend, false).await
}

/// A platform partner registered, approved and reachable: its id and its simulator. With
/// `reservations`, an admin enables our reservation extension in its terms first.
async fn join_platform(app: &TestApp, admin: &str, credit_code: &str, reservations: bool) -> (String, String, EmspSimulator) {
    let mut platform = application(credit_code);
    platform["roles"] = json!("platform");
    let (partner_id, portal) = app.register(&platform).await;
    app.post(&format!("/api/admin/v1/partners/{partner_id}/approve"), Some(admin), &json!({})).await;
    if reservations {
        let path = format!("/api/admin/v1/partners/{partner_id}/terms");
        let (_, mut terms) = app.get(&path, Some(admin)).await;
        terms["open"]["reservations"] = json!(true);
        let (status, saved) = app.put(&path, Some(admin), &terms).await;
        assert_eq!((status, &saved["open"]["reservations"]), (200, &json!(true)), "{saved}");
    }
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let set = &creds["cec_issued"][0];
    let s = |k: &str| set[k].as_str().unwrap().to_owned();
    let theirs = Secrets::new("EmspOpSecret0001", "EmspDataSecret01", "EmspDataSecIV001", "EmspSigSecret001");
    let link = PlatformLink {
        base_url: app.base.clone(),
        version: "v1.0".into(),
        our_operator_id: s("operator_id"),
        secrets: Secrets::new(&s("operator_secret"), &s("data_secret"), &s("data_secret_iv"), &s("sig_secret")),
    };
    let emsp = EmspSimulator::start(EmspConfig::new(&s("operator_id"), theirs.clone(), link)).await.unwrap();
    let peer = json!({"base_url": emsp.base_url(), "version_segment": "v1.0", "operator_secret": theirs.operator_secret,
                      "data_secret": theirs.data_secret, "data_secret_iv": theirs.data_secret_iv, "sig_secret": theirs.sig_secret});
    let (status, body) = app.put("/api/portal/v1/partners/me/cec-peer", Some(&portal), &peer).await;
    assert_eq!(status, 200, "{body}");
    (partner_id, portal, emsp)
}

async fn world_with(backend: Backend, reservations: bool) -> World {
    world_configured(backend, reservations, |_| {}).await
}

async fn world_configured(backend: Backend, reservations: bool, adjust: impl FnOnce(&mut server::config::Config)) -> World {
    let app = TestApp::start_with(backend, |c| {
        c.workers.session_status = Duration::from_millis(300);
        c.workers.outbox_poll = Duration::from_millis(50);
        c.workers.unknown_outcomes = Duration::from_millis(200);
        adjust(c);
    })
    .await;
    let admin = app.admin_token().await;
    let created = common::station_with_one_pile(&app, &admin).await;

    // 第三方平台: 注册 → 审核通过 → 凭证; it registers where we reach it with the secrets it issued.
    let (partner_id, portal, emsp) = join_platform(&app, &admin, CODE_B, reservations).await;

    let mut config = common::fleet_config(&app, &created);
    config.meter_interval = Duration::from_millis(100);
    config.power_w = PILE_POWER_W;
    let fleet = PileFleet::start(config);
    assert!(fleet.wait_all_online(WAIT).await, "the pile connects");
    World { app, emsp, fleet, admin, partner_id, portal }
}

/// The eMSP pulls our stations and waits until our pushes show a connector free.
async fn free_connector(w: &World) -> String {
    assert_eq!(w.emsp.sync_stations().await.unwrap(), 1);
    let connector = w.emsp.stations()[0].equipment_infos[0].connector_infos[0].connector_id.clone();
    for _ in 0..200 {
        if w.emsp.connector_status(&connector) == Some(ConnectorStatusCode::Idle) {
            return connector;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("status pushes never showed {connector} free: {:?}", w.emsp.received());
}

async fn session(w: &World, seq: &str, what: &str, done: impl Fn(&Session) -> bool) -> Session {
    match w.emsp.wait_session(seq, WAIT, done).await {
        Some(s) => s,
        None => panic!("{what}: last seen {:?}; received {:?}", w.emsp.session(seq), w.emsp.received()),
    }
}

on_both_backends!(
    the_whole_flowchart,
    start_refusals,
    partner_down_then_back,
    reservation_taken_by_a_start,
    reservation_cancelled_or_expired,
    reservations_need_the_extension,
    reconciled_with_the_partners_statement,
    pile_fault_ends_the_session,
    pile_offline_mid_session,
    faulted_then_offline,
    a_dropped_hold_the_pile_will_not_take_again
);

async fn the_whole_flowchart(backend: Backend) {
    let w = world(backend).await;
    let connector = free_connector(&w).await;

    // 第三方平台用户在我方桩发起充电 → 启动充电接口 → 返回操作成功结果.
    let before_start = tokio::time::Instant::now();
    let (seq, answer) = w.emsp.start_charging(&connector).await.unwrap();
    assert_eq!((answer.succ_stat, answer.start_charge_seq_stat), (SuccStat::Success, StartChargeSeqStat::Starting), "{answer:?}");
    // The same StartChargeSeq again is the same order, not a second session.
    let again = w.emsp.start_with(&seq, &connector).await.unwrap();
    assert_eq!(again.succ_stat, SuccStat::Success);

    let charging = session(&w, &seq, "start result", |s| s.stat == Some(StartChargeSeqStat::Charging)).await;
    assert_eq!(charging.connector_id, connector);
    // At 120 kW the first Wh come within a tenth of a second; the first fen of cost a little later.
    let progressing = session(&w, &seq, "charge status with energy and cost", |s| s.energy > Decimal::ZERO && s.money > Decimal::ZERO).await;
    assert!(progressing.energy < Decimal::ONE, "a second or so at 120 kW is some Wh, not kWh: {progressing:?}");
    let queried = w.emsp.query_session(&seq).await.unwrap();
    assert_eq!(queried.start_charge_seq_stat, StartChargeSeqStat::Charging);

    // 充电结束 → 充电结束事件回调 → 第三方计算费用, 结算用户.
    let stop = w.emsp.stop_charging(&seq).await.unwrap();
    assert_eq!(stop.succ_stat, SuccStat::Success, "{stop:?}");
    let ended = session(&w, &seq, "charge-end record", |s| s.billed.is_some()).await;
    let charged_within = before_start.elapsed();
    assert!(ended.stopped, "the stop result came first");
    let order = ended.order.unwrap();
    let energy = order.total_power.value();
    // Billed on the pile's meter (it started at 0), which is what 120 kW delivers in the time
    // the session lasted: more than nothing, never more than the power over the whole wait.
    let metered = w.fleet.pile(0).snapshot().connectors[0].meter_wh;
    assert_eq!(energy, on_the_wire(Decimal::new(metered, 3)), "{order:?}");
    let most = i64::from(PILE_POWER_W) * i64::try_from(charged_within.as_millis()).unwrap() / 3_600_000;
    assert!(metered > 0 && metered <= most, "{metered} Wh in {charged_within:?} at most {most} Wh");
    // Our flat tariff at the partner's (default) price: 0.80 + 0.60 per kWh, exactly.
    assert_eq!(order.total_elec_money.value(), (energy * Decimal::new(80, 2)).round_dp(2));
    assert_eq!(order.total_sevice_money.value(), (energy * Decimal::new(60, 2)).round_dp(2));
    assert_eq!(order.total_money.value(), order.total_elec_money.value() + order.total_sevice_money.value());
    assert_eq!(ended.billed, Some(order.total_money.value()));
    // The station's statistics count the session's energy, at the connector and in the sums.
    let station_id = w.emsp.stations()[0].station_id.clone();
    let today = w.app.services.now().with_timezone(&domain::tariff::beijing()).date_naive();
    let stats = w.emsp.station_stats(&station_id, today.pred_opt().unwrap(), today).await.unwrap().station_stats;
    // T/CEC 102 gives statistics with one decimal.
    let one_decimal = energy.round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(stats.station_electricity.value(), one_decimal, "{stats:?}");
    for c in stats.equipment_stats_infos.iter().flat_map(|e| &e.connector_stats_infos) {
        let expected = if c.connector_id == connector { one_decimal } else { Decimal::ZERO };
        assert_eq!(c.connector_electricity.value(), expected, "{stats:?}");
    }
    let earlier = w.emsp.station_stats(&station_id, today - chrono::Duration::days(9), today - chrono::Duration::days(2)).await.unwrap().station_stats;
    assert_eq!(earlier.station_electricity.value(), Decimal::ZERO, "a period before the session counts nothing");

    // Exactly once, in order, as the partner saw it.
    let notices: Vec<_> = w.emsp.received().into_iter().filter(|r| r.key == seq).map(|r| r.interface).collect();
    let position = |name: &str| notices.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no {name} in {notices:?}"));
    assert!(position("notification_start_charge_result") < position("notification_stop_charge_result"));
    assert!(position("notification_stop_charge_result") < position("notification_charge_order_info"));
    for once in ["notification_start_charge_result", "notification_stop_charge_result", "notification_charge_order_info"] {
        assert_eq!(notices.iter().filter(|n| **n == once).count(), 1, "{once} exactly once: {notices:?}");
    }

    // 对账与财务结算: the statement for the period, reconciled with the partner's check.
    let today = chrono::Utc::now();
    let period = json!({"start": today - chrono::Duration::days(1), "end": today + chrono::Duration::days(1)});
    let path = format!("/api/admin/v1/partners/{}/statements", w.partner_id);
    let (status, statement) = w.app.post(&path, Some(&w.admin), &period).await;
    assert_eq!(status, 201, "{statement}");
    assert_eq!(statement["state"], "draft");
    assert_eq!(statement["body"]["order_count"], 1, "{statement}");
    assert_eq!(statement["differences"], json!([]), "the partner agrees with our orders: {statement}");
    assert_eq!(statement["reconciled_with"], "check_charge_orders");
    let checks: Vec<_> = w.emsp.received().into_iter().filter(|r| r.interface == "check_charge_orders").map(|r| r.value).collect();
    assert_eq!(checks, vec!["0 of 1".to_owned()], "the partner was asked to check our one order");
    let gross: Decimal = statement["body"]["gross"].as_str().unwrap().parse().unwrap();
    assert_eq!(gross, order.total_money.value());
    let id = statement["id"].as_str().unwrap();
    let csv =
        reqwest::Client::new().get(w.app.url(&format!("/api/admin/v1/statements/{id}/csv"))).bearer_auth(&w.admin).send().await.unwrap().text().await.unwrap();
    assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with(&format!("{seq},B,"))), "{csv}");
    let (status, _) = w.app.post(&format!("/api/admin/v1/statements/{id}/paid"), Some(&w.admin), &json!({})).await;
    assert_eq!(status, 409, "a draft cannot be paid");
    let (status, confirmed) = w.app.post(&format!("/api/admin/v1/statements/{id}/confirm"), Some(&w.admin), &json!({})).await;
    assert_eq!((status, confirmed["state"].as_str()), (200, Some("confirmed")), "{confirmed}");
    let (status, redraw) = w.app.post(&path, Some(&w.admin), &period).await;
    assert_eq!((status, redraw["error"]["code"].as_str()), (409, Some("statement_confirmed")), "{redraw}");
    let (status, paid) = w.app.post(&format!("/api/admin/v1/statements/{id}/paid"), Some(&w.admin), &json!({})).await;
    assert_eq!((status, paid["state"].as_str()), (200, Some("paid")));

    // The connector is free again, and a stop of an ended session says so.
    let late = w.emsp.stop_charging(&seq).await.unwrap();
    assert_eq!((late.succ_stat, late.fail_reason), (SuccStat::Failure, 3));
    let (status, deliveries) = w.app.get(&format!("/api/admin/v1/partners/{}/deliveries?status=dead", w.partner_id), Some(&w.admin)).await;
    assert_eq!(status, 200, "{deliveries}");
    assert_eq!(deliveries["total"], 0, "{deliveries}");
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

async fn start_refusals(backend: Backend) {
    let w = world(backend).await;
    let connector = free_connector(&w).await;
    // Device authentication: free but not plugged in is FailReason 1; unknown is 2.
    let auth = w.emsp.equip_auth(&connector).await.unwrap();
    assert_eq!((auth.succ_stat, auth.fail_reason), (SuccStat::Failure, 1));
    let auth = w.emsp.equip_auth("NOSUCHCONNECTOR").await.unwrap();
    assert_eq!((auth.succ_stat, auth.fail_reason), (SuccStat::Failure, 2));
    // A connector that does not exist (or that the partner may not see): FailReason 1.
    let (_, unknown) = w.emsp.start_charging("NOSUCHCONNECTOR").await.unwrap();
    assert_eq!((unknown.succ_stat, unknown.fail_reason), (SuccStat::Failure, 1));
    // The pile rejects the remote start: the order fails and the partner is told.
    w.fleet.pile(0).reject_remote_start(true).await;
    let (seq, answer) = w.emsp.start_charging(&connector).await.unwrap();
    assert_eq!(answer.succ_stat, SuccStat::Success, "accepted for processing");
    session(&w, &seq, "failed start result", |s| s.stat == Some(StartChargeSeqStat::Ended)).await;
    // The pile goes offline: refused at once with FailReason 2.
    w.fleet.pile(0).reject_remote_start(false).await;
    w.fleet.pile(0).drop_connection(Duration::from_secs(30)).await;
    let mut offline = None;
    for _ in 0..100 {
        let (_, answer) = w.emsp.start_charging(&connector).await.unwrap();
        if answer.fail_reason == 2 {
            offline = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(offline.is_some(), "an offline pile is refused with FailReason 2");
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

async fn partner_down_then_back(backend: Backend) {
    let w = world(backend).await;
    let connector = free_connector(&w).await;
    let (seq, _) = w.emsp.start_charging(&connector).await.unwrap();
    session(&w, &seq, "charging", |s| s.stat == Some(StartChargeSeqStat::Charging)).await;
    // The partner's endpoint goes down; the session ends meanwhile (the driver unplugs).
    w.emsp.set_down(true);
    w.fleet.pile(0).stop_local(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(w.emsp.session(&seq).unwrap().billed.is_none(), "nothing can arrive while down");
    w.emsp.set_down(false);
    // The retries are due on the platform's (test) clock: let it run past the backoff.
    for _ in 0..40 {
        w.app.advance(chrono::Duration::seconds(5));
        let free_again = w.emsp.connector_status(&connector) == Some(ConnectorStatusCode::Idle);
        if free_again && w.emsp.session(&seq).is_some_and(|s| s.billed.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ended = session(&w, &seq, "charge-end record after the partner is back", |s| s.billed.is_some()).await;
    assert_eq!(ended.order.unwrap().stop_reason.code(), 0, "stopped at the pile by the driver");
    let records = w.emsp.received().into_iter().filter(|r| r.key == seq && r.interface == "notification_charge_order_info").count();
    assert_eq!(records, 1, "delivered exactly once");
    // Status pushes for the connector arrived in the order the pile reported them, ending free.
    let pushes: Vec<String> = w.emsp.received().into_iter().filter(|r| r.key == connector).map(|r| r.value).collect();
    let charging_at = pushes.iter().position(|v| v == "3").expect("charging was pushed");
    assert_eq!(pushes.last().map(String::as_str), Some("1"), "{pushes:?}");
    assert!(pushes[..charging_at].iter().all(|v| v != "3") && charging_at < pushes.len() - 1, "{pushes:?}");
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

/// Waits until the eMSP's view of a connector (from our pushes) is `status`.
async fn pushed_status(w: &World, connector: &str, status: ConnectorStatusCode) {
    for _ in 0..400 {
        if w.emsp.connector_status(connector) == Some(status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{connector} never showed {status:?}: {:?}", w.emsp.received());
}

/// The reservation results the partner received for `seq`, as ReserveSeqStat codes.
fn reserve_results(w: &World, seq: &str) -> Vec<String> {
    w.emsp.received().into_iter().filter(|r| r.interface == "notification_reserve_result" && r.key == seq).map(|r| r.value).collect()
}

async fn order_state(w: &World, seq: &str) -> String {
    let mut conn = w.app.services.db.acquire().await.unwrap();
    store::orders::by_seq(&mut conn, seq).await.unwrap().expect("order").order.state.to_string()
}

async fn reservation_taken_by_a_start(backend: Backend) {
    let w = world_with(backend, true).await;
    let connector = free_connector(&w).await;
    let (other_id, _, other) = join_platform(&w.app, &w.admin, CODE_C, false).await;
    assert_ne!(other_id, w.partner_id);

    // 预约: the pile holds the connector; the answer carries the end of the hold.
    let before = w.app.clock.now();
    let (seq, answer) = w.emsp.reserve(&connector, 15).await.unwrap();
    assert_eq!((answer.succ_stat, answer.reserve_seq_stat, answer.fail_reason), (SuccStat::Success, ReserveSeqStat::Reserved, 0), "{answer:?}");
    let expires = answer.expire_time.expect("ExpireTime on success");
    assert!((expires - before - chrono::Duration::minutes(15)).num_seconds().abs() <= 1, "{expires} vs {before}");
    // The same ReserveSeq again is the same reservation: one ReserveNow reached the pile.
    let again = w.emsp.reserve_with(&seq, &connector, 15).await.unwrap();
    assert_eq!((again.succ_stat, again.reserve_seq_stat, again.expire_time), (SuccStat::Success, ReserveSeqStat::Reserved, Some(expires)));
    assert_eq!(w.fleet.pile(0).snapshot().reserve_requests, 1, "one ReserveNow for one ReserveSeq");
    assert_eq!(order_state(&w, &seq).await, "reserved");

    // 预约锁定 (status 4) for everyone: pushed to the holder, queried by another platform.
    pushed_status(&w, &connector, ConnectorStatusCode::Reserved).await;
    assert_eq!(other.sync_stations().await.unwrap(), 1);
    let station = other.stations()[0].station_id.clone();
    other.refresh_status(std::slice::from_ref(&station)).await.unwrap();
    assert_eq!(other.connector_status(&connector), Some(ConnectorStatusCode::Reserved));
    // Another partner cannot start on it (FailReason 3, not free), nor reserve it.
    let (_, refused) = other.start_charging(&connector).await.unwrap();
    assert_eq!((refused.succ_stat, refused.fail_reason), (SuccStat::Failure, 3), "{refused:?}");
    let (_, busy) = w.emsp.reserve(&connector, 10).await.unwrap();
    assert_eq!((busy.succ_stat, busy.reserve_seq_stat, busy.fail_reason), (SuccStat::Failure, ReserveSeqStat::Failed, 3), "{busy:?}");
    assert_eq!(w.fleet.pile(0).snapshot().reserve_requests, 1, "refused before the pile is asked");

    // The holder starts: the start takes over the hold (the pile accepts the reservation's tag).
    let (start_seq, started) = w.emsp.start_charging(&connector).await.unwrap();
    assert_eq!(started.succ_stat, SuccStat::Success, "{started:?}");
    session(&w, &start_seq, "charging on the reserved connector", |s| s.stat == Some(StartChargeSeqStat::Charging)).await;
    let used = w.emsp.wait_session(&start_seq, WAIT, |_| !reserve_results(&w, &seq).is_empty()).await;
    assert!(used.is_some(), "no reservation result: {:?}", w.emsp.received());
    assert_eq!(reserve_results(&w, &seq), vec!["4".to_owned()], "used (4), once");
    assert_eq!(w.emsp.reservation(&seq), Some(ReserveSeqStat::Used));
    assert_eq!(order_state(&w, &seq).await, "reservation_used");
    // Admins find reservations among the orders, with the hold the pile was given.
    let (_, used) = w.app.get(&format!("/api/admin/v1/orders?flow=b&state=reservation_used&seq={seq}"), Some(&w.admin)).await;
    let (_, detail) = w.app.get(&format!("/api/admin/v1/orders/{}", used["items"][0]["id"].as_str().unwrap()), Some(&w.admin)).await;
    let (_, start) = w.app.get(&format!("/api/admin/v1/orders?seq={start_seq}"), Some(&w.admin)).await;
    assert_eq!((detail["reservation"]["ocpp_id"].as_str(), &detail["reservation"]["used_by"]), (Some("CBP00001"), &start["items"][0]["id"]), "{detail}");
    let repeat = w.emsp.reserve_with(&seq, &connector, 15).await.unwrap();
    assert_eq!((repeat.succ_stat, repeat.reserve_seq_stat), (SuccStat::Success, ReserveSeqStat::Used), "a repeat reports what became of it");
    // A reservation's sequence is not a session's, nor the other way round.
    assert!(matches!(w.emsp.reserve_with(&start_seq, &connector, 15).await, Err(ClientError::Ret { ret: Ret::Parameter, .. })));
    assert!(matches!(w.emsp.start_with(&seq, &connector).await, Err(ClientError::Ret { ret: Ret::Parameter, .. })));
    let late_cancel = w.emsp.cancel_reserve(&seq, &connector).await.unwrap();
    assert_eq!((late_cancel.succ_stat, late_cancel.reserve_seq_stat, late_cancel.fail_reason), (SuccStat::Failure, ReserveSeqStat::Used, 2));

    // And it ends like any session: stopped, billed at the partner's price.
    session(&w, &start_seq, "energy", |s| s.energy > Decimal::ZERO).await;
    let stop = w.emsp.stop_charging(&start_seq).await.unwrap();
    assert_eq!(stop.succ_stat, SuccStat::Success, "{stop:?}");
    let ended = session(&w, &start_seq, "charge-end record", |s| s.billed.is_some()).await;
    assert!(ended.order.unwrap().total_power.value() > Decimal::ZERO);
    pushed_status(&w, &connector, ConnectorStatusCode::Idle).await;
    assert_eq!(reserve_results(&w, &seq).len(), 1);
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

async fn reservation_cancelled_or_expired(backend: Backend) {
    let w = world_with(backend, true).await;
    let connector = free_connector(&w).await;

    // Bad input changes nothing: Minutes out of range, a connector that does not exist.
    for minutes in [0, 61] {
        match w.emsp.reserve(&connector, minutes).await {
            Err(ClientError::Ret { ret: Ret::Parameter, .. }) => {}
            other => panic!("Minutes {minutes}: {other:?}"),
        }
    }
    let (_, unknown) = w.emsp.reserve("NOSUCHCONNECTOR", 10).await.unwrap();
    assert_eq!((unknown.succ_stat, unknown.fail_reason), (SuccStat::Failure, 1));
    assert_eq!(w.fleet.pile(0).snapshot().reserve_requests, 0);

    // 取消预约: the hold is released on the pile; no notification for the caller's own cancel.
    let (seq, answer) = w.emsp.reserve(&connector, 10).await.unwrap();
    assert_eq!(answer.reserve_seq_stat, ReserveSeqStat::Reserved, "{answer:?}");
    pushed_status(&w, &connector, ConnectorStatusCode::Reserved).await;
    let cancelled = w.emsp.cancel_reserve(&seq, &connector).await.unwrap();
    assert_eq!((cancelled.succ_stat, cancelled.reserve_seq_stat, cancelled.fail_reason), (SuccStat::Success, ReserveSeqStat::Cancelled, 0));
    assert_eq!(order_state(&w, &seq).await, "cancelled");
    pushed_status(&w, &connector, ConnectorStatusCode::Idle).await;
    assert_eq!(w.fleet.pile(0).snapshot().connectors[0].reservation_id, None, "the pile let go");
    let twice = w.emsp.cancel_reserve(&seq, &connector).await.unwrap();
    assert_eq!((twice.succ_stat, twice.reserve_seq_stat, twice.fail_reason), (SuccStat::Failure, ReserveSeqStat::Cancelled, 2));
    let unknown_seq = format!("{}{:018}", &seq[..9], 42);
    let none = w.emsp.cancel_reserve(&unknown_seq, &connector).await.unwrap();
    assert_eq!((none.succ_stat, none.fail_reason), (SuccStat::Failure, 1));

    // A fault makes the pile drop its hold; free again before the hold ends, it is asked to hold
    // it again: the partner keeps its reservation and hears nothing.
    let (seq, answer) = w.emsp.reserve(&connector, 10).await.unwrap();
    assert_eq!(answer.reserve_seq_stat, ReserveSeqStat::Reserved, "{answer:?}");
    pushed_status(&w, &connector, ConnectorStatusCode::Reserved).await;
    let asked = w.fleet.pile(0).snapshot().reserve_requests;
    w.fleet.pile(0).fault(1, ocpp::enums::ChargePointErrorCode::GroundFailure).await;
    pushed_status(&w, &connector, ConnectorStatusCode::Fault).await;
    w.fleet.pile(0).clear_fault(1).await;
    let held = w.fleet.pile(0).wait_for(WAIT, |p| p.reserve_requests == asked + 1 && p.connectors[0].reservation_id.is_some()).await;
    assert!(held.is_some(), "the pile was asked to hold again: {:?}", w.fleet.pile(0).snapshot());
    pushed_status(&w, &connector, ConnectorStatusCode::Reserved).await;
    assert_eq!(order_state(&w, &seq).await, "reserved");
    assert!(reserve_results(&w, &seq).is_empty());
    w.emsp.cancel_reserve(&seq, &connector).await.unwrap();
    pushed_status(&w, &connector, ConnectorStatusCode::Idle).await;

    // 预约到期: nobody starts; past the deadline (our clock) the order expires, the pile is
    // released and the partner hears ReserveSeqStat 3 — once.
    let (seq, answer) = w.emsp.reserve(&connector, 1).await.unwrap();
    assert_eq!(answer.reserve_seq_stat, ReserveSeqStat::Reserved, "{answer:?}");
    pushed_status(&w, &connector, ConnectorStatusCode::Reserved).await;
    w.app.advance(chrono::Duration::seconds(30));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(order_state(&w, &seq).await, "reserved", "not before its time");
    w.app.advance(chrono::Duration::seconds(31));
    for _ in 0..400 {
        if !reserve_results(&w, &seq).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reserve_results(&w, &seq), vec!["3".to_owned()], "{:?}", w.emsp.received());
    assert_eq!(order_state(&w, &seq).await, "reservation_expired");
    pushed_status(&w, &connector, ConnectorStatusCode::Idle).await;
    // Later runs of the worker and the pile's Available report add nothing.
    for _ in 0..5 {
        w.app.advance(chrono::Duration::seconds(30));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(reserve_results(&w, &seq), vec!["3".to_owned()], "exactly once");
    let late = w.emsp.cancel_reserve(&seq, &connector).await.unwrap();
    assert_eq!((late.succ_stat, late.reserve_seq_stat, late.fail_reason), (SuccStat::Failure, ReserveSeqStat::Expired, 2));
    // The connector takes a plain start again.
    let (start_seq, started) = w.emsp.start_charging(&connector).await.unwrap();
    assert_eq!(started.succ_stat, SuccStat::Success, "{started:?}");
    session(&w, &start_seq, "charging after the hold expired", |s| s.stat == Some(StartChargeSeqStat::Charging)).await;
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

async fn reservations_need_the_extension(backend: Backend) {
    let w = world(backend).await;
    let connector = free_connector(&w).await;
    match w.emsp.reserve(&connector, 10).await {
        Err(ClientError::Ret { ret: Ret::Parameter, msg }) => {
            assert!(msg.contains("预约扩展接口未对该运营商开通") && msg.contains("not enabled for this partner"), "{msg}");
        }
        other => panic!("expected Ret 4004: {other:?}"),
    }
    assert!(matches!(
        w.emsp.cancel_reserve(&format!("{}{:018}", w.emsp.operator_id(), 1), &connector).await,
        Err(ClientError::Ret { ret: Ret::Parameter, .. })
    ));
    assert_eq!(w.fleet.pile(0).snapshot().reserve_requests, 0);
    // Holds longer than the extension allows cannot be agreed; the terms stay as they were.
    let path = format!("/api/admin/v1/partners/{}/terms", w.partner_id);
    let (_, before) = w.app.get(&path, Some(&w.admin)).await;
    let mut terms = before.clone();
    terms["open"]["reservations"] = json!(true);
    terms["open"]["reservation_max_minutes"] = json!(90);
    let (status, refused) = w.app.put(&path, Some(&w.admin), &terms).await;
    assert_eq!((status, refused["error"]["fields"][0]["field"].as_str()), (422, Some("open.reservation_max_minutes")), "{refused}");
    assert_eq!(w.app.get(&path, Some(&w.admin)).await.1, before);
    // Terms an admin saves apply to the partner's very next request, either way.
    terms["open"]["reservation_max_minutes"] = json!(30);
    let (status, saved) = w.app.put(&path, Some(&w.admin), &terms).await;
    assert_eq!(status, 200, "{saved}");
    let (seq, held) = w.emsp.reserve(&connector, 10).await.expect("reservations enabled at once");
    assert_eq!((held.succ_stat, held.reserve_seq_stat), (SuccStat::Success, ReserveSeqStat::Reserved), "{held:?}");
    w.emsp.cancel_reserve(&seq, &connector).await.unwrap();
    let (status, _) = w.app.put(&path, Some(&w.admin), &before).await;
    assert_eq!(status, 200);
    assert!(matches!(w.emsp.reserve(&connector, 10).await, Err(ClientError::Ret { ret: Ret::Parameter, .. })), "and disabled at once");
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

/// PUTs a CSV body; (status, JSON answer).
async fn put_csv(w: &World, path: &str, token: &str, period: &[(&str, String)], body: impl Into<reqwest::Body>) -> (u16, serde_json::Value) {
    let response =
        reqwest::Client::new().put(w.app.url(path)).query(period).bearer_auth(token).header("content-type", "text/csv").body(body).send().await.unwrap();
    common::read(response).await
}

/// 对账: the partner uploads its own statement of the period instead of answering
/// check_charge_orders; every difference between it and our orders is listed.
async fn reconciled_with_the_partners_statement(backend: Backend) {
    let w = world(backend).await;
    let connector = free_connector(&w).await;
    let (seq, _) = w.emsp.start_charging(&connector).await.unwrap();
    session(&w, &seq, "charging", |s| s.energy > Decimal::ZERO).await;
    w.emsp.stop_charging(&seq).await.unwrap();
    let order = session(&w, &seq, "charge-end record", |s| s.billed.is_some()).await.order.unwrap();
    let (energy, amount) = (order.total_power.value(), order.total_money.value());

    let now = chrono::Utc::now();
    let (start, end) = (now - chrono::Duration::days(1), now + chrono::Duration::days(1));
    let period = [("start", start.to_rfc3339()), ("end", end.to_rfc3339())];
    let mine = "/api/portal/v1/partners/me/statements";

    // Bad files change nothing and say what is wrong, line by line.
    let (status, bad) = put_csv(&w, mine, &w.portal, &period, format!("order_seq,energy_kwh,amount\n{seq},{energy},12.5x\nX2,-1,1\n")).await;
    assert_eq!(status, 422, "{bad}");
    let problems = bad["error"]["fields"].to_string();
    assert!(problems.contains("line 2: amount") && problems.contains("line 3: energy_kwh -1 is negative"), "{bad}");
    let (status, gbk) = put_csv(&w, mine, &w.portal, &period, vec![0xb6u8, 0xa9, 0xb5, 0xa5, b'\n']).await;
    assert_eq!((status, gbk["error"]["fields"][0]["field"].as_str()), (422, Some("csv")), "{gbk}");
    let (status, _) = put_csv(&w, mine, "not-a-token", &period, "order_seq,energy_kwh,amount\n").await;
    assert_eq!(status, 401);
    let (_, listed) = w.app.get(mine, Some(&w.portal)).await;
    assert_eq!(listed["total"], 0, "nothing stored: {listed}");

    // The partner's statement charges one yuan more for our order and lists one we never had.
    let off = amount + Decimal::ONE;
    let csv = format!("订单号,充电量,金额\n{seq},{energy},{off}\nEXTRA0000000001,3.00,4.50\n");
    let (status, uploaded) = put_csv(&w, mine, &w.portal, &period, csv).await;
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(
        (uploaded["entry_count"].as_i64(), uploaded["total_amount"].as_str()),
        (Some(2), Some((off + Decimal::new(450, 2)).to_string().as_str())),
        "{uploaded}"
    );

    let statements = format!("/api/admin/v1/partners/{}/statements", w.partner_id);
    let body = json!({"start": start, "end": end});
    let (status, statement) = w.app.post(&statements, Some(&w.admin), &body).await;
    assert_eq!(status, 201, "{statement}");
    assert_eq!(statement["reconciled_with"], "partner_statement");
    let differences = statement["differences"].as_array().unwrap();
    let kinds: Vec<_> = differences.iter().map(|d| (d["kind"].as_str().unwrap(), d["order"].as_str().unwrap())).collect();
    // Listed by order key.
    assert_eq!(kinds, [("missing_ours", "EXTRA0000000001"), ("amount_mismatch", seq.as_str())], "{statement}");
    let money = |v: &serde_json::Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
    assert_eq!((money(&differences[1]["ours"]), money(&differences[1]["theirs"])), (amount, off));
    assert!(!w.emsp.received().iter().any(|r| r.interface == "check_charge_orders"), "the uploaded statement stands in for check_charge_orders");

    // Finance uploads the corrected statement it received; the redrawn draft is clean.
    let theirs = format!("/api/admin/v1/partners/{}/partner-statements", w.partner_id);
    let (status, corrected) = put_csv(&w, &theirs, &w.admin, &period, format!("order_seq,energy_kwh,amount\n{seq},{energy},{amount}\n")).await;
    assert_eq!(status, 201, "{corrected}");
    assert!(corrected["uploaded_by"].as_str().unwrap().starts_with("admin:"), "{corrected}");
    let (_, statement) = w.app.post(&statements, Some(&w.admin), &body).await;
    assert_eq!(statement["differences"], json!([]), "{statement}");
    let (_, listed) = w.app.get(&theirs, Some(&w.admin)).await;
    assert_eq!(listed["total"], 1, "the later upload replaced the first: {listed}");

    // Once confirmed, the period is frozen for uploads too.
    let id = statement["id"].as_str().unwrap();
    let (status, _) = w.app.post(&format!("/api/admin/v1/statements/{id}/confirm"), Some(&w.admin), &json!({})).await;
    assert_eq!(status, 200);
    let (status, frozen) = put_csv(&w, mine, &w.portal, &period, format!("order_seq,energy_kwh,amount\n{seq},{energy},{amount}\n")).await;
    assert_eq!((status, frozen["error"]["code"].as_str()), (409, Some("statement_confirmed")), "{frozen}");
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

/// The order's transitions as admins read them (`GET /api/admin/v1/orders/{id}`): (event, to
/// state, detail), oldest first, and the order itself.
async fn admin_order(w: &World, seq: &str) -> (Vec<(String, String, String)>, serde_json::Value) {
    let (status, found) = w.app.get(&format!("/api/admin/v1/orders?seq={seq}"), Some(&w.admin)).await;
    assert_eq!(status, 200, "{found}");
    let id = found["items"][0]["id"].as_str().expect("the order is listed").to_owned();
    let (status, detail) = w.app.get(&format!("/api/admin/v1/orders/{id}"), Some(&w.admin)).await;
    assert_eq!(status, 200, "{detail}");
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let steps = detail["transitions"].as_array().unwrap().iter().map(|t| (text(&t["event"]), text(&t["to_state"]), text(&t["detail"]))).collect();
    (steps, detail)
}

fn charge_records(w: &World, seq: &str) -> usize {
    w.emsp.received().into_iter().filter(|r| r.key == seq && r.interface == "notification_charge_order_info").count()
}

/// Energy as a T/CEC 102 record carries it: kWh with two decimals (the pile meters whole Wh).
fn on_the_wire(kwh: Decimal) -> Decimal {
    kwh.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// Our flat test tariff at the partner's (default) price: 0.80 + 0.60 per kWh.
fn assert_priced(order: &cec::messages::ChargeOrderInfo) {
    let energy = order.total_power.value();
    assert_eq!(order.total_elec_money.value(), (energy * Decimal::new(80, 2)).round_dp(2), "{order:?}");
    assert_eq!(order.total_sevice_money.value(), (energy * Decimal::new(60, 2)).round_dp(2), "{order:?}");
    assert_eq!(order.total_money.value(), order.total_elec_money.value() + order.total_sevice_money.value());
}

/// 充电中设备故障: the pile faults mid-charge (StatusNotification Faulted, then StopTransaction
/// with reason Other). The partner sees the fault in its status pushes and gets the charge-end
/// record once, with StopReason 3 (设备故障) and all energy metered until the fault, at its
/// price; the order's history shows the interruption before the bill.
async fn pile_fault_ends_the_session(backend: Backend) {
    let w = world(backend).await;
    let connector = free_connector(&w).await;
    let (seq, _) = w.emsp.start_charging(&connector).await.unwrap();
    session(&w, &seq, "energy", |s| s.energy > Decimal::ZERO).await;
    // Nobody unlocks the connector under a running session from the back office.
    let (status, body) = w.app.post("/api/admin/v1/piles/CBP00001/unlock", Some(&w.admin), &json!({"connector_id": 1})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("session_running")), "{body}");
    assert!(body["error"]["message_zh"].as_str().unwrap().contains("正在充电"), "{body}");
    assert!(w.fleet.pile(0).snapshot().connectors[0].transaction_id.is_some(), "still charging");

    w.fleet.pile(0).fault(1, ChargePointErrorCode::GroundFailure).await;
    pushed_status(&w, &connector, ConnectorStatusCode::Fault).await;
    let ended = session(&w, &seq, "charge-end record after the fault", |s| s.billed.is_some()).await;
    let record = ended.order.unwrap();
    assert_eq!(record.stop_reason.code(), 3, "StopReason 3 (设备故障), not an operator-defined one: {record:?}");
    let metered = w.fleet.pile(0).snapshot().connectors[0].meter_wh;
    assert!(metered > 0);
    assert_eq!(record.total_power.value(), on_the_wire(Decimal::new(metered, 3)), "all energy metered until the fault (the meter started at 0)");
    assert_priced(&record);
    assert_eq!(ended.billed, Some(record.total_money.value()));

    let (steps, order) = admin_order(&w, &seq).await;
    assert_eq!(order["state"], "billed", "{order}");
    let at = |event: &str| steps.iter().position(|(e, _, _)| e == event).unwrap_or_else(|| panic!("no {event} in {steps:?}"));
    let (_, to, detail) = &steps[at("abnormal_stop")];
    assert_eq!(to, "interrupted");
    assert!(detail.contains("Faulted (GroundFailure)"), "{detail}");
    assert!(at("abnormal_stop") < at("charge_ended") && at("charge_ended") < at("billed"), "{steps:?}");
    assert_eq!(steps[at("charge_ended")].1, "finished");

    // The fault clears and the connector is free again; the record came once.
    w.fleet.pile(0).clear_fault(1).await;
    pushed_status(&w, &connector, ConnectorStatusCode::Idle).await;
    assert_eq!(charge_records(&w, &seq), 1, "the charge-end record exactly once");
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

/// 充电中桩离线: the pile drops off mid-charge and stays away. Once `ocpp.offline_session_timeout`
/// has passed on our clock, the session ends with StopReason 3 and is billed on the last meter
/// reading we have; the partner gets that record once. When the pile comes back still charging,
/// it is asked to stop; its StopTransaction with more energy is kept on the order's
/// transitions and not billed again.
async fn pile_offline_mid_session(backend: Backend) {
    // Short enough that our clock stays within the partners' T/CEC 102 timestamp window.
    let w = world_configured(backend, false, |c| c.ocpp.offline_session_timeout_seconds = 120).await;
    let connector = free_connector(&w).await;
    let (seq, _) = w.emsp.start_charging(&connector).await.unwrap();
    session(&w, &seq, "energy", |s| s.energy > Decimal::ZERO).await;

    let pile = w.fleet.pile(0).clone();
    pile.drop_connection(Duration::from_secs(3600)).await;
    // We noticed (the partner is told the connector is offline) and the pile charges on, queueing.
    pushed_status(&w, &connector, ConnectorStatusCode::Offline).await;
    assert!(pile.wait_for(WAIT, |s| !s.online && s.queued >= 2).await.is_some(), "{:?}", pile.snapshot());

    // Not before its time (the worker's step, called here so the answer is certain).
    w.app.advance(chrono::Duration::seconds(100));
    assert_eq!(w.app.services.end_offline_sessions().await.unwrap(), 0);
    assert_eq!(order_state(&w, &seq).await, "charging");
    w.app.advance(chrono::Duration::seconds(30));
    let ended = session(&w, &seq, "charge-end record while the pile is offline", |s| s.billed.is_some()).await;
    let record = ended.order.unwrap();
    assert_eq!(record.stop_reason.code(), 3, "{record:?}");
    assert_priced(&record);
    assert_eq!(order_state(&w, &seq).await, "billed");
    let readings = {
        let mut conn = w.app.services.db.acquire().await.unwrap();
        let order = store::orders::by_seq(&mut conn, &seq).await.unwrap().unwrap().order;
        store::pile_sessions::by_order(&mut conn, order.id).await.unwrap().unwrap().readings
    };
    let billed_register = readings.last().unwrap().kwh.value();
    assert_eq!(record.total_power.value(), on_the_wire(billed_register - readings[0].kwh.value()), "billed on the last reading");
    assert!(record.total_power.value() > Decimal::ZERO);
    let (steps, _) = admin_order(&w, &seq).await;
    let interrupted = steps.iter().find(|(e, _, _)| e == "abnormal_stop").unwrap_or_else(|| panic!("{steps:?}"));
    assert!(interrupted.2.contains("offline") && interrupted.2.contains("last meter reading"), "{interrupted:?}");

    // The pile comes back still charging and delivers its queue: it is asked to stop that
    // transaction (energy now would be billed to nobody), and its StopTransaction comes late.
    assert!(pile.snapshot().connectors[0].transaction_id.is_some(), "still charging");
    pile.drop_connection(Duration::ZERO).await;
    let stopped = pile.wait_for(WAIT, |s| s.online && s.queued == 0 && s.connectors[0].transaction_id.is_none()).await;
    let stopped = stopped.unwrap_or_else(|| panic!("stopped and delivered: {:?}", pile.snapshot()));
    let final_register = Decimal::new(stopped.connectors[0].meter_wh, 3);
    assert!(final_register > billed_register, "the pile metered more while offline");
    pushed_status(&w, &connector, ConnectorStatusCode::Idle).await;

    let (steps, order) = admin_order(&w, &seq).await;
    let late: Vec<_> = steps.iter().filter(|(e, _, _)| e == "late_stop_reading").collect();
    assert_eq!(late.len(), 1, "{steps:?}");
    let unbilled = final_register - billed_register;
    assert!(late[0].2.contains(&format!("meter {final_register} kWh")) && late[0].2.contains(&format!("{unbilled} kWh more")), "{late:?}");
    assert!(late[0].2.contains("StopTransaction (Remote)"), "stopped on our request: {late:?}");
    let billed: Option<Decimal> = order["billed_amount"].as_str().and_then(|a| a.parse().ok());
    assert_eq!((order["state"].as_str(), billed), (Some("billed"), Some(record.total_money.value())), "the bill is not reopened: {order}");
    assert_eq!(charge_records(&w, &seq), 1, "no second charge-end record");
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

/// A pile that reported a fault and went away before ending the transaction: the session
/// waits as interrupted, and is ended and billed all the same once the pile stays away.
async fn faulted_then_offline(backend: Backend) {
    let w = world_configured(backend, false, |c| c.ocpp.offline_session_timeout_seconds = 120).await;
    let connector = free_connector(&w).await;
    let (seq, _) = w.emsp.start_charging(&connector).await.unwrap();
    session(&w, &seq, "energy", |s| s.energy > Decimal::ZERO).await;
    w.fleet.pile(0).drop_connection(Duration::from_secs(3600)).await;
    pushed_status(&w, &connector, ConnectorStatusCode::Offline).await;
    // Its Faulted report, as it arrived just before the link dropped.
    assert_eq!(w.app.services.pile_connector_faulted("CBP00001", 1, "GroundFailure").await.unwrap(), 1);
    assert_eq!(order_state(&w, &seq).await, "interrupted");

    w.app.advance(chrono::Duration::seconds(130));
    let ended = session(&w, &seq, "charge-end record of the interrupted session", |s| s.billed.is_some()).await;
    assert_eq!(ended.order.unwrap().stop_reason.code(), 3);
    assert_eq!(order_state(&w, &seq).await, "billed");
    let records = w.emsp.received().into_iter().filter(|r| r.key == seq && r.interface == "notification_charge_order_info").count();
    assert_eq!(records, 1);
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

/// A pile that dropped a hold and does not answer when asked to hold it again: the reservation
/// ends as cancelled (ReserveSeqStat 2) and the partner is told, once.
async fn a_dropped_hold_the_pile_will_not_take_again(backend: Backend) {
    let w = world_configured(backend, true, |c| c.ocpp.call_timeout_ms = 1500).await;
    let connector = free_connector(&w).await;
    let (seq, answer) = w.emsp.reserve(&connector, 10).await.unwrap();
    assert_eq!(answer.reserve_seq_stat, ReserveSeqStat::Reserved, "{answer:?}");
    pushed_status(&w, &connector, ConnectorStatusCode::Reserved).await;
    let pile = w.fleet.pile(0);
    pile.fault(1, ocpp::enums::ChargePointErrorCode::GroundFailure).await;
    pushed_status(&w, &connector, ConnectorStatusCode::Fault).await;
    pile.set_silent(true).await;
    pile.clear_fault(1).await;
    for _ in 0..200 {
        if !reserve_results(&w, &seq).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reserve_results(&w, &seq), vec!["2".to_owned()], "{:?}", w.emsp.received());
    assert_eq!(order_state(&w, &seq).await, "cancelled");
    assert_eq!(w.emsp.reservation(&seq), Some(ReserveSeqStat::Cancelled));
    pile.set_silent(false).await;
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}
