//! Orders: the domain `Order` as JSON plus searchable columns, an optimistic `version` so two
//! notifications for one order cannot overwrite each other, and the transition history.

use chrono::{DateTime, Utc};
use domain::order::{Order, Transition};
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use crate::error::on_unique;
use crate::{Conn, Error, Result, from_millis, to_millis};

/// An order as stored, with its version for optimistic updates.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub order: Order,
    pub version: i64,
}

fn parse(row: &sqlx::any::AnyRow) -> Result<StoredOrder> {
    let body: String = row.try_get("body")?;
    Ok(StoredOrder { order: serde_json::from_str(&body).map_err(|e| Error::Corrupt(format!("orders.body: {e}")))?, version: row.try_get("version")? })
}

fn owner_columns(order: &Order) -> (&'static str, Option<String>, Option<String>) {
    use domain::order::Ownership;
    match order.ownership {
        Ownership::PartnerPile { user_id, operator_partner_id } => ("a", Some(operator_partner_id.to_string()), Some(user_id.to_string())),
        Ownership::PartnerUser { platform_partner_id } => ("b", Some(platform_partner_id.to_string()), None),
        Ownership::Own { user_id } => ("own", None, Some(user_id.to_string())),
    }
}

/// Inserts a new order; a second order with the same StartChargeSeq is `Duplicate`.
pub async fn insert(conn: &mut Conn, order: &Order) -> Result<()> {
    let (flow, partner, user) = owner_columns(order);
    sqlx::query(
        "INSERT INTO orders (id, seq, flow, partner_id, user_id, connector_id, state, body, version, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,1,$9,$10)",
    )
    .bind(order.id.to_string())
    .bind(order.seq.as_str())
    .bind(flow)
    .bind(partner)
    .bind(user)
    .bind(order.connector_id.to_string())
    .bind(order.state.as_str())
    .bind(serde_json::to_string(order).map_err(|e| Error::Corrupt(e.to_string()))?)
    .bind(to_millis(order.created_at))
    .bind(to_millis(order.updated_at))
    .execute(conn)
    .await
    .map_err(on_unique)?;
    Ok(())
}

/// Writes the order if nobody else changed it since `version`; false means reload and retry.
pub async fn update(conn: &mut Conn, order: &Order, version: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE orders SET state=$3, body=$4, version=version+1, updated_at=$5 WHERE id=$1 AND version=$2")
        .bind(order.id.to_string())
        .bind(version)
        .bind(order.state.as_str())
        .bind(serde_json::to_string(order).map_err(|e| Error::Corrupt(e.to_string()))?)
        .bind(to_millis(order.updated_at))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn record_transition(conn: &mut Conn, t: &Transition, detail: Option<&str>) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_transitions (order_id, n, at, from_state, to_state, event, detail) \
         SELECT $1, COALESCE(MAX(n), 0) + 1, $2, $3, $4, $5, $6 FROM order_transitions WHERE order_id = $1",
    )
    .bind(t.order_id.to_string())
    .bind(to_millis(t.at))
    .bind(t.from.as_str())
    .bind(t.to.as_str())
    .bind(t.event)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_id(conn: &mut Conn, id: Uuid) -> Result<Option<StoredOrder>> {
    let row = sqlx::query("SELECT body, version FROM orders WHERE id=$1").bind(id.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(parse).transpose()
}

pub async fn by_seq(conn: &mut Conn, seq: &str) -> Result<Option<StoredOrder>> {
    let row = sqlx::query("SELECT body, version FROM orders WHERE seq=$1").bind(seq).fetch_optional(conn).await?;
    row.as_ref().map(parse).transpose()
}

/// A user's orders, newest first.
pub async fn for_user(conn: &mut Conn, user_id: Uuid, limit: i64, offset: i64) -> Result<Vec<StoredOrder>> {
    let rows = sqlx::query("SELECT body, version FROM orders WHERE user_id=$1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3")
        .bind(user_id.to_string())
        .bind(limit)
        .bind(offset)
        .fetch_all(conn)
        .await?;
    rows.iter().map(parse).collect()
}

/// A user's newest order in `state` (e.g. the driver's held reservation).
pub async fn users_latest_in_state(conn: &mut Conn, user_id: Uuid, state: &str) -> Result<Option<StoredOrder>> {
    let row = sqlx::query("SELECT body, version FROM orders WHERE user_id=$1 AND state=$2 ORDER BY created_at DESC, id DESC LIMIT 1")
        .bind(user_id.to_string())
        .bind(state)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(parse).transpose()
}

/// Orders in `states` not updated since `before` (for resolving stuck and unknown outcomes).
pub async fn stale(conn: &mut Conn, state: &str, before: DateTime<Utc>, limit: i64) -> Result<Vec<StoredOrder>> {
    let rows = sqlx::query("SELECT body, version FROM orders WHERE state=$1 AND updated_at < $2 ORDER BY updated_at LIMIT $3")
        .bind(state)
        .bind(to_millis(before))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(parse).collect()
}

/// What became of one order after its session, as the daily check follows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowUp {
    /// The bill lists discrepancies with the partner's record.
    pub disputed: bool,
    /// Succeeded payments, in ten-thousandths of a yuan.
    pub paid: i64,
    pub has_settlement_line: bool,
}

