//! The demo's REST part: the same flows with partners that integrate through our documented
//! partner REST API instead of T/CEC 102 — simulators written from the published contract,
//! signed webhooks both ways.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use sim::rest_cpo::{PlatformLink, RestCpoConfig, RestCpoSimulator, SessionState};
use sim::rest_emsp::{RestEmsp, RestEmspConfig};

use crate::demo::{Client, Narrator, demo_credit_code};

/// What must stay alive while the platform keeps serving after the demo.
pub struct RestPartners {
    pub _cpo: RestCpoSimulator,
    pub _emsp: Arc<RestEmsp>,
}

/// A REST partner registered with `roles` and a callback base on loopback, approved; its
/// portal credentials answer, its portal token, and where its callback server must listen.
async fn join(
    client: &Client,
    services: &services::Services,
    admin: &str,
    roles: &str,
    company: &str,
) -> anyhow::Result<(Value, String, std::net::SocketAddr)> {
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
    Ok((credentials, portal.to_owned(), bind))
}

fn text(value: &Value, key: &str) -> anyhow::Result<String> {
    value[key].as_str().map(str::to_owned).with_context(|| format!("{key} in {value}"))
}

/// Both flows over REST, one partner each.
pub(crate) async fn run(client: &Client, services: &services::Services, admin: &str, our_station: &str, say: &Narrator) -> anyhow::Result<RestPartners> {
    let cpo = operator(client, services, admin, say).await?;
    let emsp = platform(client, services, admin, our_station, say).await?;
    Ok(RestPartners { _cpo: cpo, _emsp: emsp })
}

