//! Configuration: defaults that need nothing, then an optional TOML file, then
//! `CHARGEBRIDGE_*` environment variables (`CHARGEBRIDGE_HTTP__BIND` sets `[http] bind`).
//! `DATABASE_URL` is honoured too, as most tooling expects.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://file.db` or `postgres://…`. Default: `chargebridge.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Where the SQLite file, the master key and uploaded documents live.
    pub data_dir: PathBuf,
    /// Hex of a 32-byte master key. Default: read from (or created in) `data_dir`.
    pub master_key: Option<String>,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub cec: CecConfig,
    pub uploads: UploadConfig,
    pub payments: PaymentsConfig,
    pub sandbox_pay: SandboxPayConfig,
    pub ocpp: OcppConfig,
    pub partners: PartnersConfig,
    pub web: WebConfig,
    /// Background work intervals; tests shorten them.
    #[serde(skip)]
    pub workers: crate::workers::WorkerConfig,
}

/// The web pages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Map tiles for the driver app (`/app`): a URL template such as
    /// `https://tile.example.com/{z}/{x}/{y}.png` (`{s}` for the subdomains a, b, c). None (the
    /// default): the map draws the stations on a plain background and the browser fetches
    /// nothing from elsewhere. The pages' Content-Security-Policy then admits images from this
    /// template's origin (and `data:`, Leaflet's stand-in for a cancelled tile) and no other. The
    /// page reads it from `GET /app/settings.json`.
    pub map_tile_url: Option<String>,
    /// The attribution the tile service asks for, shown in a corner of the map (plain text).
    pub map_tile_attribution: Option<String>,
}

impl WebConfig {
    /// The tile template, if one is set (an empty one is none).
    pub fn tile_url(&self) -> Option<&str> {
        self.map_tile_url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }

    /// Where tiles come from, as a Content-Security-Policy source (`https://*.tile.example.com`
    /// for a `{s}` template); an error for a template that is not an absolute http(s) URL with
    /// `{z}`, `{x}` and `{y}`.
    pub fn map_tile_origin(&self) -> anyhow::Result<Option<String>> {
        let Some(url) = self.tile_url() else { return Ok(None) };
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme @ ("http" | "https"), rest)) => (scheme, rest),
            _ => bail!("web.map_tile_url must start with https:// or http://, got {url:?}"),
        };
        if !["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p)) || url.chars().any(|c| c.is_whitespace() || "\"'<>;,".contains(c)) {
            bail!("web.map_tile_url must be a URL template with {{z}}, {{x}} and {{y}}, got {url:?}");
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default().replace("{s}", "*");
        let name = host.strip_prefix("*.").unwrap_or(&host);
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) {
            bail!("web.map_tile_url has no usable host (a {{s}} subdomain may only come first), got {url:?}");
        }
        Ok(Some(format!("{scheme}://{host}")))
    }
}

/// How we treat partners' endpoints and API clients.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartnersConfig {
    /// Let partners register (and us call) endpoints on loopback, private, link-local and other
    /// non-public addresses: for tests, demos and on-premise peers. Off: such endpoints are
    /// refused at registration and at every connection.
    pub allow_private_endpoints: bool,
    /// Partner API requests one client may make per second, steadily, after a burst of
    /// `api_burst` (beyond: 429 with `Retry-After`).
    pub api_requests_per_second: u32,
    pub api_burst: u32,
}

impl Default for PartnersConfig {
    fn default() -> Self {
        let limits = services::partner_rate::PartnerApiLimits::default();
        Self { allow_private_endpoints: false, api_requests_per_second: limits.per_second, api_burst: limits.burst }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub bind: SocketAddr,
    /// Largest request body accepted, in bytes (uploads have their own limit).
    pub max_body_bytes: usize,
    /// A connection that has not sent a complete request head this long after it opened (or
    /// after its previous request) is closed.
    pub header_read_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: String,
    /// A tracing filter such as `info` or `server=debug,info`; `RUST_LOG` wins if set.
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub access_token_ttl_seconds: i64,
    pub admin_session_ttl_seconds: i64,
    pub rotation_overlap_seconds: i64,
    /// Logins and token requests one client address may make per minute, after a burst of
    /// `login_per_address_burst`.
    pub login_per_address_per_minute: u32,
    pub login_per_address_burst: u32,
    /// Attempts on one account (admin, driver, OAuth2 client) per minute, after a burst.
    pub login_per_account_per_minute: u32,
    pub login_per_account_burst: u32,
    /// Wrong passwords in a row that lock an account, and for how long.
    pub lockout_after_failures: u32,
    pub lockout_seconds: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CecConfig {
    /// Our own 9-character OperatorID.
    pub operator_id: String,
    /// The `v{version}` path segment given to new partners.
    pub version_segment: String,
    /// Lifetime of the access tokens our `query_token` issues.
    pub token_ttl_seconds: i64,
    /// How far a request's TimeStamp may be from our clock (replay protection).
    pub timestamp_window_seconds: i64,
    /// Pull an operator partner's catalog as soon as it registers its endpoint (else at the
    /// next periodic sync or an admin's "sync now").
    pub sync_on_register: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    pub max_document_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// A gateway payment unpaid after this long is queried at the gateway and closed.
    pub timeout_seconds: i64,
}

/// Our own piles over OCPP 1.6J.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcppConfig {
    /// How long a command to a pile waits for its answer (OCPP advice: 30 s).
    pub call_timeout_ms: u64,
    /// A flow-B session whose pile has been offline this long is ended and billed on its last
    /// meter reading, and the partner told (the pile's late StopTransaction is kept, not billed).
    pub offline_session_timeout_seconds: i64,
    /// Largest OCPP message a pile may send (a StopTransaction with the samples of a long
    /// session is about 100 kB); a larger one closes its connection with 1009.
    pub max_message_bytes: usize,
}

impl Default for OcppConfig {
    fn default() -> Self {
        Self { call_timeout_ms: 30_000, offline_session_timeout_seconds: 30 * 60, max_message_bytes: 1024 * 1024 }
    }
}

/// The built-in sandbox payment gateway, mounted at `/sandbox/pay`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxPayConfig {
    /// On by default with the embedded default (SQLite), off with PostgreSQL unless set.
    pub enabled: Option<bool>,
    /// How browsers and the gateway reach this application (default: the bound address).
    pub public_base_url: Option<String>,
    /// Each callback is delivered this many times, as real gateways repeat themselves.
    pub duplicate_callbacks: u32,
    pub callback_delay_ms: u64,
    /// Mount `/sandbox/pay/test/...` to force outcomes and send stale callbacks (tests, demos).
    pub test_hooks: bool,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self { timeout_seconds: 15 * 60 }
    }
}