/// [`FollowUp`] of each of a partner's orders of one flow created in `[start, end)`, in one
/// round trip (each part an indexed lookup by order).
pub async fn follow_ups_between(
    conn: &mut Conn,
    flow: &str,
    partner_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<std::collections::HashMap<Uuid, FollowUp>> {
    let rows = sqlx::query(
        "SELECT o.id, \
           (SELECT b.discrepancies FROM order_bills b WHERE b.order_id = o.id) AS discrepancies, \
           (SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM payments p WHERE p.order_id = o.id AND p.status = 'succeeded') AS paid, \
           (SELECT COUNT(*) FROM settlement_lines s WHERE s.order_id = o.id) AS lines \
         FROM orders o WHERE o.partner_id = $1 AND o.flow = $2 AND o.created_at >= $3 AND o.created_at < $4",
    )
    .bind(partner_id.to_string())
    .bind(flow)
    .bind(to_millis(start))
    .bind(to_millis(end))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let discrepancies: Option<String> = row.try_get("discrepancies")?;
            let disputed = match discrepancies {
                Some(text) => {
                    !serde_json::from_str::<Vec<serde_json::Value>>(&text).map_err(|e| Error::Corrupt(format!("order_bills.discrepancies: {e}")))?.is_empty()
                }
                None => false,
            };
            let lines: i64 = row.try_get("lines")?;
            Ok((crate::row::uuid(row, "id")?, FollowUp { disputed, paid: row.try_get("paid")?, has_settlement_line: lines > 0 }))
        })
        .collect()
}

