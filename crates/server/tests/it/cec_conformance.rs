//! T/CEC 102 conformance in both roles, as an independent peer checks it over real HTTP with
//! real envelopes: its disputed figures on our statement, enum values outside the standard
//! refused, stations advertising reservations only where the partner may make them, and
//! "busy, retry later" when we cannot decide now.

use crate::common;

use std::time::Duration;

use cec::messages::{ConnectorStatusCode, StartChargeSeqStat, SuccStat};
use cec::{ClientError, Ret, Secrets};
use common::{Backend, CODE_B, CODE_C, TestApp, application};
use rust_decimal::Decimal;
use serde_json::json;
use sim::cec_cpo::PushOutcome;
use sim::cec_emsp::{EmspConfig, EmspSimulator, PlatformLink};
use sim::piles::PileFleet;

const WAIT: Duration = Duration::from_secs(20);

/// Our station with one simulated pile online, and a platform partner (flow B) per entry of
/// `reservations` (whether its terms enable our reservation extension), each with its eMSP.
struct FlowB {
    app: TestApp,
    admin: String,
    fleet: PileFleet,
    partners: Vec<(String, EmspSimulator)>,
}

async fn flow_b(backend: Backend, reservations: &[bool]) -> FlowB {
    let app = TestApp::start_with(backend, |c| {
        c.workers.outbox_poll = Duration::from_millis(50);
        c.workers.session_status = Duration::from_millis(300);
    })
    .await;
    let admin = app.admin_token().await;
    let created = common::station_with_one_pile(&app, &admin).await;
    let mut partners = Vec::new();
    for (n, &reserve) in reservations.iter().enumerate() {
        let mut platform = application([CODE_B, CODE_C][n]);
        platform["roles"] = json!("platform");
        let (partner_id, portal) = app.register(&platform).await;
        app.post(&format!("/api/admin/v1/partners/{partner_id}/approve"), Some(&admin), &json!({})).await;
        if reserve {
            let path = format!("/api/admin/v1/partners/{partner_id}/terms");
            let (_, mut terms) = app.get(&path, Some(&admin)).await;
            terms["open"]["reservations"] = json!(true);
            let (status, saved) = app.put(&path, Some(&admin), &terms).await;
            assert_eq!(status, 200, "{saved}");
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
        partners.push((partner_id, emsp));
    }
    let mut config = common::fleet_config(&app, &created);
    config.meter_interval = Duration::from_millis(100);
    config.power_w = 120_000;
    let fleet = PileFleet::start(config);
    assert!(fleet.wait_all_online(WAIT).await, "the pile connects");
    FlowB { app, admin, fleet, partners }
}

/// The eMSP pulls our stations and waits until our pushes show a connector free.
async fn free_connector(emsp: &EmspSimulator) -> String {
    assert_eq!(emsp.sync_stations().await.unwrap(), 1);
    let connector = emsp.stations()[0].equipment_infos[0].connector_infos[0].connector_id.clone();
    for _ in 0..200 {
        if emsp.connector_status(&connector) == Some(ConnectorStatusCode::Idle) {
            return connector;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("status pushes never showed {connector} free: {:?}", emsp.received());
}

on_both_backends!(
    disputed_figures_are_recorded_as_theirs,
    status_outside_the_standard_is_refused,
    stations_advertise_reservations_by_terms,
    busy_when_our_data_cannot_be_reached
);

/// §8.15 / §9.12: the partner's `DisputeOrders[].TotalPower / TotalMoney` are its own figures;
/// the statement lists them as "theirs" against ours.
async fn disputed_figures_are_recorded_as_theirs(backend: Backend) {
    let w = flow_b(backend, &[false]).await;
    let (partner_id, emsp) = &w.partners[0];
    let connector = free_connector(emsp).await;
    let (seq, answer) = emsp.start_charging(&connector).await.unwrap();
    assert_eq!(answer.succ_stat, SuccStat::Success, "{answer:?}");
    let wait = |done: fn(&sim::cec_emsp::Session) -> bool| {
        let seq = seq.clone();
        async move { emsp.wait_session(&seq, WAIT, done).await.unwrap_or_else(|| panic!("{:?}", emsp.received())) }
    };
    wait(|s| s.energy > Decimal::ZERO && s.stat == Some(StartChargeSeqStat::Charging)).await;
    assert_eq!(emsp.stop_charging(&seq).await.unwrap().succ_stat, SuccStat::Success);
    let ended = wait(|s| s.billed.is_some()).await;
    let ours = ended.order.unwrap();

    // The partner's books say 1.00 yuan less and 0.50 kWh more than what we billed.
    let their_money = ours.total_money.value() - Decimal::ONE;
    let their_energy = ours.total_power.value() + Decimal::new(50, 2);
    assert!(emsp.amend_record(&seq, their_energy, their_money));

    let now = chrono::Utc::now();
    let period = json!({"start": now - chrono::Duration::days(1), "end": now + chrono::Duration::days(1)});
    let (status, statement) = w.app.post(&format!("/api/admin/v1/partners/{partner_id}/statements"), Some(&w.admin), &period).await;
    assert_eq!(status, 201, "{statement}");
    assert_eq!(statement["reconciled_with"], "check_charge_orders");
    let differences = statement["differences"].as_array().unwrap();
    let kind = |k: &str| differences.iter().find(|d| d["kind"] == k).unwrap_or_else(|| panic!("no {k} in {statement}"));
    let decimal = |v: &serde_json::Value| -> Decimal { v.as_str().unwrap_or_else(|| panic!("{v}")).parse().unwrap() };
    let amount = kind("amount_mismatch");
    assert_eq!(amount["order"], seq.as_str());
    assert_eq!((decimal(&amount["ours"]), decimal(&amount["theirs"])), (ours.total_money.value(), their_money), "{statement}");
    let energy = kind("energy_mismatch");
    assert_eq!((decimal(&energy["ours"]), decimal(&energy["theirs"])), (ours.total_power.value(), their_energy), "{statement}");
    assert_eq!(differences.len(), 2, "{statement}");
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

/// §10.6: a connector status outside the standard's set (e.g. 7) is refused with 4004 and
/// changes nothing; the next valid push is taken as usual.
async fn status_outside_the_standard_is_refused(backend: Backend) {
    let w = common::billed::flow_a(backend, |_| {}).await;
    let connector_ids = w.cpo.connector_ids();
    let external = connector_ids.iter().find(|c| w.cpo.connector_status(c) == Some(ConnectorStatusCode::Idle)).expect("a free connector").clone();
    let (_, nearby) = w.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000", None).await;
    let mut ours = None;
    for station in nearby["items"].as_array().unwrap() {
        let (_, detail) = w.app.get(&format!("/api/app/v1/stations/{}", station["id"].as_str().unwrap()), None).await;
        if let Some(c) = detail["connectors"].as_array().unwrap().iter().find(|c| c["external_id"] == external.as_str()) {
            ours = Some(c["id"].as_str().unwrap().parse().unwrap());
        }
    }
    let ours: uuid::Uuid = ours.expect("the connector is in our catalog");
    let status_of = || format!("{:?}", w.app.services.hub.effective(ours, w.app.services.now()));
    assert_eq!(status_of(), "Available");

    let (cpo, external) = (&w.cpo, external.as_str());
    let outcome = |n: usize| async move {
        for _ in 0..200 {
            let pushes: Vec<_> = cpo.pushes().into_iter().filter(|p| p.subject == external && p.interface == "notification_stationStatus").collect();
            if pushes.len() > n {
                return pushes[n].outcome.clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("push {n} about {external} was never answered: {:?}", cpo.pushes());
    };
    let before = w.cpo.pushes().into_iter().filter(|p| p.subject == external && p.interface == "notification_stationStatus").count();
    assert!(w.cpo.set_connector_status(external, ConnectorStatusCode::Other(7)));
    match outcome(before).await {
        PushOutcome::Failed(why) => assert!(why.contains("Ret 4004") && why.contains("Status") && why.contains('7'), "{why}"),
        other => panic!("a status of 7 must be refused with 4004, got {other:?}"),
    }
    assert_eq!(status_of(), "Available", "the refused push changed nothing");

    assert!(w.cpo.set_connector_status(external, ConnectorStatusCode::OccupiedNotCharging));
    assert_eq!(outcome(before + 1).await, PushOutcome::Delivered);
    assert_eq!(status_of(), "Occupied");
    w.app.cleanup().await;
}

/// §9.1 SupportOrder: 1 only for a partner whose terms enable our reservation extension.
async fn stations_advertise_reservations_by_terms(backend: Backend) {
    let w = flow_b(backend, &[false, true]).await;
    let advertised = |emsp: &EmspSimulator| emsp.stations().iter().map(|s| s.support_order).collect::<Vec<_>>();
    let (_, without) = &w.partners[0];
    let (_, with) = &w.partners[1];
    assert_eq!(without.sync_stations().await.unwrap(), 1);
    assert_eq!(with.sync_stations().await.unwrap(), 1);
    assert_eq!(advertised(without), [Some(0)], "its calls to query_reserve would be refused");
    assert_eq!(advertised(with), [Some(1)]);
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}

/// §4.3 Ret -1 (系统繁忙): when we cannot reach our own data, a partner's start is neither
/// accepted nor refused, and not a system error: it is told to try again later.
async fn busy_when_our_data_cannot_be_reached(backend: Backend) {
    let w = flow_b(backend, &[false]).await;
    let (_, emsp) = &w.partners[0];
    let connector = free_connector(emsp).await;
    w.app.services.db.close().await;
    let err = emsp.start_charging(&connector).await.unwrap_err();
    match err {
        ClientError::Ret { ret: Ret::Busy, msg } => assert!(msg.contains("try again later") && msg.contains("稍后重试"), "{msg}"),
        other => panic!("a start we cannot record now is Ret -1, got {other}"),
    }
    w.fleet.shutdown().await;
    w.app.cleanup().await;
}
