//! Each `Ret` error path, provoked by a deliberately wrong request over HTTP. A refused request
//! never reaches a handler.

mod support;

use cec::envelope::{RequestEnvelope, ResponseEnvelope};
use cec::messages::*;
use cec::{ClientError, Keys, Ret};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use support::*;

struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    async fn post(&self, path: &str, token: Option<&str>, body: String) -> ResponseEnvelope {
        let mut request = self.http.post(format!("{}{path}", self.base)).header("content-type", "application/json").body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "protocol errors are HTTP 200 with a Ret");
        ResponseEnvelope::parse(&response.bytes().await.unwrap()).unwrap()
    }
}

fn keys() -> Keys {
    Keys::new(&secrets()).unwrap()
}

fn sealed(operator: &str, payload: &Value, at: chrono::DateTime<Utc>, seq: u16) -> RequestEnvelope {
    RequestEnvelope::seal(&keys(), operator, payload.to_string().as_bytes(), at, seq)
}

fn body(env: &RequestEnvelope) -> String {
    serde_json::to_string(env).unwrap()
}

async fn setup() -> (Running, Raw, String) {
    let running = start().await;
    let raw = Raw { http: reqwest::Client::new(), base: running.base.clone() };
    let token = client(&running.base, PARTNER, secrets()).token().await.unwrap();
    (running, raw, token)
}

const STATUS_PATH: &str = "/evcs/v1.0/query_station_status";

#[tokio::test]
async fn envelope_errors_are_4003() {
    let (running, raw, token) = setup().await;
    let reply = raw.post(STATUS_PATH, Some(&token), "{not json".into()).await;
    assert_eq!(reply.ret, 4003);
    let mut missing = serde_json::to_value(sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 1)).unwrap();
    missing.as_object_mut().unwrap().remove("TimeStamp");
    let reply = raw.post(STATUS_PATH, Some(&token), missing.to_string()).await;
    assert_eq!(reply.ret, 4003);
    assert!(reply.msg.contains("TimeStamp"), "{}", reply.msg);

    let unknown = sealed("UNKNOWN01", &json!({"StationIDs":["S1"]}), Utc::now(), 2);
    let reply = raw.post(STATUS_PATH, Some(&token), body(&unknown)).await;
    assert_eq!((reply.ret, reply.sig.as_str(), reply.data.as_str()), (4003, "", ""), "unknown caller: nothing to sign with");

    let suspended = sealed(SUSPENDED, &json!({"StationIDs":["S1"]}), Utc::now(), 3);
    assert_eq!(raw.post(STATUS_PATH, Some(&token), body(&suspended)).await.ret, 4003);

    // Data that is not ours to decrypt, correctly signed.
    let k = keys();
    let mut env = sealed(PARTNER, &json!({}), Utc::now(), 4);
    env.data = "AAAAAAAAAAAAAAAAAAAAAA==".into();
    env.sig = k.sign(&[&env.operator_id, &env.data, &env.timestamp, &env.seq]);
    let reply = raw.post(STATUS_PATH, Some(&token), body(&env)).await;
    assert_eq!(reply.ret, 4003);
    assert!(reply.verify(&k), "errors to a known partner are signed");

    // Wrong version segment and unknown interface.
    let env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 5);
    assert_eq!(raw.post("/evcs/v9/query_station_status", Some(&token), body(&env)).await.ret, 4003);
    let env = sealed(PARTNER, &json!({}), Utc::now(), 6);
    assert_eq!(raw.post("/evcs/v1.0/query_everything", Some(&token), body(&env)).await.ret, 4003);
    assert!(running.recorder.names().is_empty(), "no handler was called");
}

#[tokio::test]
async fn signature_errors_are_4001() {
    let (running, raw, token) = setup().await;
    let mut env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 1);
    env.sig = "00000000000000000000000000000000".into();
    assert_eq!(raw.post(STATUS_PATH, Some(&token), body(&env)).await.ret, 4001);
    let mut env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 2);
    env.seq = "0003".into(); // changed after signing
    assert_eq!(raw.post(STATUS_PATH, Some(&token), body(&env)).await.ret, 4001);
    // Lower-case signatures are fine.
    let mut env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 4);
    env.sig = env.sig.to_lowercase();
    assert_eq!(raw.post(STATUS_PATH, Some(&token), body(&env)).await.ret, 0);
    assert_eq!(running.recorder.names(), ["query_station_status"]);
}

