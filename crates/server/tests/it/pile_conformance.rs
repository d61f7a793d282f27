//! OCPP 1.6J conformance of our central system as an independent pile implementation found it:
//! a bare WebSocket client in the test plays the pile with the specification's JSON frames (it
//! shares no types with our charge point), a simulated partner platform drives flow B over
//! T/CEC 102.

use crate::common;

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine;
use cec::Secrets;
use cec::messages::{ConnectorStatusCode, StartChargeSeqStat, SuccStat};
use common::{Backend, CODE_B, TestApp, application};
use futures::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sim::cec_emsp::{EmspConfig, EmspSimulator, PlatformLink, Session};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const WAIT: Duration = Duration::from_secs(20);

/// A pile as a bare WebSocket: CALLs out, the central system's CALLs kept until asked for.
struct RawPile {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    inbox: VecDeque<(String, String, Value)>,
    next: u32,
}

impl RawPile {
    async fn connect(app: &TestApp, ocpp_id: &str, password: &[u8]) -> RawPile {
        let url = format!("{}/ocpp/{ocpp_id}", app.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().unwrap());
        let mut userpass = format!("{ocpp_id}:").into_bytes();
        userpass.extend_from_slice(password);
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(userpass));
        request.headers_mut().insert("Authorization", auth.parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("the pile connects");
        RawPile { ws, inbox: VecDeque::new(), next: 1 }
    }

