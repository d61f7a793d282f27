//! Request rate of each partner API client (OAuth2 `client_id`).
//!
//! One partner's runaway sync loop must not slow every other partner down, so each client gets
//! a steady rate after a burst (GCRA, `governor`); beyond it the answer is 429 with how long to
//! wait. The state is per instance and in memory, like the login limits: several instances only
//! multiply the budget, which is a rate a well-behaved client never meets.

use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::{Error, Result, Services};

/// The limit (`partners.api_requests_per_second` and `partners.api_burst` in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct PartnerApiLimits {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for PartnerApiLimits {
    fn default() -> Self {
        Self { per_second: 50, burst: 100 }
    }
}

pub struct PartnerRateLimiter(DefaultKeyedRateLimiter<String>);

impl PartnerRateLimiter {
    pub fn new(limits: PartnerApiLimits) -> Self {
        let rate = NonZeroU32::new(limits.per_second.max(1)).expect("at least 1");
        let burst = NonZeroU32::new(limits.burst.max(1)).expect("at least 1");
        Self(RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
    }

    fn check(&self, client_id: &str) -> Result<()> {
        // Clients come and go with credential rotation; keep the map to the active ones.
        if self.0.len() > 10_000 {
            self.0.retain_recent();
        }
        self.0.check_key(&client_id.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
        })
    }
}

impl Services {
    /// Whether `client_id` may make another partner API request now.
    pub fn check_partner_rate(&self, client_id: &str) -> Result<()> {
        self.partner_rate.check(client_id)
    }
}
