//! A partner's webhooks: the URL a T/CEC 102 partner registered (migration 0019), for what T/CEC
//! 102 does not cover (settlement notices), and the generation of every partner's signing key.

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

/// Which generation of its webhook signing key a partner is on (migration 0023).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretGeneration {
    pub generation: i64,
    /// Until when the previous generation still signs too.
    pub previous_valid_until: Option<DateTime<Utc>>,
}

pub async fn secret_generation(conn: &mut Conn, partner_id: Uuid) -> Result<SecretGeneration> {
    let row: Option<(i64, Option<i64>)> = sqlx::query_as("SELECT generation, previous_valid_until FROM webhook_secret_generations WHERE partner_id=$1")
        .bind(partner_id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map_or(SecretGeneration { generation: 0, previous_valid_until: None }, |(generation, until)| SecretGeneration {
        generation,
        previous_valid_until: until.map(crate::from_millis),
    }))
}

/// Moves the partner to its next key generation; the current one keeps signing until
/// `previous_valid_until`. Returns the new generation.
pub async fn rotate_secret(conn: &mut Conn, partner_id: Uuid, previous_valid_until: DateTime<Utc>, now: DateTime<Utc>) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_secret_generations (partner_id, generation, previous_valid_until, rotated_at) VALUES ($1, 1, $2, $3)
         ON CONFLICT (partner_id) DO UPDATE SET generation = webhook_secret_generations.generation + 1,
             previous_valid_until = excluded.previous_valid_until, rotated_at = excluded.rotated_at
         RETURNING generation",
    )
    .bind(partner_id.to_string())
    .bind(to_millis(previous_valid_until))
    .bind(to_millis(now))
    .fetch_one(conn)
    .await?)
}
