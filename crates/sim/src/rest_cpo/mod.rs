//! A charge-point operator (flow A) that integrates through our partner REST API in the
//! operator role (scope `cpo`) instead of T/CEC 102.
//!
//! It is written from the published contract (`docs/partner-api.md` sections 4–6) with plain
//! JSON values and its own small types — it shares nothing with the server, so a test that
//! drives it proves the documented API rather than the server's own structs, and a client bug
//! cannot cancel out a server bug.
//!
//! What it does, as an operator in the field would: upload its generated catalog, report
//! connector status (on every change and periodically, each with the time it observed it),
//! serve the signed command endpoint (`/chargebridge/commands`) and the webhook receiver
//! (`/chargebridge/webhook`), run sessions and reservations at its "chargers" and report their
//! events and the charge record. It can misbehave on demand (refuse everything, never answer,
//! send records that do not add up) because those are what the platform's error paths exist for.
//!
//! Layout: [`catalog`] the generated stations, [`billing`] the charge record's arithmetic,
//! `client` the calls to the platform, `endpoint` the two routes it serves, `sessions` the
//! command decisions and the session/reservation life cycles, `state` what it knows, `status`
//! the status reporter.
//! All mutable state sits in one mutex never held across an `.await`.

pub mod billing;
pub mod catalog;
mod client;
mod endpoint;
mod sessions;
mod state;
mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

pub use crate::cec_cpo::data::TariffPeriod;
pub use client::{PlatformLink, Report};
pub use endpoint::{sign, verify};
pub use state::{CommandLog, ConnectorStatus, ReservationInfo, ReservationState, SessionInfo, SessionState, WebhookEvent};

use crate::cec_cpo::data::SimRng;
use client::PlatformClient;
use state::{ConnectorState, State};

/// Faults a real operator shows from time to time; switchable at runtime.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Misbehaviour {
    /// Answer every action command (`start_session`, `stop_session`, `reserve`,
    /// `cancel_reservation`) with `refused`, reason `other`.
    pub refuse_commands: bool,
    /// Hold every command call for [`RestCpoConfig::silence`] (past the platform's 10 s
    /// timeout), then answer 503 without having acted, as a hung back end does.
    pub never_answer: bool,
    /// Send charge records whose `total_money` is one yuan more than electricity + service, as
    /// a partner with a fee bug does (the platform should dispute them).
    pub unbalanced_records: bool,
    /// Refuse every `start_session` with `not_plugged_in`, as when the driver has not plugged
    /// the car in yet.
    pub nobody_plugged_in: bool,
    /// Accept a `stop_session`, then report `stop_failed` and keep charging, as a charger that
    /// did not take the stop does (a later stop, once this is off, ends the session).
    pub stops_fail: bool,
}

#[derive(Debug, Clone)]
pub struct RestCpoConfig {
    pub platform: PlatformLink,
    /// The `webhook_secret` of the portal's credentials answer: commands and webhooks are
    /// signed with it. During a rotation, the previous one too.
    pub webhook_secrets: Vec<String>,
    /// Where the command endpoint and webhook receiver listen (port 0 = any free port).
    pub bind: SocketAddr,
    pub stations: usize,
    pub piles_per_station: usize,
    pub connectors_per_pile: usize,
    /// Seeds the catalog and every random decision (which starts fail).
    pub seed: u64,
    pub tariff: Vec<TariffPeriod>,
    /// Time the charger takes to start (and to stop) after accepting the command.
    pub start_delay: Duration,
    /// Between `charging` events (the contract asks for 30–60 s).
    pub charging_interval: Duration,
    /// A session nobody stops ends after this long with `stop_reason` `bms` (the car is full).
    pub max_duration: Duration,
    /// Fraction (0..=1) of accepted starts that then fail at the charger.
    pub failure_rate: f64,
    /// Between reports of every connector's status (changes are reported at once as well).
    pub status_interval: Duration,
    /// Whether `reserve` is supported at all (else `reservation_unsupported`).
    pub reservations: bool,
    /// Length of one reservation "minute": 60 s in the field, shorter in tests.
    pub reservation_minute: Duration,
    /// How long [`Misbehaviour::never_answer`] holds a command call.
    pub silence: Duration,
    /// Timeout of every call to the platform.
    pub call_timeout: Duration,
    /// Largest clock difference accepted in a signature's `t`, seconds (5 minutes per contract).
    pub signature_tolerance: i64,
    pub misbehaviour: Misbehaviour,
}

