//! T/CEC 102 access tokens we issued and the replay guard's recent request keys. In the
//! database rather than in memory, so a restart (or another instance) keeps every partner's
//! token valid and still refuses a replayed request. Tokens are stored as SHA-256 hashes.

use chrono::{DateTime, Utc};

use crate::{Conn, Result, to_millis};

pub async fn insert_token(conn: &mut Conn, token_hash: &str, operator_id: &str, expires_at: DateTime<Utc>) -> Result<()> {
    sqlx::query("INSERT INTO cec_tokens (token_hash, operator_id, expires_at) VALUES ($1,$2,$3)")
        .bind(token_hash)
        .bind(operator_id)
        .bind(to_millis(expires_at))
        .execute(conn)
        .await?;
    Ok(())
}

/// The OperatorID a token was issued to, while it is valid at `now`.
pub async fn token_holder(conn: &mut Conn, token_hash: &str, now: DateTime<Utc>) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT operator_id FROM cec_tokens WHERE token_hash = $1 AND expires_at > $2")
        .bind(token_hash)
        .bind(to_millis(now))
        .fetch_optional(conn)
        .await?)
}

/// Records a request key; true when it was not seen (or only seen before its keep-until).
pub async fn first_request(conn: &mut Conn, key_hash: &str, now: DateTime<Utc>, keep_until: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO cec_replay_keys (request_key, keep_until) VALUES ($1, $2) \
         ON CONFLICT (request_key) DO UPDATE SET keep_until = excluded.keep_until WHERE cec_replay_keys.keep_until <= $3",
    )
    .bind(key_hash)
    .bind(to_millis(keep_until))
    .bind(to_millis(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets expired tokens and request keys past their keep-until; returns how many rows went.
pub async fn prune(conn: &mut Conn, now: DateTime<Utc>) -> Result<u64> {
    let tokens = sqlx::query("DELETE FROM cec_tokens WHERE expires_at <= $1").bind(to_millis(now)).execute(&mut *conn).await?;
    let keys = sqlx::query("DELETE FROM cec_replay_keys WHERE keep_until <= $1").bind(to_millis(now)).execute(conn).await?;
    Ok(tokens.rows_affected() + keys.rows_affected())
}
