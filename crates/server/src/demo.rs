//! `chargebridge demo`: the platform on the embedded default with a narrated walk through both
//! seed flows, over real HTTP against itself and simulated partners (flow A: a third-party CPO;
//! flow B: a partner platform on our simulated pile), then it keeps serving (or exits with
//! `--exit`).

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use sim::cec_cpo::{CpoConfig, CpoSimulator, PlatformLink};

use crate::commands::{announce_bootstrap_admin, shutdown_signal};
use crate::config::Config;
use crate::startup::Application;

/// Prints one step of the story, bilingual, with the time since the start.
pub struct Narrator {
    started: Instant,
}

impl Narrator {
    pub fn new() -> Self {
        Self { started: Instant::now() }
    }
    pub fn say(&self, en: &str, zh: &str) {
        println!("[{:>7.3}s] {en}\n           {zh}", self.started.elapsed().as_secs_f64());
    }
}

impl Default for Narrator {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Client {
    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, bearer: Option<&str>, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("calling {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }
}

pub async fn run(config: Config, exit: bool) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let say = Narrator::new();
    let mut config = config;
    if config.database_url.is_none() {
        // The demo's partners, stations and orders are made up: they live apart from the real
        // embedded database and start clean on every run, so earlier runs' simulated partners
        // (gone now) are never polled.
        let dir = config.data_dir.join("demo");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing the previous demo in {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        config.data_dir = dir;
    }
    // Charge-status notices every few seconds instead of the standard's 50, so the story moves.
    config.workers.session_status = Duration::from_secs(2);
    // The walk-through shows an admin's "sync now" and narrates its report, so the automatic
    // pull on registration would only race it.
    config.cec.sync_on_register = false;
    // The driver tops up the wallet through the sandbox payment gateway: money enters a wallet
    // only by a settled payment.
    config.sandbox_pay.enabled.get_or_insert(true);
    // The simulated partners listen on loopback.
    config.partners.allow_private_endpoints = true;
    let app = Application::build(config.clone()).await?;
    announce_bootstrap_admin(&app.services, &config).await?;
    let addr = app.local_addr();
    let services = app.services.clone();
    let stop = app.shutdown_token();
    let server = tokio::spawn(app.run(shutdown_signal()));
    say.say(&format!("platform up at http://{addr} (API docs at /docs), database: {}", if config.is_sqlite() { "SQLite" } else { "PostgreSQL" }), "平台已启动");

    let client = Client { http: reqwest::Client::new(), base: format!("http://{addr}") };
    let partner = onboarding(&client, &services, &say).await?;
    let _cpo = flow_a(&client, &partner, &say).await?;
    let flow_b = crate::demo_flow_b::run(&client, &services, &partner.admin, &say).await?;
    let _rest = crate::demo_rest::run(&client, &services, &partner.admin, &flow_b.station_id, &say).await?;

    if exit {
        say.say("demo finished", "演示结束");
        stop.cancel();
        return server.await?;
    }
    say.say("demo finished; still serving, press Ctrl-C to stop", "演示结束，平台继续运行，按 Ctrl-C 退出");
    server.await??;
    Ok(())
}

/// The partner the demo onboarded.
struct DemoPartner {
    id: String,
    operator_id: String,
    portal: String,
    admin: String,
    issued: Value,
}

/// Partner onboarding: register → rejected with a reason → resubmit → approved → credentials →
/// OAuth2 token → an authenticated call.
async fn onboarding(client: &Client, services: &services::Services, say: &Narrator) -> anyhow::Result<DemoPartner> {
    use reqwest::Method;
    // A fresh credit code per run so the demo can run again on the same database.
    let credit_code = demo_credit_code(services).await?;
    let application = json!({
        "company_name": "演示充电运营有限公司 (Demo CPO Ltd.)",
        "credit_code": credit_code,
        "contact_name": "李工",
        "contact_phone": "13800138000",
        "contact_email": "integration@demo-cpo.example",
        "roles": "operator",
        "protocol": "cec102",
        "callback_base_url": "http://127.0.0.1:9/evcs"
    });
    let (status, registered) = client.call(Method::POST, "/api/portal/v1/partners", None, Some(application.clone())).await?;
    ensure!(status == 201, "registration failed: {registered}");
    let id = registered["partner"]["id"].as_str().context("partner id")?.to_owned();
    let portal = registered["portal_token"].as_str().context("portal token")?.to_owned();
    say.say(
        &format!("partner registered: {} (OperatorID {})", registered["partner"]["company_name"], registered["partner"]["operator_id"]),
        "第三方运营方注册成为合作商",
    );

    let admin_name = format!("demo-reviewer-{}", &id[id.len() - 6..]);
    let password = services::secrets::random_alphanumeric(20);
    services.create_admin(&admin_name, &password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, session) = client.call(Method::POST, "/api/admin/v1/login", None, Some(json!({"username": admin_name, "password": password}))).await?;
    let admin = session["token"].as_str().context("admin token")?.to_owned();

    let reason = "营业执照扫描件缺失 / business licence missing";
    client.call(Method::POST, &format!("/api/admin/v1/partners/{id}/reject"), Some(&admin), Some(json!({"reason": reason}))).await?;
    let (_, me) = client.call(Method::GET, "/api/portal/v1/partners/me", Some(&portal), None).await?;
    say.say(&format!("review: rejected; the partner reads the reason: {}", me["state_reason"]), "审核不通过，合作商看到失败原因");

    client.call(Method::PUT, "/api/portal/v1/partners/me", Some(&portal), Some(application)).await?;
    let (status, approved) = client.call(Method::POST, &format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), None).await?;
    ensure!(status == 200, "approval failed: {approved}");
    say.say("partner resubmitted and was approved", "合作商重新提交，审核通过");

