//! The operator CLI against a real SQLite data directory: what `--json` prints is what scripts
//! rely on, and it enforces the same review rules as the HTTP API.

use crate::common;

use std::process::Command;

use common::{Backend, CODE_A, TestApp, application};

fn chargebridge(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_chargebridge")).arg("--config").arg(config).args(args).env_remove("DATABASE_URL").output().expect("binary runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into(), String::from_utf8_lossy(&output.stderr).into())
}

#[tokio::test]
async fn operator_reviews_from_the_command_line() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (id, portal) = app.register(&application(CODE_A)).await;
    let config = app.config.data_dir.join("chargebridge.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", app.config.data_dir.display().to_string())).unwrap();

    let (ok, out, err) = chargebridge(&config, &["partner", "list", "--state", "submitted", "--json"]);
    assert!(ok, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"].as_str(), Some(id.as_str()));

    // Refused: a rejection needs a reason of at least two characters; nothing changes.
    let (ok, _, err) = chargebridge(&config, &["partner", "reject", &id, "--reason", "x"]);
    assert!(!ok && err.contains("reason"), "{err}");

    // By OperatorID, as operators type it.
    let (ok, out, err) = chargebridge(&config, &["partner", "approve", "ma5fctxx0", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["state"], "approved");
    let (ok, _, err) = chargebridge(&config, &["partner", "approve", &id]);
    assert!(!ok && err.contains("cannot approve a partner that is approved"), "{err}");

    // The partner sees the approval through the running server (same database).
    let (_, me) = app.get("/api/portal/v1/partners/me", Some(&portal)).await;
    assert_eq!(me["state"], "approved");

    let (ok, out, err) = chargebridge(&config, &["partner", "credentials", &id, "--json"]);
    assert!(ok, "{err}");
    let creds: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(creds["api_client_ids"][0]["secret_not_yet_shown"], true);
    assert!(!out.contains("cbs_"), "secrets are never printed");

    let (ok, out, _) = chargebridge(&config, &["partner", "show", &id]);
    assert!(ok && out.contains("approve"), "{out}");
    let (ok, _, err) = chargebridge(&config, &["partner", "show", "NOSUCH001"]);
    assert!(!ok && err.contains("not found"), "{err}");
}

/// The README's admin command as written there, beside a platform that serves from the same
/// data directory: the password variable is the command's, not a setting.
#[tokio::test]
async fn readme_create_user_takes_the_password_from_the_environment() {
    let app = TestApp::start(Backend::Sqlite).await;
    let config = app.config.data_dir.join("chargebridge.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", app.config.data_dir.display().to_string())).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chargebridge"))
        .arg("--config")
        .arg(&config)
        .args(["admin", "create-user", "--username", "alice"])
        .env("CHARGEBRIDGE_ADMIN_PASSWORD", "correct horse battery")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("binary runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (status, body) = app.post("/api/admin/v1/login", None, &serde_json::json!({"username": "alice", "password": "correct horse battery"})).await;
    assert_eq!(status, 200, "alice logs in with the password from the environment: {body}");
}

/// `serve` starts although the admin password variable of the README is still set in the shell.
#[test]
fn serve_starts_with_the_admin_password_variable_set() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chargebridge.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n[http]\nbind = \"127.0.0.1:0\"\n", dir.path().display().to_string())).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chargebridge"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("CHARGEBRIDGE_ADMIN_PASSWORD", "correct horse battery")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    let mut log = String::new();
    let listening = std::io::BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok).any(|line| {
        log.push_str(&line);
        log.push('\n');
        line.contains("chargebridge listening on")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "serve did not start:\n{log}");
}

