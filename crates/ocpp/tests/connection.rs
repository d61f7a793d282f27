//! Connecting: authentication, subprotocol, boot, registration gate, replacement, offline.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ocpp::central_system::DisconnectReason;
use ocpp::charge_point::{ChargePoint, ConnectError};
use ocpp::enums::RegistrationStatus;
use ocpp::messages::*;
use ocpp::{CallErrorCode, CentralSystemConfig, CommandError};

/// A charge point that never answers the central system.
fn silent() -> Arc<dyn ocpp::charge_point::ChargePointHandler> {
    Arc::new(Scripted(|_: &str, _| None))
}

#[tokio::test]
async fn boot_is_accepted_with_the_heartbeat_interval() {
    let mut server = start_server(fast_config(), 120).await;
    let cp = server.connect("CP001", silent()).await;
    let conf = cp.call(boot()).await.unwrap();
    assert_eq!(conf.status, RegistrationStatus::Accepted);
    assert_eq!(conf.interval, 120);
    assert!(matches!(server.next_event().await, Event::Boot(id) if id == "CP001"));
    let hb = cp.call(HeartbeatRequest {}).await.unwrap();
    assert!((chrono::Utc::now() - hb.current_time).num_seconds().abs() < 5);
    assert!(server.cs.is_connected("CP001"));
}

#[tokio::test]
async fn rejected_boot_blocks_other_calls_with_security_error() {
    let mut server = start_server(fast_config(), 60).await;
    let cp = server.connect("REJ1", silent()).await;
    let conf = cp.call(boot()).await.unwrap();
    assert_eq!(conf.status, RegistrationStatus::Rejected);
    let err = cp.call(HeartbeatRequest {}).await.unwrap_err();
    assert!(matches!(err, CommandError::CallError { code: CallErrorCode::SecurityError, .. }), "{err:?}");
    // And the central system will not remote-start it.
    let req = RemoteStartTransactionRequest { connector_id: Some(1), id_tag: "TAG".try_into().unwrap(), charging_profile: None };
    assert_eq!(server.cs.send("REJ1", req).await.unwrap_err(), CommandError::NotAccepted);
}

#[tokio::test]
async fn wrong_or_missing_password_is_refused_with_401_and_unknown_identity_with_404() {
    let server = start_server(fast_config(), 60).await;
    let mut config = server.config_for("CP002");
    config.password = Some(b"wrong".to_vec());
    let err = ChargePoint::connect(&config, silent()).await.err().expect("must be refused");
    assert!(matches!(err, ConnectError::Refused(401)), "{err:?}");
    config.password = None;
    let err = ChargePoint::connect(&config, silent()).await.err().expect("must be refused");
    assert!(matches!(err, ConnectError::Refused(401)), "{err:?}");
    let config = server.config_for("UNKNOWN9");
    let err = ChargePoint::connect(&config, silent()).await.err().expect("must be refused");
    assert!(matches!(err, ConnectError::Refused(404)), "{err:?}");
    assert_eq!(server.cs.connected_count(), 0);
}

#[tokio::test]
async fn username_must_equal_the_identity_in_the_url() {
    let server = start_server(fast_config(), 60).await;
    // Valid credentials of CP003 presented on the URL of CP004.
    let mut config = server.config_for("CP003");
    config.identity = "CP004".into();
    config.password = Some(password("CP003"));
    let err = ChargePoint::connect(&config, silent()).await.err().expect("must be refused");
    assert!(matches!(err, ConnectError::Refused(401)), "{err:?}");
}

#[tokio::test]
async fn connection_without_ocpp16_subprotocol_is_closed() {
    let server = start_server(fast_config(), 60).await;
    // Offering only another version: the server answers without the header, the client gives up.
    let mut config = server.config_for("CP005");
    config.subprotocols = vec!["ocpp2.0.1".into()];
    let err = ChargePoint::connect(&config, silent()).await.err().expect("must be refused");
    assert!(matches!(err, ConnectError::Subprotocol), "{err:?}");
    // Offering none: the handshake completes and the server closes at once.
    config.subprotocols.clear();
    let cp = ChargePoint::connect(&config, silent()).await.expect("handshake completes");
    tokio::time::timeout(Duration::from_secs(2), cp.closed()).await.expect("server must close the socket");
    assert!(!server.cs.is_connected("CP005"));
}

