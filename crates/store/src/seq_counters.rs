//! Counters shared by every instance on the database, for identifiers that must not collide.

use crate::{Conn, Result};

/// The next number of our StartChargeSeq counter, taken in its own statement (atomic on both
/// backends) so no row lock is held by a caller's transaction.
pub async fn next_start_charge_seq(conn: &mut Conn) -> Result<i64> {
    Ok(sqlx::query_scalar("UPDATE seq_counters SET value = value + 1 WHERE name = 'start_charge_seq' RETURNING value").fetch_one(conn).await?)
}
