//! Metadata of qualification documents. The bytes live on disk under the data directory,
//! named by the document id, never by the uploaded file name.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::row::uuid;
use crate::{Conn, Result, from_millis, to_millis};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentRecord {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub kind: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

fn from_row(row: &AnyRow) -> Result<DocumentRecord> {
    Ok(DocumentRecord {
        id: uuid(row, "id")?,
        partner_id: uuid(row, "partner_id")?,
        kind: row.try_get("kind")?,
        file_name: row.try_get("file_name")?,
        content_type: row.try_get("content_type")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        uploaded_at: from_millis(row.try_get("uploaded_at")?),
    })
}

pub async fn insert(conn: &mut Conn, doc: &DocumentRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO partner_documents (id, partner_id, kind, file_name, content_type, size_bytes, sha256, uploaded_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(doc.id.to_string())
    .bind(doc.partner_id.to_string())
    .bind(&doc.kind)
    .bind(&doc.file_name)
    .bind(&doc.content_type)
    .bind(doc.size_bytes)
    .bind(&doc.sha256)
    .bind(to_millis(doc.uploaded_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list_for_partner(conn: &mut Conn, partner_id: Uuid) -> Result<Vec<DocumentRecord>> {
    let rows = sqlx::query(
        "SELECT id, partner_id, kind, file_name, content_type, size_bytes, sha256, uploaded_at \
         FROM partner_documents WHERE partner_id=$1 ORDER BY uploaded_at, id",
    )
    .bind(partner_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(conn: &mut Conn, partner_id: Uuid, id: Uuid) -> Result<Option<DocumentRecord>> {
    let row = sqlx::query(
        "SELECT id, partner_id, kind, file_name, content_type, size_bytes, sha256, uploaded_at \
         FROM partner_documents WHERE partner_id=$1 AND id=$2",
    )
    .bind(partner_id.to_string())
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn count_for_partner(conn: &mut Conn, partner_id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM partner_documents WHERE partner_id=$1").bind(partner_id.to_string()).fetch_one(conn).await?)
}
