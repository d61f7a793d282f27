//! Statements partners upload (migration 0011): one per partner and period, replaced by a new
//! upload. The entries are kept whole as JSON; the totals are columns so a list shows them.

use chrono::{DateTime, Utc};
use domain::money::{Energy, Money};
use domain::settlement::LedgerEntry;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::row::uuid;
use crate::{Conn, Error, Page, PageRequest, Result, from_millis, to_millis};

/// One uploaded statement without its entries, for lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "0193a5b2-9a10-7c55-8e21-5f6a7b8c9d01", "partner_id": "0193a5b2-7c1e-7d3a-9f00-2b1c4d5e6f70", "period_start": "2026-10-31T16:00:00Z", "period_end": "2026-11-30T16:00:00Z", "entry_count": 1284, "total_energy": "25318.420", "total_amount": "30961.57", "uploaded_by": "partner", "uploaded_at": "2026-12-01T02:00:00Z"}))]
pub struct PartnerStatementSummary {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub entry_count: i64,
    pub total_energy: Energy,
    pub total_amount: Money,
    /// `partner:<id>` (through the portal) or `admin:<name>` (finance uploaded it for the partner).
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

const SUMMARY: &str = "id, partner_id, period_start, period_end, entry_count, total_energy, total_amount, uploaded_by, uploaded_at";

fn decimal<T>(row: &AnyRow, column: &str, make: impl Fn(rust_decimal::Decimal) -> Option<T>) -> Result<T> {
    let text: String = row.try_get(column)?;
    text.parse().ok().and_then(make).ok_or_else(|| Error::Corrupt(format!("partner_statements.{column} = {text:?}")))
}

fn parse(row: &AnyRow) -> Result<PartnerStatementSummary> {
    Ok(PartnerStatementSummary {
        id: uuid(row, "id")?,
        partner_id: uuid(row, "partner_id")?,
        period_start: from_millis(row.try_get("period_start")?),
        period_end: from_millis(row.try_get("period_end")?),
        entry_count: row.try_get("entry_count")?,
        total_energy: decimal(row, "total_energy", |d| Energy::kwh(d).ok())?,
        total_amount: decimal(row, "total_amount", |d| Some(Money::new(d)))?,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_at: from_millis(row.try_get("uploaded_at")?),
    })
}

/// Stores a statement, replacing the partner's earlier upload for the same period.
pub async fn replace(conn: &mut Conn, s: &PartnerStatementSummary, entries: &[LedgerEntry]) -> Result<()> {
    sqlx::query("DELETE FROM partner_statements WHERE partner_id = $1 AND period_start = $2 AND period_end = $3")
        .bind(s.partner_id.to_string())
        .bind(to_millis(s.period_start))
        .bind(to_millis(s.period_end))
        .execute(&mut *conn)
        .await?;
    let entries = serde_json::to_string(entries).map_err(|e| Error::Corrupt(e.to_string()))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO partner_statements ({SUMMARY}, entries) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")))
        .bind(s.id.to_string())
        .bind(s.partner_id.to_string())
        .bind(to_millis(s.period_start))
        .bind(to_millis(s.period_end))
        .bind(s.entry_count)
        .bind(s.total_energy.value().to_string())
        .bind(s.total_amount.yuan().to_string())
        .bind(&s.uploaded_by)
        .bind(to_millis(s.uploaded_at))
        .bind(entries)
        .execute(conn)
        .await?;
    Ok(())
}

/// The partner's entries for exactly `[start, end)`, if it uploaded a statement for it.
pub async fn entries_for(conn: &mut Conn, partner_id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Option<Vec<LedgerEntry>>> {
    let text: Option<String> = sqlx::query_scalar("SELECT entries FROM partner_statements WHERE partner_id = $1 AND period_start = $2 AND period_end = $3")
        .bind(partner_id.to_string())
        .bind(to_millis(start))
        .bind(to_millis(end))
        .fetch_optional(conn)
        .await?;
    text.map(|t| serde_json::from_str(&t).map_err(|_| Error::Corrupt("partner_statements.entries".into()))).transpose()
}

/// A partner's uploaded statements, newest period first.
pub async fn for_partner(conn: &mut Conn, partner_id: Uuid, page: PageRequest) -> Result<Page<PartnerStatementSummary>> {
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM partner_statements WHERE partner_id = $1").bind(partner_id.to_string()).fetch_one(&mut *conn).await?;
    let sql = sqlx::AssertSqlSafe(format!("SELECT {SUMMARY} FROM partner_statements WHERE partner_id = $1 ORDER BY period_start DESC LIMIT $2 OFFSET $3"));
    let rows = sqlx::query(sql).bind(partner_id.to_string()).bind(page.limit()).bind(page.offset()).fetch_all(conn).await?;
    Ok(Page { items: rows.iter().map(parse).collect::<Result<_>>()?, page: page.page, per_page: page.per_page, total })
}
