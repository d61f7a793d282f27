//! `chargebridge sim emsp`: a partner platform with its own users speaking T/CEC 102 (the
//! partner of flow B) as its own process: it pulls our stations, follows their status (pulled
//! once, then pushed by us), and optionally lets a user charge on a free connector now and then.
//! With `--protocol rest` it does the same through our partner REST API (`rest_emsp`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use cec::messages::{ConnectorStatusCode, SuccStat};
use clap::Args;
use sim::cec_emsp::{EmspConfig, EmspSimulator, PlatformLink};

use super::peer;

/// The protocol the simulated platform integrates with.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmspProtocol {
    /// T/CEC 102 envelopes, both directions.
    Cec,
    /// Our partner REST API with OAuth2 and signed webhooks.
    Rest,
}

#[derive(Args, Debug)]
pub struct EmspArgs {
    /// `cec` (T/CEC 102) or `rest` (our partner REST API).
    #[arg(long, value_enum, default_value = "cec")]
    pub protocol: EmspProtocol,
    /// Where it receives our notifications (port 0 = any free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:9002")]
    pub bind: SocketAddr,
    /// Its 9-character OperatorID, as the platform registered it (T/CEC 102 only).
    #[arg(long, required_if_eq("protocol", "cec"))]
    pub operator_id: Option<String>,
    /// The platform it uses, e.g. http://127.0.0.1:8080 (no `/evcs/…`).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub platform_url: String,
    /// The answer of `GET /api/portal/v1/partners/me/credentials` saved as is (the first one,
    /// which shows the API secret): T/CEC 102 takes its `cec_issued` secrets (or one such
    /// entry), REST its `api` client and `webhook_secret`.
    #[arg(long)]
    pub platform_credentials: PathBuf,
    /// JSON with the secrets it issues to the platform (what an earlier run printed); random
    /// when absent.
    #[arg(long)]
    pub secrets_file: Option<PathBuf>,
    /// Its own `/evcs/{version}/` segment.
    #[arg(long, default_value = "v1.0")]
    pub version: String,
    /// Seconds between incremental pulls of our stations.
    #[arg(long, default_value_t = 300)]
    pub sync_every: u64,
    /// A user starts charging on a free connector every this many seconds; 0 = no users.
    #[arg(long, default_value_t = 0)]
    pub charge_every: u64,
    /// How long each user charges, in seconds.
    #[arg(long, default_value_t = 60)]
    pub charge_secs: u64,
    /// Seconds between reports of what arrived.
    #[arg(long, default_value_t = 5)]
    pub report_every: u64,
}

pub async fn run(args: EmspArgs) -> anyhow::Result<()> {
    if args.protocol == EmspProtocol::Rest {
        return super::rest_emsp::run(args).await;
    }
    let operator_id = args.operator_id.clone().unwrap_or_default();
    ensure!(operator_id.len() == 9 && operator_id.chars().all(|c| c.is_ascii_alphanumeric()), "--operator-id is 9 letters or digits");
    let operator_id = operator_id.to_ascii_uppercase();
    let issued = peer::read_issued(&args.platform_credentials, &operator_id)?;
    let secrets = peer::own_secrets(args.secrets_file.as_deref())?;
    let link = PlatformLink {
        base_url: args.platform_url.trim_end_matches('/').to_owned(),
        version: issued.version.clone(),
        our_operator_id: operator_id.clone(),
        secrets: issued.secrets,
    };
    let mut config = EmspConfig::new(&operator_id, secrets.clone(), link);
    config.version = args.version.clone();
    let emsp = Arc::new(EmspSimulator::start_on(config, args.bind).await.with_context(|| format!("starting the simulated partner platform on {}", args.bind))?);
    tracing::info!(
        "simulated partner platform {operator_id} receiving notifications at {}/evcs/{}/, using {}/evcs/{}/ / 模拟第三方平台已启动",
        emsp.base_url(),
        args.version,
        args.platform_url.trim_end_matches('/'),
        issued.version
    );
    tracing::info!("register this endpoint on the platform: PUT /api/portal/v1/partners/me/cec-peer with the JSON on stdout / 请在平台登记以下对接地址与密钥");
    println!("{}", peer::peer_registration(&operator_id, emsp.base_url(), &args.version, &secrets));

    let users =
        (args.charge_every > 0).then(|| tokio::spawn(users(emsp.clone(), Duration::from_secs(args.charge_every), Duration::from_secs(args.charge_secs))));
    tokio::select! {
        _ = follow(&emsp, Duration::from_secs(args.sync_every.max(1)), Duration::from_secs(args.report_every.max(1))) => {}
        _ = crate::commands::shutdown_signal() => {}
    }
    if let Some(task) = users {
        task.abort();
    }
    tracing::info!("simulated partner platform stopped / 模拟第三方平台已停止");
    Ok(())
}

