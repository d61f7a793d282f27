//! Flow-B sessions that must end, whatever happens around them: a stop that arrives while the
//! pile is still starting, many piles ending their sessions at the same instant, a database
//! that goes away and comes back, and the platform killed (SIGKILL) in the middle of it all.
//! Real traffic throughout: the partner platform is the T/CEC 102 eMSP simulator, our piles are
//! the OCPP 1.6J pile simulator over WebSocket.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use cec::Secrets;
use cec::messages::{ConnectorStatusCode, StartChargeSeqStat, SuccStat};
use common::{Backend, CODE_B, TestApp, application};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sim::cec_emsp::{EmspConfig, EmspSimulator, PlatformLink};
use sim::piles::{FleetConfig, PileFleet};

const WAIT: Duration = Duration::from_secs(30);

/// A running platform as its clients see it: a base URL.
#[derive(Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn of(app: &TestApp) -> Api {
        Api { base: app.base.clone(), http: reqwest::Client::new() }
    }

    async fn send(&self, method: reqwest::Method, path: &str, bearer: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        common::read(request.send().await.expect("request sent")).await
    }

    async fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, bearer, None).await
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, bearer, Some(body)).await
    }

    async fn put(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, bearer, Some(body)).await
    }
}

/// Our station CB0001 with `piles` one-connector piles CBP00001…, their simulated fleet online,
/// and an approved platform partner whose eMSP pulled the station and sees every connector free.
struct Network {
    emsp: EmspSimulator,
    fleet: PileFleet,
    /// Connector ids as the partner knows them, by pile (index 0 is CBP00001).
    connectors: Vec<String>,
}

