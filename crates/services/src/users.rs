//! Our drivers: sign up with a phone number, log in, act with a session token.

use serde::Serialize;
use store::users::{self, UserRecord};
use uuid::Uuid;

use crate::login_guard::hash_password_off_runtime;
use crate::secrets::{random_token, sha256_hex};
use crate::{AuthFailure, Error, Result, Services};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserSession {
    pub token: String,
    pub user: UserRecord,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

const SESSION_PREFIX: &str = "cbu_";

/// Mainland mobile numbers: 11 digits starting with 1; spaces, dashes and +86 are tolerated.
fn normalise_phone(phone: &str) -> Result<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.strip_prefix("86").filter(|d| d.len() == 11).map(str::to_owned).unwrap_or(digits);
    if digits.len() == 11 && digits.starts_with('1') {
        Ok(digits)
    } else {
        Err(Error::invalid("phone", "must be an 11-digit mainland mobile number", "须为 11 位手机号码"))
    }
}

impl Services {
    pub async fn sign_up(&self, phone: &str, password: &str, display_name: Option<&str>) -> Result<UserSession> {
        let phone = normalise_phone(phone)?;
        if password.chars().count() < 8 {
            return Err(Error::invalid("password", "must be at least 8 characters", "密码至少 8 位"));
        }
        let display_name = display_name.map(str::trim).filter(|n| !n.is_empty()).map_or_else(|| format!("用户{}", &phone[7..]), str::to_owned);
        if display_name.chars().count() > 40 {
            return Err(Error::invalid("display_name", "at most 40 characters", "昵称最多 40 个字符"));
        }
        let user = UserRecord {
            id: Uuid::now_v7(),
            phone,
            display_name,
            password_hash: hash_password_off_runtime(password).await?,
            wallet_balance: 0,
            created_at: self.now(),
        };
        let mut conn = self.db.acquire().await?;
        users::insert(&mut conn, &user).await.map_err(|e| match e {
            store::Error::Duplicate { .. } => Error::Conflict {
                code: "phone_taken",
                field: Some("phone"),
                message: "this phone number already has an account; log in instead".into(),
                message_zh: "该手机号已注册，请直接登录".into(),
            },
            other => other.into(),
        })?;
        drop(conn);
        self.open_session(user).await
    }

    pub async fn log_in(&self, phone: &str, password: &str) -> Result<UserSession> {
        // A number that is no phone number is an unknown account like any other.
        let phone = normalise_phone(phone).unwrap_or_else(|_| phone.trim().to_owned());
        let user = {
            let mut conn = self.db.acquire().await?;
            users::by_phone(&mut conn, &phone).await?
        };
        let verified = self.verify_login(&format!("driver:{phone}"), password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let Some(user) = user.filter(|_| verified) else {
            return Err(Error::Unauthorized(AuthFailure::BadLogin));
        };
        self.open_session(user).await
    }

    async fn open_session(&self, user: UserRecord) -> Result<UserSession> {
        let mut conn = self.db.acquire().await?;
        let token = random_token(SESSION_PREFIX);
        let now = self.now();
        let expires_at = now + chrono::Duration::days(30);
        users::insert_session(&mut conn, &sha256_hex(&token), user.id, now, expires_at).await?;
        Ok(UserSession { token, user, expires_at })
    }

    pub async fn authenticate_user(&self, token: &str) -> Result<UserRecord> {
        if !token.starts_with(SESSION_PREFIX) {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        }
        let mut conn = self.db.acquire().await?;
        users::by_session(&mut conn, &sha256_hex(token), self.now()).await?.ok_or(Error::Unauthorized(AuthFailure::InvalidToken))
    }
}
