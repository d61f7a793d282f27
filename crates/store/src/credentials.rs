//! Credentials issued to partners and received from them.
//!
//! Rotation never deletes: the old row gets an `expires_at` at the end of the overlap window,
//! so both old and new work until then and the history stays auditable.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::on_unique;
use crate::row::{opt_time, uuid};
use crate::{Conn, Error, Result, from_millis, to_millis};

// ---- REST / OAuth2 client credentials ----

#[derive(Debug, Clone, Serialize)]
pub struct ApiCredential {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub client_id: String,
    #[serde(skip)]
    pub secret_hash: String,
    /// Encrypted secret not yet shown to the partner.
    #[serde(skip)]
    pub pending_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

const API_COLUMNS: &str = "id, partner_id, client_id, secret_hash, pending_secret, created_at, expires_at";

fn api_from_row(row: &AnyRow) -> Result<ApiCredential> {
    Ok(ApiCredential {
        id: uuid(row, "id")?,
        partner_id: uuid(row, "partner_id")?,
        client_id: row.try_get("client_id")?,
        secret_hash: row.try_get("secret_hash")?,
        pending_secret: row.try_get("pending_secret")?,
        created_at: from_millis(row.try_get("created_at")?),
        expires_at: opt_time(row, "expires_at")?,
    })
}

pub async fn insert_api(conn: &mut Conn, c: &ApiCredential) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_credentials (id, partner_id, client_id, secret_hash, pending_secret, created_at, expires_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7)",
    )
    .bind(c.id.to_string())
    .bind(c.partner_id.to_string())
    .bind(&c.client_id)
    .bind(&c.secret_hash)
    .bind(c.pending_secret.as_deref())
    .bind(to_millis(c.created_at))
    .bind(c.expires_at.map(to_millis))
    .execute(conn)
    .await
    .map_err(on_unique)?;
    Ok(())
}

pub async fn api_by_client_id(conn: &mut Conn, client_id: &str) -> Result<Option<ApiCredential>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {API_COLUMNS} FROM api_credentials WHERE client_id=$1"));
    sqlx::query(sql).bind(client_id).fetch_optional(conn).await?.as_ref().map(api_from_row).transpose()
}

/// Credentials still valid at `now`, newest first.
pub async fn api_for_partner(conn: &mut Conn, partner_id: Uuid, now: DateTime<Utc>) -> Result<Vec<ApiCredential>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {API_COLUMNS} FROM api_credentials WHERE partner_id=$1 AND (expires_at IS NULL OR expires_at > $2) \
         ORDER BY created_at DESC, id DESC"
    ));
    let rows = sqlx::query(sql).bind(partner_id.to_string()).bind(to_millis(now)).fetch_all(conn).await?;
    rows.iter().map(api_from_row).collect()
}

/// Clears the pending secret so it can be shown only once; returns it if this call took it.
pub async fn take_pending_secret(conn: &mut Conn, id: Uuid) -> Result<Option<String>> {
    let row = sqlx::query("SELECT pending_secret FROM api_credentials WHERE id=$1").bind(id.to_string()).fetch_optional(&mut *conn).await?;
    let Some(secret) = row.and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten()) else {
        return Ok(None);
    };
    let cleared =
        sqlx::query("UPDATE api_credentials SET pending_secret=NULL WHERE id=$1 AND pending_secret IS NOT NULL").bind(id.to_string()).execute(conn).await?;
    Ok((cleared.rows_affected() == 1).then_some(secret))
}

/// Sets the end of validity of every still-open credential of the partner (rotation, suspension).
pub async fn expire_api(conn: &mut Conn, partner_id: Uuid, at: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE api_credentials SET expires_at=$2 WHERE partner_id=$1 AND (expires_at IS NULL OR expires_at > $2)")
        .bind(partner_id.to_string())
        .bind(to_millis(at))
        .execute(conn)
        .await?;
    Ok(())
}

