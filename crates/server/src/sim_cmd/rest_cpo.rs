//! `chargebridge sim cpo --protocol rest`: the charge-point operator of flow A through our
//! partner REST API (scope `cpo`). It uploads its generated catalog, reports connector status,
//! serves the signed command endpoint and webhook receiver, runs the sessions our drivers start
//! and reports their events and charge records; it narrates what happens until Ctrl-C.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, ensure};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sim::rest_cpo::{ConnectorStatus, Misbehaviour, PlatformLink, RestCpoConfig, RestCpoSimulator};

use super::cpo::CpoArgs;

/// The API client and webhook secret from the credentials file: the portal's answer as saved
/// (`api[0]`, `webhook_secret`) or a flat `{client_id, client_secret, webhook_secret}`.
fn read_credentials(args: &CpoArgs) -> anyhow::Result<(String, String, String)> {
    let path = args.platform_credentials.as_ref().context("--credentials is required with --protocol rest")?;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: Value = serde_json::from_str(&text).context("the credentials file is not JSON")?;
    let field = |pointers: &[&str]| {
        pointers.iter().find_map(|p| file.pointer(p).and_then(Value::as_str)).map(str::to_owned).with_context(|| {
            format!(
                "{} missing from the credentials file: save the first answer of GET /api/portal/v1/partners/me/credentials (the API secret is shown once)",
                pointers[0]
            )
        })
    };
    Ok((field(&["/api/0/client_id", "/client_id"])?, field(&["/api/0/client_secret", "/client_secret"])?, field(&["/webhook_secret"])?))
}

pub async fn run(args: CpoArgs) -> anyhow::Result<()> {
    ensure!((0.0..=1.0).contains(&args.failure_rate), "--failure-rate is a fraction from 0 to 1");
    ensure!(args.stations >= 1 && args.piles_per_station >= 1 && args.connectors_per_pile >= 1, "a catalog needs at least one station, pile and connector");
    let (client_id, client_secret, webhook_secret) = read_credentials(&args)?;
    let base_url = args.platform_url.clone().context("--platform-url is required with --protocol rest")?.trim_end_matches('/').to_owned();
    let mut config = RestCpoConfig::new(PlatformLink { base_url: base_url.clone(), client_id, client_secret }, &webhook_secret);
    config.bind = args.bind;
    config.stations = args.stations;
    config.piles_per_station = args.piles_per_station;
    config.connectors_per_pile = args.connectors_per_pile;
    config.seed = args.seed;
    config.failure_rate = args.failure_rate;
    config.start_delay = Duration::from_millis(args.start_delay_ms);
    config.charging_interval = Duration::from_secs(args.charge_status_secs.max(1));
    config.max_duration = Duration::from_secs(args.max_charge_secs.max(1));
    config.status_interval = Duration::from_secs(args.status_every_secs.max(1));
    config.misbehaviour = Misbehaviour {
        refuse_commands: args.refuse_commands,
        never_answer: args.never_answer,
        unbalanced_records: args.unbalanced_records,
        nobody_plugged_in: args.nobody_plugged_in,
        stops_fail: args.stops_fail,
    };
    let cpo = RestCpoSimulator::start(config).await.with_context(|| format!("starting the command endpoint on {}", args.bind))?;
    let connectors = cpo.connector_ids();
    tracing::info!(
        "simulated REST charge-point operator with {} stations, {} connectors; commands at {}/chargebridge/commands / 模拟第三方运营商（REST）已启动",
        args.stations,
        connectors.len(),
        cpo.callback_base_url()
    );
    tracing::info!("register this callback on the platform: PUT /api/portal/v1/partners/me/callback with the JSON on stdout / 请在平台登记回调地址");
    println!("{}", json!({"callback_base_url": cpo.callback_base_url(), "stations": args.stations, "connectors": connectors.len()}));

    let every = Duration::from_millis(args.status_change_ms);
    tokio::select! {
        _ = async {
            upload(&cpo, &base_url).await;
            tokio::join!(narrate(&cpo, Duration::from_secs(args.report_every.max(1))), async {
                if !every.is_zero() {
                    change_statuses(&cpo, &connectors, every, args.seed).await;
                }
            });
        } => {}
        _ = crate::commands::shutdown_signal() => {}
    }
    drop(cpo);
    tracing::info!("simulated REST operator stopped / 模拟运营商（REST）已停止");
    Ok(())
}

/// Uploads the catalog, retrying until the platform takes it (it may start after us).
async fn upload(cpo: &RestCpoSimulator, base_url: &str) {
    let mut pause = Duration::from_secs(1);
    loop {
        match cpo.upload_catalog().await {
            Ok(stored) => return tracing::info!("uploaded {stored} stations to {base_url}; status reported / 站点已上传，状态已上报"),
            Err(e) => tracing::warn!("uploading stations failed: {e}; retrying / 上传站点失败，稍后重试"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

/// Cars arrive and leave: a random connector that is neither charging nor reserved flips
/// between available and occupied (each flip reported at once).
async fn change_statuses(cpo: &RestCpoSimulator, connectors: &[String], every: Duration, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let id = &connectors[rng.random_range(0..connectors.len())];
        let busy = cpo.sessions().iter().any(|s| &s.connector_id == id && s.end_time.is_none());
        let next = match cpo.connector_status(id) {
            Some(ConnectorStatus::Available) if !busy => ConnectorStatus::Occupied,
            Some(ConnectorStatus::Occupied) if !busy => ConnectorStatus::Available,
            _ => continue,
        };
        cpo.set_connector_status(id, next);
    }
}

/// Tells what the platform asked, how sessions went and what was reported since last time.
async fn narrate(cpo: &RestCpoSimulator, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    let (mut commands_seen, mut reports_seen, mut webhooks_seen) = (0usize, 0usize, 0usize);
    let mut known = HashMap::new();
    loop {
        ticker.tick().await;
        for session in cpo.sessions() {
            let state = format!("{:?}", session.state);
            if known.get(&session.session_id) != Some(&state) {
                tracing::info!(session = %session.session_id, connector = %session.connector_id, "session {state} / 充电会话状态 {state}");
                known.insert(session.session_id.clone(), state);
            }
        }
        let commands = cpo.commands();
        let fresh = commands.len() - commands_seen.min(commands.len());
        if fresh > 0 {
            tracing::info!("{fresh} commands answered / 已应答 {fresh} 条指令");
        }
        commands_seen = commands.len();
        let reports = cpo.reports();
        for report in reports.iter().skip(reports_seen) {
            match &report.outcome {
                Ok((status, answer)) if report.ok() && report.kind == "charge_record" => {
                    tracing::info!(path = %report.path, status, verdict = %answer["verdict"], total = %report.body["total_money"], "charge record taken / 充电记录已提交")
                }
                Ok(_) if report.ok() => {}
                Ok((status, answer)) => tracing::warn!(path = %report.path, status, %answer, "the platform refused a report / 上报被拒绝"),
                Err(e) => tracing::warn!(path = %report.path, "a report failed: {e} / 上报失败"),
            }
        }
        let statuses = reports.iter().skip(reports_seen).filter(|r| r.kind == "status" && r.ok()).count();
        if statuses > 0 {
            tracing::info!("{statuses} status reports delivered / 已上报 {statuses} 批状态");
        }
        reports_seen = reports.len();
        let webhooks = cpo.webhooks();
        for event in webhooks.iter().skip(webhooks_seen) {
            tracing::info!(kind = %event.kind, session = %event.data["session_id"], amount = %event.data["partner_amount"], "webhook received / 收到事件");
        }
        webhooks_seen = webhooks.len();
    }
}
