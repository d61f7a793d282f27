//! The OCPP side of flow-B orders (see migration 0007).

use domain::tariff::MeterReading;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::on_unique;
use crate::row::uuid;
use crate::{Conn, Error, Result, from_millis, to_millis};

#[derive(Debug, Clone, PartialEq)]
pub struct PileSession {
    pub order_id: Uuid,
    pub ocpp_id: String,
    pub connector_no: i64,
    pub id_tag: String,
    pub transaction_id: Option<i64>,
    /// Cumulative meter readings in time order, the first one at the transaction's start.
    pub readings: Vec<MeterReading>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The partner asked to stop before the pile reported its transaction (migration 0014):
    /// the stop is carried out when the transaction starts.
    pub stop_requested_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse(row: &AnyRow) -> Result<PileSession> {
    let readings: String = row.try_get("readings")?;
    Ok(PileSession {
        order_id: uuid(row, "order_id")?,
        ocpp_id: row.try_get("ocpp_id")?,
        connector_no: row.try_get("connector_no")?,
        id_tag: row.try_get("id_tag")?,
        transaction_id: row.try_get("transaction_id")?,
        readings: serde_json::from_str(&readings).map_err(|e| Error::Corrupt(format!("pile_sessions.readings: {e}")))?,
        created_at: from_millis(row.try_get("created_at")?),
        stop_requested_at: row.try_get::<Option<i64>, _>("stop_requested_at")?.map(from_millis),
    })
}

const COLUMNS: &str = "order_id, ocpp_id, connector_no, id_tag, transaction_id, readings, created_at, stop_requested_at";

pub async fn insert(conn: &mut Conn, s: &PileSession) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO pile_sessions ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")))
        .bind(s.order_id.to_string())
        .bind(&s.ocpp_id)
        .bind(s.connector_no)
        .bind(&s.id_tag)
        .bind(s.transaction_id)
        .bind(serde_json::to_string(&s.readings).map_err(|e| Error::Corrupt(e.to_string()))?)
        .bind(to_millis(s.created_at))
        .bind(s.stop_requested_at.map(to_millis))
        .execute(conn)
        .await
        .map_err(on_unique)?;
    Ok(())
}

/// Writes the transaction id and the readings; a transaction id another session of the same
/// pile already holds is `Duplicate`.
pub async fn update(conn: &mut Conn, s: &PileSession) -> Result<()> {
    sqlx::query("UPDATE pile_sessions SET transaction_id = $2, readings = $3 WHERE order_id = $1")
        .bind(s.order_id.to_string())
        .bind(s.transaction_id)
        .bind(serde_json::to_string(&s.readings).map_err(|e| Error::Corrupt(e.to_string()))?)
        .execute(conn)
        .await
        .map_err(on_unique)?;
    Ok(())
}

/// Remembers that the partner asked to stop the session before its transaction started.
pub async fn request_stop(conn: &mut Conn, order_id: Uuid, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
    sqlx::query("UPDATE pile_sessions SET stop_requested_at = $2 WHERE order_id = $1 AND stop_requested_at IS NULL")
        .bind(order_id.to_string())
        .bind(to_millis(at))
        .execute(conn)
        .await?;
    Ok(())
}

async fn one(conn: &mut Conn, filter: &'static str, a: String, b: Option<i64>) -> Result<Option<PileSession>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM pile_sessions WHERE {filter}"));
    let mut query = sqlx::query(sql).bind(a);
    if let Some(b) = b {
        query = query.bind(b);
    }
    query.fetch_optional(conn).await?.as_ref().map(parse).transpose()
}

pub async fn by_order(conn: &mut Conn, order_id: Uuid) -> Result<Option<PileSession>> {
    one(conn, "order_id = $1", order_id.to_string(), None).await
}

pub async fn by_id_tag(conn: &mut Conn, id_tag: &str) -> Result<Option<PileSession>> {
    one(conn, "id_tag = $1", id_tag.to_owned(), None).await
}

pub async fn by_transaction(conn: &mut Conn, ocpp_id: &str, transaction_id: i64) -> Result<Option<PileSession>> {
    one(conn, "ocpp_id = $1 AND transaction_id = $2", ocpp_id.to_owned(), Some(transaction_id)).await
}

/// Sessions on a pile (one connector, or all of them for connector 0) whose order still holds
/// the connector or waits for its record, with the order's state; oldest first.
pub async fn open_on(conn: &mut Conn, ocpp_id: &str, connector_no: i64) -> Result<Vec<(PileSession, String)>> {
    let columns = COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {columns}, o.state FROM pile_sessions s JOIN orders o ON o.id = s.order_id \
         WHERE s.ocpp_id = $1 AND ($2 = 0 OR s.connector_no = $2) \
         AND o.state IN ('starting', 'charging', 'stopping', 'unknown_outcome', 'interrupted') ORDER BY s.created_at"
    ));
    let rows = sqlx::query(sql).bind(ocpp_id).bind(connector_no).fetch_all(conn).await?;
    rows.iter().map(|row| Ok((parse(row)?, row.try_get("state")?))).collect()
}

/// Flow-B sessions whose order is in `state`, oldest first (for the offline-session worker).
pub async fn in_order_state(conn: &mut Conn, state: &str, limit: i64) -> Result<Vec<PileSession>> {
    let columns = COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM pile_sessions s JOIN orders o ON o.id = s.order_id WHERE o.state = $1 ORDER BY s.created_at LIMIT $2"
    ));
    let rows = sqlx::query(sql).bind(state).bind(limit).fetch_all(conn).await?;
    rows.iter().map(parse).collect()
}