/// A partner's orders of one flow (`a`, `b`) created in `[start, end)`, oldest first.
pub async fn for_partner_between(conn: &mut Conn, flow: &str, partner_id: Uuid, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<StoredOrder>> {
    let rows = sqlx::query("SELECT body, version FROM orders WHERE partner_id=$1 AND flow=$2 AND created_at >= $3 AND created_at < $4 ORDER BY created_at, id")
        .bind(partner_id.to_string())
        .bind(flow)
        .bind(to_millis(start))
        .bind(to_millis(end))
        .fetch_all(conn)
        .await?;
    rows.iter().map(parse).collect()
}

/// One page of a partner's charging orders (not reservations) of one flow created in
/// `[start, end)`, oldest first, after the `(created_at, id)` of the previous page's last order:
/// a page costs what it holds, however long the period.
pub async fn for_partner_page(
    conn: &mut Conn,
    flow: &str,
    partner_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<StoredOrder>> {
    let (after_at, after_id) = after.map_or((to_millis(start) - 1, String::new()), |(at, id)| (to_millis(at), id.to_string()));
    let rows = sqlx::query(
        "SELECT body, version FROM orders WHERE partner_id=$1 AND flow=$2 AND created_at >= $3 AND created_at < $4 \
         AND (created_at > $5 OR (created_at = $5 AND id > $6)) AND NOT EXISTS (SELECT 1 FROM pile_reservations r WHERE r.order_id = orders.id) \
         ORDER BY created_at, id LIMIT $7",
    )
    .bind(partner_id.to_string())
    .bind(flow)
    .bind(to_millis(start))
    .bind(to_millis(end))
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(parse).collect()
}

/// Orders at any of `connectors` created in `[start, end)`, oldest first.
pub async fn for_connectors_between(conn: &mut Conn, connectors: &[Uuid], start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<StoredOrder>> {
    if connectors.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (3..connectors.len() + 3).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT body, version FROM orders WHERE created_at >= $1 AND created_at < $2 AND connector_id IN ({}) ORDER BY created_at, id",
        placeholders.join(",")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_millis(start)).bind(to_millis(end));
    for c in connectors {
        query = query.bind(c.to_string());
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(parse).collect()
}

/// What an admin filters orders by; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub partner_id: Option<Uuid>,
    /// `a`, `b` or `own`.
    pub flow: Option<String>,
    pub state: Option<String>,
    /// The order's StartChargeSeq exactly.
    pub seq: Option<String>,
}

/// Orders matching `filter`, newest first, with the total count.
pub async fn list(conn: &mut Conn, filter: &OrderFilter, page: crate::PageRequest) -> Result<crate::Page<StoredOrder>> {
    // An empty parameter switches its filter off, so one statement serves every combination.
    let clause = "WHERE ($1 = '' OR partner_id = $1) AND ($2 = '' OR flow = $2) AND ($3 = '' OR state = $3) AND ($4 = '' OR seq = $4)";
    let params = [
        filter.partner_id.map(|p| p.to_string()).unwrap_or_default(),
        filter.flow.clone().unwrap_or_default(),
        filter.state.clone().unwrap_or_default(),
        filter.seq.clone().unwrap_or_default(),
    ];
    let count = format!("SELECT COUNT(*) FROM orders {clause}");
    let mut total = sqlx::query_scalar(sqlx::AssertSqlSafe(count));
    for p in &params {
        total = total.bind(p);
    }
    let total: i64 = total.fetch_one(&mut *conn).await?;
    let select = format!("SELECT body, version FROM orders {clause} ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6");
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(select));
    for p in &params {
        rows = rows.bind(p);
    }
    let rows = rows.bind(page.limit()).bind(page.offset()).fetch_all(conn).await?;
    Ok(crate::Page { items: rows.iter().map(parse).collect::<Result<_>>()?, page: page.page, per_page: page.per_page, total })
}

/// Orders of one flow (`a`, `b`, `own`) in one state, oldest first.
pub async fn in_state(conn: &mut Conn, flow: &str, state: &str, limit: i64) -> Result<Vec<StoredOrder>> {
    let rows = sqlx::query("SELECT body, version FROM orders WHERE flow=$1 AND state=$2 ORDER BY created_at LIMIT $3")
        .bind(flow)
        .bind(state)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(parse).collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransitionRow {
    pub at: DateTime<Utc>,
    pub from_state: String,
    pub to_state: String,
    pub event: String,
    pub detail: Option<String>,
}

pub async fn transitions(conn: &mut Conn, order_id: Uuid) -> Result<Vec<TransitionRow>> {
    let rows = sqlx::query("SELECT at, from_state, to_state, event, detail FROM order_transitions WHERE order_id=$1 ORDER BY n")
        .bind(order_id.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TransitionRow {
                at: from_millis(r.try_get("at")?),
                from_state: r.try_get("from_state")?,
                to_state: r.try_get("to_state")?,
                event: r.try_get("event")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

pub async fn save_bill(
    conn: &mut Conn,
    order_id: Uuid,
    partner_record: &serde_json::Value,
    user_amounts: &serde_json::Value,
    discrepancies: &serde_json::Value,
    detail_amounts: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_bills (order_id, partner_record, user_amounts, discrepancies, detail_amounts, created_at) VALUES ($1,$2,$3,$4,$5,$6) \
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id.to_string())
    .bind(partner_record.to_string())
    .bind(user_amounts.to_string())
    .bind(discrepancies.to_string())
    .bind(detail_amounts.map(|v| v.to_string()))
    .bind(to_millis(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// An order's bill as stored: the partner's figures, what the user pays, what did not add up,
/// and for a disputed record our figures from its detail and how an admin settled it.
#[derive(Debug, Clone)]
pub struct StoredBill {
    pub partner_record: serde_json::Value,
    pub user_amounts: serde_json::Value,
    pub discrepancies: serde_json::Value,
    pub detail_amounts: Option<serde_json::Value>,
    pub resolution: Option<serde_json::Value>,
}

/// Records how an admin settled a disputed bill (once).
pub async fn resolve_bill(conn: &mut Conn, order_id: Uuid, resolution: &serde_json::Value) -> Result<bool> {
    let done = sqlx::query("UPDATE order_bills SET resolution = $2 WHERE order_id = $1 AND resolution IS NULL")
        .bind(order_id.to_string())
        .bind(resolution.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The stored bill of an order.
pub async fn bill(conn: &mut Conn, order_id: Uuid) -> Result<Option<StoredBill>> {
    let row = sqlx::query("SELECT partner_record, user_amounts, discrepancies, detail_amounts, resolution FROM order_bills WHERE order_id=$1")
        .bind(order_id.to_string())
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let json = |c: &str| -> Result<serde_json::Value> {
        let t: String = row.try_get(c)?;
        serde_json::from_str(&t).map_err(|e| Error::Corrupt(format!("order_bills.{c}: {e}")))
    };
    let optional = |c: &str| -> Result<Option<serde_json::Value>> {
        let t: Option<String> = row.try_get(c)?;
        t.map(|t| serde_json::from_str(&t).map_err(|e| Error::Corrupt(format!("order_bills.{c}: {e}")))).transpose()
    };
    Ok(Some(StoredBill {
        partner_record: json("partner_record")?,
        user_amounts: json("user_amounts")?,
        discrepancies: json("discrepancies")?,
        detail_amounts: optional("detail_amounts")?,
        resolution: optional("resolution")?,
    }))
}