async fn network(api: &Api, admin: &str, piles: usize, tune: impl FnOnce(&mut FleetConfig)) -> Network {
    let list: Vec<Value> = (1..=piles).map(|i| json!({"ocpp_id": format!("CBP{i:05}"), "power_kw": "60", "connectors": 1, "dc": true})).collect();
    let station = json!({
        "external_id": "CB0001", "name": "深圳湾自营充电站", "address": "深圳市南山区滨海大道1号", "area_code": "440305",
        "lat": 22.5152, "lng": 113.9510, "service_tel": "4008000000",
        "tariff": [{"start": "000000", "elec_price": "0.8000", "service_price": "0.6000"}],
        "piles": list
    });
    let (status, created) = api.post("/api/admin/v1/stations", Some(admin), &station).await;
    assert_eq!(status, 201, "{created}");

    // 第三方平台: 注册 → 审核通过 → 凭证; it registers where we reach it with the secrets it issued.
    let mut platform = application(CODE_B);
    platform["roles"] = json!("platform");
    let (status, registered) = api.post("/api/portal/v1/partners", None, &platform).await;
    assert_eq!(status, 201, "{registered}");
    let (partner_id, portal) = (registered["partner"]["id"].as_str().unwrap(), registered["portal_token"].as_str().unwrap());
    let (status, _) = api.post(&format!("/api/admin/v1/partners/{partner_id}/approve"), Some(admin), &json!({})).await;
    assert_eq!(status, 200);
    let (_, creds) = api.get("/api/portal/v1/partners/me/credentials", Some(portal)).await;
    let set = &creds["cec_issued"][0];
    let s = |k: &str| set[k].as_str().unwrap().to_owned();
    let theirs = Secrets::new("EmspOpSecret0001", "EmspDataSecret01", "EmspDataSecIV001", "EmspSigSecret001");
    let link = PlatformLink {
        base_url: api.base.clone(),
        version: "v1.0".into(),
        our_operator_id: s("operator_id"),
        secrets: Secrets::new(&s("operator_secret"), &s("data_secret"), &s("data_secret_iv"), &s("sig_secret")),
    };
    let emsp = EmspSimulator::start(EmspConfig::new(&s("operator_id"), theirs.clone(), link)).await.unwrap();
    let peer = json!({"base_url": emsp.base_url(), "version_segment": "v1.0", "operator_secret": theirs.operator_secret,
                      "data_secret": theirs.data_secret, "data_secret_iv": theirs.data_secret_iv, "sig_secret": theirs.sig_secret});
    let (status, body) = api.put("/api/portal/v1/partners/me/cec-peer", Some(portal), &peer).await;
    assert_eq!(status, 200, "{body}");

    let passwords = common::pile_passwords(&created);
    let mut config = FleetConfig::new(format!("{}/ocpp", api.base.replace("http://", "ws://")), piles);
    config.id_prefix = "CBP".into();
    config.connectors_per_pile = 1;
    config.password_for = std::sync::Arc::new(move |id| passwords.get(id).cloned());
    config.meter_interval = Duration::from_millis(500);
    config.power_w = 120_000;
    tune(&mut config);
    let fleet = PileFleet::start(config);
    assert!(fleet.wait_all_online(WAIT).await, "{} of {piles} piles online", fleet.online_count());

    assert_eq!(emsp.sync_stations().await.unwrap(), 1);
    let known: Vec<String> = emsp.stations()[0].equipment_infos.iter().flat_map(|e| e.connector_infos.iter().map(|c| c.connector_id.clone())).collect();
    let connectors: Vec<String> = (1..=piles).map(|i| format!("CB0001{i:03}01")).collect();
    for connector in &connectors {
        assert!(known.contains(connector), "{connector} not in {known:?}");
        for _ in 0..400 {
            if emsp.connector_status(connector) == Some(ConnectorStatusCode::Idle) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(emsp.connector_status(connector), Some(ConnectorStatusCode::Idle), "status pushes never showed {connector} free");
    }
    Network { emsp, fleet, connectors }
}

/// Starts a session on every connector at once and waits until each is charging; the sequences
/// by pile.
async fn charge_everywhere(n: &Network) -> Vec<String> {
    let starts = futures::future::join_all(n.connectors.iter().map(|c| n.emsp.start_charging(c))).await;
    let mut seqs = Vec::new();
    for start in starts {
        let (seq, answer) = start.unwrap();
        assert_eq!((answer.succ_stat, answer.start_charge_seq_stat), (SuccStat::Success, StartChargeSeqStat::Starting), "{answer:?}");
        seqs.push(seq);
    }
    for seq in &seqs {
        let charging = n.emsp.wait_session(seq, WAIT, |s| s.stat == Some(StartChargeSeqStat::Charging)).await;
        assert!(charging.is_some(), "{seq} never charging: {:?}", n.emsp.session(seq));
    }
    seqs
}

/// Waits until every pile has metered energy (and sent MeterValues for it).
async fn metering(n: &Network) {
    for pile in n.fleet.piles() {
        assert!(pile.wait_for(WAIT, |s| s.connectors[0].meter_wh >= 500).await.is_some(), "{} meters: {:?}", pile.id(), pile.snapshot());
    }
}

fn charge_records(emsp: &EmspSimulator, seq: &str) -> Vec<String> {
    emsp.received().into_iter().filter(|r| r.key == seq && r.interface == "notification_charge_order_info").map(|r| r.value).collect()
}

/// Every session billed exactly once, on both sides: the partner billed its user with the one
/// amount we sent (repeats of the record carry the same amount), and our order went through
/// one charge end and one bill.
async fn billed_exactly_once(api: &Api, admin: &str, emsp: &EmspSimulator, seqs: &[String]) {
    for seq in seqs {
        let session = emsp.wait_session(seq, WAIT, |s| s.billed.is_some()).await;
        let session = session.unwrap_or_else(|| panic!("{seq} never billed: {:?}", emsp.session(seq)));
        let billed = session.billed.unwrap();
        let records = charge_records(emsp, seq);
        assert!(!records.is_empty() && records.iter().all(|r| r.parse::<Decimal>().ok() == Some(billed)), "{seq}: records {records:?}, billed {billed}");

        let (status, found) = api.get(&format!("/api/admin/v1/orders?seq={seq}"), Some(admin)).await;
        assert_eq!(status, 200, "{found}");
        let id = found["items"][0]["id"].as_str().expect("the order is listed");
        let (_, detail) = api.get(&format!("/api/admin/v1/orders/{id}"), Some(admin)).await;
        assert_eq!(detail["state"], "billed", "{detail}");
        let events: Vec<&str> = detail["transitions"].as_array().unwrap().iter().filter_map(|t| t["event"].as_str()).collect();
        for once in ["charge_ended", "billed"] {
            assert_eq!(events.iter().filter(|e| **e == once).count(), 1, "{seq}: {once} exactly once in {events:?}");
        }
        let amount: Decimal = detail["billed_amount"].as_str().unwrap().parse().unwrap();
        assert_eq!(amount, billed, "{detail}");
    }
    let (_, stuck) = api.get("/api/admin/v1/orders?flow=b&state=charging", Some(admin)).await;
    assert_eq!(stuck["total"], 0, "no order stuck charging: {stuck}");
}

on_both_backends!(a_stop_while_the_pile_starts_is_carried_out, piles_ending_sessions_at_the_same_instant);

/// The partner's user stops while our pile is still starting the session (the remote start
/// was accepted, the driver has not plugged in, no StartTransaction yet). The stop is accepted,
/// not answered "already stopped"; when the pile starts the transaction it is stopped at once,
/// and the session ends billed (platform stop) with the partner told each step once.
async fn a_stop_while_the_pile_starts_is_carried_out(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.workers.outbox_poll = Duration::from_millis(50)).await;
    let admin = app.admin_token().await;
    let api = Api::of(&app);
    let n = network(&api, &admin, 1, |_| {}).await;
    let pile = n.fleet.pile(0);
    pile.hold_starts(true).await;

    let (seq, answer) = n.emsp.start_charging(&n.connectors[0]).await.unwrap();
    assert_eq!(answer.succ_stat, SuccStat::Success, "{answer:?}");
    // The pile accepted the remote start and waits for the driver.
    let preparing = pile.wait_for(WAIT, |s| s.connectors[0].status == ocpp::enums::ChargePointStatus::Preparing).await;
    assert!(preparing.is_some_and(|s| s.connectors[0].transaction_id.is_none()), "{:?}", pile.snapshot());

    let stop = n.emsp.stop_charging(&seq).await.unwrap();
    assert_eq!((stop.succ_stat, stop.fail_reason), (SuccStat::Success, 0), "a stop while starting is taken, not refused: {stop:?}");
    assert_eq!(stop.start_charge_seq_stat, StartChargeSeqStat::Starting, "{stop:?}");
    let again = n.emsp.stop_charging(&seq).await.unwrap();
    assert_eq!(again.succ_stat, SuccStat::Success, "asking twice is the same stop: {again:?}");

    // The driver plugs in: the pile starts the transaction, and it is stopped at once.
    pile.hold_starts(false).await;
    let ended = n.emsp.wait_session(&seq, WAIT, |s| s.billed.is_some()).await;
    let ended = ended.unwrap_or_else(|| panic!("never billed: {:?}; received {:?}", n.emsp.session(&seq), n.emsp.received()));
    assert!(ended.stopped, "the partner heard its stop succeed: {ended:?}");
    let record = ended.order.unwrap();
    assert_eq!(record.stop_reason.code(), 1, "stopped by the platform: {record:?}");
    let idle = pile.wait_for(WAIT, |s| s.connectors[0].transaction_id.is_none() && s.connectors[0].status == ocpp::enums::ChargePointStatus::Available).await;
    assert!(idle.is_some(), "the pile stopped charging: {:?}", pile.snapshot());

    let notices: Vec<_> = n.emsp.received().into_iter().filter(|r| r.key == seq).map(|r| r.interface).collect();
    let at = |name: &str| notices.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no {name} in {notices:?}"));
    assert!(at("notification_start_charge_result") < at("notification_stop_charge_result"), "{notices:?}");
    assert!(at("notification_stop_charge_result") < at("notification_charge_order_info"), "{notices:?}");
    for once in ["notification_start_charge_result", "notification_stop_charge_result", "notification_charge_order_info"] {
        assert_eq!(notices.iter().filter(|n| **n == once).count(), 1, "{once} exactly once: {notices:?}");
    }
    billed_exactly_once(&api, &admin, &n.emsp, std::slice::from_ref(&seq)).await;
    assert_eq!(pile.snapshot().call_errors, 0);
    n.fleet.shutdown().await;
    app.cleanup().await;
}

