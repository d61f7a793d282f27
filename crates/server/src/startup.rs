//! `Application::build` — the one place that wires config, storage, services and HTTP. Used by
//! `main`, the demo and every integration test, so tests run the real thing on a random port.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use services::{Clock, MasterKey, Services, Settings, SystemClock};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::http::{self, AppState, Metrics};

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    pub services: Services,
    workers: crate::workers::WorkerConfig,
    header_read_timeout: std::time::Duration,
    /// Cancelled to stop: serving, SSE streams and background workers all watch it.
    shutdown: CancellationToken,
}

/// How long background workers get at shutdown to finish the item in hand.
const WORKERS_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

impl Application {
    /// Connects and migrates the database, loads (or creates) the master key and binds the
    /// listener; nothing is served until `run`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // Outbound HTTPS (partner endpoints) uses rustls with the ring provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let services = open_services(&config, clock).await?;
        let http = reqwest::Client::builder().build().context("building the HTTP client")?;
        let partner_http = crate::partner_http::partner_client(services.settings.allow_private_endpoints)?;
        let cec = Arc::new(crate::cec_adapter::CecOperatorGateway::new(services.clone(), partner_http.clone()));
        let rest = crate::rest_adapter::RestOperatorGateway::new(services.clone(), partner_http);
        let gateways = Arc::new(crate::operator_gateways::OperatorGateways { cec: cec.clone(), rest });
        let piles = Arc::new(crate::ocpp_adapter::OcppPileControl::default());
        let services = services.with_operator_gateway(gateways).with_partner_ledger(cec).with_pile_control(piles.clone());
        let stations = services.load_catalog().await.context("loading the catalog")?;
        tracing::info!(stations, connectors = services.hub.len(), "catalog loaded");
        let listener = TcpListener::bind(config.http.bind).await.with_context(|| format!("binding {}", config.http.bind))?;
        let (services, peers) = sandbox_pay(services, &config, &listener, http)?;
        let shutdown = CancellationToken::new();
        let state = AppState { services: services.clone(), metrics: Metrics::new(), shutdown: shutdown.clone() };
        let router = http::router(state, config.http.max_body_bytes, &config.web, protocol_routers(&services, &config, &piles), peers);
        let header_read_timeout = std::time::Duration::from_millis(config.http.header_read_timeout_ms);
        Ok(Self { listener, router, services, workers: config.workers.clone(), header_read_timeout, shutdown })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// A handle that stops the application as `run`'s shutdown future would.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until `shutdown` completes (ctrl-c / SIGTERM in `main`; never in tests, where the
    /// runtime is dropped) or the shutdown token is cancelled. Then, in order: no new
    /// connections, SSE streams end, open requests finish, background workers finish their item
    /// in hand, and the status write-behind flushes what is left.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let supervisor = crate::supervisor::Supervisor::new(self.shutdown.clone(), crate::supervisor::Backoff::default());
        crate::workers::spawn(self.services.clone(), self.workers.clone(), &supervisor);
        let token = self.shutdown.clone();
        let signal = async {
            tokio::select! {
                () = shutdown => tracing::info!("shutdown requested; finishing open requests and background work"),
                () = token.cancelled() => {}
            }
            token.cancel();
        };
        tokio::join!(signal, crate::serve::serve(self.listener, self.router, self.header_read_timeout, token.clone()));
        supervisor.shutdown(WORKERS_GRACE).await;
        self.services.background.wait(WORKERS_GRACE).await;
        // Statuses the last requests applied after the write-behind's own final flush.
        self.services.flush_statuses().await.context("writing the last status changes")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The protocol endpoints partners call.
fn protocol_routers(services: &Services, config: &Config, piles: &crate::ocpp_adapter::OcppPileControl) -> axum::Router {
    let directory = Arc::new(crate::cec_adapter::ServicesDirectory::new(services.clone(), std::time::Duration::from_secs(5)));
    let cec_config = cec::server::ServerConfig {
        token_ttl: chrono::Duration::seconds(config.cec.token_ttl_seconds),
        timestamp_window: chrono::Duration::seconds(config.cec.timestamp_window_seconds),
    };
    let platform = Arc::new(crate::cec_adapter::PlatformAdapter { services: services.clone() });
    let operator = Arc::new(crate::cec_adapter::OperatorAdapter { services: services.clone() });
    let tokens = Arc::new(crate::cec_adapter::DbTokens::new(services.clone()));
    let cec = cec::server::CecServer::new(directory, cec_config)
        .with_tokens(tokens.clone())
        .with_replay_guard(tokens)
        .with_platform(platform)
        .with_operator(operator)
        .router();
    let ocpp = ocpp::CentralSystemConfig {
        call_timeout: std::time::Duration::from_millis(config.ocpp.call_timeout_ms),
        max_message_size: config.ocpp.max_message_bytes,
        ..Default::default()
    };
    cec.merge(crate::ocpp_adapter::central_system(services, piles, ocpp).router())
}

/// The built-in sandbox payment gateway, when enabled: mounted on this application and used
/// as its payment gateway over HTTP, like a real one would be.
fn sandbox_pay(services: Services, config: &Config, listener: &TcpListener, http: reqwest::Client) -> anyhow::Result<(Services, OpenApiRouter<AppState>)> {
    if !config.sandbox_pay_enabled() {
        return Ok((services, OpenApiRouter::new()));
    }
    let base = match &config.sandbox_pay.public_base_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let mut addr = listener.local_addr().context("reading the bound address")?;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        }
    };
    let key = crate::sandbox_pay::signing::sandbox_key(&services.key);
    let settings = crate::sandbox_pay::SandboxSettings {
        duplicate_callbacks: config.sandbox_pay.duplicate_callbacks.max(1),
        callback_delay: std::time::Duration::from_millis(config.sandbox_pay.callback_delay_ms),
        test_hooks: config.sandbox_pay.test_hooks,
        public_base_url: base.clone(),
    };
    let sandbox = crate::sandbox_pay::SandboxPay::new(key.clone(), services.clock.clone(), settings, http.clone());
    let gateway = Arc::new(crate::sandbox_pay::SandboxGateway::new(&base, key, services.clock.clone(), http));
    tracing::info!(pay_page = %format!("{base}/sandbox/pay/…"), test_hooks = config.sandbox_pay.test_hooks, "sandbox payment gateway enabled");
    Ok((services.with_payment_gateway(gateway), crate::sandbox_pay::router(sandbox)))
}

