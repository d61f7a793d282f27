//! `chargebridge sim piles`: a fleet of simulated OCPP 1.6J piles against a central system
//! (ours at `/ocpp`, or any other), with the passwords our network issued for them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Args;
use ocpp::enums::ChargePointErrorCode;
use serde_json::Value;
use sim::piles::{FleetConfig, PileFleet};

#[derive(Args, Debug)]
pub struct PilesArgs {
    /// Central system endpoint without the pile identity.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ocpp")]
    pub url: String,
    /// Number of piles.
    #[arg(long)]
    pub count: usize,
    /// Pile identities are <prefix><index:05>, from 1 (SIM00001, SIM00002, …); create the piles
    /// on the platform with these OCPP ids.
    #[arg(long, default_value = "SIM")]
    pub prefix: String,
    /// Connectors per pile.
    #[arg(long, default_value_t = 2)]
    pub connectors: u32,
    /// JSON file with the piles' OCPP passwords: what `POST /api/admin/v1/stations` answered
    /// (one station or a list of them), or {"<ocpp id>": "<password>", …}.
    #[arg(long, conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// One password for every pile (visible in the process list; prefer --password-file).
    #[arg(long)]
    pub password: Option<String>,
    /// Piles started per second, so a large fleet does not storm the central system.
    #[arg(long, default_value_t = 200)]
    pub connect_rate: u32,
    /// Every pile's connector 1 faults and recovers once per this many seconds (two
    /// StatusNotifications), spread evenly over the fleet; 0 = never.
    #[arg(long, default_value_t = 0)]
    pub flap_every: u64,
    /// Seconds between progress reports.
    #[arg(long, default_value_t = 5)]
    pub report_every: u64,
}

pub async fn run(args: PilesArgs) -> anyhow::Result<()> {
    ensure!(args.count >= 1, "--count must be at least 1");
    ensure!((1..=8).contains(&args.connectors), "--connectors is 1 to 8");
    ensure!(args.connect_rate >= 1, "--connect-rate must be at least 1");
    ensure!(args.url.starts_with("ws://") || args.url.starts_with("wss://"), "--url must start with ws:// or wss://");
    let mut config = FleetConfig::new(args.url.trim_end_matches('/'), args.count);
    config.id_prefix = args.prefix.clone();
    config.connectors_per_pile = args.connectors;
    config.start_spacing = Duration::from_secs(1) / args.connect_rate;
    let (first, last) = (config.identity(0), config.identity(args.count - 1));
    if let Some(path) = &args.password_file {
        let passwords = read_passwords(path)?;
        let missing = (0..args.count).filter(|&i| !passwords.contains_key(&config.identity(i))).count();
        if missing > 0 {
            tracing::warn!(missing, file = %path.display(), "piles without a password in the file will be refused / 部分桩在密码文件中没有密码，将被拒绝接入");
        }
        let passwords: HashMap<String, Vec<u8>> = passwords.into_iter().map(|(id, pw)| (id, pw.into_bytes())).collect();
        config.password_for = Arc::new(move |id| passwords.get(id).cloned());
    } else if let Some(password) = args.password.clone() {
        config.password_for = Arc::new(move |_| Some(password.clone().into_bytes()));
    }
    let ramp = config.start_spacing * args.count as u32;
    tracing::info!(
        "starting {} simulated OCPP 1.6J piles {first} … {last} ({} connectors each) against {}, over {:.1} s / 启动 {} 个模拟充电桩，接入 {}",
        args.count,
        args.connectors,
        config.url_base,
        ramp.as_secs_f64(),
        args.count,
        config.url_base
    );
    let fleet = Arc::new(PileFleet::start(config));
    let flapper = (args.flap_every > 0).then(|| tokio::spawn(flap(fleet.clone(), Duration::from_secs(args.flap_every))));
    tokio::select! {
        _ = report(&fleet, Duration::from_secs(args.report_every.max(1))) => {}
        _ = crate::commands::shutdown_signal() => {}
    }
    if let Some(task) = flapper {
        task.abort();
    }
    fleet.shutdown().await;
    tracing::info!("piles disconnected; bye / 模拟充电桩已断开");
    Ok(())
}

