//! Benchmarks that need the application's pieces (numbers for docs/benchmarks.md).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use domain::station::ConnectorStatus;
use rand::{Rng, SeedableRng};
use services::catalog::NearbyFilter;
use services::{MasterKey, Services, Settings, SystemClock};
use store::catalog::{ConnectorRow, StationRow};
use uuid::Uuid;

/// Nearby search over `stations` synthetic stations around Shenzhen (two connectors each, random
/// live status), `queries` searches of 5 km at random points, half with "free now".
pub async fn nearby(stations: usize, queries: usize) -> anyhow::Result<()> {
    let db = store::Db::connect("sqlite::memory:").await?;
    let services = Services::new(db, MasterKey::from_bytes(&MasterKey::generate()), Arc::new(SystemClock), Settings::default());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let now = Utc::now();
    let started = Instant::now();
    for i in 0..stations {
        let (station, connectors) =
            services::catalog::synthetic_station(&format!("B{i:07}"), rng.random_range(22.40..22.80), rng.random_range(113.75..114.35), now);
        services.index_station(&station, &connectors);
        for c in &connectors {
            let status = if rng.random_bool(0.4) { ConnectorStatus::Available } else { ConnectorStatus::Charging };
            services.hub.apply(c.id, status, now);
        }
    }
    println!("nearby: indexed {stations} stations in {:.2} s", started.elapsed().as_secs_f64());
    let mut latencies = Vec::with_capacity(queries);
    let mut found = 0usize;
    for q in 0..queries {
        let (lat, lng) = (rng.random_range(22.40..22.80), rng.random_range(113.75..114.35));
        let filter = NearbyFilter { free_now: q % 2 == 0, ..Default::default() };
        let t = Instant::now();
        let page = services.nearby(lat, lng, 5_000.0, &filter, 0, 20);
        latencies.push(t.elapsed());
        found += page.total;
        std::hint::black_box(page);
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "nearby: {queries} queries (5 km, first page of 20), {:.0} stations in range on average (estimated): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        found as f64 / queries as f64,
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

/// Status pushes through the whole real path: HTTP on loopback, envelope verification and
/// decryption, the status hub, and the write-behind to a SQLite file in a temp directory.
pub async fn status_ingest(connectors: usize, pushes: usize, concurrency: usize) -> anyhow::Result<()> {
    use cec::messages::{ConnectorStatusCode, ConnectorStatusInfo, NotificationStationStatus};
    let (_dir, base, services) = serve_in_process().await?;

    let partner = approved_operator(&services, "cec102").await?;
    let (_, sets) =
        services.cec_issued_for_operator("MA5FCTXX0").await.map_err(|e| anyhow::anyhow!("{e}"))?.ok_or_else(|| anyhow::anyhow!("no credentials"))?;
    let set = &sets[0].secrets;
    let secrets = cec::Secrets::new(&set.operator_secret, &set.data_secret, &set.data_secret_iv, &set.sig_secret);

    // The partner's catalog: one station per 10 connectors, stored and indexed.
    let now = Utc::now();
    let mut tx = services.db.begin().await?;
    let mut ids = Vec::with_capacity(connectors);
    for chunk in 0..connectors.div_ceil(10) {
        let (mut station, _) = services::catalog::synthetic_station(&format!("S{chunk:06}"), 22.5, 114.0, now);
        station.partner_id = Some(partner);
        let station_id = store::catalog::upsert_station(&mut tx, &station).await?;
        let equipment_id = store::catalog::upsert_equipment(
            &mut tx,
            &store::catalog::EquipmentRow {
                id: Uuid::now_v7(),
                station_id,
                external_id: format!("E{chunk:06}"),
                equipment_type: domain::station::EquipmentType::Dc,
                power_kw: "60".into(),
                detail: serde_json::Value::Null,
                ocpp_id: None,
            },
        )
        .await?;
        let mut rows = Vec::new();
        for n in 0..10.min(connectors - chunk * 10) {
            let mut c = ConnectorRow {
                id: Uuid::now_v7(),
                station_id,
                equipment_id,
                external_id: format!("C{chunk:06}{n}"),
                connector_type: domain::station::ConnectorType::DcCable,
                power_kw: "60".into(),
                ocpp_connector: None,
                status: domain::station::ConnectorStatus::Available,
                status_at: None,
                detail: serde_json::Value::Null,
            };
            c.id = store::catalog::upsert_connector(&mut tx, &c).await?;
            ids.push(c.external_id.clone());
            rows.push(c);
        }
        services.index_station(&StationRow { id: station_id, ..station }, &rows);
    }
    tx.commit().await?;

    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let per_task = pushes / concurrency.max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let client = cec::CecClient::new(cec::ClientConfig::new(&base, "v1.0", "MA5FCTXX0", secrets.clone()), http.clone())?;
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = 0usize;
            for i in 0..per_task {
                let status = if (i + t) % 2 == 0 { ConnectorStatusCode::Charging } else { ConnectorStatusCode::Idle };
                let push = NotificationStationStatus {
                    connector_status_info: ConnectorStatusInfo {
                        connector_id: ids[(i * 7919 + t) % ids.len()].clone(),
                        status,
                        park_status: None,
                        lock_status: None,
                    },
                };
                if client.call(&push).await.map(|r| r.status != 0).unwrap_or(true) {
                    failures += 1;
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for task in tasks {
        failures += task.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let sent = per_task * concurrency;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let written = services.flush_statuses().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "status-ingest: {sent} notification_stationStatus pushes over {concurrency} connections to {} connectors in {seconds:.2} s = {:.0}/s ({failures} failed; write-behind pending after the run: {written})",
        ids.len(),
        sent as f64 / seconds
    );
    Ok(())
}

/// The whole application on a SQLite file in a temp directory, serving on a random loopback
/// port; keep the directory alive while it runs.
pub(crate) async fn serve_in_process() -> anyhow::Result<(tempfile::TempDir, String, Services)> {
    let dir = tempfile::tempdir()?;
    let mut config = crate::config::Config { data_dir: dir.path().to_path_buf(), ..Default::default() };
    config.http.bind = "127.0.0.1:0".parse()?;
    config.log.level = "warn".into();
    // The simulated partners listen on loopback.
    config.partners.allow_private_endpoints = true;
    // A benchmark measures ingestion, not the per-client limiter that guards it in service.
    config.partners.api_requests_per_second = 1_000_000;
    config.partners.api_burst = 1_000_000;
    let app = crate::startup::Application::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    let services = app.services.clone();
    tokio::spawn(app.run(std::future::pending()));
    Ok((dir, base, services))
}

/// Registers and approves the benchmarks' operator partner (credit code 91440300MA5FCTXX0J,
/// operator id MA5FCTXX0) speaking `protocol`; returns its id.
pub(crate) async fn approved_operator(services: &Services, protocol: &str) -> anyhow::Result<Uuid> {
    use domain::partner::{ApplicationInput, ReviewAction};
    let fail = |e: services::Error| anyhow::anyhow!("{e}");
    let registered = services
        .register(ApplicationInput {
            company_name: Some("基准运营商".into()),
            credit_code: Some("91440300MA5FCTXX0J".into()),
            contact_name: Some("bench".into()),
            contact_phone: Some("13800138000".into()),
            contact_email: Some("bench@example.cn".into()),
            roles: Some("operator".into()),
            protocol: Some(protocol.into()),
            callback_base_url: Some("http://127.0.0.1:9".into()),
        })
        .await
        .map_err(fail)?;
    let partner = registered.partner.id;
    services.review(partner, ReviewAction::Approve, &services::onboarding::Actor::Cli("bench".into())).await.map_err(fail)?;
    Ok(partner)
}
