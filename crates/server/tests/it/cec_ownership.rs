//! Who may say what about an order over T/CEC 102: the operator of a connector reports on the
//! sessions at it (flow A), a platform drives its own users' sessions on our piles (flow B), and
//! neither reaches into the other's role or another partner's orders. Each abuse goes through
//! real envelopes over HTTP and must change nothing.

use crate::common;

use std::time::Duration;

use cec::messages::*;
use cec::{CecClient, ClientConfig, ClientError, Ret, Secrets};
use chrono::Utc;
use common::{Backend, CODE_B, CODE_C, TestApp, application};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sim::cec_emsp::{EmspConfig, EmspSimulator, PlatformLink};
use sim::piles::PileFleet;

const WAIT: Duration = Duration::from_secs(20);

on_both_backends!(
    platform_cannot_report_on_its_own_session,
    operator_cannot_report_on_another_operators_order,
    figures_beyond_a_session_are_refused,
    statement_rows_beyond_a_session_are_refused,
    unbalanced_record_is_held_until_an_admin_resolves_it,
    simulators_unbalanced_records_are_held_then_written_off
);

/// A partner approved with `roles`, and a T/CEC client holding the secrets we issued to it.
async fn approved_partner(app: &TestApp, admin: &str, credit_code: &str, roles: &str) -> (String, String, CecClient, PlatformLink) {
    let mut form = application(credit_code);
    form["roles"] = json!(roles);
    let (partner_id, portal) = app.register(&form).await;
    let (status, body) = app.post(&format!("/api/admin/v1/partners/{partner_id}/approve"), Some(admin), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let set = &creds["cec_issued"][0];
    let s = |k: &str| set[k].as_str().unwrap().to_owned();
    let issued = Secrets::new(&s("operator_secret"), &s("data_secret"), &s("data_secret_iv"), &s("sig_secret"));
    let client = CecClient::new(ClientConfig::new(&app.base, "v1.0", &s("operator_id"), issued.clone()), reqwest::Client::new()).unwrap();
    let link = PlatformLink { base_url: app.base.clone(), version: "v1.0".into(), our_operator_id: s("operator_id"), secrets: issued };
    (partner_id, portal, client, link)
}

fn refused_as_bad_parameter<T: std::fmt::Debug>(what: &str, answer: Result<T, ClientError>) -> String {
    match answer {
        Err(ClientError::Ret { ret: Ret::Parameter, msg }) => msg,
        other => panic!("{what}: expected Ret 4004, got {other:?}"),
    }
}

async fn admin_order(app: &TestApp, admin: &str, seq: &str) -> Value {
    let (status, listed) = app.get(&format!("/api/admin/v1/orders?seq={seq}"), Some(admin)).await;
    assert_eq!((status, listed["total"].as_i64()), (200, Some(1)), "{listed}");
    listed["items"][0].clone()
}

fn charge_order_info(seq: &str, connector: &str, total: rust_decimal::Decimal) -> ChargeOrderInfo {
    let t0 = Utc::now() - chrono::Duration::minutes(10);
    ChargeOrderInfo {
        start_charge_seq: Seq27(seq.into()),
        connector_id: connector.into(),
        start_time: t0,
        end_time: t0 + chrono::Duration::minutes(5),
        total_power: dec!(0.01).into(),
        total_elec_money: dec!(0.01).into(),
        total_sevice_money: dec!(0).into(),
        total_money: total.into(),
        stop_reason: StopReason::User,
        sum_period: Some(0),
        charge_details: vec![],
    }
}

fn stop_result(seq: &str, connector: &str) -> NotificationStopChargeResult {
    NotificationStopChargeResult {
        start_charge_seq: Seq27(seq.into()),
        start_charge_seq_stat: StartChargeSeqStat::Ended,
        connector_id: connector.into(),
        succ_stat: SuccStat::Success,
        fail_reason: 0,
    }
}

/// The probe: a platform partner starts a session on our pile, then sends the operator's
/// messages about it — a final bill of ¥0.01 above all. Each is refused as not its role, the
/// session keeps charging and the partner can still stop it; the bill comes from our meter.
async fn platform_cannot_report_on_its_own_session(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.workers.session_status = Duration::from_millis(300);
        c.workers.outbox_poll = Duration::from_millis(50);
    })
    .await;
    let admin = app.admin_token().await;
    let created = common::station_with_one_pile(&app, &admin).await;
    let (_, portal, platform, link) = approved_partner(&app, &admin, CODE_B, "platform").await;
    let theirs = Secrets::new("EmspOpSecret0001", "EmspDataSecret01", "EmspDataSecIV001", "EmspSigSecret001");
    let emsp = EmspSimulator::start(EmspConfig::new(&link.our_operator_id.clone(), theirs.clone(), link)).await.unwrap();
    let peer = json!({"base_url": emsp.base_url(), "version_segment": "v1.0", "operator_secret": theirs.operator_secret,
                      "data_secret": theirs.data_secret, "data_secret_iv": theirs.data_secret_iv, "sig_secret": theirs.sig_secret});
    let (status, body) = app.put("/api/portal/v1/partners/me/cec-peer", Some(&portal), &peer).await;
    assert_eq!(status, 200, "{body}");
    let mut config = common::fleet_config(&app, &created);
    config.meter_interval = Duration::from_millis(100);
    config.power_w = 120_000;
    let fleet = PileFleet::start(config);
    assert!(fleet.wait_all_online(WAIT).await, "the pile connects");

    assert_eq!(emsp.sync_stations().await.unwrap(), 1);
    let connector = emsp.stations()[0].equipment_infos[0].connector_infos[0].connector_id.clone();
    let station = emsp.stations()[0].station_id.clone();
    let mut started = None;
    for _ in 0..200 {
        let (seq, answer) = emsp.start_charging(&connector).await.unwrap();
        if answer.succ_stat == SuccStat::Success {
            started = Some(seq);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seq = started.expect("the start is accepted once the connector shows free");
    emsp.wait_session(&seq, WAIT, |s| s.stat == Some(StartChargeSeqStat::Charging)).await.expect("charging");

    // The final bill, and every other operator notification, about its own session.
    let msg = refused_as_bad_parameter("charge order info", platform.call(&charge_order_info(&seq, &connector, dec!(0.01))).await);
    assert!(msg.contains("operator") && msg.contains("运营商"), "says why, in both languages: {msg}");
    refused_as_bad_parameter("stop result", platform.call(&stop_result(&seq, &connector)).await);
    let start_result = NotificationStartChargeResult {
        start_charge_seq: Seq27(seq.clone()),
        start_charge_seq_stat: StartChargeSeqStat::Ended,
        connector_id: connector.clone(),
        start_time: Utc::now(),
    };
    refused_as_bad_parameter("start result", platform.call(&start_result).await);
    let mut status = ChargeStatus::unknown(Seq27(seq.clone()), Utc::now());
    status.start_charge_seq_stat = StartChargeSeqStat::Ended;
    status.connector_id = connector.clone();
    refused_as_bad_parameter("charge status", platform.call(&status).await);
    let push = NotificationStationStatus {
        connector_status_info: ConnectorStatusInfo {
            connector_id: connector.clone(),
            status: ConnectorStatusCode::Fault,
            park_status: None,
            lock_status: None,
        },
    };
    refused_as_bad_parameter("station status", platform.call(&push).await);
    let check = CheckChargeOrders {
        check_order_seq: Seq27(format!("{}202612040100000001", &seq[..9])),
        start_time: Utc::now() - chrono::Duration::hours(1),
        end_time: Utc::now(),
        order_count: 1,
        total_order_power: dec!(0.01).into(),
        total_order_money: dec!(0.01).into(),
        charge_orders: vec![ChargeOrder { start_charge_seq: Seq27(seq.clone()), total_power: dec!(0.01).into(), total_money: dec!(0.01).into() }],
    };
    refused_as_bad_parameter("check charge orders", platform.call(&check).await);

    // Nothing changed: still charging, no bill, and the partner's own stop works.
    let order = admin_order(&app, &admin, &seq).await;
    assert_eq!(order["state"], "charging", "{order}");
    emsp.refresh_status(std::slice::from_ref(&station)).await.unwrap();
    assert_eq!(emsp.connector_status(&connector), Some(ConnectorStatusCode::Charging), "our pile's status, not the pushed fault");
    // Let the pile meter a little (120 kW: a second is about 0.03 kWh) so our bill is above the forged one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stop = emsp.stop_charging(&seq).await.unwrap();
    assert_eq!(stop.succ_stat, SuccStat::Success, "{stop:?}");
    let ended = emsp.wait_session(&seq, WAIT, |s| s.billed.is_some()).await.expect("billed from our meter");
    assert!(ended.billed.unwrap() > dec!(0.01), "{ended:?}");
    fleet.shutdown().await;
    app.cleanup().await;
}

/// Operator Y sends the messages that belong to operator X's order and pushes status for X's
/// connector: refused or discarded, and X's order and connector are as X left them.
async fn operator_cannot_report_on_another_operators_order(backend: Backend) {
    let world = common::billed::flow_a(backend, |_| {}).await;
    let w = &world;
    let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000&free_now=true", None).await;
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{}", nearby["items"][0]["id"].as_str().unwrap()), None).await;
    let free = detail["connectors_live"].as_array().unwrap().iter().find(|c| c["status"] == "available").unwrap()["id"].clone();
    let external = detail["connectors"].as_array().unwrap().iter().find(|c| c["id"] == free).unwrap()["external_id"].as_str().unwrap().to_owned();
    let (status, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": free})).await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let charging = w.wait_order(&id, |o| o["state"] == "charging").await;
    let seq = charging["seq"].as_str().unwrap().to_owned();

    let (_, _, other, _) = approved_partner(&w.app, &w.admin, CODE_C, "operator").await;
    refused_as_bad_parameter("charge order info", other.call(&charge_order_info(&seq, &external, dec!(0.01))).await);
    refused_as_bad_parameter("stop result", other.call(&stop_result(&seq, &external)).await);
    let push = NotificationStationStatus {
        connector_status_info: ConnectorStatusInfo { connector_id: external.clone(), status: ConnectorStatusCode::Fault, park_status: None, lock_status: None },
    };
    let answer = other.call(&push).await.unwrap();
    assert_eq!(answer.status, 1, "a connector that is not its own is discarded");

    let order = w.wait_order(&id, |o| o["state"] == "charging").await;
    assert!(order["amount"].as_str().is_none_or(|a| a != "0.01"), "{order}");
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{}", nearby["items"][0]["id"].as_str().unwrap()), None).await;
    let live = detail["connectors_live"].as_array().unwrap().iter().find(|c| c["id"] == free).unwrap().clone();
    assert_ne!(live["status"], "faulted", "{live}");
    world.app.cleanup().await;
}

/// Our driver charging at the operator's connector: (order id, seq, the connector's external id).
async fn charging_order(w: &common::billed::FlowA) -> (String, String, String) {
    let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000&free_now=true", None).await;
    let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{}", nearby["items"][0]["id"].as_str().unwrap()), None).await;
    let free = detail["connectors_live"].as_array().unwrap().iter().find(|c| c["status"] == "available").unwrap()["id"].clone();
    let external = detail["connectors"].as_array().unwrap().iter().find(|c| c["id"] == free).unwrap()["external_id"].as_str().unwrap().to_owned();
    let (status, order) = w.app.post("/api/app/v1/charging/start", Some(&w.driver), &json!({"connector_id": free})).await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let charging = w.wait_order(&id, |o| o["state"] == "charging").await;
    (id, charging["seq"].as_str().unwrap().to_owned(), external)
}

fn operator_client(w: &common::billed::FlowA) -> CecClient {
    CecClient::new(ClientConfig::new(&w.app.base, "v1.0", "MA5FCTXX0", w.issued.clone()), reqwest::Client::new()).unwrap()
}

/// The probe: a balanced record billing ¥9 × 10^17 (which could never be paid: the amount has
/// no storable form), energy no session delivers, prices no tariff has. Each is refused with
/// 4004 naming the field; the order is untouched and nothing can be paid.
async fn figures_beyond_a_session_are_refused(backend: Backend) {
    let world = common::billed::flow_a(backend, |_| {}).await;
    let w = &world;
    let (id, seq, external) = charging_order(w).await;
    let cpo = operator_client(w);
    let huge = dec!(900000000000000000);
    let mut record = charge_order_info(&seq, &external, huge);
    record.total_elec_money = huge.into();
    let msg = refused_as_bad_parameter("a bill of 9e17", cpo.call(&record).await);
    assert!(msg.contains("TotalElecMoney") && msg.contains("上限"), "{msg}");
    let mut record = charge_order_info(&seq, &external, dec!(0.01));
    record.total_power = dec!(5000).into();
    let msg = refused_as_bad_parameter("5000 kWh", cpo.call(&record).await);
    assert!(msg.contains("TotalPower"), "{msg}");
    let mut record = charge_order_info(&seq, &external, dec!(0.01));
    record.charge_details = vec![ChargeDetail {
        detail_start_time: record.start_time,
        detail_end_time: record.end_time,
        elec_price: dec!(500).into(),
        sevice_price: dec!(0).into(),
        detail_power: dec!(0.01).into(),
        detail_elec_money: dec!(0.01).into(),
        detail_sevice_money: dec!(0).into(),
    }];
    let msg = refused_as_bad_parameter("¥500 per kWh", cpo.call(&record).await);
    assert!(msg.contains("ElecPrice"), "{msg}");
    let check = CheckChargeOrders {
        check_order_seq: Seq27("MA5FCTXX0202612040100000001".into()),
        start_time: Utc::now() - chrono::Duration::hours(1),
        end_time: Utc::now(),
        order_count: 1,
        total_order_power: dec!(1).into(),
        total_order_money: huge.into(),
        charge_orders: vec![ChargeOrder { start_charge_seq: Seq27(seq.clone()), total_power: dec!(1).into(), total_money: huge.into() }],
    };
    refused_as_bad_parameter("reconciling 9e17", cpo.call(&check).await);

    let order = w.wait_order(&id, |o| o["state"] == "charging").await;
    // Only the running cost the partner's status pushes report, never the refused bill.
    assert!(order["amount"].as_str().is_none_or(|a| a.parse::<rust_decimal::Decimal>().unwrap() < dec!(1000)), "{order}");
    let (status, body) = w.app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_payable")), "{body}");
    assert_eq!(w.wallet_balance().await, dec!(200), "the wallet is untouched");
    world.app.cleanup().await;
}

/// A partner statement whose amounts no session reaches (and whose sum overflows any decimal)
/// is refused line by line, not answered with a server error.
async fn statement_rows_beyond_a_session_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (_, portal, _, _) = approved_partner(&app, &admin, CODE_B, "platform").await;
    let now = Utc::now();
    let period = [("start", (now - chrono::Duration::days(1)).to_rfc3339()), ("end", (now + chrono::Duration::days(1)).to_rfc3339())];
    let max = rust_decimal::Decimal::MAX;
    let csv = format!("order_seq,energy_kwh,amount\nX1,1.00,{max}\nX2,1.00,{max}\nX3,99999.00,1.00\nX4,1.00,20.00\n");
    let response = reqwest::Client::new()
        .put(app.url("/api/portal/v1/partners/me/statements"))
        .query(&period)
        .bearer_auth(&portal)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let (status, body) = common::read(response).await;
    assert_eq!(status, 422, "{body}");
    let fields = body["error"]["fields"].as_array().unwrap();
    let lines: Vec<&str> = fields.iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines[0].starts_with("line 2: amount") && lines[2].starts_with("line 4: energy_kwh"), "{lines:?}");
    assert!(fields[0]["message_zh"].as_str().unwrap().contains("上限"), "{body}");
    let (_, listed) = app.get("/api/portal/v1/partners/me/statements", Some(&portal)).await;
    assert!(listed.as_array().is_none_or(|l| l.is_empty()) && listed["total"].as_i64().is_none_or(|t| t == 0), "nothing stored: {listed}");
    app.cleanup().await;
}

