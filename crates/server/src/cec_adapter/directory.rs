//! Who is calling our T/CEC 102 endpoint: the partner registered with that OperatorID and the
//! secret sets we issued to it (two during a rotation overlap).
//!
//! Every request needs this, so answers are cached for a few seconds: long enough to spare the
//! database and the secret decryption at thousands of requests per second. A change made here
//! (review, terms, credentials) drops the cache at once (`services.partner_changes`), so it
//! applies to the partner's next request; the lifetime bounds changes made by another instance.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cec::error::HandlerError;
use cec::server::{PartnerDirectory, PartnerEntry};
use domain::partner::Protocol;
use parking_lot::Mutex;
use services::Services;

use super::errors::to_handler;

pub struct ServicesDirectory {
    services: Services,
    ttl: Duration,
    /// Known partners only: an unknown OperatorID is looked up again next time, so a partner
    /// approved a moment ago is not refused.
    /// Each entry with when it was loaded and the count of partner changes it was loaded at.
    cache: Mutex<HashMap<String, (Instant, u64, PartnerEntry)>>,
}

impl ServicesDirectory {
    pub fn new(services: Services, ttl: Duration) -> Self {
        Self { services, ttl, cache: Mutex::new(HashMap::new()) }
    }

    async fn load(&self, operator_id: &str) -> Result<Option<PartnerEntry>, HandlerError> {
        let found = self.services.cec_issued_for_operator(operator_id).await.map_err(to_handler)?;
        // A partner without issued secrets (not approved yet) cannot call us at all.
        let Some((partner, sets)) = found.filter(|(_, sets)| !sets.is_empty()) else { return Ok(None) };
        // The reservation extension is not part of the standard: only where its terms allow it.
        let reservation_enabled = self.services.partner_terms(partner.id).await.map_err(to_handler)?.open.reservations;
        let mut versions: Vec<String> = sets.iter().map(|s| s.version_segment.clone()).collect();
        versions.dedup();
        Ok(Some(PartnerEntry {
            partner_ref: partner.id.to_string(),
            secret_sets: sets
                .into_iter()
                .map(|s| cec::Secrets::new(&s.secrets.operator_secret, &s.secrets.data_secret, &s.secrets.data_secret_iv, &s.secrets.sig_secret))
                .collect(),
            versions,
            reservation_enabled,
            active: partner.state.may_operate() && partner.application.protocol == Protocol::Cec102,
        }))
    }
}

#[async_trait]
impl PartnerDirectory for ServicesDirectory {
    async fn lookup(&self, operator_id: &str) -> Result<Option<PartnerEntry>, HandlerError> {
        let changes = self.services.partner_changes.current();
        if let Some((at, loaded_at, entry)) = self.cache.lock().get(operator_id)
            && at.elapsed() < self.ttl
            && *loaded_at == changes
        {
            return Ok(Some(entry.clone()));
        }
        self.refresh(operator_id).await
    }

    async fn refresh(&self, operator_id: &str) -> Result<Option<PartnerEntry>, HandlerError> {
        // Read before loading: a change committed meanwhile makes this entry stale at once.
        let changes = self.services.partner_changes.current();
        let entry = self.load(operator_id).await?;
        let mut cache = self.cache.lock();
        if cache.len() > 10_000 {
            cache.retain(|_, (at, _, _)| at.elapsed() < self.ttl);
        }
        match &entry {
            Some(found) => cache.insert(operator_id.to_owned(), (Instant::now(), changes, found.clone())),
            None => cache.remove(operator_id),
        };
        Ok(entry)
    }
}
