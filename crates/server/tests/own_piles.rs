//! Our own network: an admin creates a station with piles, simulated piles connect over OCPP
//! 1.6J with the issued passwords, and their status reaches the app.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, TestApp};
use serde_json::json;
use sim::piles::{FleetConfig, PileFleet};

on_both_backends!(piles_connect_and_report_status);

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
    let stored: Vec<i64> = sqlx::query_scalar("SELECT status FROM connectors ORDER BY external_id").fetch_all(app.services.db.pool()).await.unwrap();
    assert_eq!(stored, [1, 1, 1]);
    fleet.shutdown().await;
    app.cleanup().await;
}