/// 24 piles end their partner's sessions at the same instant (StopTransaction, statuses and
/// meter values all at once). None of them gets a CALLERROR (a pile drops a transaction message
/// after a few), and every order ends billed exactly once.
async fn piles_ending_sessions_at_the_same_instant(backend: Backend) {
    const PILES: usize = 24;
    let app = TestApp::start_with(backend, |c| c.workers.outbox_poll = Duration::from_millis(50)).await;
    let admin = app.admin_token().await;
    let api = Api::of(&app);
    let n = network(&api, &admin, PILES, |_| {}).await;
    let seqs = charge_everywhere(&n).await;
    metering(&n).await;

    // Every driver stops at the pile at once.
    futures::future::join_all(n.fleet.piles().iter().map(|p| p.stop_local(1))).await;
    for pile in n.fleet.piles() {
        let done = pile.wait_for(WAIT, |s| s.queued == 0 && s.connectors[0].transaction_id.is_none()).await;
        assert!(done.is_some(), "{} delivered its StopTransaction: {:?}", pile.id(), pile.snapshot());
    }
    billed_exactly_once(&api, &admin, &n.emsp, &seqs).await;
    let errors: HashMap<&str, u32> = n.fleet.piles().iter().map(|p| (p.id(), p.snapshot().call_errors)).filter(|(_, e)| *e > 0).collect();
    assert!(errors.is_empty(), "piles answered with CALLERROR: {errors:?}");
    n.fleet.shutdown().await;
    app.cleanup().await;
}

