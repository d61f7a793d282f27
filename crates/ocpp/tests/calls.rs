//! CALLs in both directions: handler dispatch, ordering, CALLERRORs, commands, timeouts.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ocpp::enums::*;
use ocpp::messages::*;
use ocpp::{CallError, CallErrorCode, CommandError};
use serde_json::{Value, json};

#[tokio::test]
async fn status_notifications_reach_the_handler_in_order() {
    let mut server = start_server(fast_config(), 60).await;
    let mut ws = raw_connect(&server.endpoint, "CP101").await;
    assert!(matches!(server.next_event().await, Event::Connected(_)));
    // Sent back to back without waiting; the handler sleeps longest for the first ones.
    let statuses = ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Available"];
    for (i, s) in statuses.iter().enumerate() {
        let frame = json!([2, format!("s{i}"), "StatusNotification", {"connectorId": i, "errorCode": "NoError", "status": s}]);
        raw_send(&mut ws, &frame.to_string()).await;
    }
    for i in 0..statuses.len() {
        assert_eq!(raw_recv(&mut ws).await, json!([3, format!("s{i}"), {}]));
    }
    for (i, s) in statuses.iter().enumerate() {
        match server.next_event().await {
            Event::Status(_, connector, status) => {
                assert_eq!(connector, i as u32);
                assert_eq!(status.as_str(), *s);
            }
            other => panic!("expected status, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn malformed_frames_and_unknown_actions_get_call_errors() {
    let mut server = start_server(fast_config(), 60).await;
    let mut ws = raw_connect(&server.endpoint, "CP102").await;
    assert!(matches!(server.next_event().await, Event::Connected(_)));
    let cases = [
        ("this is not json", json!("-1"), "FormationViolation"),
        (r#"{"not": "an array"}"#, json!("-1"), "FormationViolation"),
        (r#"[2, "a1", "Heartbeat"]"#, json!("a1"), "FormationViolation"),
        (r#"[2, "a2", "Heartbeat", []]"#, json!("a2"), "FormationViolation"),
        (r#"[2, "a3", "FlyToTheMoon", {}]"#, json!("a3"), "NotImplemented"),
        (r#"[2, "a4", "RemoteStartTransaction", {"idTag": "X"}]"#, json!("a4"), "NotSupported"),
        (r#"[2, "a5", "BootNotification", {"chargePointVendor": "V"}]"#, json!("a5"), "OccurenceConstraintViolation"),
        (r#"[2, "a6", "StatusNotification", {"connectorId": "1", "errorCode": "NoError", "status": "Available"}]"#, json!("a6"), "TypeConstraintViolation"),
        (r#"[2, "a7", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Asleep"}]"#, json!("a7"), "PropertyConstraintViolation"),
        (r#"[2, "a8", "Authorize", {"idTag": "123456789012345678901"}]"#, json!("a8"), "PropertyConstraintViolation"),
    ];
    for (text, id, code) in cases {
        raw_send(&mut ws, text).await;
        let reply = raw_recv(&mut ws).await;
        assert_eq!(reply[0], json!(4), "{text} -> {reply}");
        assert_eq!(reply[1], id, "{text} -> {reply}");
        assert_eq!(reply[2], json!(code), "{text} -> {reply}");
        assert!(reply[3].is_string() && reply[4].is_object(), "{reply}");
    }
    // Unknown MessageTypeId is ignored; the connection still answers afterwards.
    raw_send(&mut ws, r#"[7, "x", {}]"#).await;
    raw_send(&mut ws, r#"[2, "hb", "Heartbeat", {}]"#).await;
    let reply = raw_recv(&mut ws).await;
    assert_eq!(reply[0], json!(3));
    assert_eq!(reply[1], json!("hb"));
}

#[tokio::test]
async fn remote_start_to_stop_full_flow() {
    let mut server = start_server(fast_config(), 60).await;
    let (tx, mut commands) = tokio::sync::mpsc::unbounded_channel::<(String, Value)>();
    let handler = Arc::new(Scripted(move |action: &str, payload: Value| {
        let _ = tx.send((action.to_owned(), payload));
        Some(Ok(json!({"status": "Accepted"})))
    }));
    let cp = server.connect("CP103", handler).await;
    cp.call(boot()).await.unwrap();
    assert!(matches!(server.next_event().await, Event::Boot(_)));

    let start = RemoteStartTransactionRequest { connector_id: Some(1), id_tag: "TAG-1".try_into().unwrap(), charging_profile: None };
    let conf = server.cs.send("CP103", start).await.unwrap();
    assert_eq!(conf.status, RemoteStartStopStatus::Accepted);
    let (action, payload) = commands.recv().await.unwrap();
    assert_eq!(action, "RemoteStartTransaction");
    assert_eq!(payload, json!({"connectorId": 1, "idTag": "TAG-1"}));

    let started = cp
        .call(StartTransactionRequest {
            connector_id: 1,
            id_tag: "TAG-1".try_into().unwrap(),
            meter_start: 1000,
            reservation_id: None,
            timestamp: chrono::Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(started.id_tag_info.status, AuthorizationStatus::Accepted);
    let tx_id = started.transaction_id;
    assert!(matches!(server.next_event().await, Event::Start(_, req) if req.meter_start == 1000));

    let mv = MeterValuesRequest {
        connector_id: 1,
        transaction_id: Some(tx_id),
        meter_value: vec![MeterValue { timestamp: chrono::Utc::now(), sampled_value: vec![SampledValue::energy_register_wh(1500)] }],
    };
    cp.call(mv).await.unwrap();
    match server.next_event().await {
        Event::Meter(_, req) => {
            assert_eq!(req.transaction_id, Some(tx_id));
            assert_eq!(req.meter_value[0].sampled_value[0].import_register_wh(), Some(1500.into()));
        }
        other => panic!("expected meter values, got {other:?}"),
    }

    let conf = server.cs.send("CP103", RemoteStopTransactionRequest { transaction_id: tx_id }).await.unwrap();
    assert_eq!(conf.status, RemoteStartStopStatus::Accepted);
    assert_eq!(commands.recv().await.unwrap().1, json!({"transactionId": tx_id}));

    cp.call(StopTransactionRequest {
        id_tag: None,
        meter_stop: 2500,
        timestamp: chrono::Utc::now(),
        transaction_id: tx_id,
        reason: Some(Reason::Remote),
        transaction_data: None,
    })
    .await
    .unwrap();
    match server.next_event().await {
        Event::Stop(_, req) => {
            assert_eq!((req.transaction_id, req.meter_stop, req.reason()), (tx_id, 2500, Reason::Remote));
        }
        other => panic!("expected stop, got {other:?}"),
    }
}

#[tokio::test]
async fn reservation_commands_round_trip() {
    let mut server = start_server(fast_config(), 60).await;
    let handler = Arc::new(Scripted(|action: &str, payload: Value| {
        Some(Ok(match action {
            "ReserveNow" if payload["reservationId"] == json!(5) => json!({"status": "Accepted"}),
            "ReserveNow" => json!({"status": "Occupied"}),
            "CancelReservation" => json!({"status": if payload["reservationId"] == json!(5) { "Accepted" } else { "Rejected" }}),
            _ => return Some(Err(CallError::new(CallErrorCode::NotImplemented, ""))),
        }))
    }));
    let _cp = server.connect("CP104", handler).await;
    let reserve = |id| ReserveNowRequest {
        connector_id: 1,
        expiry_date: chrono::Utc::now() + chrono::Duration::minutes(15),
        id_tag: "TAG".try_into().unwrap(),
        parent_id_tag: None,
        reservation_id: id,
    };
    assert_eq!(server.cs.send("CP104", reserve(5)).await.unwrap().status, ReservationStatus::Accepted);
    assert_eq!(server.cs.send("CP104", reserve(6)).await.unwrap().status, ReservationStatus::Occupied);
    let cancel = |id| CancelReservationRequest { reservation_id: id };
    assert_eq!(server.cs.send("CP104", cancel(5)).await.unwrap().status, CancelReservationStatus::Accepted);
    assert_eq!(server.cs.send("CP104", cancel(9)).await.unwrap().status, CancelReservationStatus::Rejected);
}

#[tokio::test]
async fn call_error_from_the_charge_point_is_reported() {
    let mut server = start_server(fast_config(), 60).await;
    let handler = Arc::new(Scripted(|_: &str, _| Some(Err(CallError::new(CallErrorCode::NotSupported, "no reservations here")))));
    let _cp = server.connect("CP105", handler).await;
    let req = CancelReservationRequest { reservation_id: 1 };
    let err = server.cs.send("CP105", req).await.unwrap_err();
    assert_eq!(err, CommandError::CallError { code: CallErrorCode::NotSupported, description: "no reservations here".into() });
}

#[tokio::test]
async fn command_times_out_when_the_charge_point_does_not_answer() {
    let mut server = start_server(fast_config(), 60).await; // call timeout 500 ms
    let _cp = server.connect("CP106", Arc::new(Scripted(|_: &str, _| None))).await;
    let started = tokio::time::Instant::now();
    let err = server.cs.send("CP106", UnlockConnectorRequest { connector_id: 1 }).await.unwrap_err();
    assert_eq!(err, CommandError::Timeout);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(450) && waited < Duration::from_millis(1500), "waited {waited:?}");
}

#[tokio::test]
async fn command_to_an_unknown_charge_point_is_not_connected() {
    let server = start_server(fast_config(), 60).await;
    let err = server.cs.send("NOBODY", TriggerMessageRequest { requested_message: MessageTrigger::Heartbeat, connector_id: None }).await.unwrap_err();
    assert_eq!(err, CommandError::NotConnected);
}

#[tokio::test]
async fn only_one_command_is_outstanding_per_connection() {
    let mut server = start_server(fast_config(), 60).await;
    let mut ws = raw_connect(&server.endpoint, "CP107").await;
    assert!(matches!(server.next_event().await, Event::Connected(_)));
    let cs = server.cs.clone();
    let first = tokio::spawn({
        let cs = cs.clone();
        async move { cs.send("CP107", UnlockConnectorRequest { connector_id: 1 }).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = tokio::spawn(async move { cs.send("CP107", UnlockConnectorRequest { connector_id: 2 }).await });

    let call = raw_recv(&mut ws).await;
    assert_eq!((call[0].clone(), call[2].clone(), call[3].clone()), (json!(2), json!("UnlockConnector"), json!({"connectorId": 1})));
    // The second CALL must not arrive while the first is unanswered.
    let early = tokio::time::timeout(Duration::from_millis(200), raw_recv(&mut ws)).await;
    assert!(early.is_err(), "second CALL sent before the first was answered: {early:?}");
    raw_send(&mut ws, &json!([3, call[1], {"status": "Unlocked"}]).to_string()).await;
    let call2 = raw_recv(&mut ws).await;
    assert_eq!(call2[3], json!({"connectorId": 2}));
    assert_ne!(call2[1], call[1], "unique ids per CALL");
    // A late or unknown answer id is ignored; the right one completes the call.
    raw_send(&mut ws, &json!([3, "not-this-one", {"status": "UnlockFailed"}]).to_string()).await;
    raw_send(&mut ws, &json!([3, call2[1], {"status": "NotSupported"}]).to_string()).await;
    assert_eq!(first.await.unwrap().unwrap().status, UnlockStatus::Unlocked);
    assert_eq!(second.await.unwrap().unwrap().status, UnlockStatus::NotSupported);
}

#[tokio::test]
async fn invalid_response_payload_is_reported() {
    let mut server = start_server(fast_config(), 60).await;
    let handler = Arc::new(Scripted(|_: &str, _| Some(Ok(json!({"status": "Perhaps"})))));
    let _cp = server.connect("CP108", handler).await;
    let err = server.cs.send("CP108", UnlockConnectorRequest { connector_id: 1 }).await.unwrap_err();
    assert!(matches!(err, CommandError::InvalidResponse(_)), "{err:?}");
}

#[tokio::test]
async fn disconnect_fails_outstanding_commands_with_connection_lost() {
    let mut server = start_server(fast_config(), 60).await;
    let cp = server.connect("CP109", Arc::new(Scripted(|_: &str, _| None))).await;
    let cs = server.cs.clone();
    let pending = tokio::spawn(async move { cs.send("CP109", UnlockConnectorRequest { connector_id: 1 }).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    cp.close();
    assert_eq!(pending.await.unwrap().unwrap_err(), CommandError::ConnectionLost);
}
