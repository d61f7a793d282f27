//! A partner's registered webhook URL (migration 0019), for partners whose protocol gives us no
//! other way to tell them what T/CEC 102 does not cover (settlement notices).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Conn, Result, to_millis};

/// Sets (`Some`) or removes (`None`) the partner's webhook URL.
pub async fn set(conn: &mut Conn, partner_id: Uuid, url: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("DELETE FROM partner_webhooks WHERE partner_id=$1").bind(partner_id.to_string()).execute(&mut *conn).await?;
    if let Some(url) = url {
        sqlx::query("INSERT INTO partner_webhooks (partner_id, url, updated_at) VALUES ($1, $2, $3)")
            .bind(partner_id.to_string())
            .bind(url)
            .bind(to_millis(now))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn url(conn: &mut Conn, partner_id: Uuid) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT url FROM partner_webhooks WHERE partner_id=$1").bind(partner_id.to_string()).fetch_optional(conn).await?)
}
