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

/// Declares an integer-coded enum: known codes by name, anything else kept as `Other(code)`.
///
/// Reading is strict on values where the standard defines the set: a code outside it (and
/// outside the `custom` range the standard leaves to operators, e.g. a partner's FailReason 90)
/// fails to decode, so the request is refused with 4004 naming the field and nothing is
/// changed. `Other` is still there for codes inside a custom range.
macro_rules! int_enum {
    ($(#[$meta:meta])* $name:ident $label:literal { $($(#[$vmeta:meta])* $variant:ident = $code:literal),* $(,)? } $(custom $lo:literal ..= $hi:literal)?) => {
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
            /// Whether the standard allows `code` in this field.
            pub fn allows(code: i64) -> bool {
                [$($code),*].contains(&code) $(|| ($lo..=$hi).contains(&code))?
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = crate::tolerant::int(d)?;
                if Self::allows(code) {
                    return Ok(Self::from_code(code));
                }
                #[allow(unused_mut)]
                let mut allowed = vec![$($code.to_string()),*];
                $(allowed.push(format!("{}–{}", $lo, $hi));)?
                Err(<D::Error as serde::de::Error>::custom(crate::messages::common::not_in_set($label, code, &allowed.join(", "))))
            }
        }
    };
}
pub(crate) use int_enum;

int_enum!(
    /// `SuccStat`: 0 success, 1 failure.
    SuccStat "SuccStat" { Success = 0, Failure = 1 }
);

int_enum!(
    /// §10.6 connector status.
    ConnectorStatusCode "Status / ConnectorStatus" { Offline = 0, Idle = 1, OccupiedNotCharging = 2, Charging = 3, Reserved = 4, Fault = 255 }
);

int_enum!(
    /// §10.8 StartChargeSeqStat.
    StartChargeSeqStat "StartChargeSeqStat" { Starting = 1, Charging = 2, Stopping = 3, Ended = 4, Unknown = 5 }
);

int_enum!(
    /// §10.9 StopReason.
    StopReason "StopReason" { User = 0, Platform = 1, Bms = 2, ChargerFault = 3, Disconnected = 4 } custom 5..=99
);

/// The message of a code outside the standard's set: which field, what came, what is allowed.
pub(crate) fn not_in_set(field: &str, code: i64, allowed: &str) -> String {
    format!("{field} 的取值 {code} 不在标准定义的范围内（可用：{allowed}）/ {field} {code} is not a value the standard defines (allowed: {allowed})")
}

/// Reads a plain integer field whose values the standard defines, e.g. ParkStatus 0/10/50.
fn one_of<'de, D: serde::Deserializer<'de>>(d: D, field: &str, allowed: &[std::ops::RangeInclusive<i64>]) -> Result<i64, D::Error> {
    let code = crate::tolerant::int(d)?;
    if allowed.iter().any(|r| r.contains(&code)) {
        return Ok(code);
    }
    let list: Vec<String> = allowed.iter().map(|r| if r.start() == r.end() { r.start().to_string() } else { format!("{}–{}", r.start(), r.end()) }).collect();
    Err(serde::de::Error::custom(not_in_set(field, code, &list.join(", "))))
}

/// Deserializers for plain integer fields with a set of values (strict on values, tolerant on
/// numbers sent as strings); optional ones treat absent, null and "" as not given.
pub mod codes {
    use serde::Deserializer;

    use super::one_of;

    fn optional<'de, D: Deserializer<'de>>(d: D, field: &str, allowed: &[std::ops::RangeInclusive<i64>]) -> Result<Option<i64>, D::Error> {
        match crate::tolerant::opt_int(d)? {
            None => Ok(None),
            Some(code) => one_of(serde_json::Value::from(code), field, allowed).map(Some).map_err(serde::de::Error::custom),
        }
    }

    /// §10.7 ParkStatus: 0 unknown, 10 free, 50 occupied.
    pub fn park_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        optional(d, "ParkStatus", &[0..=0, 10..=10, 50..=50])
    }

    /// §10.7 LockStatus: 0 unknown, 10 unlocked, 50 locked.
    pub fn lock_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        optional(d, "LockStatus", &[0..=0, 10..=10, 50..=50])
    }

    /// §10.3 Construction: 1–11, 255 other.
    pub fn construction<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        one_of(d, "Construction", &[1..=11, 255..=255])
    }

    /// §10.11 NationalStandard: 1 (2011), 2 (2015).
    pub fn national_standard<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        one_of(d, "NationalStandard", &[1..=2])
    }

    /// §9.1 SupportOrder: 0 no, 1 yes.
    pub fn support_order<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        optional(d, "SupportOrder", &[0..=1])
    }

    /// A FailReason of the stop interfaces: 0 none, 1–3 the standard's, 4–99 the operator's.
    pub fn stop_fail_reason<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        one_of(d, "FailReason", &[0..=99])
    }
}

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
