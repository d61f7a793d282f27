//! `chargebridge sim cpo`: a third-party charge-point operator platform speaking T/CEC 102 (the
//! partner of flow A) as its own process. The platform pulls its catalog and starts sessions on
//! it; with the platform's address and credentials it also pushes status, session results and
//! bills, and can misbehave the way partners in the field do. With `--protocol rest` it is an
//! operator on our partner REST API instead (`rest_cpo`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, ensure};
use cec::messages::ConnectorStatusCode;
use clap::Args;
use rand::{Rng, SeedableRng};
use sim::cec_cpo::{CpoConfig, CpoSimulator, Misbehaviour, PlatformLink, PushOutcome};

use super::peer;

/// The protocol the simulated operator integrates with.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpoProtocol {
    /// T/CEC 102 envelopes, both directions.
    Cec,
    /// Our partner REST API: OAuth2, signed commands and webhooks.
    Rest,
}

#[derive(Args, Debug)]
pub struct CpoArgs {
    /// `cec` (T/CEC 102) or `rest` (our partner REST API, operator role).
    #[arg(long, value_enum, default_value = "cec")]
    pub protocol: CpoProtocol,
    /// Where it serves `/evcs/{version}/…`, or with `rest` its command endpoint and webhook
    /// receiver (port 0 = any free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:9001")]
    pub bind: SocketAddr,
    /// Its 9-character OperatorID: the partner's, as the platform registered it (characters
    /// 9 to 17 of the credit code). T/CEC 102 only.
    #[arg(long, required_if_eq("protocol", "cec"))]
    pub operator_id: Option<String>,
    #[arg(long, default_value_t = 5)]
    pub stations: usize,
    #[arg(long, default_value_t = 4)]
    pub piles_per_station: usize,
    #[arg(long, default_value_t = 2)]
    pub connectors_per_pile: usize,
    /// Seeds the catalog and every random decision, so a run can be repeated.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Its own `/evcs/{version}/` segment.
    #[arg(long, default_value = "v1.0")]
    pub version: String,
    /// JSON with the secrets it issues to the platform (what an earlier run printed), so a
    /// restarted simulator keeps its registration; random when absent.
    #[arg(long)]
    pub secrets_file: Option<PathBuf>,
    /// The platform to push to, e.g. http://127.0.0.1:8080 (no `/evcs/…`).
    #[arg(long, requires = "platform_credentials", required_if_eq("protocol", "rest"))]
    pub platform_url: Option<String>,
    /// The answer of `GET /api/portal/v1/partners/me/credentials` saved as is (the first one,
    /// which shows the API secret). T/CEC 102 takes its `cec_issued` secrets (or one such
    /// entry); REST its `api` client and `webhook_secret`, or a file with `client_id`,
    /// `client_secret` and `webhook_secret`.
    #[arg(long, alias = "credentials", requires = "platform_url", required_if_eq("protocol", "rest"))]
    pub platform_credentials: Option<PathBuf>,
    /// A random connector is plugged in or unplugged (idle ↔ occupied, one status push) this
    /// often, in milliseconds; 0 = statuses change only with sessions.
    #[arg(long, default_value_t = 5_000)]
    pub status_change_ms: u64,
    /// Fraction (0 to 1) of status pushes silently not sent.
    #[arg(long, default_value_t = 0.0)]
    pub drop_status_pushes: f64,
    /// Send every push twice, as partners that retry blindly do.
    #[arg(long)]
    pub duplicate_pushes: bool,
    /// Delay every reply by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub slow_replies_ms: u64,
    /// Fraction (0 to 1) of accepted starts that then fail at the pile.
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Milliseconds a pile takes to start or stop after accepting the command.
    #[arg(long, default_value_t = 2_000)]
    pub start_delay_ms: u64,
    /// Seconds between `notification_equip_charge_status` while charging (≈50 in the field).
    #[arg(long, default_value_t = 50)]
    pub charge_status_secs: u64,
    /// Seconds between activity reports.
    #[arg(long, default_value_t = 5)]
    pub report_every: u64,
    /// REST: a session nobody stops ends after this many seconds (the car is full).
    #[arg(long, default_value_t = 3_600)]
    pub max_charge_secs: u64,
    /// REST: seconds between reports of every connector's status (changes go at once).
    #[arg(long, default_value_t = 300)]
    pub status_every_secs: u64,
    /// REST: refuse every command (`refused`, reason `other`).
    #[arg(long)]
    pub refuse_commands: bool,
    /// REST: never answer a command (hold the call past the platform's 10 s timeout).
    #[arg(long)]
    pub never_answer: bool,
    /// REST: send charge records whose total is one yuan off (the platform should dispute).
    #[arg(long)]
    pub unbalanced_records: bool,
    /// REST: refuse every start with `not_plugged_in` (the driver has not plugged in).
    #[arg(long)]
    pub nobody_plugged_in: bool,
    /// REST: accept a stop, then report `stop_failed` and keep charging.
    #[arg(long)]
    pub stops_fail: bool,
}

