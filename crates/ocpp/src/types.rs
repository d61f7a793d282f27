//! Bounded string types of OCPP 1.6 and the charge point identity.

use serde::{Deserialize, Serialize};

/// A `CiStringNType`: at most `N` characters, compared case-insensitively.
///
/// Over-long values are refused while parsing, which the RPC layer reports as
/// `PropertyConstraintViolation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CiString<const N: usize>(String);

/// An idTag (`IdToken` = CiString20).
pub type IdToken = CiString<20>;

/// Error of [`CiString::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value: string of {len} characters is longer than {max}")]
pub struct TooLong {
    pub len: usize,
    pub max: usize,
}

impl<const N: usize> CiString<N> {
    pub fn new(value: impl Into<String>) -> Result<Self, TooLong> {
        let value = value.into();
        let len = value.chars().count();
        if len > N {
            return Err(TooLong { len, max: N });
        }
        Ok(Self(value))
    }

    /// The value as received (case preserved).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const N: usize> TryFrom<String> for CiString<N> {
    type Error = TooLong;
    fn try_from(value: String) -> Result<Self, TooLong> {
        Self::new(value)
    }
}

impl<const N: usize> TryFrom<&str> for CiString<N> {
    type Error = TooLong;
    fn try_from(value: &str) -> Result<Self, TooLong> {
        Self::new(value)
    }
}

impl<const N: usize> From<CiString<N>> for String {
    fn from(value: CiString<N>) -> String {
        value.0
    }
}

/// Case-insensitive, as the specification requires for idTags and other CiStrings.
impl<const N: usize> PartialEq for CiString<N> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl<const N: usize> Eq for CiString<N> {}

impl<const N: usize> std::hash::Hash for CiString<N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl<const N: usize> std::fmt::Display for CiString<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity of a charge point: the last path segment of its WebSocket URL.
///
/// Kept exactly as received (percent-decoded); it is the Basic auth username too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChargePointId(String);

impl ChargePointId {
    /// Longest identity we accept; the specification sets none, 48 covers known schemes.
    pub const MAX_LEN: usize = 48;

    /// Accepts 1..=48 printable ASCII characters (spaces included: the specification's own
    /// example is `RDAM%20123`).
    pub fn parse(value: &str) -> Option<Self> {
        let ok = !value.is_empty() && value.len() <= Self::MAX_LEN && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        ok.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ChargePointId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ChargePointId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_tags_compare_case_insensitively_and_are_bounded() {
        assert_eq!(IdToken::new("04A1B2").unwrap(), IdToken::new("04a1b2").unwrap());
        assert!(IdToken::new("x".repeat(21)).is_err());
        assert!(serde_json::from_str::<IdToken>("\"123456789012345678901\"").is_err());
    }

    #[test]
    fn charge_point_ids_are_printable() {
        assert!(ChargePointId::parse("CP001").is_some());
        assert!(ChargePointId::parse("RDAM 123").is_some());
        assert!(ChargePointId::parse("CP\n1").is_none());
        assert!(ChargePointId::parse("").is_none());
    }
}
