//! The audit log: who did what to which record, when and why. Written in the same transaction
//! as the change it describes, so there is never a change without its entry.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use crate::{Conn, Result, from_millis, to_millis};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// `admin:<username>`, `partner:<id>`, `cli:<user>` or `system`.
    pub actor: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub reason: Option<String>,
}

pub async fn record(conn: &mut Conn, entry: &AuditEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, action, subject_type, subject_id, from_state, to_state, reason) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(to_millis(entry.at))
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.subject_type)
    .bind(&entry.subject_id)
    .bind(entry.from_state.as_deref())
    .bind(entry.to_state.as_deref())
    .bind(entry.reason.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// Oldest first, as a history reads.
pub async fn for_subject(conn: &mut Conn, subject_type: &str, subject_id: &str) -> Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT at, actor, action, subject_type, subject_id, from_state, to_state, reason FROM audit_log \
         WHERE subject_type=$1 AND subject_id=$2 ORDER BY at, id",
    )
    .bind(subject_type)
    .bind(subject_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                at: from_millis(row.try_get("at")?),
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                subject_type: row.try_get("subject_type")?,
                subject_id: row.try_get("subject_id")?,
                from_state: row.try_get("from_state")?,
                to_state: row.try_get("to_state")?,
                reason: row.try_get("reason")?,
            })
        })
        .collect()
}