/// Flow A over REST: an operator uploads its stations and status, our driver charges there
/// through its command endpoint, it reports events and the charge record, the driver pays and
/// the operator hears `order.paid`.
async fn operator(client: &Client, services: &services::Services, admin: &str, say: &Narrator) -> anyhow::Result<RestCpoSimulator> {
    let (credentials, portal, bind) = join(client, services, admin, "operator", "演示 REST 充电运营商 (Demo REST Charging)").await?;
    let link = PlatformLink {
        base_url: client.base.clone(),
        client_id: text(&credentials["api"][0], "client_id")?,
        client_secret: text(&credentials["api"][0], "client_secret")?,
    };
    let mut config = RestCpoConfig::new(link, &text(&credentials, "webhook_secret")?);
    config.bind = bind;
    config.stations = 3;
    config.start_delay = Duration::from_millis(500);
    config.charging_interval = Duration::from_secs(1);
    let cpo = RestCpoSimulator::start(config).await.context("starting the simulated REST operator")?;
    let (status, moved) =
        client.call(Method::PUT, "/api/portal/v1/partners/me/callback", Some(&portal), Some(json!({"callback_base_url": cpo.callback_base_url()}))).await?;
    ensure!(status == 200, "registering the command endpoint failed: {moved}");
    let uploaded = cpo.upload_catalog().await.map_err(anyhow::Error::msg)?;
    let answer = cpo.reports().into_iter().find(|r| r.kind == "stations").and_then(|r| r.outcome.ok()).map(|(_, a)| a).context("the upload's answer")?;
    say.say(
        &format!("REST: an operator that integrates by our API docs uploads {uploaded} stations (POST /stations:batch) and their live status; its command endpoint is {}/chargebridge/commands", cpo.callback_base_url()),
        "REST 接口：第三方运营商按接口文档上传充电站与实时状态，并登记指令接口",
    );

    // Our driver picks a DC connector (a few seconds there come to real money), free by now.
    let (index, theirs) = cpo
        .stations()
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s["piles"].as_array().into_iter().flatten().map(move |p| (i, p)))
        .find(|(_, p)| p["type"] == "dc")
        .and_then(|(i, p)| Some((i, p["connectors"][0]["id"].as_str()?.to_owned())))
        .context("a DC pile in the REST operator's catalog")?;
    let station = text(&answer["results"][index], "id")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let connector = loop {
        let (_, detail) = client.call(Method::GET, &format!("/api/app/v1/stations/{station}"), None, None).await?;
        let ours = detail["connectors"].as_array().into_iter().flatten().find(|c| c["external_id"] == theirs.as_str()).and_then(|c| c["id"].as_str());
        let live = detail["connectors_live"].as_array().into_iter().flatten().find(|c| ours.is_some() && c["id"].as_str() == ours);
        if let (Some(ours), Some(_)) = (ours, live.filter(|c| c["status"] == "available")) {
            break ours.to_owned();
        }
        ensure!(tokio::time::Instant::now() < deadline, "{theirs} never read available: {detail}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, session) = client.call(Method::POST, "/api/app/v1/users", None, Some(json!({"phone": "13600136000", "password": "drive-safely"}))).await?;
    let driver = text(&session, "token")?;
    crate::demo::top_up_wallet(client, &driver, "50.00").await?;
    let (status, order) = client.call(Method::POST, "/api/app/v1/charging/start", Some(&driver), Some(json!({"connector_id": connector}))).await?;
    ensure!(status == 201, "the start failed: {order}");
    let id = text(&order, "id")?;
    let wait = Duration::from_secs(30);
    cpo.wait_session(&id, wait, |s| s.state == SessionState::Charging).await.context("the operator's session never charged")?;
    say.say(
        &format!("REST: our driver starts; we call the operator's command endpoint (signed, Idempotency-Key {id}:start_session); it answers accepted and reports \"started\""),
        "REST 接口：我方用户启动充电，平台调用运营商指令接口（签名、幂等键），运营商回报已启动",
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, stopping) = client.call(Method::POST, &format!("/api/app/v1/orders/{id}/stop"), Some(&driver), None).await?;
    ensure!(status == 200, "the stop failed: {stopping}");
    let ended = cpo.wait_session(&id, wait, |s| s.record_answer.is_some()).await.context("no charge record")?;
    let verdict = ended.record_answer.map(|(_, v)| v).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + wait;
    let billed = loop {
        let (_, seen) = client.call(Method::GET, &format!("/api/app/v1/orders/{id}"), Some(&driver), None).await?;
        if seen["state"] == "billed" {
            break seen;
        }
        ensure!(tokio::time::Instant::now() < deadline, "the order was never billed: {seen} / {verdict}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    say.say(
        &format!(
            "REST: stopped; its charge record (POST /sessions/{{id}}/charge-record) is {} and billed: ¥{}",
            verdict["verdict"].as_str().unwrap_or("?"),
            billed["amount"].as_str().unwrap_or("?")
        ),
        "REST 接口：充电结束，运营商上报充电记录，平台校验后计费",
    );
    let (status, paid) = client.call(Method::POST, &format!("/api/app/v1/orders/{id}/pay"), Some(&driver), Some(json!({}))).await?;
    ensure!(status == 200, "paying failed: {paid}");
    let news = cpo.wait_webhook("order.paid", wait, |d| d["session_id"] == id.as_str()).await.context("no order.paid webhook")?;
    say.say(
        &format!(
            "REST: the driver pays from the wallet; the operator hears order.paid (its share ¥{}, our commission ¥{}), signature verified",
            news.data["partner_amount"].as_str().unwrap_or("?"),
            news.data["commission"].as_str().unwrap_or("?")
        ),
        "REST 接口：用户钱包支付，运营商收到 order.paid 回调（分成、佣金）",
    );
    Ok(cpo)
}

/// Flow B over REST: a platform pulls our stations, starts on our pile with an Idempotency-Key
/// and follows the session through its webhooks to the charge record.
async fn platform(client: &Client, services: &services::Services, admin: &str, our_station: &str, say: &Narrator) -> anyhow::Result<Arc<RestEmsp>> {
    let (credentials, _, bind) = join(client, services, admin, "platform", "演示 REST 出行平台 (Demo REST Mobility)").await?;
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
            .find(|e| e.kind == "session.progress" && e.data["energy_kwh"].as_str().is_some_and(|k| !k.trim_start_matches(['0', '.']).is_empty()))
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
    Ok(emsp)
}
