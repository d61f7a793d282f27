//! Drivers: accounts, sessions and the wallet ledger.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use crate::error::on_unique;
use crate::{Conn, Error, Result, from_millis, to_millis};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserRecord {
    pub id: Uuid,
    pub phone: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: String,
    /// Ten-thousandths of a yuan.
    #[serde(skip)]
    pub wallet_balance: i64,
    pub created_at: DateTime<Utc>,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord> {
    let id: String = row.try_get("id")?;
    Ok(UserRecord {
        id: Uuid::parse_str(&id).map_err(|_| Error::Corrupt(format!("users.id = {id:?}")))?,
        phone: row.try_get("phone")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        wallet_balance: row.try_get("wallet_balance")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

const COLUMNS: &str = "id, phone, display_name, password_hash, wallet_balance, created_at";

pub async fn insert(conn: &mut Conn, user: &UserRecord) -> Result<()> {
    sqlx::query("INSERT INTO users (id, phone, display_name, password_hash, wallet_balance, created_at) VALUES ($1,$2,$3,$4,0,$5)")
        .bind(user.id.to_string())
        .bind(&user.phone)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(to_millis(user.created_at))
        .execute(conn)
        .await
        .map_err(on_unique)?;
    Ok(())
}

pub async fn by_phone(conn: &mut Conn, phone: &str) -> Result<Option<UserRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE phone=$1"));
    sqlx::query(sql).bind(phone).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

pub async fn get(conn: &mut Conn, id: Uuid) -> Result<Option<UserRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id=$1"));
    sqlx::query(sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

pub async fn insert_session(conn: &mut Conn, token_hash: &str, user_id: Uuid, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<()> {
    sqlx::query("INSERT INTO user_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1,$2,$3,$4)")
        .bind(token_hash)
        .bind(user_id.to_string())
        .bind(to_millis(now))
        .bind(to_millis(expires_at))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn by_session(conn: &mut Conn, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserRecord>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash=$1 AND s.expires_at > $2",
        COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
    ));
    sqlx::query(sql).bind(token_hash).bind(to_millis(now)).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WalletEntry {
    /// Ten-thousandths of a yuan; positive is money in.
    pub amount: i64,
    pub balance: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Moves the balance by `amount` (ten-thousandths) and records why, refusing to go below zero.
/// Returns the new balance, or `None` if the balance would go negative (nothing changes).
pub async fn move_wallet(conn: &mut Conn, user_id: Uuid, amount: i64, reason: &str, reference: Option<&str>, now: DateTime<Utc>) -> Result<Option<i64>> {
    let updated: Option<i64> =
        sqlx::query_scalar("UPDATE users SET wallet_balance = wallet_balance + $2 WHERE id = $1 AND wallet_balance + $2 >= 0 RETURNING wallet_balance")
            .bind(user_id.to_string())
            .bind(amount)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(balance) = updated else { return Ok(None) };
    sqlx::query("INSERT INTO wallet_entries (id, user_id, amount, balance, reason, reference, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)")
        .bind(Uuid::now_v7().to_string())
        .bind(user_id.to_string())
        .bind(amount)
        .bind(balance)
        .bind(reason)
        .bind(reference)
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(Some(balance))
}

pub async fn wallet_entries(conn: &mut Conn, user_id: Uuid, limit: i64) -> Result<Vec<WalletEntry>> {
    let rows =
        sqlx::query("SELECT amount, balance, reason, reference, created_at FROM wallet_entries WHERE user_id=$1 ORDER BY created_at DESC, id DESC LIMIT $2")
            .bind(user_id.to_string())
            .bind(limit)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(WalletEntry {
                amount: r.try_get("amount")?,
                balance: r.try_get("balance")?,
                reason: r.try_get("reason")?,
                reference: r.try_get("reference")?,
                created_at: from_millis(r.try_get("created_at")?),
            })
        })
        .collect()
}
