//! Flow A end to end with the REST operator simulator of `crates/sim` as the operator: it is
//! written from docs/partner-api.md alone (no server types), so this proves the documented
//! contract from both ends. Upload stations → status → a driver starts in the app → our signed
//! command → the simulator's events → its charge record → bill → wallet payment → `order.paid`
//! at the simulator's webhook receiver.

use crate::common;

use std::time::Duration;

use common::{Backend, CODE_A, TestApp, application};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sim::rest_cpo::{Misbehaviour, PlatformLink, RestCpoConfig, RestCpoSimulator, SessionState};

const WAIT: Duration = Duration::from_secs(30);

/// An operator registered on the REST API and approved: `(portal token, api client id, secret,
/// webhook secret)`.
async fn register_operator(app: &TestApp, admin: &str) -> (String, String, String, String) {
    let mut form = application(CODE_A);
    form["roles"] = json!("operator");
    form["protocol"] = json!("rest_api");
    form["callback_base_url"] = json!("http://127.0.0.1:9/cb");
    let (id, portal) = app.register(&form).await;
    let (status, approved) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(admin), &json!({})).await;
    assert_eq!(status, 200, "{approved}");
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let field = |pointer: &str| creds.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{pointer} in {creds}")).to_owned();
    (portal, field("/api/0/client_id"), field("/api/0/client_secret"), field("/webhook_secret"))
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("a decimal string, not {v}")).parse().unwrap()
}

struct World {
    app: TestApp,
    operator: RestCpoSimulator,
    driver: String,
    /// Our id of one of the simulator's DC connectors.
    connector: String,
}

/// The platform, the simulator registered, its catalog uploaded and a connector reading
/// available, and a driver with 200 yuan in the wallet.
async fn world(backend: Backend, misbehaviour: Misbehaviour) -> World {
    let app = TestApp::start_with(backend, |c| {
        c.workers.outbox_poll = Duration::from_millis(50);
        c.sandbox_pay.enabled = Some(true);
        c.sandbox_pay.test_hooks = true;
    })
    .await;
    let admin = app.admin_token().await;
    let (portal, client_id, client_secret, webhook_secret) = register_operator(&app, &admin).await;

    let mut config = RestCpoConfig::new(PlatformLink { base_url: app.base.clone(), client_id, client_secret }, &webhook_secret);
    config.stations = 2;
    config.piles_per_station = 2;
    config.connectors_per_pile = 2;
    config.start_delay = Duration::from_millis(200);
    config.charging_interval = Duration::from_millis(300);
    config.misbehaviour = misbehaviour;
    let operator = RestCpoSimulator::start(config).await.unwrap();
    let (status, moved) = app.put("/api/portal/v1/partners/me/callback", Some(&portal), &json!({"callback_base_url": operator.callback_base_url()})).await;
    assert_eq!(status, 200, "{moved}");
    // Stations and status, as the simulator uploads them.
    assert_eq!(operator.upload_catalog().await, Ok(2), "{:?}", operator.reports());
    let uploaded = operator.reports().into_iter().find(|r| r.kind == "stations").expect("the batch upload");
    let (_, answer) = uploaded.outcome.clone().unwrap();
    // A DC pile, so a few seconds of charging come to real money.
    let (station_index, connector) = operator
        .stations()
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s["piles"].as_array().unwrap().iter().map(move |p| (i, p)))
        .find(|(_, p)| p["type"] == "dc")
        .map(|(i, p)| (i, p["connectors"][0]["id"].as_str().unwrap().to_owned()))
        .expect("a DC pile in the catalog");
    let station_id = answer["results"][station_index]["id"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned();
    let mut ours = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, detail) = app.get(&format!("/api/app/v1/stations/{station_id}"), None).await;
        if ours.is_empty() {
            let found = detail["connectors"].as_array().into_iter().flatten().find(|c| c["external_id"] == connector.as_str());
            ours = found.and_then(|c| c["id"].as_str()).unwrap_or_default().to_owned();
        }
        let live = detail["connectors_live"].as_array().into_iter().flatten().find(|c| c["id"] == ours.as_str());
        if live.is_some_and(|c| c["status"] == "available") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{connector} never read available: {detail}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (_, session) = app.post("/api/app/v1/users", None, &json!({"phone": "13912345678", "password": "drive-safely"})).await;
    let driver = session["token"].as_str().unwrap().to_owned();
    let (status, credited) = app.post("/sandbox/pay/test/wallet-credit", None, &json!({"phone": "13912345678", "amount": "200.00"})).await;
    assert_eq!(status, 200, "{credited}");
    World { app, operator, driver, connector: ours }
}

