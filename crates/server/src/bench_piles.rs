//! `chargebridge bench piles`: how many OCPP piles one instance holds, and what they cost it in
//! memory. The platform runs in this process on a SQLite file in a temp directory; the piles run
//! in a child process (`chargebridge sim piles`), so the resident memory read here from
//! `/proc/self/status` is the server's alone, not the simulator's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use rust_decimal::Decimal;
use services::Services;
use services::network::{CreatedStation, OwnStationInput, PeriodInput, PileInput};
use tokio::sync::broadcast::error::RecvError;

/// OCPP ids are `<PREFIX><index:05>` from 1, as `sim piles --prefix` makes them.
const PREFIX: &str = "BENCHP";
const PILES_PER_STATION: usize = 100;
const CONNECTORS_PER_PILE: u8 = 2;

pub async fn piles(count: usize, hold_secs: u64, connect_rate: u32, flap_every: u64) -> anyhow::Result<()> {
    ensure!(count >= 1 && connect_rate >= 1, "--count and --connect-rate must be at least 1");
    let (dir, base, services) = crate::bench::serve_in_process().await?;
    let control = services.pile_control.clone().context("the application has no OCPP pile control")?;
    let empty = Memory::now();

    let started = Instant::now();
    let created = register(&services, count).await?;
    let passwords = dir.path().join("pile-passwords.json");
    std::fs::write(&passwords, serde_json::to_vec(&created)?).context("writing the pile passwords")?;
    println!(
        "piles: registered {count} piles ({} connectors) in {} stations in {:.1} s",
        count * usize::from(CONNECTORS_PER_PILE),
        created.len(),
        started.elapsed().as_secs_f64()
    );
    drop(created);
    let registered = Memory::now();

    let url = format!("{}/ocpp", base.replace("http://", "ws://"));
    let mut simulator = tokio::process::Command::new(std::env::current_exe().context("locating this executable")?)
        .args(["sim", "piles", "--url", &url, "--prefix", PREFIX, "--report-every", "3600"])
        .args(["--count", &count.to_string(), "--connectors", &CONNECTORS_PER_PILE.to_string(), "--connect-rate", &connect_rate.to_string()])
        .args(["--flap-every", &flap_every.to_string()])
        .arg("--password-file")
        .arg(&passwords)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the pile simulator")?;
    println!("piles: simulator process {} started ({connect_rate} piles per second)", simulator.id().unwrap_or_default());

    let ids: Vec<String> = (1..=count).map(|i| format!("{PREFIX}{i:05}")).collect();
    let connected = || ids.iter().filter(|id| control.is_connected(id)).count();
    let connecting = Instant::now();
    // Generous: the ramp itself, plus time for a slow machine; a stuck run fails, it never hangs.
    let limit = Duration::from_secs(120 + 4 * count as u64 / u64::from(connect_rate));
    let mut last_report = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = connected();
        if now == count {
            break;
        }
        if let Some(status) = simulator.try_wait()? {
            bail!("the simulator exited ({status}) with {now} of {count} piles connected");
        }
        if connecting.elapsed() > limit {
            bail!("only {now} of {count} piles connected after {} s", limit.as_secs());
        }
        if last_report.elapsed() >= Duration::from_secs(3) {
            last_report = Instant::now();
            println!("piles: {now}/{count} connected after {:.0} s, server RSS {}", connecting.elapsed().as_secs_f64(), Memory::now().rss());
        }
    }
    let connect_time = connecting.elapsed();
    let online = Memory::now();
    println!("piles: all {count} connected in {:.1} s, server RSS {}", connect_time.as_secs_f64(), online.rss());

    let changes = count_status_changes(&services);
    let holding = Instant::now();
    while holding.elapsed() < Duration::from_secs(hold_secs) {
        tokio::time::sleep(Duration::from_secs(5).min(Duration::from_secs(hold_secs).saturating_sub(holding.elapsed()))).await;
        println!(
            "piles: holding, {:.0} s: {}/{count} connected, {} status changes, server RSS {}",
            holding.elapsed().as_secs_f64(),
            connected(),
            changes.load(Ordering::Relaxed),
            Memory::now().rss()
        );
    }
    let held = holding.elapsed().as_secs_f64();
    let applied = changes.load(Ordering::Relaxed);
    let still = connected();
    let end = Memory::now();
    simulator.start_kill().context("stopping the simulator")?;
    let _ = simulator.wait().await;

    let per_pile = online.rss_kib.saturating_sub(registered.rss_kib) * 1024 / count as u64;
    println!(
        "piles: {still}/{count} piles connected to one instance after holding {held:.0} s; all connected {:.1} s after the simulator started",
        connect_time.as_secs_f64()
    );
    println!(
        "piles: server RSS: started {} → {count} piles registered {} → all connected {} → after holding {}; peak (VmHWM) {}",
        empty.rss(),
        registered.rss(),
        online.rss(),
        end.rss(),
        mib(end.hwm_kib)
    );
    println!("piles: memory per connected pile ≈ {:.1} KiB (all connected − registered, / {count})", per_pile as f64 / 1024.0);
    println!("piles: {applied} connector status changes from StatusNotification in {held:.0} s = {:.0}/s", applied as f64 / held.max(0.001));
    Ok(())
}

/// Our stations of `PILES_PER_STATION` piles each, created through the same service the admin
/// API uses (one transaction per station), with the passwords it issues.
async fn register(services: &Services, count: usize) -> anyhow::Result<Vec<CreatedStation>> {
    let mut created = Vec::with_capacity(count.div_ceil(PILES_PER_STATION));
    for (n, first) in (0..count).step_by(PILES_PER_STATION).enumerate() {
        let piles = (first..count.min(first + PILES_PER_STATION))
            .map(|i| PileInput { ocpp_id: format!("{PREFIX}{:05}", i + 1), power_kw: Decimal::from(120), connectors: CONNECTORS_PER_PILE, dc: true })
            .collect();
        let input = OwnStationInput {
            external_id: format!("BENCH{n:05}"),
            name: format!("基准自营站 {n}"),
            address: "深圳市南山区".into(),
            area_code: "440305".into(),
            lat: 22.45 + (n % 40) as f64 * 0.01,
            lng: 113.85 + (n / 40 % 40) as f64 * 0.01,
            service_tel: "4008000000".into(),
            tariff: vec![PeriodInput { start: "000000".into(), elec_price: Decimal::new(35, 2), service_price: Decimal::new(40, 2) }],
            public: Some(true),
            piles,
        };
        created.push(services.create_own_station(input).await.map_err(|e| anyhow::anyhow!("creating station {n}: {e}"))?);
    }
    Ok(created)
}

/// Counts connector status changes the hub applies from now on (a lagging receiver still
/// learns how many it missed).
fn count_status_changes(services: &Services) -> Arc<AtomicU64> {
    let count = Arc::new(AtomicU64::new(0));
    let mut changes = services.hub.subscribe();
    let counter = count.clone();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(_) => counter.fetch_add(1, Ordering::Relaxed),
                Err(RecvError::Lagged(missed)) => counter.fetch_add(missed, Ordering::Relaxed),
                Err(RecvError::Closed) => break,
            };
        }
    });
    count
}

/// Resident memory of this process (Linux; zero elsewhere).
struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
}

impl Memory {
    fn now() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field =
            |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0);
        Self { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:") }
    }

    fn rss(&self) -> String {
        mib(self.rss_kib)
    }
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}
