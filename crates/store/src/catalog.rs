//! Stations, equipment (piles) and connectors: ours (`partner_id` None) and partners'.
//!
//! Rows carry the domain's own words for types and statuses (stored as text, see migration
//! 0020) and keep the full partner record in `detail` so nothing a partner sent is lost.
//! Upserts are keyed by the partner's own identifiers.

use chrono::{DateTime, Utc};
use domain::station::{ConnectorStatus, ConnectorType, EquipmentType, StationStatus, StationType};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::row::{json, uuid};
use crate::{Conn, Error, Result, from_millis, to_millis};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StationRow {
    pub id: Uuid,
    pub partner_id: Option<Uuid>,
    pub external_id: String,
    pub name: String,
    pub address: String,
    pub area_code: String,
    /// WGS-84.
    pub lat: f64,
    pub lng: f64,
    pub station_type: StationType,
    pub station_status: StationStatus,
    pub service_tel: String,
    pub business_hours: Option<String>,
    /// Time-of-day tariff as JSON (decimal strings).
    pub tariff: serde_json::Value,
    pub public: bool,
    pub detail: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EquipmentRow {
    pub id: Uuid,
    pub station_id: Uuid,
    pub external_id: String,
    pub equipment_type: EquipmentType,
    pub power_kw: String,
    pub detail: serde_json::Value,
    pub ocpp_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConnectorRow {
    pub id: Uuid,
    pub station_id: Uuid,
    pub equipment_id: Uuid,
    pub external_id: String,
    pub connector_type: ConnectorType,
    pub power_kw: String,
    pub ocpp_connector: Option<i64>,
    /// Last known status and when it was observed.
    pub status: ConnectorStatus,
    pub status_at: Option<DateTime<Utc>>,
    pub detail: serde_json::Value,
}

/// A column holding one of the domain's words; anything else is a corrupt row.
fn word<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let name = column.rsplit('.').next().unwrap_or(column);
    let value: String = row.try_get(name)?;
    parse(&value).ok_or_else(|| Error::Corrupt(format!("{column} = {value:?}")))
}

const STATION_COLUMNS: &str = "id, partner_id, external_id, name, address, area_code, lat, lng, station_type, station_status, \
    service_tel, business_hours, tariff, public, detail, updated_at";

fn station_from_row(row: &AnyRow) -> Result<StationRow> {
    let partner: Option<String> = row.try_get("partner_id")?;
    Ok(StationRow {
        id: uuid(row, "id")?,
        partner_id: partner.map(|p| Uuid::parse_str(&p).map_err(|_| Error::Corrupt("stations.partner_id".into()))).transpose()?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        area_code: row.try_get("area_code")?,
        lat: row.try_get("lat")?,
        lng: row.try_get("lng")?,
        station_type: word(row, "stations.station_type", StationType::parse)?,
        station_status: word(row, "stations.station_status", StationStatus::parse)?,
        service_tel: row.try_get("service_tel")?,
        business_hours: row.try_get("business_hours")?,
        tariff: json(row, "tariff")?,
        public: row.try_get::<i64, _>("public")? != 0,
        detail: json(row, "detail")?,
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

const EQUIPMENT_COLUMNS: &str = "id, station_id, external_id, equipment_type, power_kw, detail, ocpp_id";

fn equipment_from_row(row: &AnyRow) -> Result<EquipmentRow> {
    Ok(EquipmentRow {
        id: uuid(row, "id")?,
        station_id: uuid(row, "station_id")?,
        external_id: row.try_get("external_id")?,
        equipment_type: word(row, "equipment.equipment_type", EquipmentType::parse)?,
        power_kw: row.try_get("power_kw")?,
        detail: json(row, "detail")?,
        ocpp_id: row.try_get("ocpp_id")?,
    })
}

const CONNECTOR_COLUMNS: &str = "id, station_id, equipment_id, external_id, connector_type, power_kw, ocpp_connector, status, status_at, detail";

fn connector_from_row(row: &AnyRow) -> Result<ConnectorRow> {
    Ok(ConnectorRow {
        id: uuid(row, "id")?,
        station_id: uuid(row, "station_id")?,
        equipment_id: uuid(row, "equipment_id")?,
        external_id: row.try_get("external_id")?,
        connector_type: word(row, "connectors.connector_type", ConnectorType::parse)?,
        power_kw: row.try_get("power_kw")?,
        ocpp_connector: row.try_get("ocpp_connector")?,
        status: word(row, "connectors.status", ConnectorStatus::parse)?,
        status_at: row.try_get::<Option<i64>, _>("status_at")?.map(from_millis),
        detail: json(row, "detail")?,
    })
}

async fn station_id_for(conn: &mut Conn, partner_id: Option<Uuid>, external_id: &str) -> Result<Option<Uuid>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM stations WHERE external_id = $1 AND ((partner_id IS NULL AND $2 IS NULL) OR partner_id = $2)")
        .bind(external_id)
        .bind(partner_id.map(|p| p.to_string()))
        .fetch_optional(conn)
        .await?;
    id.map(|i| Uuid::parse_str(&i).map_err(|_| Error::Corrupt("stations.id".into()))).transpose()
}

/// Inserts or updates by (partner, external id); returns the station's id (kept on update).
pub async fn upsert_station(conn: &mut Conn, s: &StationRow) -> Result<Uuid> {
    let existing = station_id_for(conn, s.partner_id, &s.external_id).await?;
    let id = existing.unwrap_or(s.id);
    let sql = if existing.is_some() {
        "UPDATE stations SET partner_id=$2, external_id=$3, name=$4, address=$5, area_code=$6, lat=$7, lng=$8, station_type=$9, \
         station_status=$10, service_tel=$11, business_hours=$12, tariff=$13, public=$14, detail=$15, updated_at=$16, retired_at=NULL WHERE id=$1"
    } else {
        "INSERT INTO stations (id, partner_id, external_id, name, address, area_code, lat, lng, station_type, station_status, \
         service_tel, business_hours, tariff, public, detail, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)"
    };
    sqlx::query(sql)
        .bind(id.to_string())
        .bind(s.partner_id.map(|p| p.to_string()))
        .bind(&s.external_id)
        .bind(&s.name)
        .bind(&s.address)
        .bind(&s.area_code)
        .bind(s.lat)
        .bind(s.lng)
        .bind(s.station_type.as_str())
        .bind(s.station_status.as_str())
        .bind(&s.service_tel)
        .bind(s.business_hours.as_deref())
        .bind(s.tariff.to_string())
        .bind(i64::from(s.public))
        .bind(s.detail.to_string())
        .bind(to_millis(s.updated_at))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Replaces a station's prices alone (the price refresh: the station itself did not change, so
/// its `updated_at` stays).
pub async fn set_station_tariff(conn: &mut Conn, station_id: Uuid, tariff: &serde_json::Value) -> Result<()> {
    sqlx::query("UPDATE stations SET tariff = $2 WHERE id = $1").bind(station_id.to_string()).bind(tariff.to_string()).execute(conn).await?;
    Ok(())
}

pub async fn upsert_equipment(conn: &mut Conn, e: &EquipmentRow) -> Result<Uuid> {
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM equipment WHERE station_id = $1 AND external_id = $2")
        .bind(e.station_id.to_string())
        .bind(&e.external_id)
        .fetch_optional(&mut *conn)
        .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query("UPDATE equipment SET equipment_type=$2, power_kw=$3, detail=$4 WHERE id=$1")
                .bind(&id)
                .bind(e.equipment_type.as_str())
                .bind(&e.power_kw)
                .bind(e.detail.to_string())
                .execute(&mut *conn)
                .await?;
            Uuid::parse_str(&id).map_err(|_| Error::Corrupt("equipment.id".into()))?
        }
        None => {
            sqlx::query("INSERT INTO equipment (id, station_id, external_id, equipment_type, power_kw, detail, ocpp_id) VALUES ($1,$2,$3,$4,$5,$6,$7)")
                .bind(e.id.to_string())
                .bind(e.station_id.to_string())
                .bind(&e.external_id)
                .bind(e.equipment_type.as_str())
                .bind(&e.power_kw)
                .bind(e.detail.to_string())
                .bind(e.ocpp_id.as_deref())
                .execute(&mut *conn)
                .await
                .map_err(crate::error::on_unique)?;
            e.id
        }
    };
    Ok(id)
}

/// Inserts or updates by (equipment, external id); the live status is not touched here.
pub async fn upsert_connector(conn: &mut Conn, c: &ConnectorRow) -> Result<Uuid> {
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM connectors WHERE equipment_id = $1 AND external_id = $2")
        .bind(c.equipment_id.to_string())
        .bind(&c.external_id)
        .fetch_optional(&mut *conn)
        .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query("UPDATE connectors SET connector_type=$2, power_kw=$3, ocpp_connector=$4, detail=$5, retired_at=NULL WHERE id=$1")
                .bind(&id)
                .bind(c.connector_type.as_str())
                .bind(&c.power_kw)
                .bind(c.ocpp_connector)
                .bind(c.detail.to_string())
                .execute(&mut *conn)
                .await?;
            Uuid::parse_str(&id).map_err(|_| Error::Corrupt("connectors.id".into()))?
        }
        None => {
            sqlx::query(
                "INSERT INTO connectors (id, station_id, equipment_id, external_id, connector_type, power_kw, ocpp_connector, status, status_at, detail) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            )
            .bind(c.id.to_string())
            .bind(c.station_id.to_string())
            .bind(c.equipment_id.to_string())
            .bind(&c.external_id)
            .bind(c.connector_type.as_str())
            .bind(&c.power_kw)
            .bind(c.ocpp_connector)
            .bind(c.status.as_str())
            .bind(c.status_at.map(to_millis))
            .bind(c.detail.to_string())
            .execute(&mut *conn)
            .await?;
            c.id
        }
    };
    Ok(id)
}

pub async fn station(conn: &mut Conn, id: Uuid) -> Result<Option<StationRow>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {STATION_COLUMNS} FROM stations WHERE id = $1"));
    sqlx::query(sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(station_from_row).transpose()
}

pub async fn station_by_external(conn: &mut Conn, partner_id: Option<Uuid>, external_id: &str) -> Result<Option<StationRow>> {
    match station_id_for(conn, partner_id, external_id).await? {
        Some(id) => station(conn, id).await,
        None => Ok(None),
    }
}

pub async fn equipment_of_station(conn: &mut Conn, station_id: Uuid) -> Result<Vec<EquipmentRow>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {EQUIPMENT_COLUMNS} FROM equipment WHERE station_id = $1 ORDER BY external_id"));
    sqlx::query(sql).bind(station_id.to_string()).fetch_all(conn).await?.iter().map(equipment_from_row).collect()
}

