//! The partner directory of a simulator: it has exactly one partner, whoever holds the secrets
//! it issued. Any OperatorID is accepted so the platform under test may use whatever ID it was
//! configured with.

use async_trait::async_trait;
use cec::Secrets;
use cec::error::HandlerError;
use cec::server::{PartnerDirectory, PartnerEntry};

pub(crate) struct OnePartner {
    pub secrets: Secrets,
    pub version: String,
}

#[async_trait]
impl PartnerDirectory for OnePartner {
    async fn lookup(&self, operator_id: &str) -> Result<Option<PartnerEntry>, HandlerError> {
        Ok(Some(PartnerEntry {
            partner_ref: operator_id.to_owned(),
            secret_sets: vec![self.secrets.clone()],
            versions: vec![self.version.clone()],
            reservation_enabled: true,
            active: true,
        }))
    }
}
