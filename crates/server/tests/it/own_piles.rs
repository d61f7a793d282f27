//! Our own network: an admin creates a station with piles, simulated piles connect over OCPP
//! 1.6J with the issued passwords, and their status reaches the app; admins operate a pile
//! remotely (TriggerMessage, UnlockConnector).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, TestApp};
use ocpp::enums::ChargePointStatus;
use serde_json::json;
use sim::piles::{FleetConfig, PileFleet};

on_both_backends!(piles_connect_and_report_status, admin_commands_reach_the_pile);

async fn piles_connect_and_report_status(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let station = json!({
        "external_id": "CB0001", "name": "深圳湾自营充电站", "address": "深圳市南山区滨海大道1号", "area_code": "440305",
        "lat": 22.5152, "lng": 113.9510, "service_tel": "4008000000",
        "tariff": [
            {"start": "000000", "elec_price": "0.3500", "service_price": "0.4000"},
            {"start": "080000", "elec_price": "0.9500", "service_price": "0.6000"},
            {"start": "220000", "elec_price": "0.3500", "service_price": "0.4000"}
        ],
        "piles": [
            {"ocpp_id": "CBP00001", "power_kw": "120", "connectors": 2, "dc": true},
            {"ocpp_id": "CBP00002", "power_kw": "7", "connectors": 1, "dc": false}
        ]
    });
    let (status, created) = app.post("/api/admin/v1/stations", Some(&admin), &station).await;
    assert_eq!(status, 201, "{created}");
    let (status, body) = app.post("/api/admin/v1/stations", Some(&admin), &station).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("duplicate_station")));
    let mut bad = station.clone();
    bad["tariff"][0]["start"] = json!("010000");
    bad["external_id"] = json!("CB0002");
    let (status, body) = app.post("/api/admin/v1/stations", Some(&admin), &bad).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("tariff")), "{body}");

    let passwords = common::pile_passwords(&created);
    let station_id = created["station_id"].as_str().unwrap().to_owned();

    // Before any pile talks to us, nothing is known: unknown, never "free".
    let (_, detail) = app.get(&format!("/api/app/v1/stations/{station_id}"), None).await;
    assert!(detail["connectors_live"].as_array().unwrap().iter().all(|c| c["status"] == "unknown"), "{detail}");

    let mut config = FleetConfig::new(format!("{}/ocpp", app.base.replace("http://", "ws://")), 2);
    config.id_prefix = "CBP".into();
    config.connectors_per_pile = 2;
    let lookup = passwords.clone();
    config.password_for = Arc::new(move |id| lookup.get(id).cloned());
    let fleet = PileFleet::start(config);
    assert!(fleet.wait_all_online(Duration::from_secs(20)).await, "piles connect with their passwords");

    let mut live = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, detail) = app.get(&format!("/api/app/v1/stations/{station_id}"), None).await;
        live = detail["connectors_live"].clone();
        if live.as_array().unwrap().iter().all(|c| c["status"] == "available") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(live.as_array().unwrap().iter().all(|c| c["status"] == "available"), "{live}");
    assert_eq!(live.as_array().unwrap().len(), 3);

    // A wrong password is refused; the pile never comes online.
    let mut intruder = FleetConfig::new(format!("{}/ocpp", app.base.replace("http://", "ws://")), 1);
    intruder.id_prefix = "CBP".into();
    intruder.password_for = Arc::new(|_| Some(b"guessing".to_vec()));
    intruder.reconnect_max = Duration::from_millis(200);
    let intruders = PileFleet::start(intruder);
    assert!(!intruders.wait_all_online(Duration::from_secs(1)).await);
    intruders.shutdown().await;

    // The write-behind persisted what the hub knows.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT status FROM connectors ORDER BY external_id").fetch_all(app.services.db.pool()).await.unwrap();
    assert_eq!(stored, ["available"; 3]);
    fleet.shutdown().await;
    app.cleanup().await;
}

