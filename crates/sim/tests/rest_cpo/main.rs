//! The REST operator simulator against a fake platform: signed commands are checked and
//! answered per section 5 of the partner guide, repeats replayed, sessions reported in order
//! and closed by a charge record that adds up.

mod fake_platform;

use std::time::Duration;

use fake_platform::FakePlatform;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sim::rest_cpo::{ConnectorStatus, Misbehaviour, PlatformLink, RestCpoConfig, RestCpoSimulator, SessionState};

const SECRET: &str = "whsec-current";

/// Signs as the guide describes it, independently of the simulator's own helper, so a bug in
/// one cannot hide a bug in the other.
fn signature(secrets: &[&str], t: i64, body: &[u8]) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        header += &format!(",v1={}", hex::encode(mac.finalize().into_bytes()));
    }
    header
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn config(platform: &FakePlatform) -> RestCpoConfig {
    let link = PlatformLink { base_url: platform.base_url.clone(), client_id: "cbk_sim".into(), client_secret: "cbs_sim".into() };
    let mut config = RestCpoConfig::new(link, SECRET);
    config.stations = 2;
    config.piles_per_station = 2;
    config.connectors_per_pile = 2;
    config.start_delay = Duration::from_millis(100);
    config.charging_interval = Duration::from_millis(150);
    config.call_timeout = Duration::from_secs(5);
    config
}

async fn started(config: RestCpoConfig) -> RestCpoSimulator {
    let sim = RestCpoSimulator::start(config).await.unwrap();
    assert_eq!(sim.upload_catalog().await.unwrap(), 2);
    sim
}

