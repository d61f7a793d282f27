//! OCPP `dateTime` reading and writing.
//!
//! We always write UTC with milliseconds and `Z`. Chargers in the field send offsets, no
//! fractional seconds, offsets without minutes (`+02`) or no offset at all (local time), so the
//! reader is tolerant: offsets are converted to UTC and a missing offset is read as UTC.

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Parses an OCPP timestamp tolerantly; `None` when it is not a date-time at all.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::<FixedOffset>::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // `+02` / `-05` without minutes.
    if let Some(pos) = text.rfind(['+', '-']).filter(|&p| p > 10 && text.len() - p == 3) {
        let fixed = format!("{text}:00");
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_rfc3339(&fixed) {
            return Some(t.with_timezone(&Utc));
        }
        let _ = pos;
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc())
}

/// Formats as `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `#[serde(with = "crate::time")]` for required timestamps.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

/// `#[serde(with = "crate::time")]` for required timestamps.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom(format!("invalid value: dateTime {text:?}")))
}

/// `#[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::option")]`.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => parse(&text).map(Some).ok_or_else(|| serde::de::Error::custom(format!("invalid value: dateTime {text:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_offsets_fractions_and_local_time() {
        let utc = parse("2013-02-01T20:53:32.486Z").unwrap();
        assert_eq!(format(&utc), "2013-02-01T20:53:32.486Z");
        assert_eq!(parse("2013-02-01T22:53:32.486+02:00").unwrap(), utc);
        assert_eq!(parse("2013-02-01T22:53:32.486+02").unwrap(), utc);
        assert_eq!(format(&parse("2013-02-01T20:53:32").unwrap()), "2013-02-01T20:53:32.000Z");
        assert!(parse("yesterday").is_none());
    }
}
