//! Settlement statements (migration 0008). The statement body and its differences are JSON
//! written by the services; the columns are what lists filter by.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::on_unique;
use crate::row::{json, uuid};
use crate::{Conn, Page, PageRequest, Result, from_millis, to_millis};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "0193a5b4-2c33-7a41-95e6-f7a8b9c0d1e2", "partner_id": "0193a5b2-7c1e-7d3a-9f00-2b1c4d5e6f70", "period_start": "2026-10-31T16:00:00Z", "period_end": "2026-11-30T16:00:00Z", "state": "confirmed", "body": {"order_count": 1284, "total_energy": "25318.420", "gross": "30961.57", "partner_amount": "28794.26", "our_amount": "2167.31", "net_to_partner": "28794.26"}, "differences": [], "reconciled_with": "partner_statement", "created_at": "2026-12-01T01:00:00Z", "updated_at": "2026-12-01T03:00:00Z"}))]
pub struct StatementRecord {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub state: String,
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    /// What reconciliation found, one object per difference (`kind` says which).
    #[schema(value_type = Vec<Object>)]
    pub differences: serde_json::Value,
    /// What the flow-B lines were compared with: `partner_statement` (uploaded by the partner),
    /// `check_charge_orders` (the partner's answer over T/CEC 102) or `none`.
    pub reconciled_with: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, partner_id, period_start, period_end, state, body, differences, reconciled_with, created_at, updated_at";

fn parse(row: &AnyRow) -> Result<StatementRecord> {
    Ok(StatementRecord {
        id: uuid(row, "id")?,
        partner_id: uuid(row, "partner_id")?,
        period_start: from_millis(row.try_get("period_start")?),
        period_end: from_millis(row.try_get("period_end")?),
        state: row.try_get("state")?,
        body: json(row, "body")?,
        differences: json(row, "differences")?,
        reconciled_with: row.try_get("reconciled_with")?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

/// A second statement for the same partner and period is `Duplicate`.
pub async fn insert(conn: &mut Conn, s: &StatementRecord) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO statements ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")))
        .bind(s.id.to_string())
        .bind(s.partner_id.to_string())
        .bind(to_millis(s.period_start))
        .bind(to_millis(s.period_end))
        .bind(&s.state)
        .bind(s.body.to_string())
        .bind(s.differences.to_string())
        .bind(&s.reconciled_with)
        .bind(to_millis(s.created_at))
        .bind(to_millis(s.updated_at))
        .execute(conn)
        .await
        .map_err(on_unique)?;
    Ok(())
}

/// Moves a statement from `from` to `to`; false if it was not in `from` (someone else moved it).
pub async fn set_state(conn: &mut Conn, id: Uuid, from: &str, to: &str, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("UPDATE statements SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2")
        .bind(id.to_string())
        .bind(from)
        .bind(to)
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_id(conn: &mut Conn, id: Uuid) -> Result<Option<StatementRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM statements WHERE id = $1"));
    sqlx::query(sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(parse).transpose()
}

/// A partner's statements, newest period first; `drafts`: also those not confirmed yet (what
/// finance sees; the partner sees only what was issued to it).
pub async fn for_partner(conn: &mut Conn, partner_id: Uuid, drafts: bool, page: PageRequest) -> Result<Page<StatementRecord>> {
    let filter = if drafts { "" } else { " AND state <> 'draft'" };
    let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM statements WHERE partner_id = $1{filter}"));
    let total: i64 = sqlx::query_scalar(count).bind(partner_id.to_string()).fetch_one(&mut *conn).await?;
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM statements WHERE partner_id = $1{filter} ORDER BY period_start DESC LIMIT $2 OFFSET $3"));
    let rows = sqlx::query(sql).bind(partner_id.to_string()).bind(page.limit()).bind(page.offset()).fetch_all(conn).await?;
    Ok(Page { items: rows.iter().map(parse).collect::<Result<_>>()?, page: page.page, per_page: page.per_page, total })
}

/// Removes the draft for a partner and period, if there is one (it is being drawn up again).
pub async fn delete_draft(conn: &mut Conn, partner_id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("DELETE FROM statements WHERE partner_id = $1 AND period_start = $2 AND period_end = $3 AND state = 'draft'")
        .bind(partner_id.to_string())
        .bind(to_millis(start))
        .bind(to_millis(end))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The statement of exactly this partner and period, whatever its state.
pub async fn for_period(conn: &mut Conn, partner_id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Option<StatementRecord>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM statements WHERE partner_id = $1 AND period_start = $2 AND period_end = $3"));
    sqlx::query(sql).bind(partner_id.to_string()).bind(to_millis(start)).bind(to_millis(end)).fetch_optional(conn).await?.as_ref().map(parse).transpose()
}