/// Pulls the stations (retrying until the platform answers), their status once, then reports
/// the notifications that arrive and pulls again incrementally every `sync_every`.
async fn follow(emsp: &EmspSimulator, sync_every: Duration, report_every: Duration) {
    let mut next_sync = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(report_every);
    let mut seen = 0usize;
    let mut synced_once = false;
    loop {
        ticker.tick().await;
        if tokio::time::Instant::now() >= next_sync {
            match sync(emsp, !synced_once).await {
                Ok(()) => {
                    synced_once = true;
                    next_sync = tokio::time::Instant::now() + sync_every;
                }
                Err(e) => tracing::warn!("pulling stations failed: {e:#}; retrying / 拉取站点失败，稍后重试"),
            }
        }
        let received = emsp.received();
        let fresh = &received[seen.min(received.len())..];
        if !fresh.is_empty() {
            let status = fresh.iter().filter(|r| r.interface == "notification_stationStatus").count();
            for r in fresh.iter().filter(|r| r.interface != "notification_stationStatus") {
                tracing::info!(key = %r.key, value = %r.value, "{} received / 收到通知", r.interface);
            }
            if status > 0 {
                tracing::info!("{status} status pushes received / 收到 {status} 条状态推送");
            }
        }
        seen = received.len();
    }
}

async fn sync(emsp: &EmspSimulator, first: bool) -> anyhow::Result<()> {
    let pulled = emsp.sync_stations().await.context("query_stations_info")?;
    let stations = emsp.stations();
    if first {
        let ids: Vec<String> = stations.iter().map(|s| s.station_id.clone()).collect();
        let connectors = emsp.refresh_status(&ids).await.context("query_station_status")?;
        let free = all_connectors(emsp).iter().filter(|c| emsp.connector_status(c) == Some(ConnectorStatusCode::Idle)).count();
        tracing::info!(
            "pulled {} stations with {connectors} connectors, {free} free; their changes are pushed from now on / 已拉取站点与实时状态",
            stations.len()
        );
    } else if pulled > 0 {
        tracing::info!("{pulled} stations changed since the last pull / 站点信息有更新");
    }
    Ok(())
}

fn all_connectors(emsp: &EmspSimulator) -> Vec<String> {
    let stations = emsp.stations();
    stations.iter().flat_map(|s| &s.equipment_infos).flat_map(|e| &e.connector_infos).map(|c| c.connector_id.clone()).collect()
}

/// Now and then a user picks a free connector, charges for `charge_for`, stops and is billed.
async fn users(emsp: Arc<EmspSimulator>, every: Duration, charge_for: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    let mut turn = 0usize;
    loop {
        ticker.tick().await;
        let free: Vec<String> = all_connectors(&emsp).into_iter().filter(|c| emsp.connector_status(c) == Some(ConnectorStatusCode::Idle)).collect();
        if free.is_empty() {
            tracing::info!("a user found no free connector / 用户未找到空闲充电枪");
            continue;
        }
        turn += 1;
        let connector = free[turn % free.len()].clone();
        tokio::spawn(charge(emsp.clone(), connector, charge_for));
    }
}

async fn charge(emsp: Arc<EmspSimulator>, connector: String, charge_for: Duration) {
    let (seq, answer) = match emsp.start_charging(&connector).await {
        Ok(started) => started,
        Err(e) => return tracing::warn!(%connector, "query_start_charge failed: {e} / 启动充电请求失败"),
    };
    if answer.succ_stat != SuccStat::Success {
        return tracing::info!(%connector, fail_reason = answer.fail_reason, "the start was refused / 启动充电被拒绝");
    }
    tracing::info!(%connector, %seq, "a user starts charging / 用户开始充电");
    tokio::time::sleep(charge_for).await;
    if let Err(e) = emsp.stop_charging(&seq).await {
        return tracing::warn!(%seq, "query_stop_charge failed: {e} / 停止充电请求失败");
    }
    match emsp.wait_session(&seq, Duration::from_secs(120), |s| s.billed.is_some()).await {
        Some(session) => {
            tracing::info!(%seq, energy_kwh = %session.energy, billed = %session.billed.unwrap_or_default(), "the user stopped and was billed / 充电结束，已结算")
        }
        None => tracing::warn!(%seq, "no charge-end record within 2 minutes / 两分钟内未收到充电订单"),
    }
}