pub async fn connectors_of_station(conn: &mut Conn, station_id: Uuid) -> Result<Vec<ConnectorRow>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE station_id = $1 ORDER BY external_id"));
    sqlx::query(sql).bind(station_id.to_string()).fetch_all(conn).await?.iter().map(connector_from_row).collect()
}

/// The equipment of many stations, 500 stations per query.
pub async fn equipment_of_stations(conn: &mut Conn, station_ids: &[Uuid]) -> Result<Vec<EquipmentRow>> {
    let mut rows = Vec::new();
    for chunk in station_ids.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {EQUIPMENT_COLUMNS} FROM equipment WHERE station_id IN ({}) ORDER BY external_id",
            crate::row::placeholders(1, chunk.len())
        ));
        let mut query = sqlx::query(sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut *conn).await? {
            rows.push(equipment_from_row(&row)?);
        }
    }
    Ok(rows)
}

/// The connectors of many stations, 500 stations per query.
pub async fn connectors_of_stations(conn: &mut Conn, station_ids: &[Uuid]) -> Result<Vec<ConnectorRow>> {
    let mut rows = Vec::new();
    for chunk in station_ids.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE station_id IN ({}) ORDER BY external_id",
            crate::row::placeholders(1, chunk.len())
        ));
        let mut query = sqlx::query(sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut *conn).await? {
            rows.push(connector_from_row(&row)?);
        }
    }
    Ok(rows)
}

