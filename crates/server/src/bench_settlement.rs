//! Settlement at scale (numbers for docs/benchmarks.md): `orders` paid flow-A orders of one
//! operator in one period, written straight into a fresh database (a SQLite file in a temp
//! directory, or the empty database `--database-url` names) in transactions of 10,000, then the statement of the period drawn up —
//! reconciled with the payment ledger — and written as CSV, timed, with this process's resident
//! memory before and after.

use std::time::Instant;

use anyhow::anyhow;
use chrono::{Duration, SubsecRound, Utc};
use domain::money::{Energy, Money};
use domain::order::{Order, Ownership, StartChargeSeq};
use domain::settlement::{Flow, SettlementLine};
use services::onboarding::Actor;
use uuid::Uuid;

const PER_TRANSACTION: usize = 10_000;

/// This process's resident and peak memory, KiB (Linux).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0);
    (field("VmRSS:"), field("VmHWM:"))
}

pub async fn settlement(orders: usize, database_url: Option<String>) -> anyhow::Result<()> {
    let fail = |e: services::Error| anyhow!("{e}");
    let dir = tempfile::tempdir()?;
    let backend = if database_url.as_deref().is_some_and(|u| u.starts_with("postgres")) { "PostgreSQL" } else { "SQLite" };
    let mut config = crate::config::Config { data_dir: dir.path().to_path_buf(), database_url, ..Default::default() };
    config.http.bind = "127.0.0.1:0".parse()?;
    config.log.level = "warn".into();
    // The benchmark's partner registers a loopback callback it is never called on.
    config.partners.allow_private_endpoints = true;
    let app = crate::startup::Application::build(config).await?;
    let services = app.services.clone();
    let partner = crate::bench::approved_operator(&services, "rest_api").await?;
    let user = services.sign_up("13800138000", "bench-password", None).await.map_err(fail)?.user.id;

    // Whole milliseconds, as stored: the first order is exactly at the period's start.
    let end = Utc::now().trunc_subsecs(3);
    let start = end - Duration::days(30);
    let written = Instant::now();
    let (gross, partner_amount) = (Money::new("23.00".parse()?), Money::new("22.00".parse()?));
    let energy = Energy::kwh("20.00".parse()?)?;
    for first in (0..orders).step_by(PER_TRANSACTION) {
        let mut tx = services.db.begin().await?;
        for i in first..(first + PER_TRANSACTION).min(orders) {
            // Spread over the period; one StartChargeSeq second holds 10,000 counters.
            let at = start + Duration::milliseconds((i as i64) * (30 * 86_400_000 / orders.max(1) as i64));
            let seq = StartChargeSeq::generate("MA5FCTXX0", start + Duration::seconds((i / 10_000) as i64), (i % 10_000) as u16)?;
            let order = Order::new(Uuid::now_v7(), seq, Ownership::PartnerPile { user_id: user, operator_partner_id: partner }, Uuid::nil(), at);
            store::orders::insert(&mut tx, &order).await?;
            let mut payment = store::payments::PaymentRecord::new(Uuid::now_v7(), order.id, user, "wallet", 230_000, "succeeded", at);
            payment.settled_at = Some(at);
            store::payments::insert(&mut tx, &payment).await?;
            let line = SettlementLine { order_id: order.id, flow: Flow::A, energy, gross, partner_amount, our_amount: gross - partner_amount, at };
            store::settlement::insert_line(&mut tx, partner, &line).await?;
        }
        tx.commit().await?;
    }
    println!("settlement: {orders} paid orders with payments and settlement lines written to {backend} in {:.1} s", written.elapsed().as_secs_f64());

    let (before, _) = memory();
    let drawn = Instant::now();
    let statement = services.draw_up_statement(partner, start, end + Duration::seconds(1), &Actor::Cli("bench".into())).await.map_err(fail)?;
    let draw_seconds = drawn.elapsed().as_secs_f64();
    let differences = statement.differences.as_array().map_or(0, Vec::len);
    let exported = Instant::now();
    let (mut bytes, mut rows) = (0, 0);
    let mut chunks = std::pin::pin!(services.statement_csv(statement.id).await.map_err(fail)?);
    while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
        let chunk = chunk.map_err(fail)?;
        bytes += chunk.len();
        rows += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let csv_seconds = exported.elapsed().as_secs_f64();
    let (after, peak) = memory();
    println!(
        "settlement: statement of {} orders drawn up and reconciled on {backend} in {draw_seconds:.2} s ({differences} differences); CSV of {} rows ({:.1} MB) in {csv_seconds:.2} s",
        statement.body["order_count"],
        rows - 2,
        bytes as f64 / 1e6
    );
    println!("settlement: resident memory {} MiB before, {} MiB after, peak {} MiB", before / 1024, after / 1024, peak / 1024);
    Ok(())
}
