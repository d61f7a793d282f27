//! The demo's REST part: the same flows with partners that integrate through our documented
//! partner REST API instead of T/CEC 102 — simulators written from the published contract,
//! signed webhooks both ways.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use sim::rest_emsp::{RestEmsp, RestEmspConfig};

use crate::demo::{Client, Narrator, demo_credit_code};

/// What must stay alive while the platform keeps serving after the demo.
pub struct RestPartners {
    pub _emsp: Arc<RestEmsp>,
}

/// A REST partner registered with `roles` and a callback base on loopback, approved; its
/// portal credentials answer and where its callback server must listen.
async fn join(client: &Client, services: &services::Services, admin: &str, roles: &str, company: &str) -> anyhow::Result<(Value, std::net::SocketAddr)> {
    // The callback address is part of the registration, so it is picked first.
    let bind = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let application = json!({
        "company_name": company, "credit_code": demo_credit_code(services).await?,
        "contact_name": "李工", "contact_phone": "13700137000", "contact_email": "api@rest-partner.example",
        "roles": roles, "protocol": "rest_api", "callback_base_url": format!("http://{bind}")
    });
    let (status, registered) = client.call(Method::POST, "/api/portal/v1/partners", None, Some(application)).await?;
    ensure!(status == 201, "registration failed: {registered}");
    let id = registered["partner"]["id"].as_str().context("partner id")?;
    let portal = registered["portal_token"].as_str().context("portal token")?;
    let (status, approved) = client.call(Method::POST, &format!("/api/admin/v1/partners/{id}/approve"), Some(admin), None).await?;
    ensure!(status == 200, "approval failed: {approved}");
    let (_, credentials) = client.call(Method::GET, "/api/portal/v1/partners/me/credentials", Some(portal), None).await?;
    Ok((credentials, bind))
}

fn text(value: &Value, key: &str) -> anyhow::Result<String> {
    value[key].as_str().map(str::to_owned).with_context(|| format!("{key} in {value}"))
}

/// Flow B over REST: a platform pulls our stations, starts on our pile with an Idempotency-Key
/// and follows the session through its webhooks to the charge record.
pub(crate) async fn run(client: &Client, services: &services::Services, admin: &str, our_station: &str, say: &Narrator) -> anyhow::Result<RestPartners> {
    let (credentials, bind) = join(client, services, admin, "platform", "演示 REST 出行平台 (Demo REST Mobility)").await?;
    let config = RestEmspConfig {
        base_url: client.base.clone(),
        client_id: text(&credentials["api"][0], "client_id")?,
        client_secret: text(&credentials["api"][0], "client_secret")?,
        webhook_secret: text(&credentials, "webhook_secret")?,
        bind,
    };
    let emsp = RestEmsp::start(config).await.context("starting the simulated REST platform")?;
    say.say(
        "REST: a platform that integrates by our API docs is approved; it gets an OAuth2 token and a webhook secret",
        "REST 接口：按我方接口文档对接的第三方平台审核通过，获得 OAuth2 令牌与 Webhook 密钥",
    );

    let stations = emsp.pull_stations(50).await.map_err(anyhow::Error::msg)?;
    let station = stations.iter().find(|s| s["station_id"] == our_station).context("our station in the REST partner's pull")?;
    let connectors: Vec<String> = station["piles"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["connectors"].as_array().into_iter().flatten())
        .filter_map(|c| Some(c["connector_id"].as_str()?.to_owned()))
        .collect();
    let mut free = None;
    for connector in &connectors {
        let (_, _, status) = emsp.call(Method::GET, &format!("/connectors/status?ids={connector}"), &[], None).await.map_err(anyhow::Error::msg)?;
        if status["items"][0]["status"] == "available" {
            free = Some(connector.clone());
            break;
        }
    }
    let connector = free.context("a free connector at our station")?;
    say.say(
        &format!("REST: it pulls our stations (GET /stations, {} seen) and reads {connector} as available", stations.len()),
        "REST 接口：第三方平台拉取我方充电站与实时状态",
    );

    let (status, session) = emsp.start_session(&connector, &format!("demo-{}", std::process::id())).await.map_err(anyhow::Error::msg)?;
    ensure!(status == 202, "the REST start was refused: {session}");
    let id = text(&session, "id")?;
    let wait = Duration::from_secs(30);
    emsp.wait_for(&id, "session.started", wait).await.context("session.started")?;
    say.say(
        &format!("REST: its user starts on our pile (POST /sessions with an Idempotency-Key); webhook session.started for {id}"),
        "REST 接口：第三方用户启动充电，收到 session.started 回调",
    );
    let deadline = tokio::time::Instant::now() + wait;
    let progress = loop {
        if let Some(e) = emsp
            .session_events(&id)
            .into_iter()
            .find(|e| e.kind == "session.progress" && e.data["energy_kwh"].as_str().is_some_and(|k| k.trim_start_matches(['0', '.']) != ""))
        {
            break e;
        }
        ensure!(tokio::time::Instant::now() < deadline, "no metered progress");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    say.say(
        &format!(
            "REST: session.progress {} kWh, ¥{} so far",
            progress.data["energy_kwh"].as_str().unwrap_or("?"),
            progress.data["total_money"].as_str().unwrap_or("?")
        ),
        "REST 接口：充电过程回调",
    );
    let (status, stopping) = emsp.stop_session(&id).await.map_err(anyhow::Error::msg)?;
    ensure!(status == 202, "the REST stop was refused: {stopping}");
    let record = emsp.wait_for(&id, "session.charge_record", Duration::from_secs(60)).await.context("session.charge_record")?;
    let (bad, duplicates) = emsp.refused_and_duplicates();
    say.say(
        &format!(
            "REST: stopped; session.charge_record {} kWh, ¥{} — {} webhooks, every signature verified ({bad} refused, {duplicates} repeats dropped)",
            record.data["energy_kwh"].as_str().unwrap_or("?"),
            record.data["total_money"].as_str().unwrap_or("?"),
            emsp.events().len()
        ),
        "REST 接口：充电结束，收到充电记录回调（签名均已验证）",
    );
    Ok(RestPartners { _emsp: emsp })
}
