//! Taking partner stations and connectors out of service without deleting them: orders and
//! settlement lines keep pointing at the rows, while search and the status hub (rebuilt from
//! [`crate::catalog::all_stations`] / [`crate::catalog::all_connectors`]) no longer see them.
//! An upsert of the same identifier brings a row back (migration 0022).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Conn, Error, Result, to_millis};

fn parse_id(id: &str, what: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::Corrupt(what.into()))
}

/// The partner's station with this identifier, if it is in service.
pub async fn live_station_id(conn: &mut Conn, partner_id: Uuid, external_id: &str) -> Result<Option<Uuid>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM stations WHERE partner_id = $1 AND external_id = $2 AND retired_at IS NULL")
        .bind(partner_id.to_string())
        .bind(external_id)
        .fetch_optional(conn)
        .await?;
    id.map(|i| parse_id(&i, "stations.id")).transpose()
}

/// Retires a station and all its connectors.
pub async fn retire_station(conn: &mut Conn, station_id: Uuid, at: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE stations SET retired_at = $2 WHERE id = $1").bind(station_id.to_string()).bind(to_millis(at)).execute(&mut *conn).await?;
    sqlx::query("UPDATE connectors SET retired_at = $2 WHERE station_id = $1 AND retired_at IS NULL")
        .bind(station_id.to_string())
        .bind(to_millis(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Retires the station's connectors in service that are not in `keep` (a station re-uploaded
/// without them); returns how many.
pub async fn retire_connectors_except(conn: &mut Conn, station_id: Uuid, keep: &[Uuid], at: DateTime<Utc>) -> Result<usize> {
    let live: Vec<String> =
        sqlx::query_scalar("SELECT id FROM connectors WHERE station_id = $1 AND retired_at IS NULL").bind(station_id.to_string()).fetch_all(&mut *conn).await?;
    let mut retired = 0;
    for id in live {
        if keep.contains(&parse_id(&id, "connectors.id")?) {
            continue;
        }
        sqlx::query("UPDATE connectors SET retired_at = $2 WHERE id = $1").bind(&id).bind(to_millis(at)).execute(&mut *conn).await?;
        retired += 1;
    }
    Ok(retired)
}