// ---- OAuth2 access tokens ----

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub partner_id: Uuid,
    pub client_id: String,
    pub scopes: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_token(conn: &mut Conn, token_hash: &str, t: &AccessToken, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("INSERT INTO access_tokens (token_hash, partner_id, client_id, scopes, issued_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6)")
        .bind(token_hash)
        .bind(t.partner_id.to_string())
        .bind(&t.client_id)
        .bind(&t.scopes)
        .bind(to_millis(now))
        .bind(to_millis(t.expires_at))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn token(conn: &mut Conn, token_hash: &str) -> Result<Option<AccessToken>> {
    let row =
        sqlx::query("SELECT partner_id, client_id, scopes, expires_at FROM access_tokens WHERE token_hash=$1").bind(token_hash).fetch_optional(conn).await?;
    row.map(|row| {
        Ok(AccessToken {
            partner_id: uuid(&row, "partner_id")?,
            client_id: row.try_get("client_id")?,
            scopes: row.try_get("scopes")?,
            expires_at: from_millis(row.try_get("expires_at")?),
        })
    })
    .transpose()
}

/// Ends every token of a partner now (suspension).
pub async fn revoke_tokens(conn: &mut Conn, partner_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE access_tokens SET expires_at=$2 WHERE partner_id=$1 AND expires_at > $2")
        .bind(partner_id.to_string())
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(())
}

// ---- T/CEC 102 secrets ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CecDirection {
    /// We issued these to the partner; it calls us with them.
    Issued,
    /// The partner issued these to us; we call it with them.
    Received,
}

impl CecDirection {
    fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Received => "received",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CecCredential {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub direction: CecDirection,
    /// The caller's OperatorID: the partner's for `Issued`, ours for `Received`.
    pub operator_id: String,
    /// The secrets, encrypted with the master key.
    #[serde(skip)]
    pub secrets: String,
    /// The partner's endpoint base for `Received` (e.g. `https://cpo.example.cn/evcs`).
    pub base_url: Option<String>,
    /// The `v{version}` path segment, e.g. `v1.0`.
    pub version_segment: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

const CEC_COLUMNS: &str = "id, partner_id, direction, operator_id, secrets, base_url, version_segment, created_at, expires_at";

fn cec_from_row(row: &AnyRow) -> Result<CecCredential> {
    let direction: String = row.try_get("direction")?;
    Ok(CecCredential {
        id: uuid(row, "id")?,
        partner_id: uuid(row, "partner_id")?,
        direction: match direction.as_str() {
            "issued" => CecDirection::Issued,
            "received" => CecDirection::Received,
            other => return Err(Error::Corrupt(format!("cec_credentials.direction = {other:?}"))),
        },
        operator_id: row.try_get("operator_id")?,
        secrets: row.try_get("secrets")?,
        base_url: row.try_get("base_url")?,
        version_segment: row.try_get("version_segment")?,
        created_at: from_millis(row.try_get("created_at")?),
        expires_at: opt_time(row, "expires_at")?,
    })
}

pub async fn insert_cec(conn: &mut Conn, c: &CecCredential) -> Result<()> {
    sqlx::query(
        "INSERT INTO cec_credentials (id, partner_id, direction, operator_id, secrets, base_url, version_segment, created_at, expires_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(c.id.to_string())
    .bind(c.partner_id.to_string())
    .bind(c.direction.as_str())
    .bind(&c.operator_id)
    .bind(&c.secrets)
    .bind(c.base_url.as_deref())
    .bind(&c.version_segment)
    .bind(to_millis(c.created_at))
    .bind(c.expires_at.map(to_millis))
    .execute(conn)
    .await?;
    Ok(())
}

/// Valid credentials of one direction for a partner at `now`, newest first.
pub async fn cec_for_partner(conn: &mut Conn, partner_id: Uuid, direction: CecDirection, now: DateTime<Utc>) -> Result<Vec<CecCredential>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CEC_COLUMNS} FROM cec_credentials WHERE partner_id=$1 AND direction=$2 \
         AND (expires_at IS NULL OR expires_at > $3) ORDER BY created_at DESC, id DESC"
    ));
    let rows = sqlx::query(sql).bind(partner_id.to_string()).bind(direction.as_str()).bind(to_millis(now)).fetch_all(conn).await?;
    rows.iter().map(cec_from_row).collect()
}

/// Valid issued credentials for an incoming caller's OperatorID (several during an overlap).
pub async fn cec_issued_by_operator(conn: &mut Conn, operator_id: &str, now: DateTime<Utc>) -> Result<Vec<CecCredential>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CEC_COLUMNS} FROM cec_credentials WHERE operator_id=$1 AND direction='issued' \
         AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id DESC"
    ));
    let rows = sqlx::query(sql).bind(operator_id).bind(to_millis(now)).fetch_all(conn).await?;
    rows.iter().map(cec_from_row).collect()
}

pub async fn expire_cec(conn: &mut Conn, partner_id: Uuid, direction: CecDirection, at: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE cec_credentials SET expires_at=$3 WHERE partner_id=$1 AND direction=$2 AND (expires_at IS NULL OR expires_at > $3)")
        .bind(partner_id.to_string())
        .bind(direction.as_str())
        .bind(to_millis(at))
        .execute(conn)
        .await?;
    Ok(())
}
