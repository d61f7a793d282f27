//! Payments of orders. At most one succeeded payment per order (a partial unique index), and a
//! gateway's reference is unique, so a payment is recorded exactly once whatever the gateway does.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use crate::error::on_unique;
use crate::{Conn, Result, from_millis, to_millis};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentRecord {
    pub id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    /// `wallet` or `gateway`.
    pub method: String,
    /// Ten-thousandths of a yuan.
    pub amount: i64,
    /// `pending`, `succeeded`, `failed`, `cancelled`, `refunded`.
    pub status: String,
    pub external_ref: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut Conn, p: &PaymentRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO payments (id, order_id, user_id, method, amount, status, external_ref, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8)",
    )
    .bind(p.id.to_string())
    .bind(p.order_id.to_string())
    .bind(p.user_id.to_string())
    .bind(&p.method)
    .bind(p.amount)
    .bind(&p.status)
    .bind(p.external_ref.as_deref())
    .bind(to_millis(p.created_at))
    .execute(conn)
    .await
    .map_err(on_unique)?;
    Ok(())
}

pub async fn for_order(conn: &mut Conn, order_id: Uuid) -> Result<Vec<PaymentRecord>> {
    let rows = sqlx::query(
        "SELECT id, order_id, user_id, method, amount, status, external_ref, created_at FROM payments WHERE order_id=$1 ORDER BY created_at",
    )
    .bind(order_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            let order: String = r.try_get("order_id")?;
            let user: String = r.try_get("user_id")?;
            let bad = |c: &str| crate::Error::Corrupt(format!("payments.{c}"));
            Ok(PaymentRecord {
                id: Uuid::parse_str(&id).map_err(|_| bad("id"))?,
                order_id: Uuid::parse_str(&order).map_err(|_| bad("order_id"))?,
                user_id: Uuid::parse_str(&user).map_err(|_| bad("user_id"))?,
                method: r.try_get("method")?,
                amount: r.try_get("amount")?,
                status: r.try_get("status")?,
                external_ref: r.try_get("external_ref")?,
                created_at: from_millis(r.try_get("created_at")?),
            })
        })
        .collect()
}
