//! Admin users: created from the CLI, log in with a password, act with a session token.

use serde::Serialize;
use store::admins::{self, AdminUser};
use uuid::Uuid;

use crate::login_guard::hash_password_off_runtime;
use crate::secrets::{random_token, sha256_hex};
use crate::{AuthFailure, Error, Result, Services};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminSession {
    pub token: String,
    pub username: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

const SESSION_PREFIX: &str = "cba_";

impl Services {
    pub async fn create_admin(&self, username: &str, password: &str) -> Result<()> {
        let username = username.trim();
        if username.len() < 3 || username.len() > 64 || !username.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(Error::invalid("username", "3 to 64 letters, digits, '.', '_' or '-'", "3 至 64 位字母、数字、'.'、'_' 或 '-'"));
        }
        if password.chars().count() < 10 {
            return Err(Error::invalid("password", "must be at least 10 characters", "至少 10 个字符"));
        }
        let user = AdminUser { id: Uuid::now_v7(), username: username.into(), password_hash: hash_password_off_runtime(password).await? };
        let mut conn = self.db.acquire().await?;
        admins::insert(&mut conn, &user, self.now()).await.map_err(|e| match e {
            store::Error::Duplicate { .. } => Error::Conflict {
                code: "duplicate_username",
                field: Some("username"),
                message: format!("admin user {username} already exists"),
                message_zh: format!("管理员 {username} 已存在"),
            },
            other => other.into(),
        })
    }

    pub async fn admin_login(&self, username: &str, password: &str) -> Result<AdminSession> {
        let username = username.trim();
        let user = {
            let mut conn = self.db.acquire().await?;
            admins::by_username(&mut conn, username).await?
        };
        // The connection is not held while Argon2 runs.
        let verified = self.verify_login(&format!("admin:{}", username.to_lowercase()), password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let Some(user) = user.filter(|_| verified) else {
            return Err(Error::Unauthorized(AuthFailure::BadLogin));
        };
        let mut conn = self.db.acquire().await?;
        let token = random_token(SESSION_PREFIX);
        let now = self.now();
        let expires_at = now + self.settings.admin_session_ttl;
        admins::insert_session(&mut conn, &sha256_hex(&token), user.id, now, expires_at).await?;
        Ok(AdminSession { token, username: user.username, expires_at })
    }

    /// The admin's username behind a session token.
    pub async fn authenticate_admin(&self, token: &str) -> Result<String> {
        if !token.starts_with(SESSION_PREFIX) {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        }
        let mut conn = self.db.acquire().await?;
        admins::by_session(&mut conn, &sha256_hex(token), self.now()).await?.map(|u| u.username).ok_or(Error::Unauthorized(AuthFailure::InvalidToken))
    }
}

impl Services {
    /// On a fresh installation there is no admin to review partners: create `admin` with a
    /// random password and return it, once. Returns `None` when any admin exists.
    pub async fn bootstrap_admin(&self) -> Result<Option<String>> {
        let mut conn = self.db.acquire().await?;
        if admins::count(&mut conn).await? > 0 {
            return Ok(None);
        }
        drop(conn);
        let password = crate::secrets::random_alphanumeric(20);
        self.create_admin("admin", &password).await?;
        Ok(Some(password))
    }
}
