//! Idempotency keys of partner commands (migration 0021): the first request with a key claims
//! it with a hash of what it asked and the resource it will act on; later ones read the claim.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::{Conn, Result, to_millis};

/// A key already claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedKey {
    pub request_hash: String,
    pub resource: String,
    /// The first request's answer, once it has one.
    pub answer: Option<(u16, String)>,
}

/// Claims `key` for `operation`; `None` when this call claimed it, else the existing claim. An
/// insert that does nothing on conflict, then a read: atomic on both backends, no lock held.
pub async fn claim(
    conn: &mut Conn,
    partner_id: Uuid,
    operation: &str,
    key: &str,
    request_hash: &str,
    resource: &str,
    now: DateTime<Utc>,
) -> Result<Option<ClaimedKey>> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (partner_id, operation, idem_key, request_hash, resource, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (partner_id, operation, idem_key) DO NOTHING",
    )
    .bind(partner_id.to_string())
    .bind(operation)
    .bind(key)
    .bind(request_hash)
    .bind(resource)
    .bind(to_millis(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT request_hash, resource, status, response FROM idempotency_keys WHERE partner_id=$1 AND operation=$2 AND idem_key=$3")
        .bind(partner_id.to_string())
        .bind(operation)
        .bind(key)
        .fetch_one(conn)
        .await?;
    let status: Option<i64> = row.try_get("status")?;
    let response: Option<String> = row.try_get("response")?;
    Ok(Some(ClaimedKey {
        request_hash: row.try_get("request_hash")?,
        resource: row.try_get("resource")?,
        answer: status.zip(response).map(|(s, r)| (u16::try_from(s).unwrap_or(500), r)),
    }))
}

/// Keeps the first answer given under `key`; a later one never replaces it.
pub async fn answer(conn: &mut Conn, partner_id: Uuid, operation: &str, key: &str, status: u16, response: &str) -> Result<()> {
    sqlx::query("UPDATE idempotency_keys SET status=$4, response=$5 WHERE partner_id=$1 AND operation=$2 AND idem_key=$3 AND status IS NULL")
        .bind(partner_id.to_string())
        .bind(operation)
        .bind(key)
        .bind(i64::from(status))
        .bind(response)
        .execute(conn)
        .await?;
    Ok(())
}