/// The partners a station was granted to (beyond the public).
pub async fn granted_partners(conn: &mut Conn, station_id: Uuid) -> Result<std::collections::HashSet<Uuid>> {
    let rows = sqlx::query("SELECT partner_id FROM station_visibility WHERE station_id = $1").bind(station_id.to_string()).fetch_all(conn).await?;
    rows.iter().map(|r| crate::row::uuid(r, "partner_id")).collect()
}

/// Every station in service (not retired); for building the in-memory search index.
pub async fn all_stations(conn: &mut Conn) -> Result<Vec<StationRow>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {STATION_COLUMNS} FROM stations WHERE retired_at IS NULL ORDER BY id"));
    sqlx::query(sql).fetch_all(conn).await?.iter().map(station_from_row).collect()
}

pub async fn all_connectors(conn: &mut Conn) -> Result<Vec<ConnectorRow>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE retired_at IS NULL ORDER BY id"));
    sqlx::query(sql).fetch_all(conn).await?.iter().map(connector_from_row).collect()
}

/// A partner's connector by its own ConnectorID (unique within the partner in T/CEC 102).
pub async fn connector_by_external(conn: &mut Conn, partner_id: Option<Uuid>, external_id: &str) -> Result<Option<ConnectorRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM connectors c JOIN stations s ON s.id = c.station_id \
         WHERE c.external_id = $1 AND c.retired_at IS NULL AND ((s.partner_id IS NULL AND $2 IS NULL) OR s.partner_id = $2)",
        CONNECTOR_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ")
    ));
    sqlx::query(sql).bind(external_id).bind(partner_id.map(|p| p.to_string())).fetch_optional(conn).await?.as_ref().map(connector_from_row).transpose()
}