/// Logs how many piles are online every `every`, and once when all of them first are.
async fn report(fleet: &PileFleet, every: Duration) {
    let started = Instant::now();
    let mut all_seen = false;
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let online = fleet.online_count();
        let reconnects: u64 = fleet.piles().iter().map(|p| u64::from(p.snapshot().connects.saturating_sub(1))).sum();
        if online == fleet.len() && !all_seen {
            all_seen = true;
            tracing::info!("all {} piles online after {:.1} s / 全部 {} 个桩已在线", fleet.len(), started.elapsed().as_secs_f64(), fleet.len());
        } else {
            // Connect failures are logged at debug (RUST_LOG=sim=debug shows why).
            tracing::info!(reconnects, "{online}/{} piles online / 在线 {online}/{} 个桩", fleet.len(), fleet.len());
        }
    }
}

/// Connector 1 of each online pile faults and recovers, piles taken in turn so the whole fleet
/// goes round once per `period`.
async fn flap(fleet: Arc<PileFleet>, period: Duration) {
    const TICK: Duration = Duration::from_millis(100);
    let ticks_per_period = (period.as_millis() / TICK.as_millis()).max(1) as usize;
    let mut ticker = tokio::time::interval(TICK);
    let (mut done, mut tick) = (0usize, 0usize);
    loop {
        ticker.tick().await;
        tick += 1;
        let due = tick * fleet.len() / ticks_per_period;
        while done < due {
            let pile = fleet.pile(done % fleet.len());
            if pile.snapshot().online {
                pile.fault(1, ChargePointErrorCode::OtherError).await;
                pile.clear_fault(1).await;
            }
            done += 1;
        }
    }
}

/// OCPP passwords by pile identity, from the admin API's answer(s) or a plain map.
pub fn read_passwords(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    passwords_from(&value).with_context(|| format!("passwords in {}", path.display()))
}

fn passwords_from(value: &Value) -> anyhow::Result<HashMap<String, String>> {
    let stations: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        Value::Object(map) if map.contains_key("piles") => vec![value],
        Value::Object(map) => {
            return map
                .iter()
                .map(|(id, pw)| Ok((id.clone(), pw.as_str().with_context(|| format!("the password of {id} must be a string"))?.to_owned())))
                .collect();
        }
        _ => bail!("expected the answer of POST /api/admin/v1/stations, a list of them, or {{\"<ocpp id>\": \"<password>\"}}"),
    };
    let mut passwords = HashMap::new();
    for station in stations {
        let piles = station["piles"].as_array().context("a station without `piles`")?;
        for pile in piles {
            let (Some(id), Some(password)) = (pile["ocpp_id"].as_str(), pile["password"].as_str()) else {
                bail!("each pile needs `ocpp_id` and `password`");
            };
            passwords.insert(id.to_owned(), password.to_owned());
        }
    }
    Ok(passwords)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_admin_answer_a_list_of_them_or_a_map() {
        let created =
            json!({"station_id": "x", "piles": [{"ocpp_id": "CBP00001", "password": "a", "connector_ids": []}, {"ocpp_id": "CBP00002", "password": "b"}]});
        assert_eq!(passwords_from(&created).unwrap()["CBP00002"], "b");
        let more = json!([created, {"piles": [{"ocpp_id": "CBP00003", "password": "c"}]}]);
        assert_eq!(passwords_from(&more).unwrap().len(), 3);
        assert_eq!(passwords_from(&json!({"P1": "secret"})).unwrap()["P1"], "secret");
    }

    #[test]
    fn refuses_malformed_files() {
        assert!(passwords_from(&json!({"P1": 5})).is_err());
        assert!(passwords_from(&json!({"piles": [{"ocpp_id": "P1"}]})).is_err());
        assert!(passwords_from(&json!("nope")).is_err());
    }
}