    async fn frame(&mut self) -> Value {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame from the central system") {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(text.as_str()).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Sends a CALL and returns its CALLRESULT payload (a CALLERROR fails the test).
    async fn call(&mut self, action: &str, payload: Value) -> Value {
        let id = format!("m{}", self.next);
        self.next += 1;
        self.ws.send(Message::Text(json!([2, id, action, payload]).to_string().into())).await.unwrap();
        loop {
            let frame = self.frame().await;
            match frame[0].as_i64() {
                Some(3) if frame[1] == id.as_str() => return frame[2].clone(),
                Some(2) => self.inbox.push_back((frame[1].as_str().unwrap().into(), frame[2].as_str().unwrap().into(), frame[3].clone())),
                _ => panic!("{action}: unexpected answer {frame}"),
            }
        }
    }

    /// The next CALL of the central system with this action (others are answered `NotImplemented`).
    async fn expect_call(&mut self, action: &str) -> (String, Value) {
        loop {
            let (id, got, payload) = match self.inbox.pop_front() {
                Some(call) => call,
                None => {
                    let frame = self.frame().await;
                    assert_eq!(frame[0], 2, "expected a CALL, got {frame}");
                    (frame[1].as_str().unwrap().into(), frame[2].as_str().unwrap().into(), frame[3].clone())
                }
            };
            if got == action {
                return (id, payload);
            }
            self.ws.send(Message::Text(json!([4, id, "NotImplemented", "", {}]).to_string().into())).await.unwrap();
        }
    }

    async fn reply(&mut self, id: &str, payload: Value) {
        self.ws.send(Message::Text(json!([3, id, payload]).to_string().into())).await.unwrap();
    }

    async fn boot(&mut self) {
        let conf = self.call("BootNotification", json!({"chargePointVendor": "Independent", "chargePointModel": "DC120"})).await;
        assert_eq!(conf["status"], "Accepted", "{conf}");
    }

    async fn all_available(&mut self) {
        for connector in 0..=2 {
            let status = json!({"connectorId": connector, "errorCode": "NoError", "status": "Available"});
            assert_eq!(self.call("StatusNotification", status).await, json!({}));
        }
    }
}

struct World {
    app: TestApp,
    emsp: EmspSimulator,
    password: Vec<u8>,
}

/// Our station with pile CBP00001 (two connectors) and a platform partner ready to charge there.
async fn world(backend: Backend) -> World {
    let app = TestApp::start_with(backend, |c| {
        c.workers.session_status = Duration::from_millis(300);
        c.workers.outbox_poll = Duration::from_millis(50);
    })
    .await;
    let admin = app.admin_token().await;
    let created = common::station_with_one_pile(&app, &admin).await;
    let password = common::pile_passwords(&created)["CBP00001"].clone();
    let mut platform = application(CODE_B);
    platform["roles"] = json!("platform");
    let (partner_id, portal) = app.register(&platform).await;
    app.post(&format!("/api/admin/v1/partners/{partner_id}/approve"), Some(&admin), &json!({})).await;
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
    World { app, emsp, password }
}

/// The partner pulls our station and waits until our pushes show connector 1 free.
async fn free_connector(w: &World) -> String {
    assert_eq!(w.emsp.sync_stations().await.unwrap(), 1);
    let connector = w.emsp.stations()[0].equipment_infos[0].connector_infos[0].connector_id.clone();
    for _ in 0..400 {
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

/// Ten hours of one-minute samples at 60 kW ending now: energy, power and SoC, about 100 kB.
fn ten_hours_of_samples(end: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    (1..=600)
        .map(|minute| {
            let at = end - chrono::Duration::minutes(600 - minute);
            json!({"timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "sampledValue": [
                {"value": (minute * 1000).to_string(), "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "60000", "context": "Sample.Periodic", "measurand": "Power.Active.Import", "unit": "W"},
                {"value": (10 + minute * 80 / 600).to_string(), "context": "Sample.Periodic", "measurand": "SoC", "unit": "Percent"}
            ]})
        })
        .collect()
}

on_both_backends!(only_tags_we_issued_charge_in_any_case_and_long_sessions_end, a_second_connection_takes_over_and_the_pile_stays_online);

async fn only_tags_we_issued_charge_in_any_case_and_long_sessions_end(backend: Backend) {
    let w = world(backend).await;
    let mut pile = RawPile::connect(&w.app, "CBP00001", &w.password).await;
    pile.boot().await;
    pile.all_available().await;
    let connector = free_connector(&w).await;

    // An RFID card whose UID begins like our tags, and a tag of our shape we never issued.
    for foreign in ["CB04A2B3C4D5E6", "CB0123456789abcdef01"] {
        let conf = pile.call("Authorize", json!({"idTag": foreign})).await;
        assert_eq!(conf, json!({"idTagInfo": {"status": "Invalid"}}), "{foreign}");
    }
    // Refused starts each get a transaction id of their own.
    let mut refused = Vec::new();
    for foreign in ["CB04A2B3C4D5E6", "RFID0001"] {
        let start = json!({"connectorId": 2, "idTag": foreign, "meterStart": 0, "timestamp": chrono::Utc::now()});
        let conf = pile.call("StartTransaction", start).await;
        assert_eq!(conf["idTagInfo"]["status"], "Invalid", "{conf}");
        refused.push(conf["transactionId"].as_i64().expect("a transactionId"));
    }
    assert!(refused[0] != 0 && refused[1] != 0 && refused[0] != refused[1], "{refused:?}");

    // The partner's user starts; the pile gets our tag and sends it back in other cases.
    let (seq, answer) = w.emsp.start_charging(&connector).await.unwrap();
    assert_eq!(answer.succ_stat, SuccStat::Success, "{answer:?}");
    let (id, remote) = pile.expect_call("RemoteStartTransaction").await;
    pile.reply(&id, json!({"status": "Accepted"})).await;
    let tag = remote["idTag"].as_str().unwrap().to_owned();
    for presented in [tag.to_ascii_lowercase(), tag.to_ascii_uppercase()] {
        assert_eq!(pile.call("Authorize", json!({"idTag": presented})).await, json!({"idTagInfo": {"status": "Accepted"}}), "{presented}");
    }
    let started_at = chrono::Utc::now() - chrono::Duration::hours(10);
    let start = json!({"connectorId": 1, "idTag": tag.to_ascii_uppercase(), "meterStart": 0, "timestamp": started_at});
    let conf = pile.call("StartTransaction", start).await;
    assert_eq!(conf["idTagInfo"]["status"], "Accepted", "{conf}");
    let transaction = conf["transactionId"].as_i64().unwrap();
    assert!(!refused.contains(&transaction) && transaction != 0, "{transaction} {refused:?}");
    session(&w, &seq, "charging", |s| s.stat == Some(StartChargeSeqStat::Charging)).await;

    // The driver ends a ten-hour session at the pile; the StopTransaction carries its samples.
    let now = chrono::Utc::now();
    let stop = json!({"idTag": tag.to_ascii_lowercase(), "meterStop": 600_000, "timestamp": now, "transactionId": transaction, "reason": "Local",
                      "transactionData": ten_hours_of_samples(now)});
    assert!(stop.to_string().len() > 90_000, "{} bytes", stop.to_string().len());
    let conf = pile.call("StopTransaction", stop).await;
    assert_eq!(conf, json!({"idTagInfo": {"status": "Accepted"}}));
    let ended = session(&w, &seq, "charge-end record", |s| s.billed.is_some()).await;
    assert_eq!(ended.order.unwrap().total_power.value(), Decimal::new(600_000, 3), "600 kWh");
    // The tag is spent now.
    assert_eq!(pile.call("Authorize", json!({"idTag": tag})).await, json!({"idTagInfo": {"status": "Expired"}}));
    w.app.cleanup().await;
}

async fn a_second_connection_takes_over_and_the_pile_stays_online(backend: Backend) {
    let w = world(backend).await;
    let mut first = RawPile::connect(&w.app, "CBP00001", &w.password).await;
    first.boot().await;
    first.all_available().await;
    let connector = free_connector(&w).await;

    // A network change: the pile opens a new connection with its id, without booting again.
    let mut second = RawPile::connect(&w.app, "CBP00001", &w.password).await;
    let (id, trigger) = second.expect_call("TriggerMessage").await;
    assert_eq!(trigger, json!({"requestedMessage": "StatusNotification"}));
    second.reply(&id, json!({"status": "Accepted"})).await;
    second.all_available().await;
    let gone = tokio::time::timeout(WAIT, first.ws.next()).await.expect("the first connection ends");
    assert!(matches!(gone, Some(Ok(Message::Close(_))) | None), "{gone:?}");

    // The pile is reachable: a partner's start is taken and reaches it on the new connection.
    let (seq, answer) = w.emsp.start_charging(&connector).await.unwrap();
    assert_eq!((answer.succ_stat, answer.fail_reason), (SuccStat::Success, 0), "{answer:?}");
    let (id, remote) = second.expect_call("RemoteStartTransaction").await;
    assert_eq!(remote["connectorId"], 1);
    second.reply(&id, json!({"status": "Accepted"})).await;
    let start = json!({"connectorId": 1, "idTag": remote["idTag"], "meterStart": 0, "timestamp": chrono::Utc::now()});
    assert_eq!(second.call("StartTransaction", start).await["idTagInfo"]["status"], "Accepted");
    session(&w, &seq, "charging", |s| s.stat == Some(StartChargeSeqStat::Charging)).await;
    let offline: Vec<_> = w.emsp.received().into_iter().filter(|r| r.key == connector && r.value == "0").collect();
    assert!(offline.is_empty(), "the connector was never pushed as offline: {offline:?}");
    w.app.cleanup().await;
}