/// The appendix request of the standard (cec102-vectors.json `spec-appendix-request-sig`).
fn appendix_request() -> Value {
    let vectors: Value = serde_json::from_str(include_str!("data/cec102-vectors.json")).unwrap();
    let vector = vectors["vectors"].as_array().unwrap().iter().find(|v| v["id"] == "spec-appendix-request-sig").unwrap();
    vector["envelope"].clone()
}

#[tokio::test]
async fn refusals_to_a_known_partner_are_signed() {
    let running = start().await;
    let raw = Raw { http: reqwest::Client::new(), base: running.base.clone() };
    let appendix = Keys::new(&appendix_secrets()).unwrap();
    let verified = |reply: &ResponseEnvelope| !reply.sig.is_empty() && reply.verify(&appendix);

    // The appendix request, its signature damaged: 4001, signed with the appendix SigSecret.
    let mut request = appendix_request();
    request["Sig"] = json!("745166E8C43C84D37FFEC0F529C41360");
    let reply = raw.post(STATUS_PATH, None, request.to_string()).await;
    assert_eq!(reply.ret, 4001, "{}", reply.msg);
    assert!(verified(&reply), "a 4001 to a known partner carries a valid Sig: {reply:?}");
    assert_eq!(reply.data, "", "no business data in a refusal");

    // An envelope field missing, OperatorID known: 4003 naming the field, signed.
    for missing in ["Sig", "Seq", "TimeStamp", "Data"] {
        let mut request = appendix_request();
        request.as_object_mut().unwrap().remove(missing);
        let reply = raw.post(STATUS_PATH, None, request.to_string()).await;
        assert_eq!(reply.ret, 4003);
        assert!(reply.msg.contains(missing), "{}", reply.msg);
        assert!(verified(&reply), "4003 for a missing {missing} carries a valid Sig: {reply:?}");
    }

    // The intact appendix request gets past the signature (its token is what is missing): signed.
    let reply = raw.post(STATUS_PATH, None, appendix_request().to_string()).await;
    assert_eq!(reply.ret, 4002);
    assert!(verified(&reply), "{reply:?}");

    // A partner in a rotation: a refusal is signed with the newest set.
    let mut env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 1);
    env.sig = "00000000000000000000000000000000".into();
    let reply = raw.post(STATUS_PATH, None, body(&env)).await;
    assert_eq!(reply.ret, 4001);
    assert!(reply.verify(&Keys::new(&rotated()).unwrap()), "{reply:?}");

    // Only a caller we cannot identify gets an empty Sig.
    let mut request = appendix_request();
    request["OperatorID"] = json!("UNKNOWN01");
    request.as_object_mut().unwrap().remove("Sig");
    let reply = raw.post(STATUS_PATH, None, request.to_string()).await;
    assert_eq!((reply.ret, reply.sig.as_str()), (4003, ""));
    let mut request = appendix_request();
    request.as_object_mut().unwrap().remove("OperatorID");
    let reply = raw.post(STATUS_PATH, None, request.to_string()).await;
    assert_eq!((reply.ret, reply.sig.as_str()), (4003, ""));
    assert!(running.recorder.names().is_empty(), "no handler was called");
}

#[tokio::test]
async fn token_errors_are_4002() {
    let (running, raw, token) = setup().await;
    let env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 1);
    assert_eq!(raw.post(STATUS_PATH, None, body(&env)).await.ret, 4002);
    let env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 2);
    assert_eq!(raw.post(STATUS_PATH, Some("forged"), body(&env)).await.ret, 4002);
    // Another operator's token.
    let other = client(&running.base, NO_RESERVE, secrets()).token().await.unwrap();
    let env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 3);
    assert_eq!(raw.post(STATUS_PATH, Some(&other), body(&env)).await.ret, 4002);
    // A wrong OperatorSecret gets SuccStat 1 / FailReason 2 inside a valid reply.
    let wrong = client(&running.base, PARTNER, cec::Secrets { operator_secret: "not-the-secret!!".into(), ..secrets() });
    assert_eq!(wrong.token().await.unwrap_err(), ClientError::TokenRefused(2));
    let env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 4);
    assert_eq!(raw.post(STATUS_PATH, Some(&token), body(&env)).await.ret, 0);
    assert_eq!(running.recorder.names().len(), 1);
}

