//! Partner onboarding and review: the first steps of both seed flows.
//!
//! register → (documents) → admin approves (credentials issued) or rejects with a reason →
//! the partner reads the reason, fixes its application and resubmits → … Approved partners can
//! be suspended and reinstated. Every transition is audited in the same transaction.

use domain::partner::Partner;
use domain::partner::{Application, ApplicationInput, ReviewAction, ReviewState};
use serde::Serialize;
use store::audit::{self, AuditEntry};
use store::partners::{self, PartnerFilter};
use store::{Page, PageRequest};
use uuid::Uuid;

use crate::secrets::{random_token, sha256_hex};
use crate::{Error, Result, Services, credentials};

/// Who is acting, for the audit log.
#[derive(Debug, Clone)]
pub enum Actor {
    Admin(String),
    Partner(Uuid),
    Cli(String),
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Self::Admin(name) => format!("admin:{name}"),
            Self::Partner(id) => format!("partner:{id}"),
            Self::Cli(name) => format!("cli:{name}"),
        }
    }
}

/// A new registration: the record and the portal token, which is shown only this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub partner: Partner,
    pub portal_token: String,
}

/// A partner as an admin sees it: the record with its documents and review history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartnerDetail {
    #[serde(flatten)]
    pub partner: Partner,
    pub documents: Vec<store::documents::DocumentRecord>,
    pub history: Vec<AuditEntry>,
}

const PORTAL_TOKEN_PREFIX: &str = "cbp_";

fn duplicate(e: store::Error) -> Error {
    match e {
        store::Error::Duplicate { .. } => Error::Conflict {
            code: "already_registered",
            field: Some("credit_code"),
            message: "a partner with this unified social credit code is already registered".into(),
            message_zh: "该统一社会信用代码已注册".into(),
        },
        other => other.into(),
    }
}

impl Services {
    pub async fn register(&self, input: ApplicationInput) -> Result<Registered> {
        let application = Application::parse(input).map_err(Error::Invalid)?;
        self.check_partner_endpoint("callback_base_url", &application.callback_base_url).await?;
        let id = Uuid::now_v7();
        let portal_token = random_token(PORTAL_TOKEN_PREFIX);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        partners::insert(&mut tx, id, &application, &sha256_hex(&portal_token), now).await.map_err(duplicate)?;
        audit::record(&mut tx, &audit_entry(&Actor::Partner(id), "register", id, None, Some(ReviewState::Submitted), None, now)).await?;
        let partner = partners::get(&mut tx, id).await?.ok_or(Error::not_found("partner"))?;
        tx.commit().await.map_err(store::Error::from)?;
        tracing::info!(partner = %id, operator_id = %partner.operator_id, "partner registered");
        Ok(Registered { partner, portal_token })
    }

    /// The partner behind a portal token.
    pub async fn partner_by_portal_token(&self, token: &str) -> Result<Partner> {
        if !token.starts_with(PORTAL_TOKEN_PREFIX) {
            return Err(Error::Unauthorized(crate::AuthFailure::InvalidToken));
        }
        let mut conn = self.db.acquire().await?;
        partners::by_portal_token(&mut conn, &sha256_hex(token)).await?.ok_or(Error::Unauthorized(crate::AuthFailure::InvalidToken))
    }

    pub async fn partner(&self, id: Uuid) -> Result<Partner> {
        let mut conn = self.db.acquire().await?;
        partners::get(&mut conn, id).await?.ok_or(Error::not_found("partner"))
    }

    pub async fn partner_detail(&self, id: Uuid) -> Result<PartnerDetail> {
        let mut conn = self.db.acquire().await?;
        let partner = partners::get(&mut conn, id).await?.ok_or(Error::not_found("partner"))?;
        let documents = store::documents::list_for_partner(&mut conn, id).await?;
        let history = audit::for_subject(&mut conn, "partner", &id.to_string()).await?;
        Ok(PartnerDetail { partner, documents, history })
    }