/// Write-behind of the status hub: the latest status of many connectors, one statement per
/// [`STATUS_ROWS_PER_STATEMENT`] of them (`UPDATE … FROM (VALUES …)`, on both backends); a row
/// observed after the given time is left alone.
pub async fn save_statuses(conn: &mut Conn, statuses: &[(Uuid, ConnectorStatus, DateTime<Utc>)]) -> Result<()> {
    for chunk in statuses.chunks(STATUS_ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3)).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE connectors SET status = v.column2, status_at = v.column3 FROM (VALUES {}) AS v \
             WHERE connectors.id = v.column1 AND (connectors.status_at IS NULL OR connectors.status_at <= v.column3)",
            values.join(", ")
        ));
        let mut query = sqlx::query(sql);
        for (id, status, at) in chunk {
            query = query.bind(id.to_string()).bind(status.as_str()).bind(to_millis(*at));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Rows per write-behind statement: 3 parameters each, well under both backends' limits.
pub const STATUS_ROWS_PER_STATEMENT: usize = 1_000;

/// Our stations a platform partner may see, changed since `since`, paged by id.
pub async fn visible_own_stations(conn: &mut Conn, partner_id: Uuid, since: Option<DateTime<Utc>>, offset: i64, limit: i64) -> Result<(i64, Vec<StationRow>)> {
    const WHERE: &str = "WHERE s.partner_id IS NULL AND (s.public = 1 OR EXISTS (SELECT 1 FROM station_visibility v \
        WHERE v.station_id = s.id AND v.partner_id = $1)) AND ($2 IS NULL OR s.updated_at >= $2)";
    let since = since.map(to_millis);
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM stations s {WHERE}")))
        .bind(partner_id.to_string())
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
    let columns = STATION_COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
    let sql = sqlx::AssertSqlSafe(format!("SELECT {columns} FROM stations s {WHERE} ORDER BY s.id LIMIT $3 OFFSET $4"));
    let rows = sqlx::query(sql).bind(partner_id.to_string()).bind(since).bind(limit).bind(offset).fetch_all(conn).await?;
    Ok((total, rows.iter().map(station_from_row).collect::<Result<_>>()?))
}

pub async fn grant_visibility(conn: &mut Conn, station_id: Uuid, partner_id: Uuid) -> Result<()> {
    sqlx::query("INSERT INTO station_visibility (station_id, partner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(station_id.to_string())
        .bind(partner_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets the OCPP Basic-auth password hash of one of our piles.
pub async fn set_pile_password(conn: &mut Conn, equipment_id: Uuid, ocpp_id: &str, password_hash: &str) -> Result<()> {
    sqlx::query("UPDATE equipment SET ocpp_id = $2, ocpp_password_hash = $3 WHERE id = $1")
        .bind(equipment_id.to_string())
        .bind(ocpp_id)
        .bind(password_hash)
        .execute(conn)
        .await
        .map_err(crate::error::on_unique)?;
    Ok(())
}

/// One of our piles by its OCPP identity: the equipment, its password hash and its connectors.
pub async fn pile(conn: &mut Conn, ocpp_id: &str) -> Result<Option<(EquipmentRow, String, Vec<ConnectorRow>)>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {EQUIPMENT_COLUMNS}, ocpp_password_hash FROM equipment WHERE ocpp_id = $1"));
    let Some(row) = sqlx::query(sql).bind(ocpp_id).fetch_optional(&mut *conn).await? else { return Ok(None) };
    let equipment = equipment_from_row(&row)?;
    let hash: Option<String> = row.try_get("ocpp_password_hash")?;
    let csql = sqlx::AssertSqlSafe(format!("SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE equipment_id = $1 ORDER BY ocpp_connector"));
    let connectors = sqlx::query(csql).bind(equipment.id.to_string()).fetch_all(conn).await?.iter().map(connector_from_row).collect::<Result<_>>()?;
    Ok(Some((equipment, hash.unwrap_or_default(), connectors)))
}

/// Where one of our connectors is on the OCPP side: its pile's identity and connector number.
pub async fn ocpp_target(conn: &mut Conn, connector_id: Uuid) -> Result<Option<(String, i64)>> {
    let row = sqlx::query(
        "SELECT e.ocpp_id, c.ocpp_connector FROM connectors c JOIN equipment e ON e.id = c.equipment_id \
         WHERE c.id = $1 AND e.ocpp_id IS NOT NULL AND c.ocpp_connector IS NOT NULL",
    )
    .bind(connector_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("ocpp_id")?, r.try_get("ocpp_connector")?))).transpose()
}

pub async fn is_visible(conn: &mut Conn, station_id: Uuid, partner_id: Uuid) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM station_visibility WHERE station_id = $1 AND partner_id = $2")
        .bind(station_id.to_string())
        .bind(partner_id.to_string())
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}