#[tokio::test]
async fn expired_tokens_are_refreshed_once_by_the_client() {
    let running = start_with(cec::server::ServerConfig { token_ttl: Duration::seconds(1), ..Default::default() }).await;
    // The client's clock stands still, so it believes its token is fresh; the server's moves on.
    let frozen = Utc::now();
    let c = client(&running.base, PARTNER, secrets()).with_clock(std::sync::Arc::new(move || frozen));
    let first = c.token().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let raw = Raw { http: reqwest::Client::new(), base: running.base.clone() };
    let env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 1);
    assert_eq!(raw.post(STATUS_PATH, Some(&first), body(&env)).await.ret, 4002, "the server has expired it");
    // The client gets 4002, fetches a new token and repeats the call once.
    c.call(&QueryStationStatus { station_ids: vec!["S1".into()] }).await.unwrap();
    assert_ne!(c.token().await.unwrap(), first);
    assert_eq!(running.recorder.names(), ["query_station_status"]);
}

#[tokio::test]
async fn replays_and_stale_timestamps_are_refused() {
    let (running, raw, token) = setup().await;
    let env = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now(), 1);
    assert_eq!(raw.post(STATUS_PATH, Some(&token), body(&env)).await.ret, 0);
    let again = raw.post(STATUS_PATH, Some(&token), body(&env)).await;
    assert_eq!(again.ret, 4003);
    assert!(again.msg.contains("replayed"), "{}", again.msg);
    let stale = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now() - Duration::minutes(10), 1);
    assert_eq!(raw.post(STATUS_PATH, Some(&token), body(&stale)).await.ret, 4003);
    let future = sealed(PARTNER, &json!({"StationIDs":["S1"]}), Utc::now() + Duration::minutes(10), 1);
    assert_eq!(raw.post(STATUS_PATH, Some(&token), body(&future)).await.ret, 4003);
    assert_eq!(running.recorder.names().len(), 1, "only the first one was handled");
}

#[tokio::test]
async fn parameter_errors_are_4004_and_handler_errors_map() {
    let (running, raw, token) = setup().await;
    let path = "/evcs/v1.0/query_start_charge";
    let k = keys();
    let cases = [
        (json!({"ConnectorID": "C1"}), "StartChargeSeq"),
        (json!({"StartChargeSeq": "SHORT", "ConnectorID": "C1"}), "27"),
        (json!({"StartChargeSeq": "OTHEROP01202401011200000001", "ConnectorID": "C1"}), "OperatorID"),
    ];
    for (n, (payload, expect)) in cases.iter().enumerate() {
        let env = sealed(PARTNER, payload, Utc::now(), n as u16 + 1);
        let reply = raw.post(path, Some(&token), body(&env)).await;
        assert_eq!(reply.ret, 4004, "{payload}");
        assert!(reply.msg.contains(expect), "{} should mention {expect}", reply.msg);
        assert!(reply.verify(&k));
    }
    let env = RequestEnvelope::seal(&k, PARTNER, b"[1,2", Utc::now(), 10);
    assert_eq!(raw.post(path, Some(&token), body(&env)).await.ret, 4004, "Data that is not JSON");
    assert!(running.recorder.names().is_empty());

    let c = client(&running.base, PARTNER, secrets());
    let start = |connector: &str| QueryStartCharge { start_charge_seq: seq(9), connector_id: connector.into(), qr_code: String::new() };
    let nope = c.call(&start("NOPE")).await;
    assert!(matches!(&nope, Err(ClientError::Ret { ret: Ret::Parameter, msg }) if msg.contains("NOPE")), "{nope:?}");
    assert!(matches!(c.call(&start("BUSY")).await, Err(ClientError::Ret { ret: Ret::Busy, .. })));
    assert!(matches!(c.call(&start("BROKEN")).await, Err(ClientError::Ret { ret: Ret::System, msg }) if !msg.contains("fire")));
    // query_start_charge is never retried: each call reached the handler once.
    assert_eq!(running.recorder.names().len(), 3);
}

