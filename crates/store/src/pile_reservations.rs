//! The OCPP side of flow-B reservations (see migration 0009). Whether a hold is live is the
//! reservation order's state (`reserved`); this table keeps what the pile was told.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::on_unique;
use crate::row::uuid;
use crate::{Conn, Result, from_millis, to_millis};

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct PileReservation {
    /// The reservation order (its seq is the partner's ReserveSeq).
    pub order_id: Uuid,
    pub partner_id: Uuid,
    pub connector_id: Uuid,
    pub ocpp_id: String,
    pub connector_no: i64,
    /// OCPP `reservationId`, unique per pile.
    pub reservation_id: i64,
    /// OCPP `idTag` the pile holds the connector for.
    pub id_tag: String,
    /// The `expiryDate` we sent.
    pub expires_at: DateTime<Utc>,
    /// The start order that consumed the hold.
    pub used_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

fn parse(row: &AnyRow) -> Result<PileReservation> {
    let used_by: Option<String> = row.try_get("used_by")?;
    Ok(PileReservation {
        order_id: uuid(row, "order_id")?,
        partner_id: uuid(row, "partner_id")?,
        connector_id: uuid(row, "connector_id")?,
        ocpp_id: row.try_get("ocpp_id")?,
        connector_no: row.try_get("connector_no")?,
        reservation_id: row.try_get("reservation_id")?,
        id_tag: row.try_get("id_tag")?,
        expires_at: from_millis(row.try_get("expires_at")?),
        used_by: used_by.map(|s| Uuid::parse_str(&s).map_err(|_| crate::Error::Corrupt(format!("used_by = {s:?}")))).transpose()?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

const COLUMNS: &str = "r.order_id, r.partner_id, r.connector_id, r.ocpp_id, r.connector_no, r.reservation_id, r.id_tag, r.expires_at, r.used_by, r.created_at";

/// Inserts a reservation; a reservation id or id tag already taken is `Duplicate`.
pub async fn insert(conn: &mut Conn, r: &PileReservation) -> Result<()> {
    sqlx::query(
        "INSERT INTO pile_reservations (order_id, partner_id, connector_id, ocpp_id, connector_no, reservation_id, id_tag, expires_at, used_by, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(r.order_id.to_string())
    .bind(r.partner_id.to_string())
    .bind(r.connector_id.to_string())
    .bind(&r.ocpp_id)
    .bind(r.connector_no)
    .bind(r.reservation_id)
    .bind(&r.id_tag)
    .bind(to_millis(r.expires_at))
    .bind(r.used_by.map(|u| u.to_string()))
    .bind(to_millis(r.created_at))
    .execute(conn)
    .await
    .map_err(on_unique)?;
    Ok(())
}

pub async fn by_order(conn: &mut Conn, order_id: Uuid) -> Result<Option<PileReservation>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM pile_reservations r WHERE r.order_id = $1"));
    sqlx::query(sql).bind(order_id.to_string()).fetch_optional(conn).await?.as_ref().map(parse).transpose()
}

/// The reservation we issued `id_tag` for (as issued: callers normalise a pile's casing).
pub async fn by_id_tag(conn: &mut Conn, id_tag: &str) -> Result<Option<PileReservation>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM pile_reservations r WHERE r.id_tag = $1"));
    sqlx::query(sql).bind(id_tag.to_owned()).fetch_optional(conn).await?.as_ref().map(parse).transpose()
}

/// The hold on a connector whose order is still `reserved` (at most one: the pile refuses a
/// second ReserveNow on a reserved connector).
pub async fn live_on_connector(conn: &mut Conn, connector_id: Uuid) -> Result<Option<PileReservation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM pile_reservations r JOIN orders o ON o.id = r.order_id \
         WHERE r.connector_id = $1 AND o.state = 'reserved' ORDER BY r.expires_at DESC LIMIT 1"
    ));
    sqlx::query(sql).bind(connector_id.to_string()).fetch_optional(conn).await?.as_ref().map(parse).transpose()
}

/// Reservations whose order is in `state` and whose hold ended by `now` (or, for in-flight
/// requests, was created before `now`), oldest first.
pub async fn due(conn: &mut Conn, state: &str, by_expiry: bool, now: DateTime<Utc>, limit: i64) -> Result<Vec<PileReservation>> {
    let column = if by_expiry { "r.expires_at" } else { "r.created_at" };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM pile_reservations r JOIN orders o ON o.id = r.order_id \
         WHERE o.state = $1 AND {column} <= $2 ORDER BY {column} LIMIT $3"
    ));
    let rows = sqlx::query(sql).bind(state.to_owned()).bind(to_millis(now)).bind(limit).fetch_all(conn).await?;
    rows.iter().map(parse).collect()
}

/// Records the start order that consumed the hold.
pub async fn set_used_by(conn: &mut Conn, order_id: Uuid, used_by: Uuid) -> Result<()> {
    sqlx::query("UPDATE pile_reservations SET used_by = $2 WHERE order_id = $1").bind(order_id.to_string()).bind(used_by.to_string()).execute(conn).await?;
    Ok(())
}
