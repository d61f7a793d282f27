//! OAuth2 client credentials (RFC 6749 §4.4) for the partner REST API.
//!
//! Tokens are opaque random strings stored as SHA-256: they can be revoked at once (a suspended
//! partner loses access immediately) and every instance sharing the database accepts them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use store::credentials::{self as repo, AccessToken};
use uuid::Uuid;

use crate::secrets::{random_token, sha256_hex};
use crate::{AuthFailure, Error, Result, Services};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

/// The partner behind a valid access token.
#[derive(Debug, Clone)]
pub struct PartnerPrincipal {
    pub partner_id: Uuid,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

impl PartnerPrincipal {
    pub fn require_scope(&self, scope: &'static str) -> Result<()> {
        if self.scopes.iter().any(|s| s == scope) { Ok(()) } else { Err(Error::Unauthorized(AuthFailure::InsufficientScope(scope))) }
    }
}

const ACCESS_TOKEN_PREFIX: &str = "cbt_";

impl Services {
    /// Issues a token for `client_id`/`client_secret`. `scope`, if given, must be a subset of
    /// what the partner's roles allow; otherwise all of those are granted.
    pub async fn issue_token(&self, client_id: &str, client_secret: &str, scope: Option<&str>) -> Result<IssuedToken> {
        let now = self.now();
        let credential = {
            let mut conn = self.db.acquire().await?;
            repo::api_by_client_id(&mut conn, client_id).await?.filter(|c| c.expires_at.is_none_or(|end| end > now))
        };
        // An unknown or expired client is verified against a dummy hash: it takes as long as a
        // wrong secret, and counts against the same limits.
        let verified = self.verify_login(&format!("client:{client_id}"), client_secret, credential.as_ref().map(|c| c.secret_hash.as_str())).await?;
        let Some(credential) = credential.filter(|_| verified) else {
            return Err(Error::Unauthorized(AuthFailure::InvalidClient));
        };
        let mut conn = self.db.acquire().await?;
        let partner = store::partners::get(&mut conn, credential.partner_id).await?.ok_or(Error::not_found("partner"))?;
        if !partner.state.may_operate() {
            return Err(Error::forbidden(
                format!("the partner is {}; tokens are issued to approved partners only", partner.state),
                format!("合作商状态为「{}」，仅已通过审核的合作商可获取令牌", domain::partner::state_zh(partner.state)),
            ));
        }
        let allowed = partner.application.roles.scopes();
        let granted: Vec<&str> = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => allowed.clone(),
            Some(requested) => {
                let requested: Vec<&str> = requested.split_whitespace().collect();
                if let Some(bad) = requested.iter().find(|s| !allowed.contains(s)) {
                    return Err(Error::invalid(
                        "scope",
                        format!("scope `{bad}` is not granted to this partner; allowed: {}", allowed.join(" ")),
                        format!("无权申请 `{bad}` 范围，可用范围：{}", allowed.join(" ")),
                    ));
                }
                requested
            }
        };
        let access_token = random_token(ACCESS_TOKEN_PREFIX);
        let ttl = self.settings.access_token_ttl;
        let record = AccessToken { partner_id: partner.id, client_id: credential.client_id, scopes: granted.join(" "), expires_at: now + ttl };
        repo::insert_token(&mut conn, &sha256_hex(&access_token), &record, now).await?;
        Ok(IssuedToken { access_token, token_type: "Bearer", expires_in: ttl.num_seconds(), scope: record.scopes })
    }

    /// Checks a bearer token: known, not expired, minted by a credential still valid (tokens of a
    /// suspended partner are deleted at suspension).
    pub async fn authenticate_partner(&self, bearer: &str) -> Result<PartnerPrincipal> {
        if !bearer.starts_with(ACCESS_TOKEN_PREFIX) {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        }
        let now = self.now();
        let mut conn = self.db.acquire().await?;
        let token = repo::token(&mut conn, &sha256_hex(bearer)).await?.ok_or(Error::Unauthorized(AuthFailure::InvalidToken))?;
        if token.expires_at <= now {
            // Suspension ends a partner's tokens at once; tell it why rather than to fetch a
            // new token it would be refused.
            let partner = store::partners::get(&mut conn, token.partner_id).await?;
            if partner.is_some_and(|p| p.state == domain::partner::ReviewState::Suspended) {
                return Err(Error::Unauthorized(AuthFailure::PartnerSuspended));
            }
            return Err(Error::Unauthorized(AuthFailure::ExpiredToken));
        }
        // A token lives no longer than the credential that minted it: when a rotation's overlap
        // ends (or a suspension ends every credential), its tokens stop working with it.
        let minted_by = repo::api_by_client_id(&mut conn, &token.client_id).await?;
        if !minted_by.is_some_and(|c| c.partner_id == token.partner_id && c.expires_at.is_none_or(|end| end > now)) {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        }
        Ok(PartnerPrincipal {
            partner_id: token.partner_id,
            client_id: token.client_id,
            scopes: token.scopes.split_whitespace().map(str::to_owned).collect(),
            expires_at: token.expires_at,
        })
    }
}