/// A TCP relay between one app and PostgreSQL that the test can cut: the database becomes
/// unreachable for that app alone, as when its server stops, while the shared server runs on.
struct Relay {
    addr: std::net::SocketAddr,
    upstream: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay { addr: listener.local_addr().unwrap(), upstream, tasks: Default::default() };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (tasks, upstream) = (self.tasks.clone(), self.upstream.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(pipe.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }

    /// Closes every relayed connection and refuses new ones.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.expect("the relay's port again");
        self.serve(listener);
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    host.rsplit_once('@').map_or(host, |(_, h)| h)
}

/// PostgreSQL goes away under a running app: `/readyz` says 503 within a second and API calls
/// answer 503 "database unavailable, retry" with `Retry-After` after the short acquire wait,
/// not a 500 after ten seconds. When it is back, the app recovers without a restart.
#[tokio::test]
async fn database_outage_is_answered_at_once_and_recovered_from() {
    let upstream = authority(&store::testing::postgres_admin_url()).to_owned();
    let relay = Relay::start(upstream.clone()).await;
    let relayed = relay.addr.to_string();
    let app = TestApp::start_with(Backend::Postgres, |c| {
        let url = c.database_url.take().unwrap();
        c.database_url = Some(url.replacen(&upstream, &relayed, 1));
    })
    .await;
    let admin = app.admin_token().await;
    let api = Api::of(&app);
    let (status, _) = api.get("/api/admin/v1/partners", Some(&admin)).await;
    assert_eq!(status, 200);

    relay.cut();
    // Bounds, not measurements: a probe that takes longer than this is as good as no answer.
    let probe = reqwest::Client::builder().timeout(Duration::from_millis(1500)).build().unwrap();
    let ready = probe.get(app.url("/readyz")).send().await.expect("/readyz answers within a second or so");
    assert_eq!(ready.status(), 503);
    assert!(ready.headers().contains_key("retry-after"));
    let text = ready.text().await.unwrap();
    assert!(text.contains("database unavailable") && text.contains("数据库"), "{text}");

    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let answer = client.get(app.url("/api/admin/v1/partners")).bearer_auth(&admin).send().await.expect("answered after the short acquire wait");
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("retry"), "{body}");
    assert!(body["error"]["message_zh"].as_str().unwrap().contains("重试"), "{body}");

