//! What each CLI command does. Admin commands work on the database directly (no server needed)
//! through the same services the HTTP API uses, so both enforce the same rules.

use std::io::Read;
use std::sync::Arc;

use anyhow::Context;
use domain::partner::{Protocol, ReviewAction, ReviewState};
use serde::Serialize;
use services::onboarding::Actor;
use services::{Services, SystemClock};
use store::PageRequest;
use store::partners::PartnerFilter;

use crate::cli::{AdminCommand, BenchCommand, PartnerCommand};
use crate::config::Config;
use crate::startup::{Application, open_services};

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config.clone()).await?;
    announce_bootstrap_admin(&app.services, &config).await?;
    let addr = app.local_addr();
    tracing::info!(%addr, database = if config.is_sqlite() { "sqlite" } else { "postgres" }, "chargebridge is serving");
    eprintln!("chargebridge listening on http://{addr}  (API docs: http://{addr}/docs)");
    app.run(shutdown_signal()).await
}

/// Writes the first admin's password to a 0600 file instead of the log.
pub async fn announce_bootstrap_admin(services: &Services, config: &Config) -> anyhow::Result<()> {
    if let Some(password) = services.bootstrap_admin().await? {
        let path = config.data_dir.join("chargebridge.initial-admin-password");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(&path)?, password.as_bytes())?;
        eprintln!("created admin user `admin`; its password is in {} (管理员初始密码文件)", path.display());
    }
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    open_services(&config, Arc::new(SystemClock)).await?;
    eprintln!("database is up to date");
    Ok(())
}

fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text(value));
    }
    Ok(())
}

fn operator() -> Actor {
    Actor::Cli(std::env::var("USER").unwrap_or_else(|_| "operator".into()))
}

/// Admin commands work on an existing installation. Run elsewhere (another directory, a
/// forgotten `--config`), they would otherwise create an empty database and a new master key
/// beside it and report on that; only `serve`, `demo` and `migrate` create them.
fn require_existing_installation(config: &Config) -> anyhow::Result<()> {
    let hint = "run it where chargebridge serves, or name the installation with --config FILE (its data_dir) or DATABASE_URL; \
                `chargebridge migrate` creates a new one";
    let hint_zh = "请在 chargebridge 运行的目录中执行，或用 --config 配置文件（其中的 data_dir）或 DATABASE_URL 指明；新建请运行 chargebridge migrate";
    if let Some(file) = sqlite_file(&config.database_url())
        && !file.exists()
    {
        anyhow::bail!("no database at {path}: {hint}\n未找到数据库 {path}：{hint_zh}", path = file.display());
    }
    let key = config.master_key_path();
    if config.master_key.is_none() && !key.exists() {
        anyhow::bail!("no master key at {path}: {hint}\n未找到主密钥 {path}：{hint_zh}", path = key.display());
    }
    Ok(())
}

/// The file behind a `sqlite:` URL (none for PostgreSQL or an in-memory database).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