/// Storage and services without HTTP: what the CLI commands need.
pub async fn open_services(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Services> {
    crate::file_modes::create_private_dir(&config.data_dir)?;
    let url = config.database_url();
    if let Some(file) = crate::file_modes::sqlite_file(&url) {
        crate::file_modes::prepare_sqlite_file(&file)?;
    }
    let db = store::Db::connect(&url).await.with_context(|| format!("connecting to the database ({})", redact(&url)))?;
    db.migrate().await.context("migrating the database")?;
    let key = load_master_key(config)?;
    let settings = Settings {
        access_token_ttl: chrono::Duration::seconds(config.auth.access_token_ttl_seconds),
        admin_session_ttl: chrono::Duration::seconds(config.auth.admin_session_ttl_seconds),
        rotation_overlap: chrono::Duration::seconds(config.auth.rotation_overlap_seconds),
        documents_dir: config.documents_dir(),
        max_document_bytes: config.uploads.max_document_bytes,
        cec_version_segment: config.cec.version_segment.clone(),
        our_operator_id: config.cec.operator_id.clone(),
        payment_timeout: chrono::Duration::seconds(config.payments.timeout_seconds),
        sync_on_peer_registration: config.cec.sync_on_register,
        offline_session_timeout: chrono::Duration::seconds(config.ocpp.offline_session_timeout_seconds),
        login_limits: services::login_guard::LoginLimits {
            per_address_per_minute: config.auth.login_per_address_per_minute,
            per_address_burst: config.auth.login_per_address_burst,
            per_account_per_minute: config.auth.login_per_account_per_minute,
            per_account_burst: config.auth.login_per_account_burst,
            lockout_failures: config.auth.lockout_after_failures,
            lockout: chrono::Duration::seconds(config.auth.lockout_seconds),
        },
        allow_private_endpoints: config.partners.allow_private_endpoints,
        partner_api_limits: services::partner_rate::PartnerApiLimits { per_second: config.partners.api_requests_per_second, burst: config.partners.api_burst },
        ..Settings::default()
    };
    Ok(Services::new(db, key, clock, settings))
}

/// Passwords never reach the logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// From config/env if given; otherwise from the key file, creating it (mode 0600) on first start.
fn load_master_key(config: &Config) -> anyhow::Result<MasterKey> {
    let hex_key = match &config.master_key {
        Some(k) => k.trim().to_owned(),
        None => {
            let path = config.master_key_path();
            if !path.exists() {
                write_new_key(&path)?;
                tracing::info!(path = %path.display(), "created a new master key; back it up with the database");
            }
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?.trim().to_owned()
        }
    };
    let bytes: [u8; 32] = match hex::decode(&hex_key).ok().and_then(|b| b.try_into().ok()) {
        Some(b) => b,
        None => bail!("the master key must be 64 hex characters (32 bytes)"),
    };
    Ok(MasterKey::from_bytes(&bytes))
}

fn write_new_key(path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex::encode(MasterKey::generate()).as_bytes())?;
    Ok(())
}
