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
