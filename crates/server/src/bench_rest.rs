//! The operator side of the partner REST API under load (numbers for docs/benchmarks.md): a
//! catalog upserted through `POST /stations:batch`, then status batches through
//! `POST /connectors/status:batch`, over real HTTP on loopback with a real access token, into the
//! status hub and the write-behind to a SQLite file. The client speaks plain JSON, as a partner
//! would.

use std::time::Instant;

use anyhow::{Context, anyhow};
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Stations per upload call: the API's limit.
const STATIONS_PER_CALL: usize = 1_000;

/// One station of the synthetic catalog: a DC pile with two connectors, spread over Shenzhen.
fn station(i: usize) -> Value {
    json!({
        "id": format!("R{i:06}"),
        "name": format!("基准站 {i}"),
        "address": "广东省深圳市南山区",
        "area_code": "440305",
        "lat": 22.40 + (i % 400) as f64 * 0.001,
        "lng": 113.75 + (i / 400) as f64 * 0.002,
        "coordinate_system": "gcj02",
        "tariff": {"periods": [{"start": "00:00", "electricity_price": "0.8000", "service_price": "0.4000"}]},
        "piles": [{"id": format!("R{i:06}P"), "type": "dc", "power_kw": "120", "connectors": [
            {"id": format!("R{i:06}C1"), "type": "dc_cable", "power_kw": "120"},
            {"id": format!("R{i:06}C2"), "type": "dc_cable", "power_kw": "120"}
        ]}]
    })
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> anyhow::Result<Value> {
    let response = http.post(url).bearer_auth(token).json(body).send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() {
        return Err(anyhow!("{url}: {status} {body}"));
    }
    Ok(body)
}

/// `stations` stations upserted twice (created, then replaced) in calls of 1,000, then `changes`
/// status changes in batches of `batch` over `concurrency` connections.
pub async fn rest_cpo(stations: usize, changes: usize, batch: usize, concurrency: usize) -> anyhow::Result<()> {
    let (_dir, base, services) = crate::bench::serve_in_process().await?;
    let fail = |e: services::Error| anyhow!("{e}");
    let partner = crate::bench::approved_operator(&services, "rest_api").await?;
    let api = services.credentials(partner).await.map_err(fail)?.api.into_iter().next().context("no API credentials")?;
    let token = services.issue_token(&api.client_id, api.client_secret.as_deref().context("no secret")?, None).await.map_err(fail)?.access_token;
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency.max(1)).build()?;

    let url = format!("{base}/api/partner/v1/stations:batch");
    for pass in ["created", "replaced"] {
        let started = Instant::now();
        let mut stored = 0;
        for first in (0..stations).step_by(STATIONS_PER_CALL) {
            let items: Vec<Value> = (first..(first + STATIONS_PER_CALL).min(stations)).map(station).collect();
            let answer = post(&http, &url, &token, &json!({ "stations": items })).await?;
            stored += answer["created"].as_u64().unwrap_or(0) + answer["updated"].as_u64().unwrap_or(0);
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "rest-cpo: {stations} stations ({} connectors) {pass} through POST /stations:batch in calls of {STATIONS_PER_CALL}: {seconds:.2} s = {:.0} stations/s ({stored} stored)",
            stations * 2,
            stations as f64 / seconds
        );
    }

    let connectors: Vec<String> = (0..stations).flat_map(|i| [format!("R{i:06}C1"), format!("R{i:06}C2")]).collect();
    let url = format!("{base}/api/partner/v1/connectors/status:batch");
    let calls = changes / batch.max(1);
    let per_task = calls / concurrency.max(1);
    let start_at = Utc::now() - Duration::minutes(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (http, url, token, connectors) = (http.clone(), url.clone(), token.clone(), connectors.clone());
        tasks.push(tokio::spawn(async move {
            let mut applied = 0u64;
            for call in 0..per_task {
                // Calls of all connections interleaved in time, each a little later than the one
                // before, so most readings are news (a few lose the race and come back stale).
                let n = call * concurrency + t;
                let at = (start_at + Duration::milliseconds(n as i64)).to_rfc3339_opts(SecondsFormat::Millis, true);
                let items: Vec<Value> = (0..batch)
                    .map(|k| {
                        let connector = &connectors[(n * batch + k) * 7919 % connectors.len()];
                        json!({"connector_id": connector, "status": if (n + k).is_multiple_of(2) { "charging" } else { "available" }, "at": at})
                    })
                    .collect();
                let answer = post(&http, &url, &token, &json!({ "changes": items })).await?;
                applied += answer["applied"].as_u64().unwrap_or(0);
            }
            Ok::<_, anyhow::Error>(applied)
        }));
    }
    let mut applied = 0;
    for task in tasks {
        applied += task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let sent = per_task * concurrency * batch;
    let flushed = Instant::now();
    let written = services.flush_statuses().await.map_err(fail)?;
    println!(
        "rest-cpo: {sent} connector status changes in batches of {batch} over {concurrency} connections to {} connectors in {seconds:.2} s = {:.0} changes/s ({applied} applied; write-behind after the run: {written} rows in {:.2} s)",
        connectors.len(),
        sent as f64 / seconds,
        flushed.elapsed().as_secs_f64()
    );
    Ok(())
}