pub async fn run(args: CpoArgs) -> anyhow::Result<()> {
    if args.protocol == CpoProtocol::Rest {
        return super::rest_cpo::run(args).await;
    }
    let operator_id = args.operator_id.clone().unwrap_or_default();
    ensure!(
        operator_id.len() == 9 && operator_id.chars().all(|c| c.is_ascii_alphanumeric()),
        "--operator-id (9 letters or digits) is required with --protocol cec"
    );
    ensure!(
        (0.0..=1.0).contains(&args.drop_status_pushes) && (0.0..=1.0).contains(&args.failure_rate),
        "--drop-status-pushes and --failure-rate are fractions from 0 to 1"
    );
    ensure!(args.stations >= 1 && args.piles_per_station >= 1 && args.connectors_per_pile >= 1, "a catalog needs at least one station, pile and connector");
    let operator_id = operator_id.to_ascii_uppercase();
    let secrets = peer::own_secrets(args.secrets_file.as_deref())?;
    let mut config = CpoConfig::new(&operator_id, secrets.clone());
    config.bind = args.bind;
    config.stations = args.stations;
    config.piles_per_station = args.piles_per_station;
    config.connectors_per_pile = args.connectors_per_pile;
    config.seed = args.seed;
    config.version = args.version.clone();
    config.failure_rate = args.failure_rate;
    config.start_delay = Duration::from_millis(args.start_delay_ms);
    config.charge_status_interval = Duration::from_secs(args.charge_status_secs.max(1));
    config.misbehaviour = Misbehaviour {
        drop_status_pushes: args.drop_status_pushes,
        duplicate_pushes: args.duplicate_pushes,
        slow_replies: (args.slow_replies_ms > 0).then(|| Duration::from_millis(args.slow_replies_ms)),
        down: false,
        unbalanced_orders: false,
    };
    if let (Some(url), Some(path)) = (&args.platform_url, &args.platform_credentials) {
        let issued = peer::read_issued(path, &operator_id)?;
        if let Some(theirs) = issued.operator_id.as_deref().filter(|id| !id.eq_ignore_ascii_case(&operator_id)) {
            tracing::warn!(
                "the credentials are for OperatorID {theirs}, not {operator_id}; the platform will refuse our pushes / 凭证的运营商编号不一致，推送将被拒绝"
            );
        }
        config.platform = Some(PlatformLink {
            base_url: url.trim_end_matches('/').to_owned(),
            version: issued.version,
            our_operator_id: operator_id.clone(),
            secrets: issued.secrets,
        });
    }
    let pushes_to = config.platform.as_ref().map(|p| format!("{}/evcs/{}/", p.base_url, p.version));
    let cpo = CpoSimulator::start(config).await.with_context(|| format!("starting the simulated operator on {}", args.bind))?;
    let connectors = cpo.connector_ids();
    tracing::info!(
        "simulated charge-point operator {operator_id} serving {} stations, {} connectors at {}/evcs/{}/ / 模拟第三方运营商平台已启动",
        args.stations,
        connectors.len(),
        cpo.base_url(),
        args.version
    );
    match &pushes_to {
        Some(url) => tracing::info!("pushing status, session results and bills to {url} / 状态与订单推送至平台"),
        None => tracing::info!("no --platform-url: nothing is pushed until it is given / 未配置平台地址，不推送"),
    }
    tracing::info!("register this endpoint on the platform: PUT /api/portal/v1/partners/me/cec-peer with the JSON on stdout / 请在平台登记以下对接地址与密钥");
    println!("{}", peer::peer_registration(&operator_id, cpo.base_url(), &args.version, &secrets));

    let every = Duration::from_millis(args.status_change_ms);
    tokio::select! {
        _ = narrate(&cpo, Duration::from_secs(args.report_every.max(1))) => {}
        _ = change_statuses(&cpo, connectors, every, args.seed), if !every.is_zero() => {}
        _ = crate::commands::shutdown_signal() => {}
    }
    cpo.shutdown();
    tracing::info!("simulated operator stopped / 模拟运营商平台已停止");
    Ok(())
}

/// Cars arrive and leave: a random connector that is neither charging nor reserved flips
/// between idle and occupied.
async fn change_statuses(cpo: &CpoSimulator, connectors: Vec<String>, every: Duration, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let id = &connectors[rng.random_range(0..connectors.len())];
        let next = match cpo.connector_status(id) {
            Some(ConnectorStatusCode::Idle) => ConnectorStatusCode::OccupiedNotCharging,
            Some(ConnectorStatusCode::OccupiedNotCharging) => ConnectorStatusCode::Idle,
            _ => continue,
        };
        cpo.set_connector_status(id, next);
    }
}

/// Tells what the platform did and what was pushed since the last report.
async fn narrate(cpo: &CpoSimulator, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    let (mut pushes_seen, mut known) = (0usize, HashMap::new());
    loop {
        ticker.tick().await;
        for session in cpo.sessions() {
            let stat = format!("{:?}", session.stat);
            if known.get(session.start_charge_seq.as_str()) != Some(&stat) {
                tracing::info!(seq = session.start_charge_seq.as_str(), connector = %session.connector_id, by = %session.started_by, "session {stat} / 充电会话状态 {stat}");
                known.insert(session.start_charge_seq.as_str().to_owned(), stat);
            }
        }
        let pushes = cpo.pushes();
        let mut status = HashMap::<&str, usize>::new();
        for push in pushes.iter().skip(pushes_seen) {
            let outcome = match &push.outcome {
                PushOutcome::Delivered => "delivered",
                PushOutcome::Dropped => "dropped on purpose",
                PushOutcome::Suppressed => "suppressed (down)",
                PushOutcome::NoPlatform => "not sent (no platform link)",
                PushOutcome::Failed(_) => "failed",
            };
            if push.interface == "notification_stationStatus" {
                *status.entry(outcome).or_default() += 1;
            } else if let PushOutcome::Failed(error) = &push.outcome {
                tracing::warn!(subject = %push.subject, "{} failed: {error} / 推送失败", push.interface);
            } else {
                tracing::info!(subject = %push.subject, duplicate = push.duplicate, "{} {outcome} / 已推送", push.interface);
            }
        }
        pushes_seen = pushes.len();
        if !status.is_empty() {
            let mut parts: Vec<String> = status.iter().map(|(outcome, n)| format!("{n} {outcome}")).collect();
            parts.sort();
            tracing::info!("status pushes: {} / 状态推送", parts.join(", "));
        }
    }
}
