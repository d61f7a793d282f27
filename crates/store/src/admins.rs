//! Admin users (argon2 password hashes) and their login sessions (SHA-256 of a random token).

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::error::on_unique;
use crate::{Conn, Error, Result, to_millis};

#[derive(Debug, Clone)]
pub struct AdminUser {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
}

pub async fn insert(conn: &mut Conn, user: &AdminUser, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("INSERT INTO admin_users (id, username, password_hash, created_at) VALUES ($1,$2,$3,$4)")
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(to_millis(now))
        .execute(conn)
        .await
        .map_err(on_unique)?;
    Ok(())
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<AdminUser> {
    let id: String = row.try_get("id")?;
    Ok(AdminUser {
        id: Uuid::parse_str(&id).map_err(|_| Error::Corrupt(format!("admin_users.id = {id:?}")))?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
    })
}

pub async fn by_username(conn: &mut Conn, username: &str) -> Result<Option<AdminUser>> {
    let row = sqlx::query("SELECT id, username, password_hash FROM admin_users WHERE username=$1").bind(username).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn insert_session(conn: &mut Conn, token_hash: &str, admin_id: Uuid, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<()> {
    sqlx::query("INSERT INTO admin_sessions (token_hash, admin_id, created_at, expires_at) VALUES ($1,$2,$3,$4)")
        .bind(token_hash)
        .bind(admin_id.to_string())
        .bind(to_millis(now))
        .bind(to_millis(expires_at))
        .execute(conn)
        .await?;
    Ok(())
}

/// The admin behind a session token that has not expired at `now`.
pub async fn by_session(conn: &mut Conn, token_hash: &str, now: DateTime<Utc>) -> Result<Option<AdminUser>> {
    let row = sqlx::query(
        "SELECT u.id, u.username, u.password_hash FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_id \
         WHERE s.token_hash=$1 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(to_millis(now))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn count(conn: &mut Conn) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM admin_users").fetch_one(conn).await?)
}
