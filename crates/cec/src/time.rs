//! Time on the T/CEC 102 wire is Beijing time (UTC+8, no daylight saving); inside it is UTC.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// Envelope `TimeStamp`: `yyyyMMddHHmmss`.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.with_timezone(&beijing()).format("%Y%m%d%H%M%S").to_string()
}

pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y%m%d%H%M%S").ok()?;
    beijing().from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// Date-time inside `Data`: `yyyy-MM-dd HH:mm:ss`.
pub fn format_datetime(at: DateTime<Utc>) -> String {
    at.with_timezone(&beijing()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Also accepts a `T` separator and fractional seconds, which some partners send.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .and_then(|naive| beijing().from_local_datetime(&naive).single())
        .map(|t| t.with_timezone(&Utc))
}

pub fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// Time of day of a price period, Beijing local: `HHmmss`.
pub fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    NaiveTime::parse_from_str(text, "%H%M%S").ok().or_else(|| NaiveTime::parse_from_str(text, "%H:%M:%S").ok())
}

pub fn format_time_of_day(time: NaiveTime) -> String {
    time.format("%H%M%S").to_string()
}

/// The current Beijing date of an instant, e.g. for daily reconciliation periods.
pub fn beijing_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&beijing()).date_naive()
}

/// Serde for `DateTime<Utc>` fields written as Beijing `yyyy-MM-dd HH:mm:ss`.
pub mod datetime {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_datetime(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_datetime(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not yyyy-MM-dd HH:mm:ss")))
    }

    /// Optional: absent, null and "" mean not given.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(text) if text.trim().is_empty() => Ok(None),
                Some(text) => {
                    crate::time::parse_datetime(&text).map(Some).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not yyyy-MM-dd HH:mm:ss")))
                }
            }
        }
    }
}

/// Serde for `NaiveDate` as `yyyy-MM-dd`.
pub mod date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_date(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_date(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not yyyy-MM-dd")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_is_utc_plus_eight() {
        let at = parse_timestamp("20160729142400").unwrap();
        assert_eq!(at.to_rfc3339(), "2016-07-29T06:24:00+00:00");
        assert_eq!(format_timestamp(at), "20160729142400");
        let at = parse_datetime("2024-01-01 00:30:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2023-12-31T16:30:00+00:00");
        assert_eq!(beijing_date(at).to_string(), "2024-01-01");
        assert_eq!(parse_datetime("2024-01-01T00:30:00.000"), Some(at));
        assert!(parse_datetime("2024/01/01").is_none());
        assert_eq!(format_time_of_day(parse_time_of_day("083000").unwrap()), "083000");
    }
}
