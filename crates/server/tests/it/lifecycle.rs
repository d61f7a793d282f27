//! The process's life: a SIGTERM stops the real binary promptly even while a client holds the
//! SSE status stream open, and what it acknowledged just before is in the database afterwards;
//! a client that never finishes its request head is disconnected.

use crate::common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{Backend, TestApp};
use domain::station::ConnectorStatus;
use serde_json::{Value, json};
use sim::piles::{FleetConfig, PileFleet};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The `serve` command on a fresh data directory, its stderr lines collected as they come.
struct Served {
    child: std::process::Child,
    stderr: std::sync::mpsc::Receiver<String>,
    dir: tempfile::TempDir,
}

impl Served {
    fn start() -> (Served, String) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("chargebridge.toml");
        std::fs::write(&config, format!("data_dir = {:?}\n[http]\nbind = \"127.0.0.1:0\"\n", dir.path().display().to_string())).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_chargebridge"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary runs");
        let (lines, stderr) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut served = Served { child, stderr, dir };
        let base = served.wait_for_line("chargebridge listening on ").split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
        (served, base)
    }

    /// The first stderr line containing `text` (generous timeout: the machine may be busy).
    fn wait_for_line(&mut self, text: &str) -> String {
        let mut seen = String::new();
        loop {
            match self.stderr.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => seen.push_str(&(line + "\n")),
                Err(_) => panic!("no line with {text:?}; stderr so far:\n{seen}"),
            }
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits up to a minute for the process to exit; `None` if it did not.
    async fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next `event: status` on an SSE response, as JSON.
async fn next_status_event(stream: &mut reqwest::Response, buffer: &mut String) -> Option<Value> {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.lines().any(|l| l == "event: status") {
                let data = event.lines().find_map(|l| l.strip_prefix("data: ")).expect("data line");
                return Some(serde_json::from_str(data).unwrap());
            }
            continue;
        }
        let chunk = stream.chunk().await.ok()??;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn sigterm_ends_sse_streams_flushes_statuses_and_exits() {
    common::install_crypto();
    let (mut served, base) = Served::start();
    let http = reqwest::Client::new();

    // The first admin's password, then our station with one pile.
    let password = std::fs::read_to_string(served.dir.path().join("chargebridge.initial-admin-password")).unwrap();
    let login: Value =
        http.post(format!("{base}/api/admin/v1/login")).json(&json!({"username": "admin", "password": password})).send().await.unwrap().json().await.unwrap();
    let admin = login["token"].as_str().expect("admin logged in").to_owned();
    let station = json!({
        "external_id": "CB0001", "name": "深圳湾自营充电站", "address": "深圳市南山区滨海大道1号", "area_code": "440305",
        "lat": 22.5152, "lng": 113.9510, "service_tel": "4008000000",
        "tariff": [{"start": "000000", "elec_price": "0.8000", "service_price": "0.6000"}],
        "piles": [{"ocpp_id": "CBP00001", "power_kw": "120", "connectors": 2, "dc": true}]
    });
    let created = http.post(format!("{base}/api/admin/v1/stations")).bearer_auth(&admin).json(&station).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let pile_password = created["piles"][0]["password"].as_str().unwrap().as_bytes().to_vec();

    // A driver's app follows live status; the pile comes online.
    let mut stream = http.get(format!("{base}/api/app/v1/status/stream")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut fleet = FleetConfig::new(format!("{}/ocpp", base.replace("http://", "ws://")), 1);
    fleet.id_prefix = "CBP".into();
    fleet.connectors_per_pile = 2;
    fleet.password_for = Arc::new(move |_| Some(pile_password.clone()));
    let fleet = PileFleet::start(fleet);
    assert!(fleet.wait_all_online(Duration::from_secs(60)).await, "the pile connects");

    // A fault, acknowledged (it reached the live stream), then at once SIGTERM.
    fleet.pile(0).fault(1, ocpp::enums::ChargePointErrorCode::GroundFailure).await;
    let mut buffer = String::new();
    let faulted = loop {
        let event = next_status_event(&mut stream, &mut buffer).await.expect("a status event");
        if event["status"] == "faulted" {
            break event;
        }
    };
    served.terminate();

    // The stream ends rather than holding the process, and the process exits cleanly.
    let drained = async { while next_status_event(&mut stream, &mut buffer).await.is_some() {} };
    assert!(tokio::time::timeout(Duration::from_secs(60), drained).await.is_ok(), "the SSE stream ends at shutdown");
    let status = served.exit_status().await.expect("the process exits after SIGTERM with an SSE client connected");
    assert!(status.success(), "exit status {status:?}");
    fleet.shutdown().await;

    // The fault is in the database, not only in the memory of a process now gone.
    let db = served.dir.path().join("chargebridge.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let connector = faulted["connector_id"].as_str().unwrap();
    let (word,): (String,) = sqlx::query_as("SELECT status FROM connectors WHERE id = $1").bind(connector).fetch_one(&mut conn).await.unwrap();
    assert_eq!(ConnectorStatus::parse(&word), Some(ConnectorStatus::Faulted));
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let app = TestApp::start_with(Backend::Sqlite, |c| c.http.header_read_timeout_ms = 300).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HT").await.unwrap();
    // Whatever the server says (possibly nothing), it then closes the connection.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(60), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the half-sent request is still held open");

    // A client that sends its request in time is served as usual, on the same listener.
    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, 200);
    app.cleanup().await;
}

#[tokio::test]
async fn the_status_stream_outlives_the_header_read_timeout() {
    let app = TestApp::start_with(Backend::Sqlite, |c| c.http.header_read_timeout_ms = 200).await;
    let mut stream = app.http.get(app.url("/api/app/v1/status/stream")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    // Several timeouts pass with the response open: the timeout is for reading request heads only.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (id, station) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    app.services.hub.register(id, station, None);
    app.services.hub.apply(id, ConnectorStatus::Available, chrono::Utc::now());
    let event = tokio::time::timeout(Duration::from_secs(60), next_status_event(&mut stream, &mut String::new())).await.expect("an event");
    assert_eq!(event.expect("the stream is still open")["connector_id"], id.to_string());
    app.cleanup().await;
}
