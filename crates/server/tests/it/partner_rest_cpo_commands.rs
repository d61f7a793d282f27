//! Flow A over the partner REST API, second half (第三方充电站接入流程: 用户启动 → 调用第三方接口
//! 启动充电 → 回调充电过程与结束事件 → 计费 → 支付 → 结算): our driver starts at an operator's
//! uploaded connector, we call the operator's command endpoint, it reports events and the charge
//! record, the driver pays, and the operator hears `order.paid` and `statement.ready`.
//!
//! The operator here is written from docs/partner-api.md alone: an axum endpoint on loopback
//! that checks every signature, and plain JSON calls with its token.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{SecondsFormat, Utc};
use common::rest::{join, signed_with};
use common::{Backend, CODE_A, CODE_B, CODE_C, TestApp};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);
const API: &str = "/api/partner/v1";

/// How the operator answers commands.
#[derive(Clone)]
enum Mode {
    Accept,
    Refuse(&'static str),
    /// 503: the outcome is unknown to us.
    Unavailable,
}

/// The operator's side: its command endpoint and webhook receiver.
struct Operator {
    secret: Mutex<String>,
    mode: Mutex<Mode>,
    /// What `get_session` answers.
    session_state: Mutex<&'static str>,
    /// Commands received with a valid signature: (idempotency key, body).
    commands: Mutex<Vec<(String, Value)>>,
    /// Webhooks received with a valid signature, one per event id.
    webhooks: Mutex<Vec<Value>>,
    bad_signatures: Mutex<usize>,
}

impl Operator {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            secret: Mutex::default(),
            mode: Mutex::new(Mode::Accept),
            session_state: Mutex::new("not_found"),
            commands: Mutex::default(),
            webhooks: Mutex::default(),
            bad_signatures: Mutex::default(),
        })
    }

    fn signed(&self, headers: &HeaderMap, body: &str) -> bool {
        let header = headers.get("x-chargebridge-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let ok = signed_with(&self.secret.lock().unwrap(), header, body);
        if !ok {
            *self.bad_signatures.lock().unwrap() += 1;
        }
        ok
    }

    fn commands(&self, name: &str) -> Vec<(String, Value)> {
        self.commands.lock().unwrap().iter().filter(|(_, c)| c["command"] == name).cloned().collect()
    }

    fn webhook(&self, kind: &str) -> Option<Value> {
        self.webhooks.lock().unwrap().iter().find(|w| w["kind"] == kind).cloned()
    }

    async fn wait_webhook(&self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(event) = self.webhook(kind) {
                return event;
            }
            assert!(tokio::time::Instant::now() < deadline, "no {kind} webhook; got {:?}", self.webhooks.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn serve(operator: Arc<Operator>) -> String {
    let commands = operator.clone();
    let app = axum::Router::new()
        .route(
            "/cb/chargebridge/commands",
            post(move |headers: HeaderMap, body: String| {
                let op = commands.clone();
                async move {
                    if !op.signed(&headers, &body) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad signature"})));
                    }
                    let command: Value = serde_json::from_str(&body).unwrap();
                    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    op.commands.lock().unwrap().push((key, command.clone()));
                    if command["command"] == "get_session" {
                        return (StatusCode::OK, Json(json!({"state": *op.session_state.lock().unwrap()})));
                    }
                    match op.mode.lock().unwrap().clone() {
                        Mode::Accept if command["command"] == "reserve" => {
                            let until = Utc::now() + chrono::Duration::minutes(i64::from(command["minutes"].as_u64().unwrap() as u32));
                            (StatusCode::OK, Json(json!({"result": "accepted", "expires_at": until.to_rfc3339()})))
                        }
                        Mode::Accept => (StatusCode::OK, Json(json!({"result": "accepted"}))),
                        Mode::Refuse(reason) => (StatusCode::OK, Json(json!({"result": "refused", "reason": reason, "message": "someone is plugged in"}))),
                        Mode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({}))),
                    }
                }
            }),
        )
        .route(
            "/cb/chargebridge/webhook",
            post(move |headers: HeaderMap, body: String| {
                let op = operator.clone();
                async move {
                    if !op.signed(&headers, &body) {
                        return StatusCode::UNAUTHORIZED;
                    }
                    let event: Value = serde_json::from_str(&body).unwrap();
                    let mut seen = op.webhooks.lock().unwrap();
                    if !seen.iter().any(|e| e["id"] == event["id"]) {
                        seen.push(event);
                    }
                    StatusCode::NO_CONTENT
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/cb", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

struct World {
    app: TestApp,
    admin: String,
    operator: Arc<Operator>,
    /// The operator's access token and partner id.
    token: String,
    partner_id: String,
    driver: String,
    /// Our ids of the operator's two connectors `SZ1-P1-1` and `SZ1-P1-2`.
    connectors: Vec<String>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn world(backend: Backend) -> World {
    let app = TestApp::start_with(backend, |c| {
        c.workers.outbox_poll = Duration::from_millis(50);
        c.workers.unknown_outcomes = Duration::from_millis(200);
        c.sandbox_pay.enabled = Some(true);
        c.sandbox_pay.test_hooks = true;
    })
    .await;
    let admin = app.admin_token().await;
    let operator = Operator::new();
    let base = serve(operator.clone()).await;
    let (token, secret, partner_id) = join(&app, &admin, CODE_A, "operator", &base).await;
    *operator.secret.lock().unwrap() = secret;

    let station = json!({
        "name": "南山科技园充电站", "address": "广东省深圳市南山区科技园南区 1 号", "area_code": "440305",
        "lat": 22.5405, "lng": 113.9345, "coordinate_system": "gcj02",
        "tariff": {"periods": [{"start": "00:00", "electricity_price": "0.6500", "service_price": "0.5000"}]},
        "piles": [{"id": "SZ1-P1", "type": "dc", "power_kw": "120", "connectors": [
            {"id": "SZ1-P1-1", "type": "dc_cable", "power_kw": "120"}, {"id": "SZ1-P1-2", "type": "dc_cable", "power_kw": "120"}]}]
    });
    let (status, stored) = app.put(&format!("{API}/stations/SZ1"), Some(&token), &station).await;
    assert_eq!(status, 201, "{stored}");
    let changes: Vec<Value> = ["SZ1-P1-1", "SZ1-P1-2"].iter().map(|c| json!({"connector_id": c, "status": "available", "at": now()})).collect();
    let (status, applied) = app.post(&format!("{API}/connectors/status:batch"), Some(&token), &json!({"changes": changes})).await;
    assert_eq!((status, applied["applied"].as_u64()), (200, Some(2)), "{applied}");
    let (_, detail) = app.get(&format!("/api/app/v1/stations/{}", stored["id"].as_str().unwrap()), None).await;
    let mut connectors: Vec<(String, String)> = detail["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["external_id"].as_str().unwrap().to_owned(), c["id"].as_str().unwrap().to_owned()))
        .collect();
    connectors.sort();

    let (_, session) = app.post("/api/app/v1/users", None, &json!({"phone": "13912345678", "password": "drive-safely"})).await;
    let driver = session["token"].as_str().unwrap().to_owned();
    let (status, body) = app.post("/sandbox/pay/test/wallet-credit", None, &json!({"phone": "13912345678", "amount": "200.00"})).await;
    assert_eq!(status, 200, "{body}");
    World { app, admin, operator, token, partner_id, driver, connectors: connectors.into_iter().map(|(_, id)| id).collect() }
}

impl World {
    async fn start(&self, connector: usize) -> Value {
        let (status, order) = self.app.post("/api/app/v1/charging/start", Some(&self.driver), &json!({"connector_id": self.connectors[connector]})).await;
        assert_eq!(status, 201, "{order}");
        order
    }

    async fn order(&self, id: &str) -> Value {
        self.app.get(&format!("/api/app/v1/orders/{id}"), Some(&self.driver)).await.1
    }

    async fn wait_order(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let order = self.order(id).await;
            if done(&order) {
                return order;
            }
            assert!(tokio::time::Instant::now() < deadline, "order never got there: {order}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn event(&self, session: &str, event: Value) -> (u16, Value) {
        self.app.post(&format!("{API}/sessions/{session}/events"), Some(&self.token), &event).await
    }

    async fn record(&self, session: &str, record: &Value) -> (u16, Value) {
        self.app.post(&format!("{API}/sessions/{session}/charge-record"), Some(&self.token), record).await
    }
}

/// 20 kWh at 0.65 + 0.50 per kWh: 13.00 + 10.00 = 23.00.
fn charge_record() -> Value {
    let (start, end) = (Utc::now() - chrono::Duration::minutes(40), Utc::now() - chrono::Duration::seconds(1));
    let (start, end) = (start.to_rfc3339(), end.to_rfc3339());
    json!({"connector_id": "SZ1-P1-1", "start": start, "end": end, "energy_kwh": "20.00",
           "electricity_money": "13.00", "service_money": "10.00", "total_money": "23.00", "stop_reason": "user",
           "periods": [{"start": start, "end": end, "energy_kwh": "20.00", "electricity_price": "0.6500", "service_price": "0.5000",
                        "electricity_money": "13.00", "service_money": "10.00"}]})
}

/// 用户启动 → 调用运营商指令接口 → 事件 → 充电记录 → 计费 → 支付 → order.paid → statement.ready.
async fn a_driver_charges_through_the_operators_command_endpoint(backend: Backend) {
    let w = world(backend).await;
    let order = w.start(0).await;
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["state"], "starting", "accepted, not yet charging: {order}");
    let starts = w.operator.commands("start_session");
    assert_eq!(starts.len(), 1, "{starts:?}");
    let (key, command) = &starts[0];
    assert_eq!((command["session_id"].as_str(), command["connector_id"].as_str()), (Some(id.as_str()), Some("SZ1-P1-1")), "{command}");
    assert_eq!(key, &format!("{id}:start_session"));
    assert_eq!(*w.operator.bad_signatures.lock().unwrap(), 0);

    let (status, state) = w.event(&id, json!({"type": "started", "at": now()})).await;
    assert_eq!((status, state["state"].as_str()), (200, Some("charging")), "{state}");
    let (status, state) = w.event(&id, json!({"type": "charging", "at": now(), "energy_kwh": "5.00", "cost": "5.75", "soc": 40})).await;
    assert_eq!((status, state["state"].as_str()), (200, Some("charging")), "{state}");
    let seen = w.order(&id).await;
    assert_eq!((seen["energy_kwh"].as_str(), seen["amount"].as_str()), (Some("5.00"), Some("5.75")), "progress reaches the driver: {seen}");

    let (status, stopping) = w.app.post(&format!("/api/app/v1/orders/{id}/stop"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, stopping["state"].as_str()), (200, Some("stopping")), "{stopping}");
    assert_eq!(w.operator.commands("stop_session")[0].0, format!("{id}:stop_session"));
    let (status, _) = w.event(&id, json!({"type": "stopped", "at": now()})).await;
    assert_eq!(status, 200);

    let record = charge_record();
    let (status, verdict) = w.record(&id, &record).await;
    assert_eq!((status, verdict["verdict"].as_str()), (200, Some("accepted")), "{verdict}");
    let billed = w.wait_order(&id, |o| o["state"] == "billed").await;
    assert_eq!(billed["amount"].as_str(), Some("23.00"), "{billed}");
    // The same record again: the same answer, billed once.
    let (status, again) = w.record(&id, &record).await;
    assert_eq!((status, again["verdict"].as_str()), (200, Some("accepted")), "{again}");

    let (status, paid) = w.app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(&w.driver), &json!({})).await;
    assert_eq!((status, paid["state"].as_str()), (200, Some("paid")), "{paid}");
    let (_, wallet) = w.app.get("/api/app/v1/wallet", Some(&w.driver)).await;
    let balance: rust_decimal::Decimal = wallet["balance"].as_str().unwrap().parse().unwrap();
    assert_eq!(balance, rust_decimal::Decimal::from(177), "paid once: {wallet}");
    let news = w.operator.wait_webhook("order.paid").await;
    assert_eq!(news["data"]["session_id"].as_str(), Some(id.as_str()), "{news}");
    assert_eq!(news["data"]["gross"].as_str(), Some("23.00"), "{news}");
    // The default commission is 10 % of the service fee: 23.00 − 1.00.
    assert_eq!(news["data"]["partner_amount"].as_str(), Some("22.00"), "{news}");

    let period = json!({"start": (Utc::now() - chrono::Duration::days(1)).to_rfc3339(), "end": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339()});
    let (status, statement) = w.app.post(&format!("/api/admin/v1/partners/{}/statements", w.partner_id), Some(&w.admin), &period).await;
    assert_eq!(status, 201, "{statement}");
    let statement_id = statement["id"].as_str().unwrap();
    let (_, issued) = w.app.get(&format!("{API}/statements"), Some(&w.token)).await;
    assert_eq!(issued["total"], 0, "a draft is not issued yet: {issued}");
    let (status, confirmed) = w.app.post(&format!("/api/admin/v1/statements/{statement_id}/confirm"), Some(&w.admin), &json!({})).await;
    assert_eq!(status, 200, "{confirmed}");
    let ready = w.operator.wait_webhook("statement.ready").await;
    assert_eq!((ready["data"]["statement_id"].as_str(), ready["data"]["orders"].as_u64()), (Some(statement_id), Some(1)), "{ready}");
    let owed: rust_decimal::Decimal = ready["data"]["partner_amount"].as_str().unwrap().parse().unwrap();
    assert_eq!(owed, rust_decimal::Decimal::from(22), "{ready}");
    let (_, issued) = w.app.get(&format!("{API}/statements"), Some(&w.token)).await;
    assert_eq!((issued["total"].as_i64(), issued["items"][0]["id"].as_str()), (Some(1), Some(statement_id)), "{issued}");
    let (status, one) = w.app.get(&format!("{API}/statements/{statement_id}"), Some(&w.token)).await;
    assert_eq!((status, one["state"].as_str()), (200, Some("confirmed")), "{one}");
    assert!(one["body"].get("lines").is_none(), "a statement carries its totals; its lines are paged: {one}");
    let (status, page) = w.app.get(&format!("{API}/statements/{statement_id}/lines?limit=1"), Some(&w.token)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!((page["items"][0]["flow"].as_str(), page["items"][0]["energy_kwh"].as_str()), (Some("A"), Some("20.00")), "{page}");
    let cursor = page["next_cursor"].as_str().expect("a full page has a next cursor");
    let (_, last) = w.app.get(&format!("{API}/statements/{statement_id}/lines?limit=1&cursor={cursor}"), Some(&w.token)).await;
    assert_eq!((last["items"].as_array().map(Vec::len), &last["next_cursor"]), (Some(0), &Value::Null), "{last}");
    let (status, bad) = w.app.get(&format!("{API}/statements/{statement_id}/lines?cursor=yesterday"), Some(&w.token)).await;
    assert_eq!((status, bad["error"]["fields"][0]["field"].as_str()), (422, Some("cursor")), "{bad}");
    let (stranger, _, _) = join(&w.app, &w.admin, CODE_B, "operator", "http://127.0.0.1:9").await;
    let (status, _) = w.app.get(&format!("{API}/statements/{statement_id}"), Some(&stranger)).await;
    assert_eq!(status, 404, "another partner's statement is unknown to it");
    let (status, _) = w.app.get(&format!("{API}/statements/{statement_id}/lines"), Some(&stranger)).await;
    assert_eq!(status, 404, "and so are its lines");
    assert_eq!(*w.operator.bad_signatures.lock().unwrap(), 0);
    w.app.cleanup().await;
}

/// 运营商拒绝 → 订单失败并说明原因；无应答 → 结果未知，查询后确认未启动。
async fn refused_and_unanswered_commands(backend: Backend) {
    let w = world(backend).await;
    *w.operator.mode.lock().unwrap() = Mode::Refuse("connector_occupied");
    let refused = w.start(0).await;
    assert_eq!(refused["state"], "failed", "{refused}");
    assert!(refused["message_en"].as_str().unwrap().contains("occupied") || refused["message_zh"].as_str().unwrap().contains("占用"), "{refused}");

    *w.operator.mode.lock().unwrap() = Mode::Unavailable;
    let unknown = w.start(1).await;
    let id = unknown["id"].as_str().unwrap().to_owned();
    assert_eq!(unknown["state"], "unknown_outcome", "a 503 leaves the outcome unknown: {unknown}");
    // Past the deadline for a start result, we ask; the operator never started it.
    *w.operator.session_state.lock().unwrap() = "not_found";
    w.app.advance(chrono::Duration::minutes(3));
    let failed = w.wait_order(&id, |o| o["state"] == "failed").await;
    assert_eq!(w.operator.commands("get_session").last().unwrap().1["session_id"].as_str(), Some(id.as_str()), "{failed}");
    w.app.cleanup().await;
}

/// Reports are checked field by field, reach only the operator's own sessions, and need `cpo`.
async fn reports_are_checked_and_owned(backend: Backend) {
    let w = world(backend).await;
    let id = w.start(0).await["id"].as_str().unwrap().to_owned();
    let (status, _) = w.event(&id, json!({"type": "started", "at": now()})).await;
    assert_eq!(status, 200);

    let (status, error) = w.event(&id, json!({"type": "charging", "at": now(), "energy_kwh": "lots", "soc": 150})).await;
    assert_eq!(status, 422, "{error}");
    let fields: Vec<&str> = error["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["energy_kwh", "soc"], "{error}");
    let (status, error) = w.event(&id, json!({"type": "exploded", "at": now()})).await;
    assert_eq!((status, error["error"]["fields"][0]["field"].as_str()), (422, Some("type")), "{error}");

    let mut bad = charge_record();
    bad["periods"][0]["energy_kwh"] = json!("-1");
    bad["stop_reason"] = json!("tired");
    let (status, error) = w.record(&id, &bad).await;
    assert_eq!(status, 422, "{error}");
    let fields: Vec<&str> = error["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["stop_reason", "periods[0].energy_kwh"], "{error}");
    assert_eq!(w.order(&id).await["state"], "charging", "a refused record changes nothing");

    // Another operator, a platform token, an unknown id.
    let (other, _, _) = join(&w.app, &w.admin, CODE_B, "operator", "http://127.0.0.1:9").await;
    let (status, error) = w.app.post(&format!("{API}/sessions/{id}/events"), Some(&other), &json!({"type": "stopped", "at": now()})).await;
    assert_eq!(status, 404, "{error}");
    let (platform, _, _) = join(&w.app, &w.admin, CODE_C, "platform", "http://127.0.0.1:9").await;
    let (status, error) = w.app.post(&format!("{API}/sessions/{id}/charge-record"), Some(&platform), &charge_record()).await;
    assert_eq!((status, error["error"]["code"].as_str()), (403, Some("insufficient_scope")), "{error}");
    let (status, _) = w.event(&uuid::Uuid::now_v7().to_string(), json!({"type": "stopped", "at": now()})).await;
    assert_eq!(status, 404);
    assert_eq!(w.order(&id).await["state"], "charging", "none of them changed anything");

    // A record whose periods do not add up to its totals is held, not billed.
    let mut uneven = charge_record();
    uneven["total_money"] = json!("25.00");
    let (status, verdict) = w.record(&id, &uneven).await;
    assert_eq!((status, verdict["verdict"].as_str()), (200, Some("disputed")), "{verdict}");
    assert!(!verdict["discrepancies"].as_array().unwrap().is_empty(), "{verdict}");
    w.app.cleanup().await;
}

on_both_backends!(a_driver_charges_through_the_operators_command_endpoint, refused_and_unanswered_commands, reports_are_checked_and_owned);
