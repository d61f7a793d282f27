//! Results of the daily flow-A check (migration 0010), one row per partner and Beijing day.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::row::{json, uuid};
use crate::{Conn, Error, Page, PageRequest, Result, from_millis, to_millis};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DailyCheckRecord {
    pub id: Uuid,
    pub partner_id: Uuid,
    /// Beijing calendar day of the orders checked.
    pub day: NaiveDate,
    /// Orders of that day looked at.
    pub orders: i64,
    pub finding_count: i64,
    #[schema(value_type = Vec<Object>)]
    pub findings: serde_json::Value,
    pub checked_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, partner_id, day, orders, finding_count, findings, checked_at";

fn parse(row: &AnyRow) -> Result<DailyCheckRecord> {
    let day: String = row.try_get("day")?;
    Ok(DailyCheckRecord {
        id: uuid(row, "id")?,
        partner_id: uuid(row, "partner_id")?,
        day: day.parse().map_err(|_| Error::Corrupt("daily_checks.day".into()))?,
        orders: row.try_get("orders")?,
        finding_count: row.try_get("finding_count")?,
        findings: json(row, "findings")?,
        checked_at: from_millis(row.try_get("checked_at")?),
    })
}

/// Stores the check of a partner's day, replacing an earlier check of the same day.
pub async fn save(conn: &mut Conn, r: &DailyCheckRecord) -> Result<()> {
    sqlx::query("DELETE FROM daily_checks WHERE partner_id = $1 AND day = $2")
        .bind(r.partner_id.to_string())
        .bind(r.day.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO daily_checks ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7)")))
        .bind(r.id.to_string())
        .bind(r.partner_id.to_string())
        .bind(r.day.to_string())
        .bind(r.orders)
        .bind(r.finding_count)
        .bind(r.findings.to_string())
        .bind(to_millis(r.checked_at))
        .execute(conn)
        .await?;
    Ok(())
}

/// What an admin filters the list by.
#[derive(Debug, Clone, Default)]
pub struct DailyCheckFilter {
    pub partner_id: Option<Uuid>,
    pub day: Option<NaiveDate>,
    /// Only checks that found something.
    pub with_findings: bool,
}

/// Checks, newest day first, then by partner.
pub async fn list(conn: &mut Conn, filter: &DailyCheckFilter, page: PageRequest) -> Result<Page<DailyCheckRecord>> {
    // An empty parameter switches its filter off, so one statement serves every combination.
    let clause = "WHERE ($1 = '' OR partner_id = $1) AND ($2 = '' OR day = $2) AND finding_count >= $3";
    let partner = filter.partner_id.map(|p| p.to_string()).unwrap_or_default();
    let day = filter.day.map(|d| d.to_string()).unwrap_or_default();
    let min = i64::from(filter.with_findings);
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM daily_checks {clause}")))
        .bind(&partner)
        .bind(&day)
        .bind(min)
        .fetch_one(&mut *conn)
        .await?;
    let sql = format!("SELECT {COLUMNS} FROM daily_checks {clause} ORDER BY day DESC, partner_id LIMIT $4 OFFSET $5");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&partner).bind(&day).bind(min).bind(page.limit()).bind(page.offset()).fetch_all(conn).await?;
    Ok(Page { items: rows.iter().map(parse).collect::<Result<_>>()?, page: page.page, per_page: page.per_page, total })
}
