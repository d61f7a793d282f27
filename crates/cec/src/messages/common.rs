//! Shared pieces: fixed-precision numbers, integer enums that keep unknown codes, and the
//! 27-character sequence numbers.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A decimal written with exactly `DP` decimals (money 2, energy 2, unit prices 4, power 1,
/// coordinates 6) and read from a number or a numeric string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fixed<const DP: u32>(pub Decimal);

pub type Money2 = Fixed<2>;
pub type Energy2 = Fixed<2>;
pub type Price4 = Fixed<4>;
pub type Power1 = Fixed<1>;
pub type Coord6 = Fixed<6>;

impl<const DP: u32> Fixed<DP> {
    pub fn value(self) -> Decimal {
        self.0
    }
}

impl<const DP: u32> From<Decimal> for Fixed<DP> {
    fn from(d: Decimal) -> Self {
        Self(d)
    }
}

impl<const DP: u32> Serialize for Fixed<DP> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::tolerant::write_dp::<S, DP>(&self.0, s)
    }
}

impl<'de, const DP: u32> Deserialize<'de> for Fixed<DP> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::tolerant::decimal(d).map(Self)
    }
}

impl<const DP: u32> fmt::Display for Fixed<DP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Declares an integer-coded enum: known codes by name, anything else kept as `Other(code)`
/// (a partner's custom FailReason 90 must not fail the whole message).
macro_rules! int_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            Other(i64),
        }

        impl $name {
            pub fn code(self) -> i64 {
                match self { $(Self::$variant => $code,)* Self::Other(c) => c }
            }
            pub fn from_code(code: i64) -> Self {
                match code { $($code => Self::$variant,)* other => Self::Other(other) }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::tolerant::int(d).map(Self::from_code)
            }
        }
    };
}
pub(crate) use int_enum;

int_enum!(
    /// `SuccStat`: 0 success, 1 failure.
    SuccStat { Success = 0, Failure = 1 }
);

int_enum!(
    /// §10.6 connector status.
    ConnectorStatusCode { Offline = 0, Idle = 1, OccupiedNotCharging = 2, Charging = 3, Reserved = 4, Fault = 255 }
);

int_enum!(
    /// §10.8 StartChargeSeqStat.
    StartChargeSeqStat { Starting = 1, Charging = 2, Stopping = 3, Ended = 4, Unknown = 5 }
);

int_enum!(
    /// §10.9 StopReason.
    StopReason { User = 0, Platform = 1, Bms = 2, ChargerFault = 3, Disconnected = 4 }
);

/// Serde for plain integers that may arrive as strings or integral floats.
pub mod int {
    pub use crate::tolerant::int as deserialize;
    pub fn serialize<S: serde::Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*v)
    }
}

/// A 27-character sequence number: the creating party's 9-character OperatorID followed by
/// 18 characters unique to it (T/CEC 102 §11).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq27(pub String);

impl Seq27 {
    /// `operator_id` + `yyyyMMddHHmmss` (Beijing) + a 4-digit counter.
    pub fn generate(operator_id: &str, at: chrono::DateTime<chrono::Utc>, counter: u32) -> Self {
        Self(format!("{operator_id}{}{:04}", crate::time::format_timestamp(at), counter % 10_000))
    }

    pub fn is_valid(&self) -> bool {
        self.0.len() == 27 && self.0.chars().all(|c| c.is_ascii_alphanumeric())
    }

    /// The OperatorID of the party that created it.
    pub fn creator(&self) -> &str {
        self.0.get(..9).unwrap_or("")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Seq27 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