#[tokio::test]
async fn lenient_mode_accepts_a_missing_subprotocol_header() {
    let mut server = start_server(CentralSystemConfig { lenient_subprotocol: true, ..fast_config() }, 60).await;
    let mut config = server.config_for("CP006");
    config.subprotocols.clear();
    let cp = ChargePoint::connect(&config, silent()).await.unwrap();
    assert!(matches!(server.next_event().await, Event::Connected(_)));
    assert_eq!(cp.call(boot()).await.unwrap().status, RegistrationStatus::Accepted);
}

#[tokio::test]
async fn reconnect_replaces_the_old_connection_in_order() {
    let mut server = start_server(fast_config(), 60).await;
    let old = server.connect("CP007", silent()).await;
    let answering = Arc::new(Scripted(|action: &str, _| match action {
        // The takeover's request for fresh statuses.
        "TriggerMessage" => Some(Ok(serde_json::json!({"status": "Rejected"}))),
        _ => {
            assert_eq!(action, "UnlockConnector");
            Some(Ok(serde_json::json!({"status": "Unlocked"})))
        }
    }));
    let new = ChargePoint::connect(&server.config_for("CP007"), answering).await.unwrap();
    assert!(matches!(server.next_event().await, Event::Disconnected(id, DisconnectReason::Replaced) if id == "CP007"));
    assert!(matches!(server.next_event().await, Event::Connected(id) if id == "CP007"));
    tokio::time::timeout(Duration::from_secs(2), old.closed()).await.expect("old socket closed");
    assert!(new.is_connected());
    // Commands reach the new connection.
    let conf = server.cs.send("CP007", UnlockConnectorRequest { connector_id: 1 }).await.unwrap();
    assert_eq!(conf.status, ocpp::enums::UnlockStatus::Unlocked);
    assert_eq!(server.cs.connected_count(), 1);
}

#[tokio::test]
async fn silent_charge_point_is_closed_and_reported_offline() {
    let config = CentralSystemConfig { offline_factor: 1, ..fast_config() };
    let mut server = start_server(config, 1).await;
    let cp = server.connect("CP008", silent()).await;
    cp.call(boot()).await.unwrap(); // Accepted with interval 1 s => offline after 1 s of silence.
    assert!(matches!(server.next_event().await, Event::Boot(_)));
    let started = tokio::time::Instant::now();
    match server.next_event().await {
        Event::Disconnected(id, DisconnectReason::Offline) => assert_eq!(id, "CP008"),
        other => panic!("expected offline, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(800), "closed too early: {:?}", started.elapsed());
    tokio::time::timeout(Duration::from_secs(2), cp.closed()).await.expect("client sees the close");
    server.wait_until(|cs| !cs.is_connected("CP008")).await;
}

#[tokio::test]
async fn heartbeats_keep_the_connection_alive() {
    let config = CentralSystemConfig { offline_factor: 1, ..fast_config() };
    let mut server = start_server(config, 1).await;
    let cp = server.connect("CP009", silent()).await;
    cp.call(boot()).await.unwrap();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cp.call(HeartbeatRequest {}).await.unwrap();
    }
    assert!(server.cs.is_connected("CP009"));
    assert!(matches!(server.next_event().await, Event::Boot(_)));
    assert!(server.events.try_recv().is_err(), "no disconnect expected");
}

/// Ten hours of one-minute samples of energy, power and SoC: a StopTransaction of about 100 kB.
fn long_stop_transaction(id: &str) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let samples: Vec<serde_json::Value> = (0..600)
        .map(|minute| {
            let at = (start + chrono::Duration::minutes(minute)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            serde_json::json!({"timestamp": at, "sampledValue": [
                {"value": (minute * 1000).to_string(), "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "60000", "context": "Sample.Periodic", "measurand": "Power.Active.Import", "unit": "W"},
                {"value": (minute / 6).to_string(), "context": "Sample.Periodic", "measurand": "SoC", "unit": "Percent"}
            ]})
        })
        .collect();
    let payload = serde_json::json!({"meterStop": 600_000, "timestamp": "2026-12-01T10:00:00Z", "transactionId": 7, "reason": "EVDisconnected",
                                     "transactionData": samples});
    serde_json::json!([2, id, "StopTransaction", payload]).to_string()
}

#[tokio::test]
async fn a_long_stop_transaction_is_taken_and_a_too_big_message_closed_with_1009() {
    let mut server = start_server(fast_config(), 60).await;
    let mut ws = raw_connect(&server.endpoint, "CP010").await;
    assert!(matches!(server.next_event().await, Event::Connected(_)));
    let stop = long_stop_transaction("long-1");
    assert!(stop.len() > 90_000, "{} bytes", stop.len());
    raw_send(&mut ws, &stop).await;
    assert_eq!(raw_recv(&mut ws).await, serde_json::json!([3, "long-1", {}]));
    match server.next_event().await {
        Event::Stop(_, req) => assert_eq!(req.transaction_data.map(|d| d.len()), Some(600)),
        other => panic!("expected the StopTransaction, got {other:?}"),
    }

    // Above the documented limit (1 MiB by default): a Close frame with 1009, as RFC 6455 says.
    let huge = serde_json::json!([2, "huge-1", "DataTransfer", {"vendorId": "X", "data": "x".repeat(1024 * 1024 + 1)}]).to_string();
    raw_send(&mut ws, &huge).await;
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(3), futures::StreamExt::next(&mut ws)).await.expect("no answer within 3 s") {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => break frame,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Ping(_) | tokio_tungstenite::tungstenite::Message::Pong(_))) => continue,
            other => panic!("expected a Close frame, got {other:?}"),
        }
    };
    assert_eq!(closed.map(|f| u16::from(f.code)), Some(1009));
    assert!(matches!(server.next_event().await, Event::Disconnected(id, DisconnectReason::MessageTooBig) if id == "CP010"));
}