impl Default for SandboxPayConfig {
    fn default() -> Self {
        Self { enabled: None, public_base_url: None, duplicate_callbacks: 1, callback_delay_ms: 0, test_hooks: false }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: None,
            data_dir: PathBuf::from("."),
            master_key: None,
            http: HttpConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            cec: CecConfig::default(),
            uploads: UploadConfig::default(),
            payments: PaymentsConfig::default(),
            sandbox_pay: SandboxPayConfig::default(),
            ocpp: OcppConfig::default(),
            partners: PartnersConfig::default(),
            web: WebConfig::default(),
            workers: Default::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { bind: SocketAddr::from(([127, 0, 0, 1], 8080)), max_body_bytes: 2 * 1024 * 1024, header_read_timeout_ms: 10_000 }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: "text".into(), level: "info".into() }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        let limits = services::login_guard::LoginLimits::default();
        Self {
            access_token_ttl_seconds: 7200,
            admin_session_ttl_seconds: 12 * 3600,
            rotation_overlap_seconds: 24 * 3600,
            login_per_address_per_minute: limits.per_address_per_minute,
            login_per_address_burst: limits.per_address_burst,
            login_per_account_per_minute: limits.per_account_per_minute,
            login_per_account_burst: limits.per_account_burst,
            lockout_after_failures: limits.lockout_failures,
            lockout_seconds: limits.lockout.num_seconds(),
        }
    }
}

impl Default for CecConfig {
    fn default() -> Self {
        Self {
            operator_id: "MA01CB001".into(),
            version_segment: "v1.0".into(),
            token_ttl_seconds: 86_400,
            timestamp_window_seconds: 300,
            sync_on_register: true,
        }
    }
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self { max_document_bytes: 10 * 1024 * 1024 }
    }
}

const ENV_PREFIX: &str = "CHARGEBRIDGE_";

/// The password `admin create-user` reads. It shares the prefix for the operator's sake but is
/// no setting, so the configuration passes over it (and `serve` starts with it set).
pub const ADMIN_PASSWORD_ENV: &str = "CHARGEBRIDGE_ADMIN_PASSWORD";

/// Variables with the configuration's prefix that belong to a command, not to the configuration.
const COMMAND_VARIABLES: &[&str] = &[ADMIN_PASSWORD_ENV];

impl Config {
    /// Loads `path` if given (it must exist), else `chargebridge.toml` if present, then applies
    /// the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut table = match path {
            Some(p) => read_table(p)?,
            None if Path::new("chargebridge.toml").exists() => read_table(Path::new("chargebridge.toml"))?,
            None => toml::Table::new(),
        };
        apply_env(&mut table, std::env::vars())?;
        let config: Config = toml::Value::Table(table).try_into().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let id = &self.cec.operator_id;
        if id.len() != 9 || !id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            bail!("cec.operator_id must be 9 upper-case letters or digits, got {id:?}");
        }
        if self.auth.access_token_ttl_seconds <= 0 || self.auth.rotation_overlap_seconds < 0 {
            bail!("auth: token lifetime must be positive and the rotation overlap not negative");
        }
        if self.payments.timeout_seconds <= 0 {
            bail!("payments.timeout_seconds must be positive");
        }
        if self.ocpp.call_timeout_ms == 0 || self.ocpp.offline_session_timeout_seconds <= 0 {
            bail!("ocpp.call_timeout_ms and ocpp.offline_session_timeout_seconds must be positive");
        }
        if self.http.header_read_timeout_ms == 0 {
            bail!("http.header_read_timeout_ms must be positive");
        }
        if self.ocpp.max_message_bytes < 64 * 1024 {
            bail!("ocpp.max_message_bytes must be at least 65536: piles send meter samples in one message");
        }
        self.web.map_tile_origin()?;
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("chargebridge.db").display()))
    }

    pub fn is_sqlite(&self) -> bool {
        !self.database_url().starts_with("postgres")
    }

    /// The sandbox gateway runs unless configured off; with PostgreSQL (production) only when
    /// configured on.
    pub fn sandbox_pay_enabled(&self) -> bool {
        self.sandbox_pay.enabled.unwrap_or_else(|| self.is_sqlite())
    }

    /// The master key lives beside the SQLite file (or in `data_dir` for PostgreSQL).
    pub fn master_key_path(&self) -> PathBuf {
        self.data_dir.join("chargebridge.master.key")
    }

    pub fn documents_dir(&self) -> PathBuf {
        self.data_dir.join("chargebridge-documents")
    }
}