/// 争议订单: a charge record whose TotalMoney is not its electricity plus service fee is
/// answered ConfirmResult 1 and held as disputed — visible to admins with both sets of figures
/// — until an admin bills it (once, through payment and settlement) or writes it off.
async fn unbalanced_record_is_held_until_an_admin_resolves_it(backend: Backend) {
    let world = common::billed::flow_a(backend, |_| {}).await;
    let w = &world;
    let (id, seq, external) = charging_order(w).await;
    let cpo = operator_client(w);
    let t0 = Utc::now() - chrono::Duration::minutes(30);
    let record = ChargeOrderInfo {
        start_charge_seq: Seq27(seq.clone()),
        connector_id: external.clone(),
        start_time: t0,
        end_time: t0 + chrono::Duration::minutes(20),
        total_power: dec!(15.00).into(),
        total_elec_money: dec!(12.00).into(),
        total_sevice_money: dec!(6.00).into(),
        total_money: dec!(19.00).into(), // 12 + 6 is 18
        stop_reason: StopReason::User,
        sum_period: Some(1),
        charge_details: vec![ChargeDetail {
            detail_start_time: t0,
            detail_end_time: t0 + chrono::Duration::minutes(20),
            elec_price: dec!(0.8).into(),
            sevice_price: dec!(0.4).into(),
            detail_power: dec!(15.00).into(),
            detail_elec_money: dec!(12.00).into(),
            detail_sevice_money: dec!(6.00).into(),
        }],
    };
    assert_eq!(cpo.call(&record).await.unwrap().confirm_result, 1);
    assert_eq!(cpo.call(&record).await.unwrap().confirm_result, 1, "the same answer again");
    let held = w.wait_order(&id, |o| o["state"] != "charging").await;
    assert_eq!(held["state"], "disputed", "{held}");
    let (status, body) = w.app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_payable")), "{body}");

    let (_, listed) = w.app.get(&format!("/api/admin/v1/orders?state=disputed&partner_id={}", w.partner_id), Some(&w.admin)).await;
    assert_eq!((listed["total"].as_i64(), listed["items"][0]["id"].as_str()), (Some(1), Some(id.as_str())), "{listed}");
    let (_, detail) = w.app.get(&format!("/api/admin/v1/orders/{id}"), Some(&w.admin)).await;
    let figure = |v: &Value| v.as_str().and_then(|t| t.parse::<rust_decimal::Decimal>().ok());
    assert_eq!(figure(&detail["record"]["total_money"]), Some(dec!(19)), "the partner's figure: {detail}");
    assert_eq!(figure(&detail["bill"]["computed_from_detail"]["total"]), Some(dec!(18)), "ours: {detail}");

    let resolve = |body: Value| {
        let path = format!("/api/admin/v1/orders/{id}/resolve");
        async move { w.app.post(&path, Some(&w.admin), &body).await }
    };
    let (status, body) = resolve(json!({"resolution": "bill_computed", "note": ""})).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("note")), "{body}");
    let (status, _) = resolve(json!({"resolution": "pay_double", "note": "checked with the operator"})).await;
    assert_eq!(status, 422);
    let (status, _) = w.app.post(&format!("/api/admin/v1/orders/{id}/resolve"), None, &json!({"resolution": "write_off", "note": "x"})).await;
    assert_eq!(status, 401);
    let (status, resolved) = resolve(json!({"resolution": "bill_computed", "note": "明细核对无误 / detail lines check out"})).await;
    assert_eq!((status, resolved["state"].as_str()), (200, Some("billed")), "{resolved}");
    assert_eq!(resolved["bill"]["resolution"]["resolution"], "bill_computed", "{resolved}");
    let (status, again) = resolve(json!({"resolution": "write_off", "note": "changed my mind"})).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("not_disputed")), "{again}");

    let (status, paid) = w.app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, paid["state"].as_str(), figure(&paid["amount"])), (200, Some("paid"), Some(dec!(18))), "{paid}");
    let pool = w.app.services.db.pool();
    let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settlement_lines WHERE order_id = $1").bind(&id).fetch_one(pool).await.unwrap();
    assert_eq!(lines, 1, "settled once");
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE subject_id = $1").bind(&id).fetch_one(pool).await.unwrap();
    assert_eq!(audited, 1);
    // The partner learns the outcome by reconciliation: our figure is the one billed.
    let check = CheckChargeOrders {
        check_order_seq: Seq27("MA5FCTXX0202612040100000002".into()),
        start_time: t0,
        end_time: t0 + chrono::Duration::hours(1),
        order_count: 1,
        total_order_power: dec!(15).into(),
        total_order_money: dec!(19).into(),
        charge_orders: vec![ChargeOrder { start_charge_seq: Seq27(seq.clone()), total_power: dec!(15).into(), total_money: dec!(19).into() }],
    };
    let answer = cpo.call(&check).await.unwrap();
    assert_eq!((answer.dispute_orders.len(), answer.dispute_orders[0].dispute_reason), (1, 2), "{answer:?}");
    assert_eq!(answer.dispute_orders[0].total_money.value(), dec!(18.00));
    world.app.cleanup().await;
}