/// An admin command run where there is no installation says where it looked and how to point
/// it at one, exits non-zero and leaves the directory as it was; `migrate` creates one.
#[test]
fn commands_outside_an_installation_say_so_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_chargebridge"))
            .current_dir(dir.path())
            .args(args)
            .env("CHARGEBRIDGE_ADMIN_PASSWORD", "correct horse battery")
            .env_remove("DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("binary runs");
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    for args in [&["partner", "list"][..], &["partner", "show", "MA5FCTXX0"], &["admin", "create-user", "--username", "alice"]] {
        let (ok, err) = run(args);
        assert!(!ok, "{args:?} succeeded without a database");
        for words in ["no database at ./chargebridge.db", "--config", "DATABASE_URL", "未找到数据库"] {
            assert!(err.contains(words), "{args:?}: {words:?} missing from:\n{err}");
        }
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing is created: {left:?}");

    let (ok, err) = run(&["migrate"]);
    assert!(ok, "{err}");
    assert!(dir.path().join("chargebridge.db").exists() && dir.path().join("chargebridge.master.key").exists());
    let (ok, err) = run(&["partner", "list"]);
    assert!(ok, "{err}");
}

/// A `chargebridge sim …` process, killed when the test ends however it ends. Its stdout lines
/// and stderr lines are collected as they come.
struct Simulator {
    child: std::process::Child,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Simulator {
    fn start(args: &[&str]) -> Simulator {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_chargebridge"))
            .arg("sim")
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("binary runs");
        let (lines, stdout) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (err, log) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Simulator { child, stdout, stderr }
    }

    /// The first line on stdout, as JSON (generous timeout: the binary may start on a busy machine).
    fn first_json(&self) -> serde_json::Value {
        let line = self.stdout.recv_timeout(std::time::Duration::from_secs(60)).unwrap_or_else(|_| panic!("no output; stderr:\n{}", self.log()));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Polls `done` every 100 ms for up to 60 s.
    async fn wait(&self, what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..600 {
            if done() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}; simulator log:\n{}", self.log());
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn simulated_piles_come_online_in_our_network() {
    use domain::station::ConnectorStatus;
    use serde_json::json;

    let app = TestApp::start(Backend::Sqlite).await;
    let admin = app.admin_token().await;
    let piles: Vec<_> = (1..=3).map(|i| json!({"ocpp_id": format!("CLIP{i:05}"), "power_kw": "60", "connectors": 2, "dc": true})).collect();
    let station = json!({
        "external_id": "CLI0001", "name": "命令行测试站", "address": "深圳市福田区", "area_code": "440304",
        "lat": 22.54, "lng": 114.05, "service_tel": "4008000000",
        "tariff": [{"start": "000000", "elec_price": "0.5000", "service_price": "0.3000"}], "piles": piles
    });
    let (status, created) = app.post("/api/admin/v1/stations", Some(&admin), &station).await;
    assert_eq!(status, 201, "{created}");
    // The admin's answer, saved as it came, is the simulator's password file.
    let passwords = app.config.data_dir.join("created.json");
    std::fs::write(&passwords, created.to_string()).unwrap();
    let connectors: Vec<uuid::Uuid> = created["piles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["connector_ids"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(connectors.len(), 6);

    let url = format!("{}/ocpp", app.base.replace("http://", "ws://"));
    let sim =
        Simulator::start(&["piles", "--url", &url, "--count", "3", "--prefix", "CLIP", "--password-file", passwords.to_str().unwrap(), "--report-every", "1"]);
    let control = app.services.pile_control.clone().unwrap();
    let ids = ["CLIP00001", "CLIP00002", "CLIP00003"];
    sim.wait("the piles to connect", || ids.iter().all(|id| control.is_connected(id))).await;
    let hub = &app.services.hub;
    sim.wait("every connector to report available", || connectors.iter().all(|c| hub.reading(*c).is_some_and(|r| r.status == ConnectorStatus::Available)))
        .await;
    sim.wait("the report that all are online", || sim.log().contains("all 3 piles online")).await;
    assert!(sim.log().contains("启动 3 个模拟充电桩"), "bilingual banner:\n{}", sim.log());

    // The process held the connections: when it goes, so do they.
    drop(sim);
    for _ in 0..600 {
        if ids.iter().all(|id| !control.is_connected(id)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("piles still connected after the simulator was killed");
}

#[tokio::test]
async fn simulated_cpo_serves_its_catalog_and_pushes_status() {
    use serde_json::json;

    let app = TestApp::start_with(Backend::Sqlite, |c| c.workers.status_flush = std::time::Duration::from_millis(50)).await;
    let admin = app.admin_token().await;
    let (partner_id, portal) = app.register(&application(CODE_A)).await;
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{partner_id}/approve"), Some(&admin), &json!({})).await;
    assert_eq!(status, 200);
    // The portal's credentials answer, saved as it came, tells the simulator how to call us.
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let file = app.config.data_dir.join("credentials.json");
    std::fs::write(&file, creds.to_string()).unwrap();

    let sim = Simulator::start(&[
        "cpo",
        "--bind",
        "127.0.0.1:0",
        "--operator-id",
        "MA5FCTXX0",
        "--stations",
        "3",
        "--status-change-ms",
        "100",
        "--platform-url",
        &app.base,
        "--platform-credentials",
        file.to_str().unwrap(),
        "--report-every",
        "1",
    ]);
    // What it prints is what the partner registers with us, as is.
    let peer = sim.first_json();
    assert_eq!(peer["operator_id"], "MA5FCTXX0");
    let (status, body) = app.put("/api/portal/v1/partners/me/cec-peer", Some(&portal), &peer).await;
    assert_eq!(status, 200, "{body}");

    // We pull its catalog with the secrets it printed.
    let (status, report) = app.post(&format!("/api/admin/v1/partners/{partner_id}/sync"), Some(&admin), &json!({})).await;
    assert_eq!(status, 200, "{report}; simulator log:\n{}", sim.log());
    assert_eq!(report["stations"], 3, "{report}");
    assert_eq!(report["connectors"], 24, "{report}");

    // Cars come and go there; its pushes, signed with what we issued, reach our status hub.
    let mut changes = app.services.hub.subscribe();
    let change = tokio::time::timeout(std::time::Duration::from_secs(60), changes.recv()).await;
    assert!(matches!(change, Ok(Ok(_))), "no status push arrived; simulator log:\n{}", sim.log());
    sim.wait("the narrated push report", || sim.log().contains("status pushes:") && sim.log().contains("delivered")).await;
}

#[tokio::test]
async fn simulated_partner_platform_pulls_our_stations_and_hears_their_status() {
    use domain::station::ConnectorStatus;
    use serde_json::json;

    let app = TestApp::start_with(Backend::Sqlite, |c| c.workers.outbox_poll = std::time::Duration::from_millis(50)).await;
    let admin = app.admin_token().await;
    let station = json!({
        "external_id": "CLIE0001", "name": "命令行测试站", "address": "深圳市福田区", "area_code": "440304",
        "lat": 22.54, "lng": 114.05, "service_tel": "4008000000",
        "tariff": [{"start": "000000", "elec_price": "0.5000", "service_price": "0.3000"}],
        "piles": [{"ocpp_id": "CLIE00001", "power_kw": "7", "connectors": 1, "dc": false}]
    });
    let (status, created) = app.post("/api/admin/v1/stations", Some(&admin), &station).await;
    assert_eq!(status, 201, "{created}");
    let mut platform = application(common::CODE_B);
    platform["roles"] = json!("platform");
    let (partner_id, portal) = app.register(&platform).await;
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{partner_id}/approve"), Some(&admin), &json!({})).await;
    assert_eq!(status, 200);
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let file = app.config.data_dir.join("credentials.json");
    std::fs::write(&file, creds.to_string()).unwrap();

    let sim = Simulator::start(&[
        "emsp",
        "--bind",
        "127.0.0.1:0",
        "--operator-id",
        &common::CODE_B[8..17],
        "--platform-url",
        &app.base,
        "--platform-credentials",
        file.to_str().unwrap(),
        "--report-every",
        "1",
    ]);
    let peer = sim.first_json();
    let (status, body) = app.put("/api/portal/v1/partners/me/cec-peer", Some(&portal), &peer).await;
    assert_eq!(status, 200, "{body}");
    sim.wait("the pull of our stations", || sim.log().contains("pulled 1 stations with 1 connectors")).await;

    // Our pile reports a status; it is pushed to the partner, which says so.
    app.services.pile_status("CLIE00001", 1, ConnectorStatus::Available, chrono::Utc::now()).await.unwrap();
    sim.wait("our status push", || sim.log().contains("1 status pushes received")).await;
}

/// The README's first command, as a fresh machine runs it: both flows narrated end to end on the
/// embedded SQLite default, in English and Chinese, then exit.
#[test]
fn the_demo_walks_both_flows() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chargebridge.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n[http]\nbind = \"127.0.0.1:0\"\n", dir.path().display().to_string())).unwrap();
    let (ok, out, err) = chargebridge(&config, &["demo", "--exit"]);
    assert!(ok, "{out}\n{err}");
    assert!(dir.path().join("demo/chargebridge.db").exists(), "the demo keeps its data apart");
    assert!(!dir.path().join("chargebridge.db").exists());
    for step in [
        "catalog synced: 1000 stations",
        "paid from the wallet; settlement line recorded",
        "the partner pulled our stations (query_stations_info): 1",
        "charge-end record delivered and confirmed",
        "reconciled with the partner (check_charge_orders): 1 order(s), 0 difference(s)",
        "settlement statement (draft)",
        "demo finished",
        "演示结束",
    ] {
        assert!(out.contains(step) || err.contains(step), "missing {step:?}:\n{out}\n{err}");
    }
}
