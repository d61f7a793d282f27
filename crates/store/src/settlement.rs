//! Settlement lines (one per paid flow-A or billed flow-B order) and partner terms.

use chrono::{DateTime, Utc};
use domain::money::{Energy, Money};
use domain::settlement::{Flow, SettlementLine};
use sqlx::Row;
use uuid::Uuid;

use crate::{Conn, Error, Result, from_millis, to_millis};

/// Records the line once; a second call for the same order changes nothing.
pub async fn insert_line(conn: &mut Conn, partner_id: Uuid, line: &SettlementLine) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO settlement_lines (order_id, partner_id, flow, energy, gross, partner_amount, our_amount, at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(line.order_id.to_string())
    .bind(partner_id.to_string())
    .bind(match line.flow {
        Flow::A => "a",
        Flow::B => "b",
    })
    .bind(line.energy.value().to_string())
    .bind(storable(line.gross)?)
    .bind(storable(line.partner_amount)?)
    .bind(storable(line.our_amount)?)
    .bind(to_millis(line.at))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A line's amount as stored; lines come from bounded session amounts, so one beyond the
/// column is a bug upstream, reported rather than panicking.
fn storable(amount: Money) -> Result<i64> {
    amount.to_ten_thousandths().map_err(|e| Error::Corrupt(format!("settlement line: {e}")))
}

/// Whether the order has its settlement line.
pub async fn has_line(conn: &mut Conn, order_id: Uuid) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settlement_lines WHERE order_id = $1").bind(order_id.to_string()).fetch_one(conn).await?;
    Ok(n > 0)
}

/// A statement's line with its order's StartChargeSeq, and whether the order was our user's at
/// a partner's pile (flow A, what our payments collected).
pub struct StatementLine {
    pub line: SettlementLine,
    pub seq: String,
    pub at_partner_pile: bool,
}

/// One page of the lines of `[start, end)` in statement order (time, then order id), after the
/// line `after` (keyset: the cost of a page does not grow with how far into the period it is).
pub async fn statement_lines_page(
    conn: &mut Conn,
    partner_id: Uuid,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<StatementLine>> {
    let (after_at, after_id) = after.map_or((i64::MIN, String::new()), |(at, id)| (to_millis(at), id.to_string()));
    let rows = sqlx::query(
        "SELECT l.order_id, l.flow, l.energy, l.gross, l.partner_amount, l.our_amount, l.at, o.seq, o.flow AS order_flow \
         FROM settlement_lines l JOIN orders o ON o.id = l.order_id \
         WHERE l.partner_id=$1 AND l.at >= $2 AND l.at < $3 AND (l.at > $4 OR (l.at = $4 AND l.order_id > $5)) \
         ORDER BY l.at, l.order_id LIMIT $6",
    )
    .bind(partner_id.to_string())
    .bind(to_millis(start))
    .bind(to_millis(end))
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(statement_line_of).collect()
}

fn statement_line_of(r: &sqlx::any::AnyRow) -> Result<StatementLine> {
    let order_flow: String = r.try_get("order_flow")?;
    Ok(StatementLine { line: line_of(r)?, seq: r.try_get("seq")?, at_partner_pile: order_flow == "a" })
}

/// The succeeded and refunded payments of `orders`: (seq, status, amount in ten-thousandths),
/// 500 orders per query.
pub async fn payments_of_orders(conn: &mut Conn, orders: &[Uuid]) -> Result<Vec<(String, String, i64)>> {
    let mut found = Vec::new();
    for chunk in orders.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT o.seq, p.status, p.amount FROM payments p JOIN orders o ON o.id = p.order_id \
             WHERE p.order_id IN ({}) ORDER BY p.order_id, p.created_at",
            crate::row::placeholders(1, chunk.len())
        ));
        let mut query = sqlx::query(sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        // The status is filtered here, not in SQL: given `status IN (…)`, SQLite's planner reads
        // the payments by status (every succeeded payment, per query) instead of by order.
        for r in query.fetch_all(&mut *conn).await? {
            let status: String = r.try_get("status")?;
            if status == "succeeded" || status == "refunded" {
                found.push((r.try_get("seq")?, status, r.try_get("amount")?));
            }
        }
    }
    Ok(found)
}

/// A partner's lines with `start <= at < end`, oldest first.
pub async fn lines(conn: &mut Conn, partner_id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<SettlementLine>> {
    let rows = sqlx::query(
        "SELECT order_id, flow, energy, gross, partner_amount, our_amount, at FROM settlement_lines \
         WHERE partner_id=$1 AND at >= $2 AND at < $3 ORDER BY at, order_id",
    )
    .bind(partner_id.to_string())
    .bind(to_millis(start))
    .bind(to_millis(end))
    .fetch_all(conn)
    .await?;
    rows.iter().map(line_of).collect()
}

pub async fn terms(conn: &mut Conn, partner_id: Uuid) -> Result<Option<serde_json::Value>> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT terms FROM partner_terms WHERE partner_id=$1").bind(partner_id.to_string()).fetch_optional(conn).await?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| Error::Corrupt(format!("partner_terms: {e}")))).transpose()
}

pub async fn set_terms(conn: &mut Conn, partner_id: Uuid, terms: &serde_json::Value, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO partner_terms (partner_id, terms, updated_at) VALUES ($1,$2,$3) \
         ON CONFLICT (partner_id) DO UPDATE SET terms = excluded.terms, updated_at = excluded.updated_at",
    )
    .bind(partner_id.to_string())
    .bind(terms.to_string())
    .bind(to_millis(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// When the last successful catalog pull of a partner started (for LastQueryTime).
pub async fn last_sync(conn: &mut Conn, partner_id: Uuid) -> Result<Option<DateTime<Utc>>> {
    let ms: Option<Option<i64>> =
        sqlx::query_scalar("SELECT last_query_time FROM partner_sync WHERE partner_id=$1").bind(partner_id.to_string()).fetch_optional(conn).await?;
    Ok(ms.flatten().map(from_millis))
}

pub async fn record_sync(conn: &mut Conn, partner_id: Uuid, query_time: Option<DateTime<Utc>>, now: DateTime<Utc>, result: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO partner_sync (partner_id, last_query_time, last_run_at, last_result) VALUES ($1,$2,$3,$4) \
         ON CONFLICT (partner_id) DO UPDATE SET last_query_time = COALESCE(excluded.last_query_time, partner_sync.last_query_time), \
         last_run_at = excluded.last_run_at, last_result = excluded.last_result",
    )
    .bind(partner_id.to_string())
    .bind(query_time.map(to_millis))
    .bind(to_millis(now))
    .bind(result)
    .execute(conn)
    .await?;
    Ok(())
}

fn line_of(r: &sqlx::any::AnyRow) -> Result<SettlementLine> {
    let id: String = r.try_get("order_id")?;
    let flow: String = r.try_get("flow")?;
    let energy: String = r.try_get("energy")?;
    Ok(SettlementLine {
        order_id: Uuid::parse_str(&id).map_err(|_| Error::Corrupt("settlement_lines.order_id".into()))?,
        flow: if flow == "a" { Flow::A } else { Flow::B },
        energy: energy.parse().ok().and_then(|d| Energy::kwh(d).ok()).ok_or_else(|| Error::Corrupt("settlement_lines.energy".into()))?,
        gross: Money::from_ten_thousandths(r.try_get("gross")?),
        partner_amount: Money::from_ten_thousandths(r.try_get("partner_amount")?),
        our_amount: Money::from_ten_thousandths(r.try_get("our_amount")?),
        at: from_millis(r.try_get("at")?),
    })
}
