//! Wallet top-ups paid through a payment gateway. A top-up credits the wallet only when the
//! gateway says its trade succeeded: the status change is a compare-and-set from the status the
//! caller read, in the same transaction as the wallet entry, so a repeated callback (or two
//! racing) credits once.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::error::on_unique;
use crate::row::{opt_time, uuid};
use crate::{Conn, Result, from_millis, to_millis};

#[derive(Debug, Clone)]
pub struct TopUpRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The gateway's name (`sandbox`).
    pub method: String,
    /// Ten-thousandths of a yuan.
    pub amount: i64,
    /// `pending`, `succeeded`, `failed`, `cancelled`, `expired`.
    pub status: String,
    /// The gateway's trade id.
    pub external_ref: Option<String>,
    pub pay_url: Option<String>,
    pub settled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, method, amount, status, external_ref, pay_url, settled_at, created_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<TopUpRecord> {
    Ok(TopUpRecord {
        id: uuid(r, "id")?,
        user_id: uuid(r, "user_id")?,
        method: r.try_get("method")?,
        amount: r.try_get("amount")?,
        status: r.try_get("status")?,
        external_ref: r.try_get("external_ref")?,
        pay_url: r.try_get("pay_url")?,
        settled_at: opt_time(r, "settled_at")?,
        created_at: from_millis(r.try_get("created_at")?),
    })
}

pub async fn insert(conn: &mut Conn, t: &TopUpRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO wallet_top_ups (id, user_id, method, amount, status, external_ref, pay_url, settled_at, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9)",
    )
    .bind(t.id.to_string())
    .bind(t.user_id.to_string())
    .bind(&t.method)
    .bind(t.amount)
    .bind(&t.status)
    .bind(t.external_ref.as_deref())
    .bind(t.pay_url.as_deref())
    .bind(t.settled_at.map(to_millis))
    .bind(to_millis(t.created_at))
    .execute(conn)
    .await
    .map_err(on_unique)?;
    Ok(())
}

pub async fn by_id(conn: &mut Conn, id: Uuid) -> Result<Option<TopUpRecord>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM wallet_top_ups WHERE id=$1"))).bind(id.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// Moves the top-up from `from` to `to`; false when it was not in `from` any more (someone else
/// moved it first).
pub async fn settle(conn: &mut Conn, id: Uuid, from: &str, to: &str, settled_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("UPDATE wallet_top_ups SET status=$3, settled_at=COALESCE(settled_at, $4), updated_at=$5 WHERE id=$1 AND status=$2")
        .bind(id.to_string())
        .bind(from)
        .bind(to)
        .bind(to_millis(settled_at))
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
