//! Reading typed values out of `Any` rows, where ids, JSON and optional times are text and
//! integers.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::{Error, Result, from_millis};

pub(crate) fn uuid(row: &AnyRow, column: &str) -> Result<Uuid> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|_| Error::Corrupt(format!("{column} = {text:?}")))
}

pub(crate) fn json(row: &AnyRow, column: &str) -> Result<serde_json::Value> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|_| Error::Corrupt(format!("{column} is not JSON")))
}

pub(crate) fn opt_time(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
}

/// `$first, $first+1, …` for `count` parameters: the list of an `IN (…)` or `VALUES` batch.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