impl World {
    /// Starts in the app as the driver: the order.
    async fn start(&self) -> Value {
        let (status, order) = self.app.post("/api/app/v1/charging/start", Some(&self.driver), &json!({"connector_id": self.connector})).await;
        assert_eq!(status, 201, "{order}");
        order
    }

    async fn wait_order(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, seen) = self.app.get(&format!("/api/app/v1/orders/{id}"), Some(&self.driver)).await;
            if done(&seen) {
                return seen;
            }
            assert!(tokio::time::Instant::now() < deadline, "the order never got there: {seen}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// 上传站点 → 状态 → 用户启动 → 指令 → 事件 → 充电记录 → 计费 → 钱包支付 → order.paid.
async fn the_rest_operator_simulator_serves_a_driver_end_to_end(backend: Backend) {
    let w = world(backend, Misbehaviour::default()).await;
    let (app, operator, driver) = (&w.app, &w.operator, &w.driver);
    // The driver starts in the app; the platform commands the simulator.
    let id = w.start().await["id"].as_str().unwrap().to_owned();
    let started = operator.wait_session(&id, WAIT, |s| s.state == SessionState::Charging).await;
    assert!(started.is_some(), "the simulator never charged: {:?} / {:?}", operator.commands(), operator.sessions());
    assert_eq!(operator.commands()[0].idempotency_key.as_deref(), Some(format!("{id}:start_session").as_str()));
    assert_eq!(operator.bad_signatures(), 0);

    // Progress reaches the driver; the driver stops; the record closes the session.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, stopping) = app.post(&format!("/api/app/v1/orders/{id}/stop"), Some(driver), &json!({})).await;
    assert_eq!(status, 200, "{stopping}");
    let ended = operator.wait_session(&id, WAIT, |s| s.record_answer.is_some()).await.expect("a charge record was sent");
    let (record_status, verdict) = ended.record_answer.clone().unwrap();
    assert_eq!((record_status, verdict["verdict"].as_str()), (200, Some("accepted")), "{verdict}; record {:?}", ended.record);
    let record = ended.record.unwrap();
    let events: Vec<sim::rest_cpo::Report> = operator.reports().into_iter().filter(|r| r.kind == "event" && r.path.contains(&id)).collect();
    let types: Vec<&str> = events.iter().map(|r| r.body["type"].as_str().unwrap()).collect();
    assert_eq!((types.first(), types.last()), (Some(&"started"), Some(&"stopped")), "{types:?}");
    assert!(events.iter().all(|r| matches!(r.outcome, Ok((200, _)))), "every event taken: {events:?}");

    let billed = w.wait_order(&id, |o| o["state"] == "billed").await;
    assert_eq!(dec(&billed["amount"]), dec(&record["total_money"]), "billed what the record says: {billed} / {record}");
    assert!(dec(&record["total_money"]) > Decimal::ZERO, "{record}");

    // The driver pays from the wallet; the operator hears it.
    let (status, paid) = app.post(&format!("/api/app/v1/orders/{id}/pay"), Some(driver), &json!({})).await;
    assert_eq!((status, paid["state"].as_str()), (200, Some("paid")), "{paid}");
    let news = operator.wait_webhook("order.paid", WAIT, |d| d["session_id"] == id.as_str()).await;
    let news = news.unwrap_or_else(|| panic!("no order.paid; webhooks {:?}", operator.webhooks()));
    assert_eq!(dec(&news.data["gross"]), dec(&record["total_money"]), "{news:?}");
    assert_eq!(dec(&news.data["partner_amount"]) + dec(&news.data["commission"]), dec(&news.data["gross"]), "{news:?}");
    assert_eq!(operator.bad_signatures(), 0);
    let World { app, operator, .. } = w;
    drop(operator);
    app.cleanup().await;
}

/// 运营商拒绝 → 订单失败；账目不平的充电记录 → 争议，不向用户收费.
async fn a_refusing_operator_and_a_record_that_does_not_add_up(backend: Backend) {
    let w = world(backend, Misbehaviour { refuse_commands: true, ..Misbehaviour::default() }).await;
    let refused = w.start().await;
    let refused = w.wait_order(refused["id"].as_str().unwrap(), |o| o["state"] == "failed").await;
    assert_eq!(w.operator.commands()[0].answer.1["reason"], "other", "{refused}");
    assert!(w.operator.sessions().is_empty());

    w.operator.set_misbehaviour(Misbehaviour { unbalanced_records: true, ..Misbehaviour::default() });
    let id = w.start().await["id"].as_str().unwrap().to_owned();
    w.operator.wait_session(&id, WAIT, |s| s.state == SessionState::Charging).await.expect("charging");
    let (status, stopping) = w.app.post(&format!("/api/app/v1/orders/{id}/stop"), Some(&w.driver), &json!({})).await;
    assert_eq!(status, 200, "{stopping}");
    let ended = w.operator.wait_session(&id, WAIT, |s| s.record_answer.is_some()).await.expect("a charge record was sent");
    let (status, verdict) = ended.record_answer.unwrap();
    assert_eq!((status, verdict["verdict"].as_str()), (200, Some("disputed")), "{verdict}");
    assert!(!verdict["discrepancies"].as_array().is_none_or(Vec::is_empty), "{verdict}");
    let (_, order) = w.app.get(&format!("/api/app/v1/orders/{id}"), Some(&w.driver)).await;
    assert_ne!(order["state"], "billed", "a disputed record is not billed to the driver: {order}");
    let World { app, operator, .. } = w;
    drop(operator);
    app.cleanup().await;
}

on_both_backends!(the_rest_operator_simulator_serves_a_driver_end_to_end, a_refusing_operator_and_a_record_that_does_not_add_up);

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `chargebridge sim cpo --protocol rest` as its own process: it prints its callback base,
/// uploads its catalog, and a driver charges at one of its connectors through it.
#[tokio::test]
async fn the_rest_operator_simulator_runs_as_a_command() {
    use std::io::BufRead;
    let app = TestApp::start_with(Backend::Sqlite, |c| c.workers.outbox_poll = Duration::from_millis(50)).await;
    let admin = app.admin_token().await;
    let (portal, client_id, client_secret, webhook_secret) = register_operator(&app, &admin).await;
    let file = app.config.data_dir.join("rest-credentials.json");
    std::fs::write(&file, json!({"client_id": client_id, "client_secret": client_secret, "webhook_secret": webhook_secret}).to_string()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chargebridge"))
        .args(["sim", "cpo", "--protocol", "rest", "--bind", "127.0.0.1:0", "--stations", "2", "--status-change-ms", "0", "--start-delay-ms", "200"])
        .args(["--platform-url", &app.base, "--credentials", file.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary runs");
    let stdout = child.stdout.take().unwrap();
    let _child = KillOnDrop(child);
    let mut first = String::new();
    std::io::BufReader::new(stdout).read_line(&mut first).unwrap();
    let printed: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    let (status, moved) = app.put("/api/portal/v1/partners/me/callback", Some(&portal), &json!({"callback_base_url": printed["callback_base_url"]})).await;
    assert_eq!(status, 200, "{moved}");

    // Its stations appear near Shenzhen with free connectors.
    let deadline = tokio::time::Instant::now() + WAIT;
    let connector = loop {
        let (_, nearby) = app.get("/api/app/v1/stations/nearby?lat=22.6&lng=114.05&radius_m=50000&free_now=true", None).await;
        let mut found = None;
        for station in nearby["items"].as_array().into_iter().flatten() {
            let (_, detail) = app.get(&format!("/api/app/v1/stations/{}", station["id"].as_str().unwrap()), None).await;
            found = found.or_else(|| detail["connectors_live"].as_array()?.iter().find(|c| c["status"] == "available")?["id"].as_str().map(str::to_owned));
        }
        if let Some(found) = found {
            break found;
        }
        assert!(tokio::time::Instant::now() < deadline, "no free connector of the simulator: {nearby}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, session) = app.post("/api/app/v1/users", None, &json!({"phone": "13912345678", "password": "drive-safely"})).await;
    let driver = session["token"].as_str().unwrap().to_owned();
    let (status, order) = app.post("/api/app/v1/charging/start", Some(&driver), &json!({"connector_id": connector})).await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, seen) = app.get(&format!("/api/app/v1/orders/{id}"), Some(&driver)).await;
        if seen["state"] == "charging" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the simulator never started: {seen}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.cleanup().await;
}
