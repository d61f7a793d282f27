//! Persistence for chargebridge.
//!
//! One set of queries serves both backends through `sqlx::Any`: SQLite, the embedded default
//! that needs no server, and PostgreSQL for production and scale-out. `Any` cannot carry
//! `Uuid`, `DateTime` or `Decimal`, so this crate is the one place that converts: ids are UUID
//! text, times are UTC milliseconds (`BIGINT`), money is integer ten-thousandths of a yuan.
//! Functions take `&mut AnyConnection` so the services can compose them in one transaction.

mod db;
mod error;
mod retry;
mod row;
mod time;

pub mod admins;
pub mod audit;
pub mod catalog;
pub mod catalog_retire;
pub mod cec_tokens;
pub mod credentials;
pub mod daily_checks;
pub mod documents;
pub mod idempotency_keys;
pub mod orders;
pub mod outbox;
pub mod partner_statements;
pub mod partner_webhooks;
pub mod partners;
pub mod payments;
pub mod pile_reservations;
pub mod pile_sessions;
pub mod seq_counters;
pub mod settlement;
pub mod statements;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod top_ups;
pub mod users;

pub use db::{ACQUIRE_TIMEOUT, Backend, Db};
pub use error::{Error, Result};
pub use retry::Transient;
pub use sqlx::AnyConnection as Conn;
pub use time::{from_millis, to_millis};

/// Page request shared by list queries; `page` counts from 1.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    pub fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}
