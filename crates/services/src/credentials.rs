//! Credentials: what we issue to partners on approval, what they give us to call them, and
//! rotation with an overlap window in which old and new both work.

use chrono::{DateTime, Utc};
use domain::partner::Partner;
use domain::partner::Protocol;
use serde::{Deserialize, Serialize};
use store::Conn;
use store::credentials::{self as repo, ApiCredential, CecCredential, CecDirection};
use uuid::Uuid;

use crate::onboarding::{Actor, audit_entry};
use crate::secrets::{hash_password, random_alphanumeric, random_token};
use crate::{Error, Result, Services};

/// The four T/CEC 102 secrets of one call direction (the OperatorID is stored beside them).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CecSecretSet {
    pub operator_secret: String,
    pub data_secret: String,
    pub data_secret_iv: String,
    pub sig_secret: String,
}

impl std::fmt::Debug for CecSecretSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CecSecretSet(..)")
    }
}

impl CecSecretSet {
    /// 16 letters and digits each: the length partners expect (AES-128 key and IV are the raw
    /// 16 ASCII bytes).
    pub fn generate() -> Self {
        Self {
            operator_secret: random_alphanumeric(16),
            data_secret: random_alphanumeric(16),
            data_secret_iv: random_alphanumeric(16),
            sig_secret: random_alphanumeric(16),
        }
    }

    fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("operator_secret", &self.operator_secret),
            ("data_secret", &self.data_secret),
            ("data_secret_iv", &self.data_secret_iv),
            ("sig_secret", &self.sig_secret),
        ] {
            let exact16 = matches!(field, "data_secret" | "data_secret_iv");
            let ok = value.is_ascii() && if exact16 { value.len() == 16 } else { (8..=64).contains(&value.len()) };
            if !ok {
                let rule = if exact16 { "16 ASCII characters" } else { "8 to 64 ASCII characters" };
                return Err(Error::invalid(
                    field,
                    format!("must be {rule}"),
                    format!("须为{}", if exact16 { "16 位 ASCII 字符" } else { "8 至 64 位 ASCII 字符" }),
                ));
            }
        }
        Ok(())
    }
}

/// One T/CEC 102 credential set, decrypted, as shown to its partner or used by a protocol adapter.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CecCredentialView {
    pub operator_id: String,
    #[serde(flatten)]
    pub secrets: CecSecretSet,
    pub base_url: Option<String>,
    pub version_segment: String,
    pub created_at: DateTime<Utc>,
    /// Set while an older set is in its overlap window after a rotation.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What the partner portal shows under "credentials".
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialsView {
    pub api: Vec<ApiCredentialView>,
    /// The secrets we issued to the partner for calling our T/CEC 102 endpoints.
    pub cec_issued: Vec<CecCredentialView>,
    /// The partner's own secrets for us to call it (secrets masked).
    pub cec_received: Vec<CecReceivedView>,
    /// Where the partner calls our T/CEC 102 server.
    pub cec_endpoint_path: String,
    /// Key of the HMAC-SHA256 signature on our webhooks (`X-Chargebridge-Signature`).
    pub webhook_secret: String,
    /// After a rotation of the webhook key: until when webhooks also carry a signature with the
    /// previous key (a second `v1=`), so a receiver can switch keys without missing an event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret_previous_valid_until: Option<DateTime<Utc>>,
}

/// The keys our webhooks to one partner are signed with now: the current one first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookKeys {
    pub current: String,
    pub previous: Option<String>,
    pub previous_valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiCredentialView {
    pub client_id: String,
    /// Present only the first time it is shown; afterwards it cannot be recovered, only rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CecReceivedView {
    pub operator_id: String,
    pub base_url: Option<String>,
    pub version_segment: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The partner's T/CEC 102 endpoint as registered, with its webhook URL if it gave one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CecPeerView {
    #[serde(flatten)]
    pub endpoint: CecReceivedView,
    pub webhook_url: Option<String>,
}

/// What a partner tells us about its own T/CEC 102 server.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CecPeerInput {
    pub base_url: String,
    pub version_segment: Option<String>,
    /// Where we send, as signed webhooks, what T/CEC 102 has no message for (settlement notices
    /// when our drivers pay). Without one, those are not sent.
    pub webhook_url: Option<String>,
    #[serde(flatten)]
    pub secrets: CecSecretSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum CredentialKind {
    Api,
    Cec,
    /// The key our webhooks are signed with.
    Webhook,
}

const CLIENT_ID_PREFIX: &str = "cbk_";
const CLIENT_SECRET_PREFIX: &str = "cbs_";