impl RestCpoConfig {
    /// Field-like defaults: 45 s between `charging` events, 2 s to start, a small catalog.
    pub fn new(platform: PlatformLink, webhook_secret: &str) -> Self {
        Self {
            platform,
            webhook_secrets: vec![webhook_secret.to_owned()],
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            stations: 5,
            piles_per_station: 4,
            connectors_per_pile: 2,
            seed: 1,
            tariff: TariffPeriod::default_periods(),
            start_delay: Duration::from_secs(2),
            charging_interval: Duration::from_secs(45),
            max_duration: Duration::from_secs(2 * 3600),
            failure_rate: 0.0,
            status_interval: Duration::from_secs(300),
            reservations: true,
            reservation_minute: Duration::from_secs(60),
            silence: Duration::from_secs(15),
            call_timeout: Duration::from_secs(10),
            signature_tolerance: 300,
            misbehaviour: Misbehaviour::default(),
        }
    }
}

pub(crate) struct Inner {
    pub config: RestCpoConfig,
    pub client: PlatformClient,
    pub stations: Vec<Value>,
    pub state: Mutex<State>,
    pub status_tx: mpsc::UnboundedSender<status::Change>,
    pub tasks: Mutex<Vec<AbortHandle>>,
}

impl Inner {
    /// Spawns a task that dropping the simulator aborts.
    pub(crate) fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, fut: F) {
        let handle = tokio::spawn(fut);
        let mut tasks = self.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle.abort_handle());
    }

    /// Changes a connector's status and queues its report (with the time it changed); false
    /// for an unknown connector.
    pub(crate) fn set_status(&self, state: &mut State, connector_id: &str, status: ConnectorStatus) -> bool {
        let Some(connector) = state.connectors.get_mut(connector_id) else { return false };
        connector.status = status;
        // The reporter only ends with the simulator; a send error then changes nothing.
        let _ = self.status_tx.send(status::Change { connector_id: connector_id.to_owned(), status, at: Utc::now() });
        true
    }
}

