//! `chargebridge sim emsp --protocol rest`: the partner platform of flow B through our partner
//! REST API. It pulls our stations, reports the webhooks it receives (signatures checked, each
//! event once), and with `--charge-every` lets a user start (with an Idempotency-Key), charge,
//! stop and receive the charge record.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;
use sim::rest_emsp::{RestEmsp, RestEmspConfig};

use super::emsp::EmspArgs;

pub async fn run(args: EmspArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.platform_credentials).with_context(|| format!("reading {}", args.platform_credentials.display()))?;
    let credentials: Value = serde_json::from_str(&text).context("the credentials file is not JSON")?;
    let field = |pointer: &str| {
        credentials.pointer(pointer).and_then(Value::as_str).map(str::to_owned).with_context(|| {
            format!("{pointer} missing from the credentials file: save the first answer of GET /api/portal/v1/partners/me/credentials (the API secret is shown once)")
        })
    };
    let config = RestEmspConfig {
        base_url: args.platform_url.trim_end_matches('/').to_owned(),
        client_id: field("/api/0/client_id")?,
        client_secret: field("/api/0/client_secret")?,
        webhook_secret: field("/webhook_secret")?,
        bind: args.bind,
    };
    let emsp = RestEmsp::start(config).await.with_context(|| format!("starting the webhook receiver on {}", args.bind))?;
    tracing::info!("simulated REST partner platform receiving webhooks at {}/chargebridge/webhook / 模拟第三方平台（REST）已启动", emsp.callback_base_url());
    println!("{}", serde_json::json!({"callback_base_url": emsp.callback_base_url()}));
    let users =
        (args.charge_every > 0).then(|| tokio::spawn(users(emsp.clone(), Duration::from_secs(args.charge_every), Duration::from_secs(args.charge_secs))));
    tokio::select! {
        _ = follow(&emsp, Duration::from_secs(args.sync_every.max(1)), Duration::from_secs(args.report_every.max(1))) => {}
        _ = crate::commands::shutdown_signal() => {}
    }
    if let Some(task) = users {
        task.abort();
    }
    tracing::info!("simulated REST partner platform stopped / 模拟第三方平台已停止");
    Ok(())
}

/// Pulls the stations every `sync_every` and reports the webhooks that arrived.
async fn follow(emsp: &RestEmsp, sync_every: Duration, report_every: Duration) {
    let mut next_sync = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(report_every);
    let mut seen = 0usize;
    loop {
        ticker.tick().await;
        if tokio::time::Instant::now() >= next_sync {
            match emsp.pull_stations(100).await {
                Ok(stations) => {
                    tracing::info!("pulled {} stations / 已拉取站点", stations.len());
                    next_sync = tokio::time::Instant::now() + sync_every;
                }
                Err(e) => tracing::warn!("pulling stations failed: {e}; retrying / 拉取站点失败，稍后重试"),
            }
        }
        let events = emsp.events();
        let fresh = &events[seen.min(events.len())..];
        let status = fresh.iter().filter(|e| e.kind == "connector.status_changed").count();
        for event in fresh.iter().filter(|e| e.kind != "connector.status_changed") {
            tracing::info!(kind = %event.kind, session = %event.data["session_id"], total = %event.data["total_money"], "webhook received / 收到事件");
        }
        if status > 0 {
            tracing::info!("{status} connector status changes received / 收到 {status} 条状态变更");
        }
        seen = events.len();
    }
}

/// Now and then a user picks a free connector, charges for `charge_for`, stops and is billed.
async fn users(emsp: Arc<RestEmsp>, every: Duration, charge_for: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let mut turn = 0usize;
    loop {
        ticker.tick().await;
        match free_connectors(&emsp).await {
            Ok(free) if !free.is_empty() => {
                turn += 1;
                tokio::spawn(charge(emsp.clone(), free[turn % free.len()].clone(), charge_for));
            }
            Ok(_) => tracing::info!("a user found no free connector / 用户未找到空闲充电枪"),
            Err(e) => tracing::warn!("reading connector status failed: {e}"),
        }
    }
}

/// Connectors of our stations whose status reads `available`.
async fn free_connectors(emsp: &RestEmsp) -> Result<Vec<String>, String> {
    let stations = emsp.pull_stations(100).await?;
    let ids: Vec<String> = stations
        .iter()
        .flat_map(|s| s["piles"].as_array().cloned().unwrap_or_default())
        .flat_map(|p| p["connectors"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["connector_id"].as_str().map(str::to_owned))
        .take(500)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (status, _, body) = emsp.call(Method::POST, "/connectors/status", &[], Some(&serde_json::json!({"ids": ids}))).await?;
    if status != 200 {
        return Err(format!("connector status answered {status}: {body}"));
    }
    Ok(body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|c| c["status"] == "available")
        .filter_map(|c| c["connector_id"].as_str().map(str::to_owned))
        .collect())
}

async fn charge(emsp: Arc<RestEmsp>, connector: String, charge_for: Duration) {
    let key = uuid::Uuid::new_v4().to_string();
    let session = match emsp.start_session(&connector, &key).await {
        Ok((202, session)) => session,
        Ok((status, refusal)) => return tracing::info!(%connector, status, code = %refusal["error"]["code"], "the start was refused / 启动充电被拒绝"),
        Err(e) => return tracing::warn!(%connector, "starting failed: {e} / 启动充电请求失败"),
    };
    let id = session["id"].as_str().unwrap_or_default().to_owned();
    tracing::info!(%connector, session = %id, "a user starts charging / 用户开始充电");
    if emsp.wait_for(&id, "session.started", Duration::from_secs(120)).await.is_none() {
        return tracing::warn!(session = %id, "no session.started within 2 minutes / 两分钟内未启动");
    }
    tokio::time::sleep(charge_for).await;
    match emsp.stop_session(&id).await {
        Ok((202, _)) => {}
        Ok((status, body)) => tracing::info!(session = %id, status, code = %body["error"]["code"], "the stop was refused / 停止充电被拒绝"),
        Err(e) => return tracing::warn!(session = %id, "stopping failed: {e} / 停止充电请求失败"),
    }
    match emsp.wait_for(&id, "session.charge_record", Duration::from_secs(120)).await {
        Some(record) => {
            tracing::info!(session = %id, energy_kwh = %record.data["energy_kwh"], total = %record.data["total_money"], "the user stopped and was billed / 充电结束，已结算")
        }
        None => tracing::warn!(session = %id, "no charge record within 2 minutes / 两分钟内未收到充电记录"),
    }
}