fn new_api_credential(services: &Services, partner_id: Uuid, now: DateTime<Utc>, keep_pending: bool) -> (ApiCredential, String) {
    let secret = random_token(CLIENT_SECRET_PREFIX);
    let credential = ApiCredential {
        id: Uuid::now_v7(),
        partner_id,
        client_id: format!("{CLIENT_ID_PREFIX}{}", random_alphanumeric(20).to_lowercase()),
        secret_hash: hash_password(&secret),
        pending_secret: keep_pending.then(|| services.key.seal(secret.as_bytes())),
        created_at: now,
        expires_at: None,
    };
    (credential, secret)
}

fn new_cec_issued(services: &Services, partner: &Partner, now: DateTime<Utc>) -> Result<CecCredential> {
    let secrets = serde_json::to_vec(&CecSecretSet::generate()).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(CecCredential {
        id: Uuid::now_v7(),
        partner_id: partner.id,
        direction: CecDirection::Issued,
        operator_id: partner.operator_id.clone(),
        secrets: services.key.seal(&secrets),
        base_url: None,
        version_segment: services.settings.cec_version_segment.clone(),
        created_at: now,
        expires_at: None,
    })
}

/// Called inside the approval transaction. Re-approval after a suspension keeps the existing
/// credentials (reinstating is a separate action), so this only issues what is missing.
pub(crate) async fn issue_on_approval(services: &Services, conn: &mut Conn, partner: &Partner, now: DateTime<Utc>) -> Result<()> {
    if repo::api_for_partner(conn, partner.id, now).await?.is_empty() {
        let (credential, _secret) = new_api_credential(services, partner.id, now, true);
        repo::insert_api(conn, &credential).await?;
    }
    let wants_cec = partner.application.protocol == Protocol::Cec102;
    if wants_cec && repo::cec_for_partner(conn, partner.id, CecDirection::Issued, now).await?.is_empty() {
        repo::insert_cec(conn, &new_cec_issued(services, partner, now)?).await?;
    }
    Ok(())
}

impl Services {
    /// The keys our webhooks to `partner_id` are signed with, derived from the master key and
    /// the partner's key generation (no secret is stored).
    pub async fn webhook_keys(&self, partner_id: Uuid) -> Result<WebhookKeys> {
        let mut conn = self.db.acquire().await?;
        self.webhook_keys_on(&mut conn, partner_id).await
    }

    async fn webhook_keys_on(&self, conn: &mut store::Conn, partner_id: Uuid) -> Result<WebhookKeys> {
        let state = store::partner_webhooks::secret_generation(conn, partner_id).await?;
        let previous_valid_until = state.previous_valid_until.filter(|until| *until > self.now());
        Ok(WebhookKeys {
            current: self.webhook_key(partner_id, state.generation),
            previous: previous_valid_until.map(|_| self.webhook_key(partner_id, state.generation - 1)),
            previous_valid_until,
        })
    }

    /// Generation 0 is the key partners had before keys could be rotated.
    fn webhook_key(&self, partner_id: Uuid, generation: i64) -> String {
        match generation {
            0 => self.key.derive(&format!("webhook:{partner_id}")),
            g => self.key.derive(&format!("webhook:{partner_id}:{g}")),
        }
    }

    fn open_cec(&self, c: &CecCredential) -> Result<CecSecretSet> {
        serde_json::from_slice(&self.key.open(&c.secrets)?).map_err(|e| Error::Internal(format!("stored CEC secrets: {e}")))
    }

    fn cec_view(&self, c: &CecCredential) -> Result<CecCredentialView> {
        Ok(CecCredentialView {
            operator_id: c.operator_id.clone(),
            secrets: self.open_cec(c)?,
            base_url: c.base_url.clone(),
            version_segment: c.version_segment.clone(),
            created_at: c.created_at,
            expires_at: c.expires_at,
        })
    }

    pub(crate) fn require_approved(partner: &Partner) -> Result<()> {
        if partner.state.may_operate() {
            Ok(())
        } else {
            Err(Error::forbidden(
                format!("credentials are available once the partner is approved (now: {})", partner.state),
                format!("审核通过后方可查看凭证（当前状态：{}）", domain::partner::state_zh(partner.state)),
            ))
        }
    }