#[tokio::test]
async fn the_close_handshake_is_answered_with_a_close_frame() {
    let mut server = start_server(fast_config(), 60).await;
    let mut ws = raw_connect(&server.endpoint, "CP011").await;
    assert!(matches!(server.next_event().await, Event::Connected(_)));
    futures::SinkExt::send(&mut ws, tokio_tungstenite::tungstenite::Message::Close(None)).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(3), futures::StreamExt::next(&mut ws)).await.expect("no answer within 3 s");
    assert!(matches!(answer, Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))), "{answer:?}");
    assert!(matches!(server.next_event().await, Event::Disconnected(id, DisconnectReason::Closed) if id == "CP011"));
}

/// A pile that opens a second connection (a network change) without booting again: the first
/// is reported `Replaced` (the pile is still reachable) and the new one is asked for the status
/// of every connector, since its old connection may have missed changes.
#[tokio::test]
async fn a_takeover_is_asked_for_fresh_statuses() {
    let mut server = start_server(fast_config(), 60).await;
    let mut first = raw_connect(&server.endpoint, "CP012").await;
    assert!(matches!(server.next_event().await, Event::Connected(_)));
    raw_send(&mut first, r#"[2, "b1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]"#).await;
    assert_eq!(raw_recv(&mut first).await[2]["status"], "Accepted");
    assert!(matches!(server.next_event().await, Event::Boot(_)));

    let mut second = raw_connect(&server.endpoint, "CP012").await;
    assert!(matches!(server.next_event().await, Event::Disconnected(id, DisconnectReason::Replaced) if id == "CP012"));
    assert!(matches!(server.next_event().await, Event::Connected(id) if id == "CP012"));
    let trigger = raw_recv(&mut second).await;
    assert_eq!(
        (&trigger[0], &trigger[2], &trigger[3]),
        (&serde_json::json!(2), &serde_json::json!("TriggerMessage"), &serde_json::json!({"requestedMessage": "StatusNotification"}))
    );
    let id = trigger[1].as_str().unwrap().to_owned();
    raw_send(&mut second, &serde_json::json!([3, id, {"status": "Accepted"}]).to_string()).await;
    raw_send(&mut second, r#"[2, "s1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}]"#).await;
    assert_eq!(raw_recv(&mut second).await, serde_json::json!([3, "s1", {}]));
    assert!(matches!(server.next_event().await, Event::Status(id, 1, _) if id == "CP012"));
    assert!(server.cs.is_connected("CP012"));

    // Closing it on request is not a takeover.
    assert!(server.cs.disconnect("CP012"));
    assert!(matches!(server.next_event().await, Event::Disconnected(id, DisconnectReason::ClosedByUs) if id == "CP012"));
}
