//! Partner rows: the application, its review state and the portal token that lets the partner
//! see its own record before it has any other credentials.

use chrono::{DateTime, Utc};
use domain::credit_code::CreditCode;
use domain::partner::{Application, Contact, Partner, PartnerRoles, Protocol, ReviewState};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::error::on_unique;
use crate::{Conn, Error, Page, PageRequest, Result, from_millis, to_millis};

const COLUMNS: &str = "id, operator_id, company_name, credit_code, contact_name, contact_phone, \
    contact_email, roles, protocol, callback_base_url, state, state_reason, created_at, updated_at";

fn corrupt(what: &str, value: &str) -> Error {
    Error::Corrupt(format!("partners.{what} = {value:?}"))
}

fn from_row(row: &AnyRow) -> Result<Partner> {
    let id: String = row.try_get("id")?;
    let roles: String = row.try_get("roles")?;
    let protocol: String = row.try_get("protocol")?;
    let state: String = row.try_get("state")?;
    let credit_code: String = row.try_get("credit_code")?;
    Ok(Partner {
        id: Uuid::parse_str(&id).map_err(|_| corrupt("id", &id))?,
        operator_id: row.try_get("operator_id")?,
        application: Application {
            company_name: row.try_get("company_name")?,
            credit_code: CreditCode::parse(&credit_code).map_err(|_| corrupt("credit_code", &credit_code))?,
            contact: Contact { name: row.try_get("contact_name")?, phone: row.try_get("contact_phone")?, email: row.try_get("contact_email")? },
            roles: PartnerRoles::parse(&roles).ok_or_else(|| corrupt("roles", &roles))?,
            protocol: Protocol::parse(&protocol).ok_or_else(|| corrupt("protocol", &protocol))?,
            callback_base_url: row.try_get("callback_base_url")?,
        },
        state: ReviewState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        state_reason: row.try_get("state_reason")?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

pub async fn insert(conn: &mut Conn, id: Uuid, application: &Application, portal_token_hash: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO partners (id, operator_id, company_name, credit_code, contact_name, contact_phone, \
         contact_email, roles, protocol, callback_base_url, state, state_reason, portal_token_hash, \
         created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'submitted',NULL,$11,$12,$12)",
    )
    .bind(id.to_string())
    .bind(application.operator_id())
    .bind(&application.company_name)
    .bind(application.credit_code.as_str())
    .bind(&application.contact.name)
    .bind(&application.contact.phone)
    .bind(&application.contact.email)
    .bind(application.roles.as_str())
    .bind(application.protocol.as_str())
    .bind(&application.callback_base_url)
    .bind(portal_token_hash)
    .bind(to_millis(now))
    .execute(conn)
    .await
    .map_err(on_unique)?;
    Ok(())
}

/// Replaces the application (on resubmission). The credit code may be corrected too.
pub async fn update_application(conn: &mut Conn, id: Uuid, application: &Application, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE partners SET operator_id=$2, company_name=$3, credit_code=$4, contact_name=$5, \
         contact_phone=$6, contact_email=$7, roles=$8, protocol=$9, callback_base_url=$10, updated_at=$11 \
         WHERE id=$1",
    )
    .bind(id.to_string())
    .bind(application.operator_id())
    .bind(&application.company_name)
    .bind(application.credit_code.as_str())
    .bind(&application.contact.name)
    .bind(&application.contact.phone)
    .bind(&application.contact.email)
    .bind(application.roles.as_str())
    .bind(application.protocol.as_str())
    .bind(&application.callback_base_url)
    .bind(to_millis(now))
    .execute(conn)
    .await
    .map_err(on_unique)?;
    Ok(())
}

/// Moves the review state only if it is still `from`, so two admins approving at once cannot
/// both succeed. Returns whether this call made the change.
pub async fn transition(conn: &mut Conn, id: Uuid, from: ReviewState, to: ReviewState, reason: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("UPDATE partners SET state=$3, state_reason=$4, updated_at=$5 WHERE id=$1 AND state=$2")
        .bind(id.to_string())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(reason)
        .bind(to_millis(now))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut Conn, id: Uuid) -> Result<Option<Partner>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM partners WHERE id=$1"));
    sqlx::query(sql).bind(id.to_string()).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

pub async fn by_portal_token(conn: &mut Conn, token_hash: &str) -> Result<Option<Partner>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM partners WHERE portal_token_hash=$1"));
    sqlx::query(sql).bind(token_hash).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

pub async fn by_operator_id(conn: &mut Conn, operator_id: &str) -> Result<Option<Partner>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM partners WHERE operator_id=$1"));
    sqlx::query(sql).bind(operator_id).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

#[derive(Debug, Clone, Default)]
pub struct PartnerFilter {
    pub state: Option<ReviewState>,
    pub protocol: Option<Protocol>,
    /// Case-insensitive match on company name, credit code or OperatorID.
    pub search: Option<String>,
}

/// Newest first, filtered and paged.
pub async fn list(conn: &mut Conn, filter: &PartnerFilter, page: PageRequest) -> Result<Page<Partner>> {
    const WHERE: &str = "WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR protocol = $2) \
        AND ($3 IS NULL OR LOWER(company_name) LIKE $3 OR LOWER(credit_code) LIKE $3 OR LOWER(operator_id) LIKE $3)";
    let pattern = filter.search.as_ref().map(|s| format!("%{}%", s.trim().to_lowercase()));
    let state = filter.state.map(ReviewState::as_str);
    let protocol = filter.protocol.map(Protocol::as_str);
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM partners {WHERE}")))
        .bind(state)
        .bind(protocol)
        .bind(pattern.clone())
        .fetch_one(&mut *conn)
        .await?;
    let sql = format!("SELECT {COLUMNS} FROM partners {WHERE} ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(state).bind(protocol).bind(pattern).bind(page.limit()).bind(page.offset()).fetch_all(conn).await?;
    let items = rows.iter().map(from_row).collect::<Result<_>>()?;
    Ok(Page { items, page: page.page, per_page: page.per_page, total })
}