    /// The partner's credentials. A new API secret appears here exactly once.
    pub async fn credentials(&self, partner_id: Uuid) -> Result<CredentialsView> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let partner = store::partners::get(&mut tx, partner_id).await?.ok_or(Error::not_found("partner"))?;
        Self::require_approved(&partner)?;
        let mut api = Vec::new();
        for c in repo::api_for_partner(&mut tx, partner_id, now).await? {
            let client_secret = match repo::take_pending_secret(&mut tx, c.id).await? {
                Some(sealed) => Some(String::from_utf8(self.key.open(&sealed)?).map_err(|e| Error::Internal(e.to_string()))?),
                None => None,
            };
            api.push(ApiCredentialView { client_id: c.client_id, client_secret, created_at: c.created_at, expires_at: c.expires_at });
        }
        let cec_issued =
            repo::cec_for_partner(&mut tx, partner_id, CecDirection::Issued, now).await?.iter().map(|c| self.cec_view(c)).collect::<Result<_>>()?;
        let cec_received = repo::cec_for_partner(&mut tx, partner_id, CecDirection::Received, now)
            .await?
            .into_iter()
            .map(|c| CecReceivedView {
                operator_id: c.operator_id,
                base_url: c.base_url,
                version_segment: c.version_segment,
                created_at: c.created_at,
                expires_at: c.expires_at,
            })
            .collect();
        let webhook = self.webhook_keys_on(&mut tx, partner_id).await?;
        tx.commit().await.map_err(store::Error::from)?;
        Ok(CredentialsView {
            api,
            cec_issued,
            cec_received,
            cec_endpoint_path: format!("/evcs/{}/", self.settings.cec_version_segment),
            webhook_secret: webhook.current,
            webhook_secret_previous_valid_until: webhook.previous_valid_until,
        })
    }

    /// Issues a new set and lets the old one work until the overlap window ends. Returns the
    /// new credentials view (the new API secret is in it, shown this once).
    pub async fn rotate(&self, partner_id: Uuid, kind: CredentialKind, actor: &Actor) -> Result<CredentialsView> {
        let now = self.now();
        let overlap_end = now + self.settings.rotation_overlap;
        let mut tx = self.db.begin().await?;
        let partner = store::partners::get(&mut tx, partner_id).await?.ok_or(Error::not_found("partner"))?;
        Self::require_approved(&partner)?;
        match kind {
            CredentialKind::Api => {
                repo::expire_api(&mut tx, partner_id, overlap_end).await?;
                let (credential, _) = new_api_credential(self, partner_id, now, true);
                repo::insert_api(&mut tx, &credential).await?;
            }
            CredentialKind::Cec => {
                repo::expire_cec(&mut tx, partner_id, CecDirection::Issued, overlap_end).await?;
                repo::insert_cec(&mut tx, &new_cec_issued(self, &partner, now)?).await?;
            }
            CredentialKind::Webhook => {
                store::partner_webhooks::rotate_secret(&mut tx, partner_id, overlap_end, now).await?;
            }
        }
        let action = match kind {
            CredentialKind::Api => "rotate_api_credentials",
            CredentialKind::Cec => "rotate_cec_credentials",
            CredentialKind::Webhook => "rotate_webhook_secret",
        };
        store::audit::record(&mut tx, &audit_entry(actor, action, partner_id, None, None, None, now)).await?;
        tx.commit().await.map_err(store::Error::from)?;
        self.partner_changes.changed();
        self.credentials(partner_id).await
    }

    /// Records the partner's own T/CEC 102 server and the secrets it issued to us. The previous
    /// set keeps working through the overlap window.
    pub async fn set_cec_peer(&self, partner_id: Uuid, input: CecPeerInput, actor: &Actor) -> Result<CecPeerView> {
        input.secrets.validate()?;
        let base_url = input.base_url.trim().trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::invalid("base_url", "must start with http:// or https://", "须以 http:// 或 https:// 开头"));
        }
        self.check_partner_endpoint("base_url", &base_url).await?;
        let webhook_url = input.webhook_url.as_deref().map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned);
        if let Some(url) = &webhook_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(Error::invalid("webhook_url", "must start with http:// or https://", "须以 http:// 或 https:// 开头"));
        }
        let version_segment = input.version_segment.unwrap_or_else(|| self.settings.cec_version_segment.clone());
        if !version_segment.starts_with('v') || version_segment.len() > 10 || version_segment.contains('/') {
            return Err(Error::invalid("version_segment", "must look like v1.0", "格式应类似 v1.0"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let partner = store::partners::get(&mut tx, partner_id).await?.ok_or(Error::not_found("partner"))?;
        Self::require_approved(&partner)?;
        repo::expire_cec(&mut tx, partner_id, CecDirection::Received, now + self.settings.rotation_overlap).await?;
        let secrets = serde_json::to_vec(&input.secrets).map_err(|e| Error::Internal(e.to_string()))?;
        let credential = CecCredential {
            id: Uuid::now_v7(),
            partner_id,
            direction: CecDirection::Received,
            operator_id: self.settings.our_operator_id.clone(),
            secrets: self.key.seal(&secrets),
            base_url: Some(base_url),
            version_segment,
            created_at: now,
            expires_at: None,
        };
        repo::insert_cec(&mut tx, &credential).await?;
        store::partner_webhooks::set(&mut tx, partner_id, webhook_url.as_deref(), now).await?;
        store::audit::record(&mut tx, &audit_entry(actor, "set_cec_peer", partner_id, None, None, None, now)).await?;
        tx.commit().await.map_err(store::Error::from)?;
        self.partner_changes.changed();
        if self.settings.sync_on_peer_registration && partner.application.roles.is_operator() && self.operator_gateway.is_some() {
            // The first moment we can reach a new operator: pull its catalog now rather than at
            // the next periodic sync. The answer to the partner does not wait for it.
            let services = self.clone();
            self.background.spawn("catalog pull after endpoint registration", async move {
                match services.sync_catalog(partner_id).await {
                    Ok(report) => tracing::info!(partner = %partner_id, stations = report.stations, "catalog pulled after the partner registered its endpoint"),
                    Err(e) => {
                        tracing::warn!(partner = %partner_id, error = %e, "catalog pull after endpoint registration failed; the periodic sync will try again")
                    }
                }
            });
        }
        let endpoint = CecReceivedView {
            operator_id: credential.operator_id,
            base_url: credential.base_url,
            version_segment: credential.version_segment,
            created_at: now,
            expires_at: None,
        };
        Ok(CecPeerView { endpoint, webhook_url })
    }

    /// Every secret set a caller with this OperatorID may use now (more than one during an
    /// overlap window), with its partner. For the T/CEC 102 server adapter.
    pub async fn cec_issued_for_operator(&self, operator_id: &str) -> Result<Option<(Partner, Vec<CecCredentialView>)>> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let Some(partner) = store::partners::by_operator_id(&mut conn, operator_id).await? else {
            return Ok(None);
        };
        let sets = repo::cec_issued_by_operator(&mut conn, operator_id, now)
            .await?
            .iter()
            .filter(|c| c.partner_id == partner.id)
            .map(|c| self.cec_view(c))
            .collect::<Result<_>>()?;
        Ok(Some((partner, sets)))
    }

    /// The newest set the partner gave us, to call it. For the T/CEC 102 client adapter.
    pub async fn cec_received_for_partner(&self, partner_id: Uuid) -> Result<Option<CecCredentialView>> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let newest = repo::cec_for_partner(&mut conn, partner_id, CecDirection::Received, now).await?.into_iter().next();
        newest.map(|c| self.cec_view(&c)).transpose()
    }
}

