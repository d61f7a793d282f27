//! The outbox: messages to partners, written in the caller's transaction, claimed by a
//! dispatcher with a lease (so a crashed instance's claims come back), delivered in order per
//! `(partner_id, ordering_key)`, retried with backoff and dead-lettered after the budget.
//!
//! Claiming is an optimistic `UPDATE … WHERE status = 'pending'`: exactly one instance wins a
//! row on either backend, which is all `FOR UPDATE SKIP LOCKED` would give us here.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::{Conn, Error, Page, PageRequest, Result, from_millis, to_millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Delivering,
    Delivered,
    /// The retry budget is spent; an admin may replay it.
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivering => "delivering",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "delivering" => Self::Delivering,
            "delivered" => Self::Delivered,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxMessage {
    pub seq: i64,
    pub id: Uuid,
    pub partner_id: Uuid,
    /// What it is, e.g. `cec.notification_stationStatus`.
    pub kind: String,
    /// Messages with the same key reach the partner in the order they were written.
    pub ordering_key: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub attempt: i64,
    pub at: DateTime<Utc>,
    pub outcome: String,
    pub error: Option<String>,
}

const COLUMNS: &str = "seq, id, partner_id, kind, ordering_key, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at";

fn from_row(row: &AnyRow) -> Result<OutboxMessage> {
    let id: String = row.try_get("id")?;
    let partner: String = row.try_get("partner_id")?;
    let status: String = row.try_get("status")?;
    let payload: String = row.try_get("payload")?;
    let corrupt = |what: &str| Error::Corrupt(format!("outbox.{what}"));
    Ok(OutboxMessage {
        seq: row.try_get("seq")?,
        id: Uuid::parse_str(&id).map_err(|_| corrupt("id"))?,
        partner_id: Uuid::parse_str(&partner).map_err(|_| corrupt("partner_id"))?,
        kind: row.try_get("kind")?,
        ordering_key: row.try_get("ordering_key")?,
        payload: serde_json::from_str(&payload).map_err(|_| corrupt("payload"))?,
        status: OutboxStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: from_millis(row.try_get("next_attempt_at")?),
        last_error: row.try_get("last_error")?,
        created_at: from_millis(row.try_get("created_at")?),
        delivered_at: row.try_get::<Option<i64>, _>("delivered_at")?.map(from_millis),
    })
}

/// Adds a message; call it inside the transaction that makes the change it reports.
pub async fn enqueue(conn: &mut Conn, partner_id: Uuid, kind: &str, ordering_key: &str, payload: &serde_json::Value, now: DateTime<Utc>) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO outbox (id, partner_id, kind, ordering_key, payload, status, attempts, next_attempt_at, created_at) \
         VALUES ($1,$2,$3,$4,$5,'pending',0,$6,$6)",
    )
    .bind(id.to_string())
    .bind(partner_id.to_string())
    .bind(kind)
    .bind(ordering_key)
    .bind(payload.to_string())
    .bind(to_millis(now))
    .execute(conn)
    .await?;
    Ok(id)
}

/// Due messages that are the head of their ordering key (no earlier message of the same key
/// still pending or in flight), oldest first.
pub async fn due_heads(conn: &mut Conn, now: DateTime<Utc>, limit: i64) -> Result<Vec<OutboxMessage>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.partner_id = o.partner_id AND p.ordering_key = o.ordering_key \
                         AND p.seq < o.seq AND p.status IN ('pending', 'delivering')) \
         ORDER BY o.seq LIMIT $2"
    ));
    let rows = sqlx::query(sql).bind(to_millis(now)).bind(limit).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Takes messages for delivery until `lease_until`: those of `seqs` still pending and due, in
/// one statement. Returns the ones this call took (another worker may have taken some first).
pub async fn claim_many(conn: &mut Conn, seqs: &[i64], now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Vec<i64>> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE outbox SET status = 'delivering', attempts = attempts + 1, lease_until = $2 \
         WHERE seq IN ({}) AND status = 'pending' AND next_attempt_at <= $1 RETURNING seq",
        crate::row::placeholders(3, seqs.len())
    ));
    let mut query = sqlx::query_scalar::<_, i64>(sql).bind(to_millis(now)).bind(to_millis(lease_until));
    for seq in seqs {
        query = query.bind(*seq);
    }
    Ok(query.fetch_all(conn).await?)
}

