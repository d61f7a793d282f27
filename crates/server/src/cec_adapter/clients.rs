//! One `CecClient` per partner, built from the endpoint and secrets the partner registered
//! with us and rebuilt when it registers new ones. Shared by the flow-A gateway and the
//! notification deliverer so a partner's token is fetched once, not once per use.

use std::collections::HashMap;
use std::sync::Arc;

use cec::{CecClient, ClientConfig, Secrets};
use chrono::{DateTime, Utc};
use services::Services;
use services::ports::GatewayError;
use tokio::sync::Mutex;
use uuid::Uuid;

/// A partner's client, tagged with the creation time of the credential it was built from.
type CachedClient = (DateTime<Utc>, Arc<CecClient>);

pub struct PartnerClients {
    services: Services,
    http: reqwest::Client,
    clients: Mutex<HashMap<Uuid, CachedClient>>,
}

impl PartnerClients {
    pub fn new(services: Services, http: reqwest::Client) -> Self {
        Self { services, http, clients: Mutex::default() }
    }

    /// Our OperatorID (the first part of sequences we create).
    pub fn our_operator_id(&self) -> String {
        self.services.settings.our_operator_id.clone()
    }

    pub async fn get(&self, partner_id: Uuid) -> Result<Arc<CecClient>, GatewayError> {
        let credential = self
            .services
            .cec_received_for_partner(partner_id)
            .await
            .map_err(|e| GatewayError::NotConfigured(e.to_string()))?
            .ok_or_else(|| GatewayError::NotConfigured("the partner has not registered its T/CEC 102 endpoint and secrets".into()))?;
        let mut clients = self.clients.lock().await;
        if let Some((_, client)) = clients.get(&partner_id).filter(|(created, _)| *created == credential.created_at) {
            return Ok(client.clone());
        }
        let s = &credential.secrets;
        let secrets = Secrets::new(&s.operator_secret, &s.data_secret, &s.data_secret_iv, &s.sig_secret);
        let base = credential.base_url.clone().unwrap_or_default();
        let base = base.trim_end_matches('/').trim_end_matches("/evcs");
        crate::partner_http::check_literal_address(base, self.services.settings.allow_private_endpoints).map_err(GatewayError::NotConfigured)?;
        let config = ClientConfig::new(base, &credential.version_segment, &credential.operator_id, secrets);
        let client = Arc::new(CecClient::new(config, self.http.clone()).map_err(|e| GatewayError::NotConfigured(e.to_string()))?);
        clients.insert(partner_id, (credential.created_at, client.clone()));
        Ok(client)
    }
}