pub async fn partner(config: Config, command: PartnerCommand) -> anyhow::Result<()> {
    require_existing_installation(&config)?;
    let services = open_services(&config, Arc::new(SystemClock)).await?;
    let line = |p: &domain::partner::Partner| {
        let reason = p.state_reason.as_deref().map(|r| format!("  ({r})")).unwrap_or_default();
        format!("{}  {}  {:<9}  {:<8}  {}{}", p.id, p.operator_id, p.state.as_str(), p.application.protocol.as_str(), p.application.company_name, reason)
    };
    match command {
        PartnerCommand::List { state, protocol, q, page, per_page, out } => {
            let filter = PartnerFilter {
                state: state.map(|s| ReviewState::parse(&s).context("--state must be submitted, approved, rejected or suspended")).transpose()?,
                protocol: protocol.map(|p| Protocol::parse(&p).context("--protocol must be cec102, ocpi221 or rest_api")).transpose()?,
                search: q,
            };
            anyhow::ensure!(page >= 1 && (1..=200).contains(&per_page), "--page counts from 1; --per-page is 1 to 200");
            let listed = services.list_partners(&filter, PageRequest { page, per_page }).await?;
            print(out.json, &listed, |l| {
                let mut text: Vec<String> = l.items.iter().map(line).collect();
                text.push(format!("page {} of {} partners ({} per page)", l.page, l.total, l.per_page));
                text.join("\n")
            })
        }
        PartnerCommand::Show { id, out } => {
            let partner = services.find_partner(&id).await?;
            let detail = services.partner_detail(partner.id).await?;
            print(out.json, &detail, |d| {
                let mut text = vec![line(&d.partner)];
                text.extend(d.documents.iter().map(|doc| format!("  document {} {} ({} bytes)", doc.kind, doc.file_name, doc.size_bytes)));
                text.extend(d.history.iter().map(|h| {
                    format!("  {} {} {} → {} {}", h.at.to_rfc3339(), h.actor, h.action, h.to_state.as_deref().unwrap_or("-"), h.reason.as_deref().unwrap_or(""))
                }));
                text.join("\n")
            })
        }
        PartnerCommand::Approve { id, out } => review(&services, &id, ReviewAction::Approve, out.json).await,
        PartnerCommand::Reject { id, reason, out } => review(&services, &id, ReviewAction::Reject { reason }, out.json).await,
        PartnerCommand::Suspend { id, reason, out } => review(&services, &id, ReviewAction::Suspend { reason }, out.json).await,
        PartnerCommand::Reinstate { id, out } => review(&services, &id, ReviewAction::Reinstate, out.json).await,
        PartnerCommand::Credentials { id, out } => {
            let partner = services.find_partner(&id).await?;
            let summary = services.credential_summary(partner.id).await?;
            print(out.json, &summary, |s| {
                let mut text: Vec<String> = s
                    .api_client_ids
                    .iter()
                    .map(|c| format!("api client_id {}{}", c.client_id, c.expires_at.map(|e| format!(" (valid until {e})")).unwrap_or_default()))
                    .collect();
                text.extend(s.cec_issued.iter().map(|c| format!("cec issued to OperatorID {} ({})", c.operator_id, c.version_segment)));
                text.extend(s.cec_received.iter().map(|c| format!("cec received, we call {}", c.base_url.as_deref().unwrap_or("-"))));
                if text.is_empty() {
                    text.push("no credentials (issued on approval)".into());
                }
                text.join("\n")
            })
        }
    }
}

async fn review(services: &Services, id: &str, action: ReviewAction, json: bool) -> anyhow::Result<()> {
    let partner = services.find_partner(id).await?;
    let updated = services.review(partner.id, action, &operator()).await.map_err(|e| anyhow::anyhow!("{e} / {}", e.message_zh()))?;
    print(json, &updated, |p| format!("{} is now {}", p.application.company_name, p.state))
}

pub async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    require_existing_installation(&config)?;
    let services = open_services(&config, Arc::new(SystemClock)).await?;
    match command {
        AdminCommand::CreateUser { username } => {
            let password = match std::env::var(crate::config::ADMIN_PASSWORD_ENV) {
                Ok(p) => p,
                Err(_) => {
                    let mut input = String::new();
                    std::io::stdin().read_to_string(&mut input)?;
                    input.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            services.create_admin(&username, &password).await.map_err(|e| anyhow::anyhow!("{e} / {}", e.message_zh()))?;
            eprintln!("admin user {username} created");
            Ok(())
        }
    }
}

pub async fn bench(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::StatusPush { partners, changes, per_second } => crate::bench_push::status_push(partners, changes, per_second).await?,
        BenchCommand::Piles { count, hold_secs, connect_rate, flap_every } => crate::bench_piles::piles(count, hold_secs, connect_rate, flap_every).await?,
        BenchCommand::Nearby { stations, queries } => crate::bench::nearby(stations, queries).await?,
        BenchCommand::Settlement { orders, database_url } => crate::bench_settlement::settlement(orders, database_url).await?,
        BenchCommand::RestCpo { stations, changes, batch, concurrency } => crate::bench_rest::rest_cpo(stations, changes, batch, concurrency).await?,
        BenchCommand::StatusIngest { connectors, pushes, concurrency } => crate::bench::status_ingest(connectors, pushes, concurrency).await?,
        BenchCommand::CecCodec { iterations } => {
            // Warm up caches and the allocator, then measure on one thread.
            cec::bench::codec(iterations / 10 + 1);
            let report = tokio::task::spawn_blocking(move || cec::bench::codec(iterations)).await?;
            println!(
                "cec-codec: {} notification_stationStatus envelopes encoded+decoded in {:.3} s = {:.0} per second on one core",
                report.envelopes, report.seconds, report.per_second
            );
        }
    }
    Ok(())
}