async fn record_attempt(conn: &mut Conn, seq: i64, now: DateTime<Utc>, outcome: &str, error: Option<&str>) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox_attempts (outbox_seq, attempt, at, outcome, error) \
         SELECT seq, attempts, $2, $3, $4 FROM outbox WHERE seq = $1",
    )
    .bind(seq)
    .bind(to_millis(now))
    .bind(outcome)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_delivered(conn: &mut Conn, seq: i64, now: DateTime<Utc>) -> Result<()> {
    record_attempt(conn, seq, now, "delivered", None).await?;
    sqlx::query("UPDATE outbox SET status = 'delivered', delivered_at = $2, lease_until = NULL, last_error = NULL WHERE seq = $1")
        .bind(seq)
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// A failed attempt: back to pending at `retry_at`, or dead when `retry_at` is `None`.
pub async fn mark_failed(conn: &mut Conn, seq: i64, now: DateTime<Utc>, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<()> {
    record_attempt(conn, seq, now, if retry_at.is_some() { "retry" } else { "dead" }, Some(error)).await?;
    let (status, next) = match retry_at {
        Some(at) => ("pending", at),
        None => ("dead", now),
    };
    sqlx::query("UPDATE outbox SET status = $2, next_attempt_at = $3, last_error = $4, lease_until = NULL WHERE seq = $1")
        .bind(seq)
        .bind(status)
        .bind(to_millis(next))
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// Returns to pending the messages whose worker vanished (lease expired mid-delivery).
pub async fn release_expired_leases(conn: &mut Conn, now: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query("UPDATE outbox SET status = 'pending', lease_until = NULL WHERE status = 'delivering' AND lease_until < $1")
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Gives a dead message a fresh budget.
pub async fn replay(conn: &mut Conn, partner_id: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $3 WHERE partner_id = $1 AND id = $2 AND status = 'dead'")
        .bind(partner_id.to_string())
        .bind(id.to_string())
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut Conn, partner_id: Uuid, id: Uuid) -> Result<Option<(OutboxMessage, Vec<Attempt>)>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM outbox WHERE partner_id = $1 AND id = $2"));
    let Some(row) = sqlx::query(sql).bind(partner_id.to_string()).bind(id.to_string()).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let message = from_row(&row)?;
    let attempts = sqlx::query("SELECT attempt, at, outcome, error FROM outbox_attempts WHERE outbox_seq = $1 ORDER BY attempt, at")
        .bind(message.seq)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok(Attempt { attempt: r.try_get("attempt")?, at: from_millis(r.try_get("at")?), outcome: r.try_get("outcome")?, error: r.try_get("error")? }))
        .collect::<Result<_>>()?;
    Ok(Some((message, attempts)))
}

/// A partner's deliveries, newest first, optionally by status.
pub async fn list(conn: &mut Conn, partner_id: Uuid, status: Option<OutboxStatus>, page: PageRequest) -> Result<Page<OutboxMessage>> {
    const WHERE: &str = "WHERE partner_id = $1 AND ($2 IS NULL OR status = $2)";
    let status = status.map(OutboxStatus::as_str);
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM outbox {WHERE}")))
        .bind(partner_id.to_string())
        .bind(status)
        .fetch_one(&mut *conn)
        .await?;
    let sql = format!("SELECT {COLUMNS} FROM outbox {WHERE} ORDER BY seq DESC LIMIT $3 OFFSET $4");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(partner_id.to_string()).bind(status).bind(page.limit()).bind(page.offset()).fetch_all(conn).await?;
    Ok(Page { items: rows.iter().map(from_row).collect::<Result<_>>()?, page: page.page, per_page: page.per_page, total })
}

/// Records an inbound message key; returns the stored response if it was seen before.
pub async fn remember_inbound(conn: &mut Conn, partner_id: Uuid, kind: &str, key: &str, response: &str, now: DateTime<Utc>) -> Result<Option<String>> {
    let inserted = sqlx::query(
        "INSERT INTO inbound_messages (partner_id, kind, message_key, response, received_at) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (partner_id, kind, message_key) DO NOTHING",
    )
    .bind(partner_id.to_string())
    .bind(kind)
    .bind(key)
    .bind(response)
    .bind(to_millis(now))
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    let previous: Option<String> = sqlx::query_scalar("SELECT response FROM inbound_messages WHERE partner_id=$1 AND kind=$2 AND message_key=$3")
        .bind(partner_id.to_string())
        .bind(kind)
        .bind(key)
        .fetch_one(conn)
        .await?;
    Ok(Some(previous.unwrap_or_default()))
}
