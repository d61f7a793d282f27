//! Brute-force protection for every place that checks a password or a client secret (admin
//! login, driver login and sign-up, OAuth2 `/oauth/token`).
//!
//! - Per client address and per account, a rate limit (GCRA, `governor`): a burst, then a steady
//!   rate; beyond it the caller is told how long to wait.
//! - Per account, a lockout: after `lockout_failures` wrong passwords in a row the account
//!   refuses every attempt, the right password included, for `lockout`; a success clears it.
//! - Argon2 runs on the blocking pool, never on the async runtime, so a flood of wrong logins
//!   cannot stall other requests; an unknown account is verified against a dummy hash made with
//!   the same parameters, so it costs what a known one costs and names cannot be probed by time.
//!
//! The state is per instance and in memory: limits exist to slow guessing down, and several
//! instances only multiply the (small) budgets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::secrets::{hash_password, verify_password};
use crate::{Error, Result, Services};

/// The limits (`auth.*` in the configuration).
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Attempts one client address may make per minute, steadily…
    pub per_address_per_minute: u32,
    /// …after a first burst of this many.
    pub per_address_burst: u32,
    /// Attempts on one account per minute, steadily, after a burst.
    pub per_account_per_minute: u32,
    pub per_account_burst: u32,
    /// Wrong passwords in a row that lock an account…
    pub lockout_failures: u32,
    /// …for this long.
    pub lockout: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_address_per_minute: 30,
            per_address_burst: 30,
            per_account_per_minute: 10,
            per_account_burst: 10,
            lockout_failures: 5,
            lockout: Duration::minutes(15),
        }
    }
}

/// Failures of one account since its last success.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// Accounts tracked at most; past it, entries whose failures are old are forgotten first.
const MAX_TRACKED_ACCOUNTS: usize = 100_000;

pub struct LoginGuard {
    limits: LoginLimits,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    failures: Mutex<HashMap<String, Failures>>,
    /// How many verifications ran against the dummy hash (unknown accounts).
    dummy_verifications: AtomicU64,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_minute.max(1)).expect("at least 1");
    let burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
    Quota::per_minute(rate).allow_burst(burst)
}

/// A dummy Argon2 hash with the parameters real ones use, made once.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password("an account that does not exist"));

fn too_many(wait: std::time::Duration) -> Error {
    Error::TooManyAttempts { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
}

impl LoginGuard {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            per_address: RateLimiter::keyed(quota(limits.per_address_per_minute, limits.per_address_burst)),
            per_account: RateLimiter::keyed(quota(limits.per_account_per_minute, limits.per_account_burst)),
            limits,
            failures: Mutex::default(),
            dummy_verifications: AtomicU64::new(0),
        }
    }

    fn failures(&self) -> MutexGuard<'_, HashMap<String, Failures>> {
        // Nothing in the map can be half-written by a panic; keep using it.
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `address` may make another attempt now.
    pub fn check_address(&self, address: IpAddr) -> Result<()> {
        self.per_address.check_key(&address).map_err(|not_until| too_many(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// Whether `account` may make another attempt now: not locked, within its rate.
    fn check_account(&self, account: &str, now: DateTime<Utc>) -> Result<()> {
        if let Some(until) = self.failures().get(account).and_then(|f| f.locked_until).filter(|until| *until > now) {
            return Err(too_many((until - now).to_std().unwrap_or_default()));
        }
        self.per_account.check_key(&account.to_owned()).map_err(|not_until| too_many(not_until.wait_time_from(DefaultClock::default().now())))
    }

    fn record(&self, account: &str, succeeded: bool, now: DateTime<Utc>) {
        let mut failures = self.failures();
        if succeeded {
            failures.remove(account);
            return;
        }
        if failures.len() >= MAX_TRACKED_ACCOUNTS {
            let horizon = now - self.limits.lockout;
            failures.retain(|_, f| f.last > horizon || f.locked_until.is_some_and(|until| until > now));
            self.per_account.retain_recent();
            self.per_address.retain_recent();
        }
        let entry = failures.entry(account.to_owned()).or_insert(Failures { count: 0, last: now, locked_until: None });
        // Failures spread wider apart than a lockout period do not add up.
        if now - entry.last > self.limits.lockout || entry.locked_until.is_some_and(|until| until <= now) {
            *entry = Failures { count: 0, last: now, locked_until: None };
        }
        entry.count += 1;
        entry.last = now;
        if entry.count >= self.limits.lockout_failures.max(1) {
            entry.locked_until = Some(now + self.limits.lockout);
            entry.count = 0;
            tracing::warn!(account, failures = self.limits.lockout_failures, until = %(now + self.limits.lockout), "account locked after repeated wrong passwords");
        }
    }

    /// How many verifications ran against the dummy hash, for unknown accounts.
    pub fn unknown_account_verifications(&self) -> u64 {
        self.dummy_verifications.load(Ordering::Relaxed)
    }
}

/// Argon2 hashing on the blocking pool.
pub(crate) async fn hash_password_off_runtime(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|e| Error::Internal(format!("password hashing did not finish: {e}")))
}

impl Services {
    /// Whether a client address may try to log in (or get a token) now.
    pub fn check_login_address(&self, address: IpAddr) -> Result<()> {
        self.login_guard.check_address(address)
    }

    /// Checks `password` for `account` (e.g. `admin:alice`) against `hash` — the dummy hash when
    /// the account does not exist — on the blocking pool, within the account's limits, and
    /// records the outcome. `Ok(false)`: wrong password or no such account.
    pub(crate) async fn verify_login(&self, account: &str, password: &str, hash: Option<&str>) -> Result<bool> {
        let now = self.now();
        self.login_guard.check_account(account, now)?;
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash.to_owned(),
            None => {
                self.login_guard.dummy_verifications.fetch_add(1, Ordering::Relaxed);
                tokio::task::spawn_blocking(|| DUMMY_HASH.clone()).await.map_err(|e| Error::Internal(format!("password hashing did not finish: {e}")))?
            }
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| Error::Internal(format!("password verification did not finish: {e}")))?;
        let succeeded = matches && known;
        self.login_guard.record(account, succeeded, now);
        Ok(succeeded)
    }
}