/// 远程控制: an admin asks a pile to send messages now and to release a connector's lock, over
/// our admin API → OCPP → the simulated pile, and reads the pile's own answer. What cannot be
/// done is refused before anything is sent; what reached the pile is audited with the admin.
async fn admin_commands_reach_the_pile(backend: Backend) {
    // A short command timeout, for the pile that stops answering at the end.
    let app = TestApp::start_with(backend, |c| c.ocpp.call_timeout_ms = 1500).await;
    let admin = app.admin_token().await;
    let created = common::station_with_one_pile(&app, &admin).await;
    let second: uuid::Uuid = created["piles"][0]["connector_ids"][1].as_str().unwrap().parse().unwrap();
    let mut config = common::fleet_config(&app, &created);
    config.tick = Duration::from_millis(100);
    let fleet = PileFleet::start(config);
    assert!(fleet.wait_all_online(Duration::from_secs(20)).await);
    let pile = fleet.pile(0).clone();
    let command = |what: &str, body: serde_json::Value| {
        let (app, admin, path) = (&app, admin.clone(), format!("/api/admin/v1/piles/CBP00001/{what}"));
        async move { app.post(&path, Some(&admin), &body).await }
    };
    let mut observed = None;
    for _ in 0..100 {
        observed = app.services.hub.reading(second).map(|r| r.observed_at);
        if observed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = observed.expect("the pile reported its connectors");

    // The pile sends what is asked for: a status (we see a newer report), a heartbeat, meter values.
    let (status, body) = command("trigger", json!({"requested_message": "StatusNotification", "connector_id": 2})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"ocpp_id": "CBP00001", "command": "TriggerMessage", "connector_id": 2, "status": "Accepted"}));
    assert!(pile.wait_for(Duration::from_secs(10), |s| s.triggered == 1).await.is_some(), "{:?}", pile.snapshot());
    assert!(app.services.hub.reading(second).unwrap().observed_at > before, "a fresh StatusNotification arrived");
    for (message, connector, sent) in [("Heartbeat", None, 2), ("MeterValues", Some(1), 3)] {
        let (status, body) = command("trigger", json!({"requested_message": message, "connector_id": connector})).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("Accepted")), "{message}: {body}");
        assert!(pile.wait_for(Duration::from_secs(10), |s| s.triggered == sent).await.is_some(), "{message}: {:?}", pile.snapshot());
    }
    let (status, body) = command("trigger", json!({"requested_message": "DiagnosticsStatusNotification"})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("NotImplemented")), "the firmware's own answer: {body}");

    // Refused before anything is sent, each with its own code.
    let refusals = [
        ("trigger", json!({"requested_message": "BootNotification"}), 409, "trigger_not_allowed", "requested_message"),
        ("trigger", json!({"requested_message": "Reboot"}), 422, "invalid_input", "requested_message"),
        ("trigger", json!({"requested_message": "Heartbeat", "connector_id": 3}), 422, "invalid_input", "connector_id"),
        ("unlock", json!({"connector_id": 0}), 422, "invalid_input", "connector_id"),
        ("unlock", json!({"connector_id": 9}), 422, "invalid_input", "connector_id"),
    ];
    for (what, request, expected, code, field) in refusals {
        let (status, body) = command(what, request.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str(), body["error"]["fields"][0]["field"].as_str()),
            (expected, Some(code), Some(field)),
            "{request}: {body}"
        );
        assert!(!body["error"]["message_zh"].as_str().unwrap_or_default().is_empty(), "{body}");
    }
    let (status, body) = app.post("/api/admin/v1/piles/NOSUCHPILE/unlock", Some(&admin), &json!({"connector_id": 1})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
    let (status, _) = app.post("/api/admin/v1/piles/CBP00001/unlock", None, &json!({"connector_id": 1})).await;
    assert_eq!(status, 401, "admins only");
    assert_eq!(pile.snapshot().boots, 1, "no BootNotification was triggered");

    // Unlocking an idle connector unlocks it and stops nothing.
    let (status, body) = command("unlock", json!({"connector_id": 1})).await;
    assert_eq!((status, body["status"].as_str(), body["command"].as_str()), (200, Some("Unlocked"), Some("UnlockConnector")), "{body}");
    let after = pile.snapshot();
    assert!(after.connectors.iter().all(|c| c.transaction_id.is_none() && c.status == ChargePointStatus::Available), "{after:?}");

    // A pile that does not answer: 504 with its own code; one that is gone: 409.
    pile.set_silent(true).await;
    let (status, body) = command("unlock", json!({"connector_id": 2})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (504, Some("pile_no_answer")), "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("CBP00001") && body["error"]["message_zh"].as_str().unwrap().contains("未在规定时间内应答"),
        "{body}"
    );
    pile.set_silent(false).await;
    pile.drop_connection(Duration::from_secs(3600)).await;
    // Once we know the pile is gone (before that, a command goes out and times out like above).
    let control = app.services.pile_control.clone().unwrap();
    for _ in 0..200 {
        if !control.is_connected("CBP00001") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (status, offline) = command("trigger", json!({"requested_message": "Heartbeat"})).await;
    assert_eq!((status, offline["error"]["code"].as_str()), (409, Some("pile_offline")), "{offline}");
    assert!(offline["error"]["message_zh"].as_str().unwrap().contains("离线"), "{offline}");

    // Every command that reached the pile, with who sent it and what the pile said.
    let (status, audit) = app.get("/api/admin/v1/piles/CBP00001/audit", Some(&admin)).await;
    assert_eq!(status, 200, "{audit}");
    let entries: Vec<(String, String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["reason"].as_str().unwrap().to_owned(), e["to_state"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("pile.trigger_message", "StatusNotification for connector 2", "Accepted"),
        ("pile.trigger_message", "Heartbeat", "Accepted"),
        ("pile.trigger_message", "MeterValues for connector 1", "Accepted"),
        ("pile.trigger_message", "DiagnosticsStatusNotification", "NotImplemented"),
        ("pile.unlock_connector", "connector 1", "Unlocked"),
        ("pile.unlock_connector", "connector 2", "no_answer"),
    ];
    assert_eq!(entries, expected.map(|(a, r, s)| (a.to_owned(), r.to_owned(), s.to_owned())), "{audit}");
    assert!(audit.as_array().unwrap().iter().all(|e| e["actor"].as_str().is_some_and(|a| a.starts_with("admin:ops"))), "{audit}");
    fleet.shutdown().await;
    app.cleanup().await;
}