/// The running simulator. Dropping it stops its server and every task it spawned.
pub struct RestCpoSimulator {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl RestCpoSimulator {
    /// Builds the catalog, binds the command/webhook server and starts the status reporter.
    /// Nothing is sent to the platform until [`Self::upload_catalog`].
    pub async fn start(config: RestCpoConfig) -> std::io::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut rng = SimRng::new(config.seed);
        let (stations, specs) = catalog::generate(config.stations, config.piles_per_station, config.connectors_per_pile, &config.tariff, &mut rng);
        let connectors = specs.into_iter().map(|spec| (spec.connector_id.clone(), ConnectorState { spec, status: ConnectorStatus::Available })).collect();
        let client = PlatformClient::new(config.platform.clone(), config.call_timeout).map_err(std::io::Error::other)?;
        let state = State::new(connectors, config.misbehaviour.clone(), SimRng::new(config.seed ^ 0x5EED_CAFE_F00D_BEEF));
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let (status_tx, status_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner { config, client, stations, state: Mutex::new(state), status_tx, tasks: Mutex::new(Vec::new()) });
        let router = endpoint::router(inner.clone());
        inner.spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "REST operator simulator server ended");
            }
        });
        inner.spawn(status::run(inner.clone(), status_rx));
        tracing::info!(%addr, "REST operator simulator: command endpoint and webhook receiver listening");
        Ok(Self { inner, addr })
    }

    /// The `callback_base_url` to register: the platform calls `{it}/chargebridge/commands`
    /// and `{it}/chargebridge/webhook`.
    pub fn callback_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Uploads the whole catalog (`POST /stations:batch`, at most 1,000 per call), then reports
    /// every connector's status. Returns how many stations the platform stored.
    pub async fn upload_catalog(&self) -> Result<usize, String> {
        let mut stored = 0;
        for chunk in self.inner.stations.chunks(1_000) {
            let report = self.inner.client.report("stations", "/stations:batch".into(), serde_json::json!({ "stations": chunk })).await;
            let (status, answer) = report.outcome.clone()?;
            if status != 200 {
                return Err(format!("stations:batch answered {status}: {answer}"));
            }
            let results = answer["results"].as_array().cloned().unwrap_or_default();
            for refused in results.iter().filter(|r| r["status"] == "invalid") {
                tracing::warn!(station = %refused["station_id"], errors = %refused["errors"], "the platform refused a station");
            }
            stored += results.iter().filter(|r| r["status"] == "created" || r["status"] == "updated").count();
        }
        self.report_all_statuses();
        Ok(stored)
    }

    /// Queues a report of every connector's status, observed now.
    pub fn report_all_statuses(&self) {
        status::report_all(&self.inner);
    }

    /// The stations as uploaded (section 4 JSON).
    pub fn stations(&self) -> &[Value] {
        &self.inner.stations
    }

    /// Every connector id in catalog order.
    pub fn connector_ids(&self) -> Vec<String> {
        self.inner.state.lock().connectors.keys().cloned().collect()
    }

    pub fn connector_status(&self, connector_id: &str) -> Option<ConnectorStatus> {
        self.inner.state.lock().connectors.get(connector_id).map(|c| c.status)
    }

    /// Changes a connector's status as the charger would see it (a car plugs in, a fault) and
    /// reports it at once. False for an unknown connector.
    pub fn set_connector_status(&self, connector_id: &str, status: ConnectorStatus) -> bool {
        let mut state = self.inner.state.lock();
        self.inner.set_status(&mut state, connector_id, status)
    }

    pub fn set_misbehaviour(&self, misbehaviour: Misbehaviour) {
        self.inner.state.lock().misbehaviour = misbehaviour;
    }

    /// Every command call that passed the signature check, in arrival order.
    pub fn commands(&self) -> Vec<CommandLog> {
        self.inner.state.lock().commands.clone()
    }

    /// Command calls refused for a bad or old signature (commands and webhooks).
    pub fn bad_signatures(&self) -> usize {
        self.inner.state.lock().bad_signatures
    }

    /// Sessions in the order they were accepted.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let state = self.inner.state.lock();
        state.session_order.iter().filter_map(|id| state.sessions.get(id).cloned()).collect()
    }

    pub fn session(&self, session_id: &str) -> Option<SessionInfo> {
        self.inner.state.lock().sessions.get(session_id).cloned()
    }

    pub fn reservations(&self) -> Vec<ReservationInfo> {
        let state = self.inner.state.lock();
        state.reservation_order.iter().filter_map(|id| state.reservations.get(id).cloned()).collect()
    }

    /// Webhook events received, each once, in arrival order.
    pub fn webhooks(&self) -> Vec<WebhookEvent> {
        self.inner.state.lock().webhooks.clone()
    }

    /// Every call made to the platform so far, with its answer.
    pub fn reports(&self) -> Vec<Report> {
        self.inner.client.log.lock().clone()
    }

    /// Access tokens fetched so far.
    pub fn tokens_fetched(&self) -> usize {
        *self.inner.client.tokens_fetched.lock()
    }

    /// Ends a charging session from the charger's side (`bms`, `charger_fault`,
    /// `disconnected`): no command, straight to `stopped` and the record. False unless it is
    /// charging.
    pub fn end_session(&self, session_id: &str, stop_reason: &str) -> bool {
        sessions::end_at_charger(&self.inner, session_id, stop_reason)
    }

    /// Cancels a held reservation at the charger (its staff or its own app) and reports
    /// `cancelled`. False unless it is held.
    pub fn cancel_reservation_at_charger(&self, reservation_id: &str) -> bool {
        sessions::cancel_at_charger(&self.inner, reservation_id)
    }

    /// Waits until `session_id` satisfies `done`, polling; `None` on timeout.
    pub async fn wait_session(&self, session_id: &str, timeout: Duration, done: impl Fn(&SessionInfo) -> bool) -> Option<SessionInfo> {
        wait(timeout, || self.session(session_id).filter(|s| done(s))).await
    }

    /// Waits for a webhook of `kind` whose `data` satisfies `matches`.
    pub async fn wait_webhook(&self, kind: &str, timeout: Duration, matches: impl Fn(&Value) -> bool) -> Option<WebhookEvent> {
        wait(timeout, || self.webhooks().into_iter().find(|e| e.kind == kind && matches(&e.data))).await
    }
}

async fn wait<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl Drop for RestCpoSimulator {
    fn drop(&mut self) {
        for task in self.inner.tasks.lock().drain(..) {
            task.abort();
        }
    }
}
