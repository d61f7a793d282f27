//! Test harness: the real application (`Application::build`) on a random loopback port, on a
//! fresh SQLite file or a fresh PostgreSQL database, with a clock the test can move.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use server::config::Config;
use server::startup::Application;
use services::clock::ManualClock;
use store::testing::{TestBackend, TestDatabase};

pub mod billed;
pub mod rest;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub services: services::Services,
    pub config: Config,
    _dir: tempfile::TempDir,
    database: Option<TestDatabase>,
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Warnings and errors of the app under test, shown with a failing test's output.
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
}

impl TestApp {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        install_crypto();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        config.http.bind = "127.0.0.1:0".parse().unwrap();
        let mut database = None;
        if let Backend::Postgres = backend {
            let db = TestDatabase::new(TestBackend::Postgres).await;
            config.database_url = Some(db.url.clone());
            database = Some(db);
        }
        // Tests sync catalogs when they choose; the one about the automatic pull turns it on.
        config.cec.sync_on_register = false;
        // The simulated partners listen on loopback.
        config.partners.allow_private_endpoints = true;
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let app = Application::build_with_clock(config.clone(), clock.clone()).await.expect("application builds");
        let base = format!("http://{}", app.local_addr());
        let services = app.services.clone();
        tokio::spawn(app.run(std::future::pending()));
        Self { base, http: reqwest::Client::new(), clock, services, config, _dir: dir, database }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Drops the PostgreSQL test database (SQLite files go with the temp dir).
    pub async fn cleanup(self) {
        if let Some(db) = &self.database {
            self.services.db.close().await;
            db.drop_database().await;
        }
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn send_json(&self, method: reqwest::Method, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path)).json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, path, bearer, body).await
    }

    pub async fn put(&self, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::PUT, path, bearer, body).await
    }

    /// An admin session (the admin user is created on the fly).
    pub async fn admin_token(&self) -> String {
        let name = format!("ops{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        self.services.create_admin(&name, "correct horse battery").await.expect("admin created");
        let (status, body) = self.post("/api/admin/v1/login", None, &json!({"username": name, "password": "correct horse battery"})).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Registers a partner; returns (partner id, portal token).
    pub async fn register(&self, application: &Value) -> (String, String) {
        let (status, body) = self.post("/api/portal/v1/partners", None, application).await;
        assert_eq!(status, 201, "{body}");
        (body["partner"]["id"].as_str().unwrap().to_owned(), body["portal_token"].as_str().unwrap().to_owned())
    }

    pub async fn token(&self, client_id: &str, client_secret: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/oauth/token"))
            .form(&[("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", client_secret)])
            .send()
            .await
            .expect("request sent");
        read(response).await
    }
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A valid application; credit codes below all carry correct check digits.
pub fn application(credit_code: &str) -> Value {
    json!({
        "company_name": "深圳示例充电科技有限公司",
        "credit_code": credit_code,
        "contact_name": "张三",
        "contact_phone": "13800138000",
        "contact_email": "ops@example.cn",
        "roles": "operator",
        "protocol": "cec102",
        "callback_base_url": "https://cpo.example.cn/evcs"
    })
}

pub const CODE_A: &str = "91440300MA5FCTXX0J";
pub const CODE_B: &str = "91350100M000100Y43";
pub const CODE_C: &str = "91110000600037341L";

/// Each scenario runs once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $scenario() { super::$scenario($crate::common::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $scenario() { super::$scenario($crate::common::Backend::Postgres).await } )* }
    };
}

/// Our station CB0001 with one two-connector DC pile CBP00001 at a flat 0.80 + 0.60 per kWh,
/// created by `admin`: the API's answer (connector ids, the pile's password).
pub async fn station_with_one_pile(app: &TestApp, admin: &str) -> Value {
    let station = json!({
        "external_id": "CB0001", "name": "深圳湾自营充电站", "address": "深圳市南山区滨海大道1号", "area_code": "440305",
        "lat": 22.5152, "lng": 113.9510, "service_tel": "4008000000",
        "tariff": [{"start": "000000", "elec_price": "0.8000", "service_price": "0.6000"}],
        "piles": [{"ocpp_id": "CBP00001", "power_kw": "120", "connectors": 2, "dc": true}]
    });
    let (status, created) = app.post("/api/admin/v1/stations", Some(admin), &station).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// A simulated fleet for the piles of `created` (an answer of `POST /api/admin/v1/stations`)
/// connecting to `app` with their issued passwords: ids `CBP…`, two connectors each.
pub fn fleet_config(app: &TestApp, created: &Value) -> sim::piles::FleetConfig {
    let passwords = pile_passwords(created);
    let count = created["piles"].as_array().map_or(0, Vec::len);
    let mut config = sim::piles::FleetConfig::new(format!("{}/ocpp", app.base.replace("http://", "ws://")), count);
    config.id_prefix = "CBP".into();
    config.connectors_per_pile = 2;
    config.password_for = Arc::new(move |id| passwords.get(id).cloned());
    config
}

/// The OCPP passwords issued when a station was created (`POST /api/admin/v1/stations`), by pile.
pub fn pile_passwords(created: &Value) -> std::collections::HashMap<String, Vec<u8>> {
    created["piles"]
        .as_array()
        .expect("piles")
        .iter()
        .map(|p| (p["ocpp_id"].as_str().unwrap().to_owned(), p["password"].as_str().unwrap().as_bytes().to_vec()))
        .collect()
}