/// The CPO simulator with a fee bug (TotalMoney one yuan above its fees): each session's record
/// is disputed, the driver cannot pay it, and an admin writes it off — no payment, no
/// settlement line, and reconciliation tells the partner our figure is nothing.
async fn simulators_unbalanced_records_are_held_then_written_off(backend: Backend) {
    let world = common::billed::flow_a(backend, |_| {}).await;
    let w = &world;
    w.cpo.set_misbehaviour(sim::cec_cpo::Misbehaviour { unbalanced_orders: true, ..Default::default() });
    let (id, seq, _) = charging_order(w).await;
    w.wait_order(&id, |o| o["energy_kwh"].is_string()).await;
    let (status, _) = w.app.post(&format!("/api/app/v1/orders/{id}/stop"), Some(&w.driver), &json!({})).await;
    assert_eq!(status, 200);
    let held = w.wait_order(&id, |o| o["state"] == "disputed").await;
    assert!(!held["message_zh"].as_str().unwrap().is_empty() && !held["message_en"].as_str().unwrap().is_empty(), "{held}");
    let sent = w.cpo.orders().into_iter().find(|o| o.start_charge_seq.as_str() == seq).expect("the simulator sent its record");
    assert_eq!(sent.total_money.value(), sent.total_elec_money.value() + sent.total_sevice_money.value() + dec!(1));
    for _ in 0..100 {
        if w.cpo.order_deliveries().iter().any(|d| d.start_charge_seq.as_str() == seq && d.attempts.iter().any(|a| a.outcome == Ok(1))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        w.cpo.order_deliveries().iter().any(|d| d.start_charge_seq.as_str() == seq && d.attempts.iter().any(|a| a.outcome == Ok(1))),
        "answered ConfirmResult 1"
    );

    let path = format!("/api/admin/v1/orders/{id}/resolve");
    let (status, resolved) = w.app.post(&path, Some(&w.admin), &json!({"resolution": "write_off", "note": "运营商确认计费错误 / operator's fee bug"})).await;
    assert_eq!((status, resolved["state"].as_str()), (200, Some("written_off")), "{resolved}");
    let (status, body) = w.app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_payable")), "{body}");
    assert_eq!(w.wallet_balance().await, dec!(200));
    let lines: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM settlement_lines WHERE order_id = $1").bind(&id).fetch_one(w.app.services.db.pool()).await.unwrap();
    assert_eq!(lines, 0);
    let check = CheckChargeOrders {
        check_order_seq: Seq27("MA5FCTXX0202612040100000003".into()),
        start_time: Utc::now() - chrono::Duration::hours(1),
        end_time: Utc::now() + chrono::Duration::hours(1),
        order_count: 1,
        total_order_power: sent.total_power,
        total_order_money: sent.total_money,
        charge_orders: vec![ChargeOrder { start_charge_seq: Seq27(seq.clone()), total_power: sent.total_power, total_money: sent.total_money }],
    };
    let answer = operator_client(w).call(&check).await.unwrap();
    assert_eq!(answer.dispute_orders.len(), 1, "{answer:?}");
    assert_eq!((answer.dispute_orders[0].dispute_reason, answer.dispute_orders[0].total_money.value()), (2, dec!(0)));
    world.app.cleanup().await;
}