/// Credentials as an operator sees them: identifiers and validity, never secrets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialSummary {
    pub api_client_ids: Vec<ApiCredentialSummary>,
    pub cec_issued: Vec<CecReceivedView>,
    pub cec_received: Vec<CecReceivedView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiCredentialSummary {
    pub client_id: String,
    /// The partner has not yet looked at its new secret.
    pub secret_not_yet_shown: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Services {
    pub async fn credential_summary(&self, partner_id: Uuid) -> Result<CredentialSummary> {
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        store::partners::get(&mut conn, partner_id).await?.ok_or(Error::not_found("partner"))?;
        let summary = |c: CecCredential| CecReceivedView {
            operator_id: c.operator_id,
            base_url: c.base_url,
            version_segment: c.version_segment,
            created_at: c.created_at,
            expires_at: c.expires_at,
        };
        Ok(CredentialSummary {
            api_client_ids: repo::api_for_partner(&mut conn, partner_id, now)
                .await?
                .into_iter()
                .map(|c| ApiCredentialSummary {
                    client_id: c.client_id,
                    secret_not_yet_shown: c.pending_secret.is_some(),
                    created_at: c.created_at,
                    expires_at: c.expires_at,
                })
                .collect(),
            cec_issued: repo::cec_for_partner(&mut conn, partner_id, CecDirection::Issued, now).await?.into_iter().map(summary).collect(),
            cec_received: repo::cec_for_partner(&mut conn, partner_id, CecDirection::Received, now).await?.into_iter().map(summary).collect(),
        })
    }
}