#[tokio::test]
async fn values_outside_the_standards_sets_are_4004() {
    let (running, raw, token) = setup().await;
    let k = keys();
    let push = |status: Value, park: Value| json!({"ConnectorStatusInfo": {"ConnectorID": "C1", "Status": status, "ParkStatus": park}});
    let order = |reason: i64| {
        json!({"StartChargeSeq": seq(1).0, "ConnectorID": "C1", "StartTime": "2024-01-01 12:00:05", "EndTime": "2024-01-01 12:40:11",
               "TotalPower": 24.6, "TotalElecMoney": 19.68, "TotalSeviceMoney": 9.84, "TotalMoney": 29.52, "StopReason": reason})
    };
    let refused = [
        ("notification_stationStatus", push(json!(7), json!(10)), "Status"),
        ("notification_stationStatus", push(json!(-1), json!(10)), "Status"),
        ("notification_stationStatus", push(json!(1), json!(20)), "ParkStatus"),
        ("notification_charge_order_info", order(100), "StopReason"),
        (
            "notification_start_charge_result",
            json!({"StartChargeSeq": seq(2).0, "StartChargeSeqStat": 9, "ConnectorID": "C1", "StartTime": "2024-01-01 12:00:05"}),
            "StartChargeSeqStat",
        ),
    ];
    for (n, (interface, payload, field)) in refused.iter().enumerate() {
        let env = sealed(PARTNER, payload, Utc::now(), n as u16 + 1);
        let reply = raw.post(&format!("/evcs/v1.0/{interface}"), Some(&token), body(&env)).await;
        assert_eq!(reply.ret, 4004, "{payload}: {}", reply.msg);
        assert!(reply.msg.contains(field) && reply.msg.contains("不在标准定义的范围内"), "{} should name {field}", reply.msg);
        assert!(reply.verify(&k));
    }
    assert!(running.recorder.names().is_empty(), "nothing reached a handler");

    // Strict on values, tolerant on spelling: a number as a string, a custom StopReason.
    let accepted = [("notification_stationStatus", push(json!("3"), json!(50))), ("notification_charge_order_info", order(90))];
    for (n, (interface, payload)) in accepted.iter().enumerate() {
        let env = sealed(PARTNER, payload, Utc::now(), n as u16 + 20);
        let reply = raw.post(&format!("/evcs/v1.0/{interface}"), Some(&token), body(&env)).await;
        assert_eq!(reply.ret, 0, "{payload}: {}", reply.msg);
    }
    assert_eq!(running.recorder.names(), ["notification_stationStatus", "notification_charge_order_info"]);
}

#[tokio::test]
async fn reservation_extension_is_per_partner() {
    let running = start().await;
    let c = client(&running.base, NO_RESERVE, secrets());
    let req = QueryReserve { reserve_seq: cec::messages::Seq27(format!("{NO_RESERVE}202401011200000001")), connector_id: "C1".into(), minutes: 15 };
    let err = c.call(&req).await.unwrap_err();
    assert!(matches!(err, ClientError::Ret { ret: Ret::Parameter, ref msg } if msg.contains("reservation")), "{err}");
    let c = client(&running.base, PARTNER, secrets());
    let too_long = QueryReserve { reserve_seq: seq(1), connector_id: "C1".into(), minutes: 600 };
    assert!(matches!(c.call(&too_long).await, Err(ClientError::Ret { ret: Ret::Parameter, .. })));
    assert!(running.recorder.names().is_empty());
}

#[tokio::test]
async fn the_client_retries_only_what_is_safe() {
    // Nothing listens on this port: every attempt is a transport failure.
    let c = client("http://127.0.0.1:9", PARTNER, secrets());
    let err = c.call(&QueryStationStatus { station_ids: vec!["S1".into()] }).await.unwrap_err();
    assert!(err.is_retryable() && err.outcome_unknown(), "{err}");
    let err = c.call(&QueryStartCharge { start_charge_seq: seq(1), connector_id: "C1".into(), qr_code: String::new() }).await.unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)));
}
