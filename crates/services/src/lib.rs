//! The chargebridge application layer.
//!
//! It owns the use cases (onboarding and review, credentials, authentication; next: catalog
//! sync, charging, billing, delivery) and talks to storage through `store` and to the outside
//! world through port traits. It never imports a protocol crate: the `server` crate joins them.

mod error;

pub mod admin_auth;
pub mod admin_orders;
pub mod background;
pub mod catalog;
pub mod charging;
pub mod clock;
pub mod connector_statuses;
pub mod credentials;
pub mod daily_checks;
pub mod delivery;
pub mod disputes;
pub mod documents;
pub mod emsp_reservations;
pub mod emsp_sessions;
pub mod endpoints;
pub mod geo_index;
pub mod idempotency;
pub mod login_guard;
pub mod network;
pub mod oauth;
pub mod offline_sessions;
pub mod onboarding;
pub mod open_network;
pub mod partner_catalog;
pub mod partner_changes;
pub mod partner_rate;
pub mod partner_sessions;
pub mod partner_statements;
pub mod payment_gateway;
pub mod payments;
pub mod pile_commands;
pub mod pile_faults;
pub mod pile_reservations;
pub mod pile_tags;
pub mod ports;
pub mod price_refresh;
pub mod prices;
pub mod reservations;
pub mod search_facts;
pub mod secrets;
pub mod statements;
pub mod status_hub;
pub mod status_push;
pub mod users;
pub mod webhook_targets;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Duration;

pub use clock::{Clock, SystemClock};
pub use error::{AuthFailure, DATABASE_UNAVAILABLE_EN, DATABASE_UNAVAILABLE_ZH, Error, Result};
pub use secrets::MasterKey;

/// Tunables with defaults that need nothing.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lifetime of OAuth2 access tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of an admin login session.
    pub admin_session_ttl: Duration,
    /// After a rotation, how long the old credentials keep working.
    pub rotation_overlap: Duration,
    /// Where uploaded qualification documents are kept.
    pub documents_dir: PathBuf,
    pub max_document_bytes: usize,
    pub max_documents_per_partner: i64,
    /// The T/CEC 102 `v{version}` segment we give new partners.
    pub cec_version_segment: String,
    /// Our own 9-character OperatorID (used when we call partners over T/CEC 102).
    pub our_operator_id: String,
    /// A connector not heard from for this long shows as unknown.
    pub status_freshness: Duration,
    /// How long a partner has to report the outcome of a start before we ask it.
    pub start_result_deadline: Duration,
    /// A flow-B session whose pile has been offline (and silent about it) this long is ended
    /// and billed on its last meter reading (see `offline_sessions`).
    pub offline_session_timeout: Duration,
    /// How long a gateway payment may stay unpaid before we ask the gateway and close it.
    pub payment_timeout: Duration,
    /// Pull an operator partner's catalog in the background when it registers its endpoint.
    pub sync_on_peer_registration: bool,
    /// Rate limits and lockout of logins and token requests.
    pub login_limits: login_guard::LoginLimits,
    /// Request rate of each partner API client.
    pub partner_api_limits: partner_rate::PartnerApiLimits,
    /// Let partners register endpoints on loopback and private addresses (tests, on-premise).
    pub allow_private_endpoints: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::hours(2),
            admin_session_ttl: Duration::hours(12),
            rotation_overlap: Duration::hours(24),
            documents_dir: PathBuf::from("chargebridge-data/documents"),
            max_document_bytes: 10 * 1024 * 1024,
            max_documents_per_partner: 20,
            cec_version_segment: "v1.0".into(),
            our_operator_id: "MA01CB001".into(),
            status_freshness: Duration::minutes(15),
            start_result_deadline: Duration::seconds(90),
            offline_session_timeout: Duration::minutes(30),
            payment_timeout: Duration::minutes(15),
            sync_on_peer_registration: true,
            login_limits: login_guard::LoginLimits::default(),
            partner_api_limits: partner_rate::PartnerApiLimits::default(),
            allow_private_endpoints: false,
        }
    }
}