/// Posts a command with `signature` (None = signed now with the current secret).
async fn post(sim: &RestCpoSimulator, path: &str, body: &Value, key: Option<&str>, signature_header: Option<String>) -> (u16, Value) {
    let raw = serde_json::to_vec(body).unwrap();
    let header = signature_header.unwrap_or_else(|| signature(&[SECRET], now(), &raw));
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", sim.callback_base_url()))
        .header("content-type", "application/json")
        .header("x-chargebridge-signature", header);
    if let Some(command) = body["command"].as_str() {
        request = request.header("x-chargebridge-command", command);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.body(raw).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn command(sim: &RestCpoSimulator, body: Value) -> (u16, Value) {
    let id = body["session_id"].as_str().or(body["reservation_id"].as_str()).unwrap_or_default().to_owned();
    let key = format!("{id}:{}", body["command"].as_str().unwrap_or_default());
    post(sim, "/chargebridge/commands", &body, Some(&key), None).await
}

fn start(session_id: &str, connector_id: &str) -> Value {
    json!({"command": "start_session", "session_id": session_id, "connector_id": connector_id, "sent_at": "2026-12-05T01:30:00Z"})
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("a decimal string, not {v}")).parse().unwrap()
}

#[tokio::test]
async fn commands_are_refused_unless_signed_with_our_secret_within_five_minutes() {
    let platform = FakePlatform::start().await;
    let sim = RestCpoSimulator::start(config(&platform)).await.unwrap();
    let body = json!({"command": "get_session", "session_id": "s-unknown", "sent_at": "2026-12-05T01:30:00Z"});
    let raw = serde_json::to_vec(&body).unwrap();

    let good = post(&sim, "/chargebridge/commands", &body, None, None).await;
    assert_eq!(good, (200, json!({"state": "not_found"})));
    let rotation = post(&sim, "/chargebridge/commands", &body, None, Some(signature(&["whsec-next", SECRET], now(), &raw))).await;
    assert_eq!(rotation.0, 200, "two v1 values during a rotation: one matching is enough");

    for (what, header) in [
        ("wrong key", signature(&["whsec-other"], now(), &raw)),
        ("six minutes old", signature(&[SECRET], now() - 360, &raw)),
        ("another body", signature(&[SECRET], now(), b"{}")),
        ("no timestamp", signature(&[SECRET], now(), &raw).split_once(',').unwrap().1.to_owned()),
    ] {
        let (status, answer) = post(&sim, "/chargebridge/commands", &body, None, Some(header)).await;
        assert_eq!(status, 401, "{what}: {answer}");
    }
    assert_eq!(sim.bad_signatures(), 4);
    assert_eq!(sim.commands().len(), 2, "refused calls are not taken as commands");
}

#[tokio::test]
async fn a_repeated_idempotency_key_gets_the_first_answer_without_acting_again() {
    let platform = FakePlatform::start().await;
    let sim = started(config(&platform)).await;
    let connector = sim.connector_ids()[0].clone();

    let first = command(&sim, start("s1", &connector)).await;
    assert_eq!(first, (200, json!({"result": "accepted"})));
    let busy = command(&sim, start("s2", &connector)).await;
    assert_eq!(busy.1["result"], "refused");
    assert_eq!(busy.1["reason"], "connector_occupied");
    // The retry of s1 comes after the connector became busy: still the first answer.
    let repeat = command(&sim, start("s1", &connector)).await;
    assert_eq!(repeat, first);

    assert_eq!(sim.sessions().len(), 1, "the repeat started nothing");
    let log = sim.commands();
    assert_eq!(log.iter().map(|c| c.repeat).collect::<Vec<_>>(), [false, false, true]);
    assert_eq!(log[2].idempotency_key.as_deref(), Some("s1:start_session"));
    let unknown = command(&sim, start("s3", "no-such-connector")).await;
    assert_eq!(unknown.1["reason"], "connector_not_found");
}

#[tokio::test]
async fn a_session_reports_started_charging_stopped_then_a_record_that_adds_up() {
    let platform = FakePlatform::start().await;
    let sim = started(config(&platform)).await;
    let connector = sim.connector_ids()[0].clone();
    let session = "0193a0c2-0000-7000-8000-000000000001";

    assert_eq!(command(&sim, start(session, &connector)).await.1["result"], "accepted");
    assert_eq!(command(&sim, json!({"command": "get_session", "session_id": session, "sent_at": "…"})).await.1["state"], "starting");
    sim.wait_session(session, Duration::from_secs(5), |s| s.state == SessionState::Charging).await.expect("charging");
    // Let the charger report progress a few times.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while platform.event_types(session).iter().filter(|t| *t == "charging").count() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "charging events: {:?}", platform.event_types(session));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let asked = command(&sim, json!({"command": "get_session", "session_id": session, "sent_at": "…"})).await.1;
    assert_eq!(asked["state"], "charging");
    assert!(asked["energy_kwh"].is_string() && asked["soc"].is_i64(), "{asked}");

    assert_eq!(
        command(&sim, json!({"command": "stop_session", "session_id": session, "connector_id": connector, "sent_at": "…"})).await.1["result"],
        "accepted"
    );
    let ended = sim.wait_session(session, Duration::from_secs(5), |s| s.record_answer.is_some()).await.expect("record sent");
    assert_eq!(ended.state, SessionState::Ended);
    let again = command(&sim, json!({"command": "stop_session", "session_id": "other", "connector_id": connector, "sent_at": "…"})).await;
    assert_eq!(again.1["result"], "refused");

    // Order: started → charging… → stopped, and the record after the last event.
    let types = platform.event_types(session);
    assert_eq!(types.first().map(String::as_str), Some("started"), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("stopped"), "{types:?}");
    assert!(types[1..types.len() - 1].iter().all(|t| t == "charging") && types.len() >= 5, "{types:?}");
    let session_paths: Vec<String> = platform.received().into_iter().map(|r| r.path).filter(|p| p.contains(session)).collect();
    assert_eq!(session_paths.last().unwrap(), &format!("/sessions/{session}/charge-record"));
    assert_eq!(session_paths.iter().filter(|p| p.ends_with("/charge-record")).count(), 1);

    // Progress only grows.
    let events = platform.bodies(&format!("/sessions/{session}/events"));
    let energies: Vec<Decimal> = events.iter().filter(|e| e["type"] == "charging").map(|e| dec(&e["energy_kwh"])).collect();
    assert!(energies.windows(2).all(|w| w[0] <= w[1]), "{energies:?}");

    // The record: periods sum to the totals, electricity + service = total, money in 2 dp.
    let record = &platform.bodies(&format!("/sessions/{session}/charge-record"))[0];
    assert_eq!(record["connector_id"], connector.as_str());
    assert_eq!(record["stop_reason"], "user");
    let periods = record["periods"].as_array().unwrap();
    assert!(!periods.is_empty());
    for field in ["energy_kwh", "electricity_money", "service_money"] {
        assert_eq!(periods.iter().map(|p| dec(&p[field])).sum::<Decimal>(), dec(&record[field]), "{field}: {record}");
    }
    assert_eq!(dec(&record["electricity_money"]) + dec(&record["service_money"]), dec(&record["total_money"]));
    assert!(record["total_money"].as_str().unwrap().split_once('.').is_some_and(|(_, cents)| cents.len() == 2), "{record}");
    assert_eq!(record["start"], events[0]["at"], "the record starts when `started` said");
    assert_eq!(record["end"], events.last().unwrap()["at"], "and ends when `stopped` said");
    assert!(energies.last().is_none_or(|last| *last <= dec(&record["energy_kwh"])));

    // The connector went charging, then back to available.
    let statuses = platform.statuses(&connector);
    let charging = statuses.iter().position(|s| s == "charging").expect("charging reported");
    assert_eq!(statuses[charging + 1..].first().map(String::as_str), Some("available"), "{statuses:?}");
    assert_eq!(sim.connector_status(&connector), Some(ConnectorStatus::Available));
}

#[tokio::test]
async fn an_expired_token_is_replaced_and_the_call_repeated() {
    let platform = FakePlatform::start().await;
    let sim = started(config(&platform)).await;
    assert_eq!(platform.tokens_issued(), 1);
    platform.expire_token();
    assert!(sim.set_connector_status(&sim.connector_ids()[1], ConnectorStatus::Faulted));
    let connector = sim.connector_ids()[1].clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !platform.statuses(&connector).contains(&"faulted".to_owned()) {
        assert!(tokio::time::Instant::now() < deadline, "the status change never arrived");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!((platform.tokens_issued(), sim.tokens_fetched()), (2, 2));
    let refused = command(&sim, start("s1", &connector)).await;
    assert_eq!(refused.1["reason"], "connector_faulted");
}

#[tokio::test]
async fn a_start_that_fails_at_the_charger_reports_failed_and_no_record() {
    let platform = FakePlatform::start().await;
    let mut config = config(&platform);
    config.failure_rate = 1.0;
    let sim = started(config).await;
    let connector = sim.connector_ids()[0].clone();
    assert_eq!(command(&sim, start("s1", &connector)).await.1["result"], "accepted");
    sim.wait_session("s1", Duration::from_secs(5), |s| s.state == SessionState::Failed).await.expect("failed");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(platform.event_types("s1"), ["failed"]);
    assert!(platform.bodies("/sessions/s1/charge-record").is_empty());
    assert_eq!(command(&sim, json!({"command": "get_session", "session_id": "s1", "sent_at": "…"})).await.1, json!({"state": "not_found"}));
    let stop = command(&sim, json!({"command": "stop_session", "session_id": "s1", "connector_id": connector, "sent_at": "…"})).await;
    assert_eq!(stop.1["reason"], "already_stopped");
}

#[tokio::test]
async fn a_reservation_is_used_by_the_start_with_its_id_or_expires() {
    let platform = FakePlatform::start().await;
    let mut config = config(&platform);
    config.reservation_minute = Duration::from_millis(200);
    let sim = started(config).await;
    let ids = sim.connector_ids();

    let held = command(&sim, json!({"command": "reserve", "reservation_id": "r1", "connector_id": ids[0], "minutes": 15, "sent_at": "…"})).await.1;
    assert_eq!(held["result"], "accepted");
    assert!(chrono::DateTime::parse_from_rfc3339(held["expires_at"].as_str().unwrap()).is_ok(), "{held}");
    assert_eq!(sim.connector_status(&ids[0]), Some(ConnectorStatus::Reserved));
    assert_eq!(command(&sim, start("someone-else", &ids[0])).await.1["reason"], "connector_occupied");
    assert_eq!(command(&sim, start("r1", &ids[0])).await.1["result"], "accepted", "the holder's start uses the hold");
    sim.wait_session("r1", Duration::from_secs(5), |s| s.state == SessionState::Charging).await.expect("charging");
    assert_eq!(platform.bodies("/reservations/r1/events")[0]["type"], "used");
    assert_eq!(platform.event_types("r1")[0], "started");

    assert_eq!(
        command(&sim, json!({"command": "reserve", "reservation_id": "r2", "connector_id": ids[1], "minutes": 1, "sent_at": "…"})).await.1["result"],
        "accepted"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while platform.bodies("/reservations/r2/events").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no expired event");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(platform.bodies("/reservations/r2/events")[0]["type"], "expired");
    assert_eq!(sim.connector_status(&ids[1]), Some(ConnectorStatus::Available));
    let late = command(&sim, json!({"command": "cancel_reservation", "reservation_id": "r2", "connector_id": ids[1], "sent_at": "…"})).await;
    assert_eq!(late.1["reason"], "already_ended");

    assert_eq!(
        command(&sim, json!({"command": "reserve", "reservation_id": "r3", "connector_id": ids[2], "minutes": 15, "sent_at": "…"})).await.1["result"],
        "accepted"
    );
    assert_eq!(
        command(&sim, json!({"command": "cancel_reservation", "reservation_id": "r3", "connector_id": ids[2], "sent_at": "…"})).await.1["result"],
        "accepted"
    );
    assert_eq!(sim.connector_status(&ids[2]), Some(ConnectorStatus::Available));

    // Cancelled at the charger: the platform hears `cancelled`; a second cancel there is a no-op.
    assert_eq!(
        command(&sim, json!({"command": "reserve", "reservation_id": "r4", "connector_id": ids[3], "minutes": 15, "sent_at": "…"})).await.1["result"],
        "accepted"
    );
    assert!(sim.cancel_reservation_at_charger("r4"));
    assert!(!sim.cancel_reservation_at_charger("r4"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while platform.bodies("/reservations/r4/events").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no cancelled event");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(platform.bodies("/reservations/r4/events").iter().map(|e| e["type"].clone()).collect::<Vec<_>>(), [json!("cancelled")]);
    assert_eq!(sim.connector_status(&ids[3]), Some(ConnectorStatus::Available));
}

#[tokio::test]
async fn a_stop_that_fails_at_the_charger_reports_stop_failed_and_keeps_charging() {
    let platform = FakePlatform::start().await;
    let sim = started(config(&platform)).await;
    let connector = sim.connector_ids()[0].clone();
    let session = "0193a0c2-0000-7000-8000-000000000009";
    assert_eq!(command(&sim, start(session, &connector)).await.1["result"], "accepted");
    sim.wait_session(session, Duration::from_secs(5), |s| s.state == SessionState::Charging).await.expect("charging");

    sim.set_misbehaviour(Misbehaviour { stops_fail: true, ..Misbehaviour::default() });
    let stop = json!({"command": "stop_session", "session_id": session, "connector_id": connector, "sent_at": "…"});
    assert_eq!(command(&sim, stop.clone()).await.1["result"], "accepted");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !platform.event_types(session).contains(&"stop_failed".to_owned()) {
        assert!(tokio::time::Instant::now() < deadline, "events: {:?}", platform.event_types(session));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(sim.session(session).map(|s| s.state), Some(SessionState::Charging), "it keeps charging");
    let failed = platform.bodies(&format!("/sessions/{session}/events")).into_iter().find(|e| e["type"] == "stop_failed").unwrap();
    assert!(failed["message"].is_string() && failed["at"].is_string(), "{failed}");

    // Once the charger takes stops again, a new stop ends the session with its record.
    sim.set_misbehaviour(Misbehaviour::default());
    assert_eq!(command(&sim, stop).await.1["result"], "accepted");
    let ended = sim.wait_session(session, Duration::from_secs(5), |s| s.record_answer.is_some()).await;
    let ended = ended.unwrap_or_else(|| panic!("no record: {:?}, events {:?}", sim.session(session), platform.event_types(session)));
    assert_eq!(ended.state, SessionState::Ended);
    assert_eq!(platform.event_types(session).last().map(String::as_str), Some("stopped"));
    assert_eq!(platform.bodies(&format!("/sessions/{session}/charge-record"))[0]["stop_reason"], "user");
}

#[tokio::test]
async fn an_operator_that_refuses_or_never_answers() {
    let platform = FakePlatform::start().await;
    let mut config = config(&platform);
    config.silence = Duration::from_millis(1_500);
    let sim = started(config).await;
    let connector = sim.connector_ids()[0].clone();

    sim.set_misbehaviour(Misbehaviour { refuse_commands: true, ..Misbehaviour::default() });
    let refused = command(&sim, start("s1", &connector)).await.1;
    assert_eq!((refused["result"].as_str(), refused["reason"].as_str()), (Some("refused"), Some("other")));

    sim.set_misbehaviour(Misbehaviour { nobody_plugged_in: true, ..Misbehaviour::default() });
    let unplugged = command(&sim, start("s3", &connector)).await.1;
    assert_eq!((unplugged["result"].as_str(), unplugged["reason"].as_str()), (Some("refused"), Some("not_plugged_in")), "{unplugged}");

    sim.set_misbehaviour(Misbehaviour { never_answer: true, ..Misbehaviour::default() });
    let body = serde_json::to_vec(&start("s2", &connector)).unwrap();
    let call = reqwest::Client::new()
        .post(format!("{}/chargebridge/commands", sim.callback_base_url()))
        .header("x-chargebridge-signature", signature(&[SECRET], now(), &body))
        .header("idempotency-key", "s2:start_session")
        .timeout(Duration::from_millis(500))
        .body(body)
        .send()
        .await;
    assert!(call.is_err_and(|e| e.is_timeout()), "no answer within the caller's timeout");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(sim.sessions().is_empty(), "nothing was started");

    sim.set_misbehaviour(Misbehaviour::default());
    assert_eq!(command(&sim, start("s2", &connector)).await.1["result"], "accepted", "a later retry, once it answers again, acts");
}

#[tokio::test]
async fn webhooks_are_verified_and_kept_once() {
    let platform = FakePlatform::start().await;
    let sim = RestCpoSimulator::start(config(&platform)).await.unwrap();
    let event = json!({"id": "evt-1", "kind": "order.paid", "created_at": "2026-12-05T08:00:00Z",
        "data": {"session_id": "s1", "gross": "23.00", "commission": "1.15", "partner_amount": "21.85", "energy_kwh": "20.00", "paid_at": "2026-12-05T08:00:00Z"}});
    assert_eq!(post(&sim, "/chargebridge/webhook", &event, None, None).await.0, 204);
    assert_eq!(post(&sim, "/chargebridge/webhook", &event, None, None).await.0, 204, "a repeat is acknowledged");
    let forged = signature(&["whsec-other"], now(), &serde_json::to_vec(&event).unwrap());
    assert_eq!(post(&sim, "/chargebridge/webhook", &json!({"id": "evt-2", "kind": "order.paid", "data": {}}), None, Some(forged)).await.0, 401);
    let webhooks = sim.webhooks();
    assert_eq!(webhooks.len(), 1);
    assert_eq!((webhooks[0].kind.as_str(), webhooks[0].data["partner_amount"].as_str()), ("order.paid", Some("21.85")));
    assert!(sim.wait_webhook("order.paid", Duration::from_millis(10), |d| d["session_id"] == "s1").await.is_some());
}