    relay.restore().await;
    let mut ready = 0;
    for _ in 0..100 {
        ready = probe.get(app.url("/readyz")).send().await.map_or(0, |r| r.status().as_u16());
        if ready == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, 200, "ready again once the database is back");
    let (status, listed) = api.get("/api/admin/v1/partners", Some(&admin)).await;
    assert_eq!(status, 200, "{listed}");
    app.cleanup().await;
}

/// `chargebridge serve` as its own process on a SQLite data directory; SIGKILLed when dropped.
struct Serve {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Serve {
    fn start(dir: &std::path::Path, port: u16, run: u32) -> Serve {
        let config = dir.join("chargebridge.toml");
        std::fs::write(
            &config,
            format!("data_dir = {:?}\n[http]\nbind = \"127.0.0.1:{port}\"\n[partners]\nallow_private_endpoints = true\n", dir.display().to_string()),
        )
        .unwrap();
        let log = dir.join(format!("serve-{run}.log"));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_chargebridge"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the binary runs");
        Serve { child, log }
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&self, api: &Api) {
        for _ in 0..300 {
            if api.http.get(format!("{}/readyz", api.base)).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never ready; log:\n{}", self.log());
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn admin_login(api: &Api, dir: &std::path::Path) -> String {
    let password = std::fs::read_to_string(dir.join("chargebridge.initial-admin-password")).expect("the first start wrote the admin password");
    let (status, body) = api.post("/api/admin/v1/login", None, &json!({"username": "admin", "password": password.trim()})).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// The real binary on a SQLite file is SIGKILLed while its piles end sessions, and started
/// again on the same data: the piles reconnect and deliver what they queued, and every session
/// the partner had started ends billed exactly once, with no lock error left and no order
/// stuck charging.
#[tokio::test]
async fn killed_mid_workload_and_restarted_on_sqlite() {
    const PILES: usize = 8;
    common::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let api = Api { base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() };
    let mut first = Serve::start(dir.path(), port, 1);
    first.wait_ready(&api).await;
    let admin = admin_login(&api, dir.path()).await;
    let n = network(&api, &admin, PILES, |c| {
        c.tick = Duration::from_millis(100);
        c.reconnect_min = Duration::from_millis(200);
        c.reconnect_max = Duration::from_secs(1);
    })
    .await;
    let seqs = charge_everywhere(&n).await;
    metering(&n).await;

    // Half the drivers stop at once and the platform dies while it records that; the other
    // half stop while it is down, so their piles queue the StopTransaction.
    let (early, late) = n.fleet.piles().split_at(PILES / 2);
    futures::future::join_all(early.iter().map(|p| p.stop_local(1))).await;
    first.kill();
    futures::future::join_all(late.iter().map(|p| p.stop_local(1))).await;
    for pile in late {
        assert!(pile.wait_for(WAIT, |s| !s.online && s.connectors[0].transaction_id.is_none()).await.is_some(), "{:?}", pile.snapshot());
    }

    let second = Serve::start(dir.path(), port, 2);
    second.wait_ready(&api).await;
    let admin = admin_login(&api, dir.path()).await;
    for pile in n.fleet.piles() {
        let delivered = pile.wait_for(WAIT, |s| s.online && s.queued == 0 && s.connectors[0].transaction_id.is_none()).await;
        assert!(delivered.is_some(), "{} reconnected and delivered its queue: {:?}\n{}", pile.id(), pile.snapshot(), second.log());
    }
    billed_exactly_once(&api, &admin, &n.emsp, &seqs).await;
    let errors: HashMap<&str, u32> = n.fleet.piles().iter().map(|p| (p.id(), p.snapshot().call_errors)).filter(|(_, e)| *e > 0).collect();
    assert!(errors.is_empty(), "piles answered with CALLERROR: {errors:?}\n{}", second.log());
    for log in [first.log(), second.log()] {
        let locked: Vec<&str> = log.lines().filter(|l| (l.contains("WARN") || l.contains("ERROR")) && l.contains("locked")).collect();
        assert!(locked.is_empty(), "lock errors: {locked:#?}");
    }
    n.fleet.shutdown().await;
}