    let (_, creds) = client.call(Method::GET, "/api/portal/v1/partners/me/credentials", Some(&portal), None).await?;
    let client_id = creds["api"][0]["client_id"].as_str().context("client id")?.to_owned();
    let secret = creds["api"][0]["client_secret"].as_str().context("client secret")?.to_owned();
    say.say(
        &format!("credentials issued: API client {client_id}, T/CEC 102 OperatorID {}", creds["cec_issued"][0]["operator_id"]),
        "已创建合作商账户及 API Key/Secret、互联互通密钥",
    );

    let response = client
        .http
        .post(format!("{}/oauth/token", client.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", &client_id), ("client_secret", &secret)])
        .send()
        .await?;
    let token: Value = response.json().await?;
    let access = token["access_token"].as_str().context("access token")?;
    let (status, who) = client.call(Method::GET, "/api/partner/v1/me", Some(access), None).await?;
    ensure!(status == 200, "authenticated call failed: {who}");
    say.say(&format!("OAuth2 token obtained (scopes: {}); authenticated call answered for {}", token["scope"], who["company_name"]), "平台间认证成功");
    Ok(DemoPartner { id, operator_id: credit_code[8..17].to_owned(), portal, admin, issued: creds["cec_issued"][0].clone() })
}

/// Flow A: the partner's 1,000 stations synced, live status, a driver charges and pays.
async fn flow_a(client: &Client, partner: &DemoPartner, say: &Narrator) -> anyhow::Result<CpoSimulator> {
    use reqwest::Method;
    let s = |k: &str| partner.issued[k].as_str().unwrap_or_default().to_owned();
    let ours = cec::Secrets::new(
        &services::secrets::random_alphanumeric(16),
        &services::secrets::random_alphanumeric(16),
        &services::secrets::random_alphanumeric(16),
        &services::secrets::random_alphanumeric(16),
    );
    let mut config = CpoConfig::new(&partner.operator_id, ours.clone());
    config.stations = 1_000;
    config.piles_per_station = 2;
    config.connectors_per_pile = 2;
    config.charge_status_interval = Duration::from_secs(1);
    config.start_delay = Duration::from_millis(500);
    config.time_scale = 60.0;
    config.platform = Some(PlatformLink {
        base_url: client.base.clone(),
        version: "v1.0".into(),
        our_operator_id: partner.operator_id.clone(),
        secrets: cec::Secrets::new(&s("operator_secret"), &s("data_secret"), &s("data_secret_iv"), &s("sig_secret")),
    });
    let cpo = CpoSimulator::start(config).await.context("starting the simulated partner platform")?;
    let peer = json!({"base_url": cpo.base_url(), "version_segment": "v1.0", "operator_secret": ours.operator_secret,
                      "data_secret": ours.data_secret, "data_secret_iv": ours.data_secret_iv, "sig_secret": ours.sig_secret});
    let (status, body) = client.call(Method::PUT, "/api/portal/v1/partners/me/cec-peer", Some(&partner.portal), Some(peer)).await?;
    ensure!(status == 200, "registering the partner's endpoint failed: {body}");
    say.say(&format!("the partner's T/CEC 102 platform is up at {} and registered with us", cpo.base_url()), "第三方运营方配置数据同步接口");

    let (status, report) = client.call(Method::POST, &format!("/api/admin/v1/partners/{}/sync", partner.id), Some(&partner.admin), None).await?;
    ensure!(status == 200, "catalog sync failed: {report}");
    say.say(
        &format!("catalog synced: {} stations, {} connectors (query_stations_info, paged)", report["stations"], report["connectors"]),
        "充电站、充电桩信息已同步",
    );

    let (_, nearby) =
        client.call(Method::GET, "/api/app/v1/stations/nearby?lat=22.55&lng=114.05&radius_m=20000&free_now=true&per_page=100", None, None).await?;
    let about = if nearby["total_exact"] == true { "" } else { "about " };
    say.say(
        &format!("live status flowing: {about}{} stations with a free connector within 20 km of Futian", nearby["total"]),
        "实时桩状态已同步，用户 App 可见",
    );

    let phone = format!("139{:08}", std::process::id() % 100_000_000);
    let (_, session) = client.call(Method::POST, "/api/app/v1/users", None, Some(json!({"phone": phone, "password": "demo-driver-1"}))).await?;
    let driver = session["token"].as_str().context("driver token")?.to_owned();
    top_up_wallet(client, &driver, "200.00").await?;
    say.say(
        "the driver tops up 200 yuan through the payment gateway; the wallet is credited when the payment settles",
        "用户通过支付渠道为钱包充值 200 元，支付成功后入账",
    );
    // On a database kept from an earlier run, older partners' stations are listed too.
    let station = nearby["items"]
        .as_array()
        .and_then(|items| items.iter().find(|s| s["partner_id"].as_str() == Some(partner.id.as_str())))
        .context("a free station of this partner")?;
    let (_, detail) = client.call(Method::GET, &format!("/api/app/v1/stations/{}", station["id"].as_str().unwrap_or_default()), None, None).await?;
    let connector = detail["connectors_live"].as_array().and_then(|c| c.iter().find(|c| c["status"] == "available")).context("a free connector")?["id"].clone();
    let (status, order) = client.call(Method::POST, "/api/app/v1/charging/start", Some(&driver), Some(json!({"connector_id": connector}))).await?;
    ensure!(status == 201, "start failed: {order}");
    let id = order["id"].as_str().context("order id")?.to_owned();
    say.say(
        &format!("a driver starts charging at {} (order {})", station["name"].as_str().unwrap_or("-"), order["seq"].as_str().unwrap_or("-")),
        "用户在我方 App 发起充电",
    );
    let charging = wait_for(client, &driver, &id, "charging").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, live) = client.call(Method::GET, &format!("/api/app/v1/orders/{id}"), Some(&driver), None).await?;
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    say.say(&format!("charging: {} kWh, ¥{} so far ({})", text(&live["energy_kwh"]), text(&live["amount"]), text(&charging["message_en"])), "充电中");
    client.call(Method::POST, &format!("/api/app/v1/orders/{id}/stop"), Some(&driver), None).await?;
    let billed = wait_for(client, &driver, &id, "billed").await?;
    say.say(
        &format!("stopped; the partner's charge-end record arrived and was checked: bill ¥{} for {} kWh", text(&billed["amount"]), text(&billed["energy_kwh"])),
        "充电结束，计算订单费用",
    );
    let (_, paid) = client.call(Method::POST, &format!("/api/app/v1/orders/{id}/pay"), Some(&driver), None).await?;
    ensure!(paid["state"] == "paid", "payment failed: {paid}");
    say.say(
        "paid from the wallet; settlement line recorded (partner share + our commission); this partner registered no webhook for settlement notices, so it settles from check_charge_orders",
        "用户支付完成，已记录第三方结算（该合作商未登记结算通知地址，按对账接口核对结算）",
    );
    Ok(cpo)
}

async fn wait_for(client: &Client, driver: &str, id: &str, state: &str) -> anyhow::Result<Value> {
    for _ in 0..600 {
        let (_, order) = client.call(reqwest::Method::GET, &format!("/api/app/v1/orders/{id}"), Some(driver), None).await?;
        if order["state"] == state {
            return Ok(order);
        }
        if ["failed", "cancelled"].contains(&order["state"].as_str().unwrap_or_default()) {
            anyhow::bail!("order ended as {}: {}", order["state"], order["message_en"]);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("order {id} did not reach {state}")
}

/// A valid unified social credit code not yet registered here.
pub(crate) async fn demo_credit_code(services: &services::Services) -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    for n in 0..10_000u32 {
        let body = format!("91440300MA{:07}", (std::process::id() + n) % 10_000_000);
        for c in ALPHABET {
            let candidate = format!("{body}{}", *c as char);
            if domain::credit_code::CreditCode::parse(&candidate).is_ok() {
                if services.find_partner(&candidate[8..17]).await.is_err() {
                    return Ok(candidate);
                }
                break;
            }
        }
    }
    anyhow::bail!("no free demo credit code")
}

/// Tops up the driver's wallet the way the app does: open the gateway payment, pay on the
/// gateway's page, and wait for the settled callback to credit the wallet.
pub(crate) async fn top_up_wallet(client: &Client, driver: &str, amount: &str) -> anyhow::Result<()> {
    let (_, before) = client.call(reqwest::Method::GET, "/api/app/v1/wallet", Some(driver), None).await?;
    let (status, started) = client.call(reqwest::Method::POST, "/api/app/v1/wallet/top-up", Some(driver), Some(json!({"amount": amount}))).await?;
    ensure!(status == 200, "top-up failed: {started}");
    let pay_url = started["pay_url"].as_str().context("the payment page")?;
    let paid = client.http.post(format!("{pay_url}/pay")).send().await.context("paying on the gateway page")?;
    ensure!(paid.status().is_success(), "the gateway page refused to pay: {}", paid.status());
    for _ in 0..100 {
        let (_, wallet) = client.call(reqwest::Method::GET, "/api/app/v1/wallet", Some(driver), None).await?;
        if wallet["balance"] != before["balance"] {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the top-up was paid but the wallet was not credited")
}
