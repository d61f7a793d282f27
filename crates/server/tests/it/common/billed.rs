//! A billed flow-A order, the starting point of every payment test: partner approved, its CPO
//! platform simulated, catalog synced, our driver (with 200 yuan in the wallet) charged and
//! stopped, the partner's charge-end record billed.

use std::time::Duration;

use cec::Secrets;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use server::config::Config;
use sim::cec_cpo::{CpoConfig, CpoSimulator, PlatformLink};

use super::{Backend, CODE_A, TestApp, application};

pub struct FlowA {
    pub app: TestApp,
    pub cpo: CpoSimulator,
    pub admin: String,
    pub partner_id: String,
    /// The partner's portal token.
    pub portal: String,
    /// What the partner registered as its T/CEC 102 endpoint (`PUT …/cec-peer`).
    pub peer: Value,
    pub driver: String,
    /// The secrets we issued to the partner (what its platform calls us with).
    pub issued: Secrets,
}

/// The app (with `adjust_app` applied to its configuration), an approved CPO partner whose
/// simulated platform (`adjust_cpo` applied, 5 stations by default) is registered with us, and
/// a driver with 200 yuan in the wallet. The catalog is not synced yet.
pub async fn onboarded(backend: Backend, adjust_app: impl FnOnce(&mut Config), adjust_cpo: impl FnOnce(&mut CpoConfig)) -> FlowA {
    let app = TestApp::start_with(backend, |c| {
        c.workers.status_flush = Duration::from_millis(50);
        c.workers.unknown_outcomes = Duration::from_millis(200);
        // The driver's wallet is funded through the sandbox gateway's test hook.
        c.sandbox_pay.enabled = Some(true);
        c.sandbox_pay.test_hooks = true;
        adjust_app(c);
    })
    .await;
    let admin = app.admin_token().await;
    let (partner_id, portal) = app.register(&application(CODE_A)).await;
    app.post(&format!("/api/admin/v1/partners/{partner_id}/approve"), Some(&admin), &json!({})).await;
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let issued = &creds["cec_issued"][0];
    let s = |k: &str| issued[k].as_str().unwrap().to_owned();
    let issued = Secrets::new(&s("operator_secret"), &s("data_secret"), &s("data_secret_iv"), &s("sig_secret"));

    // The partner's platform: it calls us with what we issued, we call it with what it issues.
    let ours = Secrets::new("SimOpSecret00001", "SimDataSecret001", "SimDataSecretIV1", "SimSigSecret0001");
    let mut config = CpoConfig::new("MA5FCTXX0", ours.clone());
    config.stations = 5;
    config.charge_status_interval = Duration::from_millis(150);
    config.start_delay = Duration::from_millis(100);
    config.order_retry_backoff = Duration::from_millis(100);
    // One real second is ten simulated minutes, so a short session costs real money.
    config.time_scale = 600.0;
    config.platform = Some(PlatformLink { base_url: app.base.clone(), version: "v1.0".into(), our_operator_id: "MA5FCTXX0".into(), secrets: issued.clone() });
    adjust_cpo(&mut config);
    let cpo = CpoSimulator::start(config).await.expect("simulator starts");
    let peer = json!({"base_url": cpo.base_url(), "version_segment": "v1.0", "operator_secret": ours.operator_secret,
                      "data_secret": ours.data_secret, "data_secret_iv": ours.data_secret_iv, "sig_secret": ours.sig_secret,
                      "webhook_url": "https://cpo.example.cn/chargebridge/webhook"});
    let (status, body) = app.put("/api/portal/v1/partners/me/cec-peer", Some(&portal), &peer).await;
    assert_eq!(status, 200, "{body}");

    let (_, session) = app.post("/api/app/v1/users", None, &json!({"phone": "13912345678", "password": "drive-safely"})).await;
    let driver = session["token"].as_str().unwrap().to_owned();
    let (status, body) = app.post("/sandbox/pay/test/wallet-credit", None, &json!({"phone": "13912345678", "amount": "200.00"})).await;
    assert_eq!(status, 200, "{body}");
    FlowA { app, cpo, admin, partner_id, portal, peer, driver, issued }
}

/// [`onboarded`] with a two-station partner whose catalog is synced.
pub async fn flow_a(backend: Backend, adjust: impl FnOnce(&mut Config)) -> FlowA {
    let w = onboarded(backend, adjust, |c| c.stations = 2).await;
    let (status, report) = w.app.post(&format!("/api/admin/v1/partners/{}/sync", w.partner_id), Some(&w.admin), &json!({})).await;
    assert_eq!(status, 200, "{report}");
    w
}

impl FlowA {
    /// Polls the driver's order until `done` says so (notifications arrive asynchronously).
    pub async fn wait_order(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            let (_, order) = self.app.get(&format!("/api/app/v1/orders/{id}"), Some(&self.driver)).await;
            if done(&order) {
                return order;
            }
            last = order;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("order never got there; last seen: {last}");
    }

    /// Charges at a free connector, stops, and waits for the bill: (order id, amount).
    pub async fn billed_order(&self) -> (String, Decimal) {
        let mut connector = None;
        for _ in 0..40 {
            let (_, nearby) = self.app.get("/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=50000&free_now=true", None).await;
            let station = nearby["items"].as_array().and_then(|items| items.first()).cloned();
            if let Some(station) = station {
                let (_, detail) = self.app.get(&format!("/api/app/v1/stations/{}", station["id"].as_str().unwrap()), None).await;
                connector =
                    detail["connectors_live"].as_array().unwrap().iter().find(|c| c["status"] == "available").map(|c| c["id"].as_str().unwrap().to_owned());
                if connector.is_some() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (id, billed) = self.charge_and_bill(&connector.expect("a free connector")).await;
        (id, billed["amount"].as_str().unwrap().parse().unwrap())
    }

    /// Charges at `connector`, stops, and waits for the bill: (order id, the billed order).
    pub async fn charge_and_bill(&self, connector: &str) -> (String, Value) {
        let (status, order) = self.app.post("/api/app/v1/charging/start", Some(&self.driver), &json!({"connector_id": connector})).await;
        assert_eq!(status, 201, "{order}");
        let id = order["id"].as_str().unwrap().to_owned();
        self.wait_order(&id, |o| o["state"] == "charging" && o["energy_kwh"].is_string()).await;
        let (status, stopping) = self.app.post(&format!("/api/app/v1/orders/{id}/stop"), Some(&self.driver), &json!({})).await;
        assert_eq!(status, 200, "{stopping}");
        let billed = self.wait_order(&id, |o| o["state"] == "billed").await;
        let amount: Decimal = billed["amount"].as_str().unwrap().parse().unwrap();
        assert!(amount > Decimal::ZERO, "{billed}");
        (id, billed)
    }

    pub async fn wallet_balance(&self) -> Decimal {
        let (_, wallet) = self.app.get("/api/app/v1/wallet", Some(&self.driver)).await;
        wallet["balance"].as_str().unwrap().parse().unwrap()
    }
}
