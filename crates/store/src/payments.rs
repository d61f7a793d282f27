//! Payments of orders. At most one succeeded payment per order (a partial unique index), and a
//! gateway's reference is unique, so a payment is recorded exactly once whatever the gateway does.
//!
//! Status changes are compare-and-set (`WHERE status = <expected>`): two deliveries of the same
//! gateway callback racing each other cannot both move a payment, and the loser re-reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use crate::error::on_unique;
use crate::row::{opt_time, uuid};
use crate::{Conn, Result, from_millis, to_millis};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentRecord {
    pub id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    /// `wallet`, or the gateway's name (`sandbox`).
    pub method: String,
    /// Ten-thousandths of a yuan.
    pub amount: i64,
    /// `pending`, `succeeded`, `failed`, `cancelled`, `expired`, `refunding`, `refunded`.
    pub status: String,
    /// The gateway's trade id.
    pub external_ref: Option<String>,
    /// Where the user pays (gateway payments).
    pub pay_url: Option<String>,
    /// When the gateway says the trade succeeded, failed or was cancelled.
    pub settled_at: Option<DateTime<Utc>>,
    /// The gateway's refund id once it confirmed the refund.
    pub refund_ref: Option<String>,
    pub refund_reason: Option<String>,
    pub refunded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl PaymentRecord {
    /// A payment with nothing settled or refunded yet.
    pub fn new(id: Uuid, order_id: Uuid, user_id: Uuid, method: &str, amount: i64, status: &str, created_at: DateTime<Utc>) -> Self {
        Self {
            id,
            order_id,
            user_id,
            method: method.into(),
            amount,
            status: status.into(),
            external_ref: None,
            pay_url: None,
            settled_at: None,
            refund_ref: None,
            refund_reason: None,
            refunded_at: None,
            created_at,
        }
    }
}

const COLUMNS: &str = "id, order_id, user_id, method, amount, status, external_ref, pay_url, settled_at, refund_ref, refund_reason, refunded_at, created_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<PaymentRecord> {
    Ok(PaymentRecord {
        id: uuid(r, "id")?,
        order_id: uuid(r, "order_id")?,
        user_id: uuid(r, "user_id")?,
        method: r.try_get("method")?,
        amount: r.try_get("amount")?,
        status: r.try_get("status")?,
        external_ref: r.try_get("external_ref")?,
        pay_url: r.try_get("pay_url")?,
        settled_at: opt_time(r, "settled_at")?,
        refund_ref: r.try_get("refund_ref")?,
        refund_reason: r.try_get("refund_reason")?,
        refunded_at: opt_time(r, "refunded_at")?,
        created_at: from_millis(r.try_get("created_at")?),
    })
}

pub async fn insert(conn: &mut Conn, p: &PaymentRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO payments (id, order_id, user_id, method, amount, status, external_ref, pay_url, settled_at, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10)",
    )
    .bind(p.id.to_string())
    .bind(p.order_id.to_string())
    .bind(p.user_id.to_string())
    .bind(&p.method)
    .bind(p.amount)
    .bind(&p.status)
    .bind(p.external_ref.as_deref())
    .bind(p.pay_url.as_deref())
    .bind(p.settled_at.map(to_millis))
    .bind(to_millis(p.created_at))
    .execute(conn)
    .await
    .map_err(on_unique)?;
    Ok(())
}

pub async fn for_order(conn: &mut Conn, order_id: Uuid) -> Result<Vec<PaymentRecord>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM payments WHERE order_id=$1 ORDER BY created_at, id")))
        .bind(order_id.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn by_id(conn: &mut Conn, id: Uuid) -> Result<Option<PaymentRecord>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM payments WHERE id=$1"))).bind(id.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// The payment a gateway's trade id belongs to.
pub async fn by_external_ref(conn: &mut Conn, method: &str, external_ref: &str) -> Result<Option<PaymentRecord>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM payments WHERE method=$1 AND external_ref=$2")))
        .bind(method)
        .bind(external_ref)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Payments in `status` created before `before`, oldest first (expiry sweep, refund retries).
pub async fn with_status_before(conn: &mut Conn, status: &str, before: DateTime<Utc>, limit: i64) -> Result<Vec<PaymentRecord>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM payments WHERE status=$1 AND created_at < $2 ORDER BY created_at LIMIT $3")))
        .bind(status)
        .bind(to_millis(before))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Moves the payment from `from` to `to`, noting when the gateway settled it; false when it was
/// not in `from` any more (someone else moved it first).
pub async fn settle(conn: &mut Conn, id: Uuid, from: &str, to: &str, settled_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("UPDATE payments SET status=$3, settled_at=COALESCE(settled_at, $4), updated_at=$5 WHERE id=$1 AND status=$2")
        .bind(id.to_string())
        .bind(from)
        .bind(to)
        .bind(to_millis(settled_at))
        .bind(to_millis(now))
        .execute(conn)
        .await
        .map_err(on_unique)?;
    Ok(done.rows_affected() == 1)
}

/// Marks money to be given back (`from` → `refunding`) with the reason; false when the payment
/// was not in `from`.
pub async fn start_refund(conn: &mut Conn, id: Uuid, from: &str, reason: &str, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("UPDATE payments SET status='refunding', refund_reason=$3, updated_at=$4 WHERE id=$1 AND status=$2")
        .bind(id.to_string())
        .bind(from)
        .bind(reason)
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the gateway's confirmation of a refund (`from` → `refunded`); false when the payment
/// was not in `from`.
pub async fn finish_refund(conn: &mut Conn, id: Uuid, from: &str, refund_ref: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("UPDATE payments SET status='refunded', refund_ref=$3, refunded_at=$4, updated_at=$5 WHERE id=$1 AND status=$2")
        .bind(id.to_string())
        .bind(from)
        .bind(refund_ref)
        .bind(to_millis(at))
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