fn read_table(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// `CHARGEBRIDGE_HTTP__BIND=0.0.0.0:80` → `http.bind = "0.0.0.0:80"`. Values are read as TOML
/// scalars when they parse as such (numbers, booleans), otherwise as strings.
fn apply_env(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) -> anyhow::Result<()> {
    for (key, value) in vars {
        let path: Vec<String> = if key == "DATABASE_URL" {
            vec!["database_url".into()]
        } else if COMMAND_VARIABLES.contains(&key.as_str()) {
            continue;
        } else if let Some(rest) = key.strip_prefix(ENV_PREFIX) {
            rest.split("__").map(str::to_lowercase).collect()
        } else {
            continue;
        };
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(|v| !v.is_table() && !v.is_array())
            .unwrap_or(toml::Value::String(value));
        let (last, parents) = path.split_last().context("empty environment key")?;
        let mut node = &mut *table;
        for part in parents {
            node = node
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("{key}: {part} is not a section"))?;
        }
        node.insert(last.clone(), parsed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_values() {
        let mut table: toml::Table = "[http]\nbind = \"127.0.0.1:1\"\n".parse().unwrap();
        let vars = [
            ("CHARGEBRIDGE_HTTP__BIND".to_string(), "0.0.0.0:9000".to_string()),
            ("CHARGEBRIDGE_AUTH__ACCESS_TOKEN_TTL_SECONDS".into(), "60".into()),
            ("DATABASE_URL".into(), "postgres://u@h/db".into()),
            ("UNRELATED".into(), "x".into()),
            (ADMIN_PASSWORD_ENV.into(), "a password, not a setting".into()),
        ];
        apply_env(&mut table, vars.into_iter()).unwrap();
        let config: Config = toml::Value::Table(table).try_into().unwrap();
        assert_eq!(config.http.bind.port(), 9000);
        assert_eq!(config.auth.access_token_ttl_seconds, 60);
        assert!(!config.is_sqlite());
    }

    #[test]
    fn defaults_need_nothing() {
        let config = Config::default();
        assert_eq!(config.database_url(), "sqlite://./chargebridge.db");
        assert_eq!(config.http.bind.to_string(), "127.0.0.1:8080");
        config.validate().unwrap();
        assert!(config.sandbox_pay_enabled(), "the embedded default pays through the sandbox");
        assert_eq!(config.payments.timeout_seconds, 900);
        assert_eq!(config.ocpp.offline_session_timeout_seconds, 1800, "30 minutes before an offline pile's session is ended");
    }

    #[test]
    fn sandbox_pay_is_off_with_postgres_unless_asked() {
        let mut config = Config { database_url: Some("postgres://u@h/db".into()), ..Config::default() };
        assert!(!config.sandbox_pay_enabled());
        config.sandbox_pay.enabled = Some(true);
        assert!(config.sandbox_pay_enabled());
    }

    #[test]
    fn the_map_tile_origin_is_the_templates_scheme_and_host() {
        let web = |url: &str| WebConfig { map_tile_url: Some(url.into()), map_tile_attribution: None };
        assert_eq!(WebConfig::default().map_tile_origin().unwrap(), None);
        assert_eq!(web(" ").map_tile_origin().unwrap(), None);
        assert_eq!(web("https://tiles.example.com/{z}/{x}/{y}.png").map_tile_origin().unwrap().as_deref(), Some("https://tiles.example.com"));
        assert_eq!(web("http://{s}.tile.example.org:8080/map/{z}/{x}/{y}.png").map_tile_origin().unwrap().as_deref(), Some("http://*.tile.example.org:8080"));
        for bad in [
            "tiles.example.com/{z}/{x}/{y}.png",
            "https://tiles.example.com/{z}/{x}.png",
            "https://a.{s}.example/{z}/{x}/{y}",
            "https://x; script-src *//{z}/{x}/{y}",
            "javascript://{z}{x}{y}",
        ] {
            assert!(web(bad).map_tile_origin().is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let table: toml::Table = "[http]\nbnid = \"x\"\n".parse().unwrap();
        assert!(toml::Value::Table(table).try_into::<Config>().is_err());
    }
}