/// Everything the use cases need, cheap to clone into handlers.
#[derive(Clone)]
pub struct Services {
    pub db: store::Db,
    pub key: MasterKey,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Live connector status.
    pub hub: Arc<status_hub::StatusHub>,
    /// What search needs of the catalog, in memory.
    pub catalog: catalog::SharedCatalog,
    /// How we reach partners that operate piles (flow A); set by the wiring.
    pub operator_gateway: Option<Arc<dyn ports::OperatorGateway>>,
    /// How we command our own piles (flow B); set by the wiring.
    pub pile_control: Option<Arc<dyn ports::PileControl>>,
    /// How partners check our order lists at settlement; set by the wiring.
    pub partner_ledger: Option<Arc<dyn ports::PartnerLedger>>,
    subscribers: Arc<status_push::Subscribers>,
    /// Wakes this instance's outbox dispatcher when something was queued here.
    pub waker: delivery::DeliveryWaker,
    /// How users pay other than from the wallet; set by the wiring.
    pub payment_gateway: Option<Arc<dyn payment_gateway::PaymentGateway>>,
    /// Our piles by OCPP identity, read through on first use: every OCPP connection and
    /// StatusNotification needs them, and piles do not change once created.
    pub(crate) piles: network::PileCache,
    /// When our piles lost their connection (see `offline_sessions`).
    pub(crate) pile_links: Arc<offline_sessions::PileLinks>,
    /// When this instance started, by its clock.
    pub(crate) started_at: chrono::DateTime<chrono::Utc>,
    /// Bumped when a partner's review state, terms or credentials change (caches compare it).
    pub partner_changes: Arc<partner_changes::PartnerChanges>,
    /// Work a request started and did not wait for; shutdown waits for it.
    pub background: background::Background,
    /// Rate limits and lockouts of password and secret checks.
    pub login_guard: Arc<login_guard::LoginGuard>,
    pub(crate) partner_rate: Arc<partner_rate::PartnerRateLimiter>,
    pub(crate) catalog_uploads: Arc<partner_catalog::UploadLocks>,
}

impl Services {
    pub fn new(db: store::Db, key: MasterKey, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        let hub = Arc::new(status_hub::StatusHub::new(settings.status_freshness));
        let started_at = clock.now();
        let login_guard = Arc::new(login_guard::LoginGuard::new(settings.login_limits.clone()));
        let partner_rate = Arc::new(partner_rate::PartnerRateLimiter::new(settings.partner_api_limits));
        Self {
            db,
            key,
            clock,
            settings: Arc::new(settings),
            hub,
            catalog: Arc::default(),
            operator_gateway: None,
            pile_control: None,
            partner_ledger: None,
            subscribers: Arc::default(),
            waker: Default::default(),
            payment_gateway: None,
            piles: Default::default(),
            pile_links: Arc::default(),
            started_at,
            partner_changes: Arc::default(),
            background: Default::default(),
            login_guard,
            partner_rate,
            catalog_uploads: Arc::default(),
        }
    }

    pub fn with_operator_gateway(mut self, gateway: Arc<dyn ports::OperatorGateway>) -> Self {
        self.operator_gateway = Some(gateway);
        self
    }

    pub fn with_partner_ledger(mut self, ledger: Arc<dyn ports::PartnerLedger>) -> Self {
        self.partner_ledger = Some(ledger);
        self
    }

    pub fn with_pile_control(mut self, control: Arc<dyn ports::PileControl>) -> Self {
        self.pile_control = Some(control);
        self
    }

    pub fn with_payment_gateway(mut self, gateway: Arc<dyn payment_gateway::PaymentGateway>) -> Self {
        self.payment_gateway = Some(gateway);
        self
    }

    /// Millisecond precision: what storage keeps, so a value reads back equal to what was written.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use chrono::DurationRound;
        let now = self.clock.now();
        now.duration_trunc(chrono::Duration::milliseconds(1)).unwrap_or(now)
    }
}
