//! Status-change-to-partner-push latency (flow B): N partner platforms (simulated eMSPs, each
//! a real T/CEC 102 server on loopback) subscribed to our station; status changes of our
//! connectors enter as the OCPP adapter feeds them (`pile_status`) and travel through the
//! outbox, the dispatcher and the T/CEC 102 client to every partner. Measured from the change
//! to its arrival at each partner.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use domain::partner::{ApplicationInput, ReviewAction};
use domain::station::ConnectorStatus;
use rust_decimal::Decimal;
use services::credentials::{CecPeerInput, CecSecretSet};
use services::network::{OwnStationInput, PeriodInput, PileInput};
use services::onboarding::Actor;
use sim::cec_emsp::{EmspConfig, EmspSimulator, PlatformLink};

pub async fn status_push(partners: usize, changes: usize, per_second: u64) -> anyhow::Result<()> {
    let (_dir, base, services) = crate::bench::serve_in_process().await?;
    let e = |e: services::Error| anyhow!("{e}");

    let connectors = 8u8;
    services
        .create_own_station(OwnStationInput {
            external_id: "BENCH01".into(),
            name: "基准自营站".into(),
            address: "深圳".into(),
            area_code: "440300".into(),
            lat: 22.5,
            lng: 114.0,
            service_tel: "4008000000".into(),
            tariff: vec![PeriodInput { start: "000000".into(), elec_price: Decimal::new(8, 1), service_price: Decimal::new(6, 1) }],
            public: Some(true),
            piles: vec![PileInput { ocpp_id: "BENCHP01".into(), power_kw: Decimal::from(120), connectors, dc: true }],
        })
        .await
        .map_err(e)?;

    let cli = Actor::Cli("bench".into());
    let mut emsps = Vec::with_capacity(partners);
    for _ in 0..partners {
        let credit_code = crate::demo::demo_credit_code(&services).await?;
        let operator_id = credit_code[8..17].to_owned();
        let registered = services
            .register(ApplicationInput {
                company_name: Some(format!("基准平台 {operator_id}")),
                credit_code: Some(credit_code),
                contact_name: Some("bench".into()),
                contact_phone: Some("13800138000".into()),
                contact_email: Some("bench@example.cn".into()),
                roles: Some("platform".into()),
                protocol: Some("cec102".into()),
                callback_base_url: Some("http://127.0.0.1:9".into()),
            })
            .await
            .map_err(e)?;
        let partner = registered.partner.id;
        services.review(partner, ReviewAction::Approve, &cli).await.map_err(e)?;
        let (_, sets) = services.cec_issued_for_operator(&operator_id).await.map_err(e)?.context("no credentials")?;
        let set = &sets[0].secrets;
        let link = PlatformLink {
            base_url: base.clone(),
            version: "v1.0".into(),
            our_operator_id: operator_id.clone(),
            secrets: cec::Secrets::new(&set.operator_secret, &set.data_secret, &set.data_secret_iv, &set.sig_secret),
        };
        let theirs = cec::Secrets::new("BenchOpSecret001", "BenchDataSecre01", "BenchDataSecIV01", "BenchSigSecret01");
        let emsp = EmspSimulator::start(EmspConfig::new(&operator_id, theirs.clone(), link)).await?;
        let peer = CecPeerInput {
            base_url: emsp.base_url().to_owned(),
            version_segment: Some("v1.0".into()),
            webhook_url: None,
            secrets: CecSecretSet {
                operator_secret: theirs.operator_secret.clone(),
                data_secret: theirs.data_secret.clone(),
                data_secret_iv: theirs.data_secret_iv.clone(),
                sig_secret: theirs.sig_secret.clone(),
            },
        };
        services.set_cec_peer(partner, peer, &cli).await.map_err(e)?;
        emsps.push(emsp);
    }
    // The subscriber list is cached for a few seconds; let it see every partner.
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Each change flips one connector between free and charging; remember when it was made.
    let pace = Duration::from_micros(1_000_000 / per_second.max(1));
    let mut sent: Vec<Vec<Instant>> = vec![Vec::new(); usize::from(connectors)];
    let started = Instant::now();
    for k in 0..changes {
        let connector = k % usize::from(connectors);
        let status = if sent[connector].len().is_multiple_of(2) { ConnectorStatus::Charging } else { ConnectorStatus::Available };
        sent[connector].push(Instant::now());
        services.pile_status("BENCHP01", connector as i64 + 1, status, services.now() + chrono::Duration::milliseconds(k as i64)).await.map_err(e)?;
        tokio::time::sleep(pace.saturating_sub(Instant::now() - sent[connector][sent[connector].len() - 1])).await;
    }
    let sending = started.elapsed();

    // Wait until every partner has every change (or give up after a minute).
    let expected = changes * partners;
    let deadline = Instant::now() + Duration::from_secs(60);
    let arrived = loop {
        let n: usize = emsps.iter().map(|m| m.received().iter().filter(|r| r.interface == "notification_stationStatus").count()).sum();
        if n >= expected || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let mut latencies = Vec::with_capacity(expected);
    for emsp in &emsps {
        for (c, times) in sent.iter().enumerate() {
            let id = format!("BENCH01001{:02}", c + 1);
            let got: Vec<Instant> = emsp.received().iter().filter(|r| r.key == id).map(|r| r.at).collect();
            latencies.extend(got.iter().zip(times).map(|(at, t)| at.saturating_duration_since(*t)));
        }
    }
    latencies.sort();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or_default();
    println!(
        "status-push: {changes} status changes in {:.1} s to {partners} subscribed partners = {expected} pushes; {arrived} arrived; \
         latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sending.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}
