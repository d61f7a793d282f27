use chrono::{DateTime, TimeZone, Utc};

/// Stored form of an instant: UTC milliseconds since the epoch (sortable, portable).
pub fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