    pub async fn list_partners(&self, filter: &PartnerFilter, page: PageRequest) -> Result<Page<Partner>> {
        let mut conn = self.db.acquire().await?;
        Ok(partners::list(&mut conn, filter, page).await?)
    }

    /// A rejected partner sends its corrected application; it goes back to review.
    pub async fn resubmit(&self, partner_id: Uuid, input: ApplicationInput) -> Result<Partner> {
        let application = Application::parse(input).map_err(Error::Invalid)?;
        self.check_partner_endpoint("callback_base_url", &application.callback_base_url).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let current = partners::get(&mut tx, partner_id).await?.ok_or(Error::not_found("partner"))?;
        let to = current.state.apply(&ReviewAction::Resubmit)?;
        partners::update_application(&mut tx, partner_id, &application, now).await.map_err(duplicate)?;
        if !partners::transition(&mut tx, partner_id, current.state, to, None, now).await? {
            return Err(concurrent_change());
        }
        audit::record(&mut tx, &audit_entry(&Actor::Partner(partner_id), "resubmit", partner_id, Some(current.state), Some(to), None, now)).await?;
        let partner = partners::get(&mut tx, partner_id).await?.ok_or(Error::not_found("partner"))?;
        tx.commit().await.map_err(store::Error::from)?;
        Ok(partner)
    }

    /// Approve, reject, suspend or reinstate. Approval issues credentials the first time;
    /// suspension ends the partner's access tokens at once.
    pub async fn review(&self, partner_id: Uuid, action: ReviewAction, actor: &Actor) -> Result<Partner> {
        if matches!(action, ReviewAction::Resubmit) {
            return Err(Error::forbidden("only the partner can resubmit", "只有合作商本人可以重新提交"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let current = partners::get(&mut tx, partner_id).await?.ok_or(Error::not_found("partner"))?;
        let to = current.state.apply(&action)?;
        let reason = action.reason().map(str::trim);
        if !partners::transition(&mut tx, partner_id, current.state, to, reason, now).await? {
            return Err(concurrent_change());
        }
        audit::record(&mut tx, &audit_entry(actor, action.name(), partner_id, Some(current.state), Some(to), reason, now)).await?;
        match action {
            ReviewAction::Approve => credentials::issue_on_approval(self, &mut tx, &current, now).await?,
            ReviewAction::Suspend { .. } => store::credentials::revoke_tokens(&mut tx, partner_id, now).await?,
            _ => {}
        }
        let partner = partners::get(&mut tx, partner_id).await?.ok_or(Error::not_found("partner"))?;
        tx.commit().await.map_err(store::Error::from)?;
        self.partner_changes.changed();
        tracing::info!(partner = %partner_id, action = action.name(), from = %current.state, to = %to, actor = %actor.label(), "partner review");
        Ok(partner)
    }
}

/// Another request changed the state between our read and our write.
fn concurrent_change() -> Error {
    Error::Conflict {
        code: "concurrent_change",
        field: None,
        message: "the partner was changed by someone else at the same time; reload and try again".into(),
        message_zh: "该合作商刚被他人修改，请刷新后重试".into(),
    }
}

pub(crate) fn audit_entry(
    actor: &Actor,
    action: &str,
    partner_id: Uuid,
    from: Option<ReviewState>,
    to: Option<ReviewState>,
    reason: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.label(),
        action: action.into(),
        subject_type: "partner".into(),
        subject_id: partner_id.to_string(),
        from_state: from.map(|s| s.as_str().into()),
        to_state: to.map(|s| s.as_str().into()),
        reason: reason.map(Into::into),
    }
}

impl Services {
    /// A partner by id or by its OperatorID, for operators typing at a terminal.
    pub async fn find_partner(&self, id_or_operator_id: &str) -> Result<Partner> {
        let mut conn = self.db.acquire().await?;
        let found = match Uuid::parse_str(id_or_operator_id.trim()) {
            Ok(id) => partners::get(&mut conn, id).await?,
            Err(_) => partners::by_operator_id(&mut conn, &id_or_operator_id.trim().to_uppercase()).await?,
        };
        found.ok_or(Error::not_found("partner"))
    }
}
