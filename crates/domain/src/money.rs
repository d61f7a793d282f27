//! Money, energy and prices in exact decimals.
//!
//! Amounts are yuan (`Money`), energy is kWh (`Energy`), unit prices are yuan per kWh
//! (`UnitPrice`), shares are fractions (`Rate`). Nothing here is `f64`: a bill must add up to
//! the fen, and binary floating point cannot represent 0.10 exactly.
//!
//! **Rounding is explicit and half-up (四舍五入).** Every amount a person or a partner sees is
//! rounded half-up (midpoint away from zero): it is what users do on paper when they check a
//! bill, what the price authorities and T/CEC 102 implementations use, and what partners'
//! systems produce. Banker's rounding (half-to-even) is statistically fairer over millions of
//! rows, but it would make `0.125 → 0.12` on our bill where the partner's and the user's own
//! arithmetic say `0.13`, and every such fen becomes a dispute. Where a remainder has to land
//! somewhere (commission splits) the settlement module puts it on one side deliberately instead
//! of relying on the rounding mode.
//!
//! Precision: CEC amounts carry 2 decimals (fen), unit prices 4, energy 2 on the CEC wire and
//! 3–4 from meters. Storage uses integer ten-thousandths of a yuan so both database backends
//! hold exact values; anything finer is rounded half-up when stored.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Neg, Sub};
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An amount of yuan. May be negative (refunds, adjustments, differences); use
/// [`Money::non_negative`] where a negative amount is nonsense (a charge, a price total).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "29.52"))]
pub struct Money(#[serde(with = "rust_decimal::serde::str")] Decimal);

/// Energy in kWh (度); never negative. Deserialising a negative value fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "DecimalText", into = "DecimalText")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "24.60"))]
pub struct Energy(Decimal);

/// Yuan per kWh, held at 4 decimals (the CEC wire precision); never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "DecimalText", into = "DecimalText")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "0.8000"))]
pub struct UnitPrice(Decimal);

/// A share between 0 and 1 inclusive, such as a commission rate: `0.10` is 10 %.
/// Built from a fraction ([`Rate::fraction`]) or a percentage ([`Rate::percent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "DecimalText", into = "DecimalText")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "0.10"))]
pub struct Rate(Decimal);

/// The serde carrier for the validated types: a decimal written as a string, so JSON never
/// round-trips an amount through a float.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct DecimalText(#[serde(with = "rust_decimal::serde::str")] Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("{what} must not be negative, got {value}")]
    Negative { what: &'static str, value: Decimal },
    #[error("{what} is out of range: {value}")]
    OutOfRange { what: &'static str, value: Decimal },
    #[error("{what} is not a decimal number: {text:?}")]
    NotANumber { what: &'static str, text: String },
    #[error("{what} {value} is more than one charging session can reach (at most {max})")]
    AboveSessionMaximum { what: &'static str, value: Decimal, max: Decimal },
    #[error("{what} is too large to compute with")]
    Overflow { what: &'static str },
}

impl AmountError {
    /// The same in plain Chinese, for messages people read.
    pub fn message_zh(&self) -> String {
        let what_zh = |what: &str| match what {
            "energy" => "电量",
            "unit price" => "单价",
            "rate" => "比例",
            "percentage" => "百分比",
            _ => "金额",
        };
        match self {
            Self::Negative { what, value } => format!("{}不能为负数，当前为 {value}", what_zh(what)),
            Self::OutOfRange { what, value } => format!("{}超出范围：{value}", what_zh(what)),
            Self::NotANumber { what, text } => format!("{}「{text}」不是数字", what_zh(what)),
            Self::AboveSessionMaximum { what, value, max } => format!("{} {value} 超出单次充电的合理上限 {max}", what_zh(what)),
            Self::Overflow { what } => format!("{}过大，无法计算", what_zh(what)),
        }
    }
}

/// The most energy one charging session can deliver, in kWh. The largest vehicle batteries on
/// Chinese roads (heavy e-trucks, buses) hold 400–600 kWh; twice that leaves room for a long
/// session on a big pack while refusing figures no connector can deliver (a typo, an overflow
/// probe, a meter register sent as a session total).
pub const MAX_SESSION_ENERGY_KWH: Decimal = Decimal::from_parts(1_000, 0, 0, false, 0);

/// The highest price per kWh (electricity or service fee, each) we take from outside, in yuan.
/// Regulated peak electricity plus the dearest service fees stay below 3 yuan/kWh; 20 allows any
/// real tariff and still keeps `energy × price` of a session far inside what we can store.
pub const MAX_UNIT_PRICE_YUAN: Decimal = Decimal::from_parts(20, 0, 0, false, 0);

/// The most money one charging session can cost, in yuan: the most energy at the highest
/// electricity and service prices ([`MAX_SESSION_ENERGY_KWH`] × 2 × [`MAX_UNIT_PRICE_YUAN`]).
/// A bill above it is refused, never stored, paid or settled.
pub const MAX_SESSION_MONEY_YUAN: Decimal = Decimal::from_parts(40_000, 0, 0, false, 0);

/// Half-up (四舍五入) rounding to `dp` decimals: midpoints go away from zero.
pub fn round_half_up(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

fn half_up(value: Decimal, dp: u32) -> Decimal {
    round_half_up(value, dp)
}

fn is_negative(value: Decimal) -> bool {
    value.is_sign_negative() && !value.is_zero()
}

const TEN_THOUSAND: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);
const HUNDRED: Decimal = Decimal::from_parts(100, 0, 0, false, 0);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Any amount, including negative ones (refunds, differences).
    pub fn new(yuan: Decimal) -> Self {
        Self(yuan)
    }

    /// An amount that cannot be negative: a charge, a fee, a payment.
    pub fn non_negative(yuan: Decimal) -> Result<Self, AmountError> {
        if is_negative(yuan) {
            return Err(AmountError::Negative { what: "amount", value: yuan });
        }
        Ok(Self(yuan))
    }

    /// Whole fen (分), exact.
    pub fn from_fen(fen: i64) -> Self {
        Self(Decimal::new(fen, 2))
    }

    pub fn yuan(self) -> Decimal {
        self.0
    }

    /// Rounded to fen (2 decimals), half-up: what a bill shows and T/CEC 102 sends.
    pub fn round_fen(self) -> Self {
        Self(half_up(self.0, 2))
    }

    /// Rounded to 4 decimals, half-up: the precision we store.
    pub fn round_storage(self) -> Self {
        Self(half_up(self.0, 4))
    }

    pub fn is_negative(self) -> bool {
        is_negative(self.0)
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn abs(self) -> Self {
        Self(self.0.abs())
    }

    /// An amount one charging session may cost: from zero to [`MAX_SESSION_MONEY_YUAN`]. Every
    /// session amount from outside (a partner's record, a statement row) passes through here.
    pub fn session(yuan: Decimal) -> Result<Self, AmountError> {
        let money = Self::non_negative(yuan)?;
        if yuan > MAX_SESSION_MONEY_YUAN {
            return Err(AmountError::AboveSessionMaximum { what: "amount", value: yuan, max: MAX_SESSION_MONEY_YUAN });
        }
        Ok(money)
    }

    /// Integer ten-thousandths of a yuan for storage; finer precision is rounded half-up.
    /// Beyond ±9.2 × 10^14 yuan there is no such integer: an error, never a panic.
    pub fn to_ten_thousandths(self) -> Result<i64, AmountError> {
        self.try_to_ten_thousandths().ok_or(AmountError::Overflow { what: "amount" })
    }

    /// `self + rhs`, or `None` past the decimal range.
    pub fn checked_add(self, rhs: Money) -> Option<Money> {
        self.0.checked_add(rhs.0).map(Money)
    }

    /// `self - rhs`, or `None` past the decimal range.
    pub fn checked_sub(self, rhs: Money) -> Option<Money> {
        self.0.checked_sub(rhs.0).map(Money)
    }

    pub fn try_to_ten_thousandths(self) -> Option<i64> {
        half_up(self.0, 4).checked_mul(TEN_THOUSAND)?.to_i64()
    }

    pub fn from_ten_thousandths(value: i64) -> Self {
        Self(Decimal::new(value, 4))
    }

    /// This amount times a rate, unrounded (round where the result is shown or stored). A rate
    /// is at most 1, so this cannot leave the decimal range.
    pub fn times(self, rate: Rate) -> Self {
        Self(self.0.saturating_mul(rate.0))
    }

    /// Absolute difference is within `tolerance` (inclusive).
    pub fn approx_eq(self, other: Money, tolerance: Money) -> bool {
        self.0.checked_sub(other.0).is_some_and(|d| d.abs() <= tolerance.0)
    }
}

impl FromStr for Money {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_decimal("amount", s).map(Money)
    }
}

fn parse_decimal(what: &'static str, s: &str) -> Result<Decimal, AmountError> {
    Decimal::from_str_exact(s.trim()).map_err(|_| AmountError::NotANumber { what, text: s.to_owned() })
}

impl Energy {
    pub const ZERO: Energy = Energy(Decimal::ZERO);

    pub fn kwh(value: Decimal) -> Result<Self, AmountError> {
        if is_negative(value) {
            return Err(AmountError::Negative { what: "energy", value });
        }
        Ok(Self(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// The energy of one charging session: from zero to [`MAX_SESSION_ENERGY_KWH`].
    pub fn session(value: Decimal) -> Result<Self, AmountError> {
        let energy = Self::kwh(value)?;
        if value > MAX_SESSION_ENERGY_KWH {
            return Err(AmountError::AboveSessionMaximum { what: "energy", value, max: MAX_SESSION_ENERGY_KWH });
        }
        Ok(energy)
    }

    /// kWh with 2 decimals, as T/CEC 102 sends energy.
    pub fn round_2(self) -> Self {
        Self(half_up(self.0, 2))
    }

    /// kWh with `dp` decimals, half-up (meters report 3–4).
    pub fn round_dp(self, dp: u32) -> Self {
        Self(half_up(self.0, dp))
    }

    /// Wh from a meter (OCPP) to kWh, exact.
    pub fn from_wh(wh: Decimal) -> Result<Self, AmountError> {
        Self::kwh(wh / Decimal::ONE_THOUSAND)
    }

    /// Energy between two meter readings in Wh; a meter that went backwards is an error, not
    /// zero, because it means a replaced or faulty meter that someone has to look at.
    pub fn between_meter_readings(start_wh: Decimal, end_wh: Decimal) -> Result<Self, AmountError> {
        Self::from_wh(end_wh.checked_sub(start_wh).ok_or(AmountError::Overflow { what: "energy" })?)
    }

    /// `self - rhs`, or `None` if that would be negative.
    pub fn checked_sub(self, rhs: Energy) -> Option<Energy> {
        let d = self.0.checked_sub(rhs.0)?;
        (!is_negative(d)).then_some(Energy(d))
    }

    /// Energy × unit price, unrounded. Saturates at the decimal range instead of panicking;
    /// figures from outside are bounded per session first, so a real bill never gets near it,
    /// and a saturated amount cannot be stored ([`Money::to_ten_thousandths`] refuses it).
    pub fn cost(self, price: UnitPrice) -> Money {
        Money(self.0.saturating_mul(price.0))
    }

    pub fn approx_eq(self, other: Energy, tolerance: Decimal) -> bool {
        self.0.checked_sub(other.0).is_some_and(|d| d.abs() <= tolerance)
    }
}

impl FromStr for Energy {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Energy::kwh(parse_decimal("energy", s)?)
    }
}

impl UnitPrice {
    pub const ZERO: UnitPrice = UnitPrice(Decimal::ZERO);

    /// A price per kWh, rounded half-up to 4 decimals (the CEC wire precision), so a price we
    /// compute and a price a partner sends compare equal.
    pub fn per_kwh(value: Decimal) -> Result<Self, AmountError> {
        if is_negative(value) {
            return Err(AmountError::Negative { what: "unit price", value });
        }
        Ok(Self(half_up(value, 4)))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// A price from outside (a partner's policy or charge record, an admin's tariff): at most
    /// [`MAX_UNIT_PRICE_YUAN`] per kWh.
    pub fn bounded(value: Decimal) -> Result<Self, AmountError> {
        let price = Self::per_kwh(value)?;
        if price.0 > MAX_UNIT_PRICE_YUAN {
            return Err(AmountError::AboveSessionMaximum { what: "unit price", value, max: MAX_UNIT_PRICE_YUAN });
        }
        Ok(price)
    }

    /// Scales a price by `1 + adjustment` (e.g. a partner's −5 % service-fee discount is
    /// `-0.05`), rounded to 4 decimals and never below zero (saturating, never panicking).
    pub fn adjusted(self, adjustment: Decimal) -> Self {
        Self(half_up(self.0.saturating_mul(Decimal::ONE.saturating_add(adjustment)).max(Decimal::ZERO), 4))
    }
}

impl Add for UnitPrice {
    type Output = UnitPrice;
    fn add(self, rhs: UnitPrice) -> UnitPrice {
        UnitPrice(self.0.saturating_add(rhs.0))
    }
}

impl FromStr for UnitPrice {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitPrice::per_kwh(parse_decimal("unit price", s)?)
    }
}

impl Rate {
    pub const ZERO: Rate = Rate(Decimal::ZERO);
    pub const ONE: Rate = Rate(Decimal::ONE);

    /// A fraction between 0 and 1 inclusive.
    pub fn fraction(value: Decimal) -> Result<Self, AmountError> {
        if value < Decimal::ZERO || value > Decimal::ONE {
            return Err(AmountError::OutOfRange { what: "rate", value });
        }
        Ok(Self(value))
    }

    /// A percentage between 0 and 100 inclusive: `Rate::percent(dec!(8.5))` is 8.5 %.
    pub fn percent(value: Decimal) -> Result<Self, AmountError> {
        if value < Decimal::ZERO || value > HUNDRED {
            return Err(AmountError::OutOfRange { what: "percentage", value });
        }
        Ok(Self(value / HUNDRED))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    pub fn as_percent(self) -> Decimal {
        (self.0 * HUNDRED).normalize()
    }

    /// `1 - self`: the other party's share.
    pub fn complement(self) -> Rate {
        Rate(Decimal::ONE - self.0)
    }
}

impl FromStr for Rate {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rate::fraction(parse_decimal("rate", s)?)
    }
}

macro_rules! decimal_text {
    ($ty:ident, $ctor:path) => {
        impl TryFrom<DecimalText> for $ty {
            type Error = AmountError;
            fn try_from(text: DecimalText) -> Result<Self, Self::Error> {
                $ctor(text.0)
            }
        }
        impl From<$ty> for DecimalText {
            fn from(value: $ty) -> Self {
                DecimalText(value.0)
            }
        }
    };
}
decimal_text!(Energy, Energy::kwh);
decimal_text!(UnitPrice, UnitPrice::per_kwh);
decimal_text!(Rate, Rate::fraction);

/// Saturating at the decimal range (≈7.9 × 10^28) instead of panicking: amounts from outside
/// are bounded per session first, and a saturated sum cannot be stored.
impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

/// Saturating, like `Add`.
impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

/// Saturating at the decimal range, like `Money`.
impl Add for Energy {
    type Output = Energy;
    fn add(self, rhs: Energy) -> Energy {
        Energy(self.0.saturating_add(rhs.0))
    }
}

impl Sum for Energy {
    fn sum<I: Iterator<Item = Energy>>(iter: I) -> Energy {
        iter.fold(Energy::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Energy> for Energy {
    fn sum<I: Iterator<Item = &'a Energy>>(iter: I) -> Energy {
        iter.copied().sum()
    }
}

/// `¥29.52`: always fen, half-up, for people. Use [`Money::yuan`] for machines.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{:.2}", half_up(self.0, 2))
    }
}

impl fmt::Display for Energy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} kWh", self.0)
    }
}

impl fmt::Display for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{:.4}/kWh", self.0)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.as_percent())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn rounding_is_half_up_not_bankers() {
        // Banker's rounding would give 0.12 and 24.60 here.
        assert_eq!(Money::new(dec!(0.125)).round_fen().yuan(), dec!(0.13));
        assert_eq!(Money::new(dec!(0.135)).round_fen().yuan(), dec!(0.14));
        assert_eq!(Money::new(dec!(-0.125)).round_fen().yuan(), dec!(-0.13));
        assert_eq!(Money::new(dec!(0.124999)).round_fen().yuan(), dec!(0.12));
        assert_eq!(Energy::kwh(dec!(24.605)).unwrap().round_2().value(), dec!(24.61));
        assert_eq!(UnitPrice::per_kwh(dec!(0.80005)).unwrap().value(), dec!(0.8001));
    }

    #[test]
    fn cost_is_exact_and_display_rounds() {
        let energy = Energy::kwh(dec!(12.35)).unwrap();
        let price = UnitPrice::per_kwh(dec!(0.8)).unwrap();
        assert_eq!(energy.cost(price).yuan(), dec!(9.880));
        assert_eq!(energy.cost(price).to_string(), "¥9.88");
        assert_eq!(Money::new(dec!(5)).to_string(), "¥5.00");
        assert_eq!(price.to_string(), "¥0.8000/kWh");
    }

    #[test]
    fn constructors_refuse_nonsense() {
        assert!(Energy::kwh(dec!(-1)).is_err());
        assert!(Energy::kwh(dec!(-0)).is_ok());
        assert!(UnitPrice::per_kwh(dec!(-0.1)).is_err());
        assert!(Money::non_negative(dec!(-0.01)).is_err());
        assert!(Money::non_negative(dec!(0)).is_ok());
        assert!(Rate::fraction(dec!(1.5)).is_err());
        assert!(Rate::fraction(dec!(-0.1)).is_err());
        assert!(Rate::percent(dec!(101)).is_err());
        assert!(Energy::between_meter_readings(dec!(2000), dec!(1000)).is_err());
        assert!("abc".parse::<Money>().is_err());
    }

    #[test]
    fn rates_and_adjustments() {
        assert_eq!(Rate::percent(dec!(8.5)).unwrap().value(), dec!(0.085));
        assert_eq!(Rate::fraction(dec!(0.1)).unwrap().as_percent(), dec!(10));
        assert_eq!(Rate::percent(dec!(30)).unwrap().complement().value(), dec!(0.70));
        assert_eq!(UnitPrice::per_kwh(dec!(0.4)).unwrap().adjusted(dec!(-0.05)).value(), dec!(0.38));
        assert_eq!(UnitPrice::per_kwh(dec!(0.4)).unwrap().adjusted(dec!(-2)).value(), dec!(0));
        assert_eq!(Money::new(dec!(10)).times(Rate::percent(dec!(15)).unwrap()).yuan(), dec!(1.5));
    }

    #[test]
    fn energy_from_meter() {
        assert_eq!(Energy::from_wh(dec!(12345)).unwrap().value(), dec!(12.345));
        assert_eq!(Energy::between_meter_readings(dec!(1000), dec!(3500)).unwrap().value(), dec!(2.5));
        let a = Energy::kwh(dec!(1)).unwrap();
        let b = Energy::kwh(dec!(2)).unwrap();
        assert_eq!(a.checked_sub(b), None);
        assert_eq!(b.checked_sub(a), Some(a));
    }

    #[test]
    fn serialises_as_strings_and_validates_on_read() {
        assert_eq!(serde_json::to_string(&Money::new(dec!(29.52))).unwrap(), "\"29.52\"");
        assert_eq!(serde_json::from_str::<Money>("\"0.10\"").unwrap().yuan(), dec!(0.10));
        assert_eq!(serde_json::to_string(&Energy::kwh(dec!(24.60)).unwrap()).unwrap(), "\"24.60\"");
        assert_eq!(serde_json::to_string(&UnitPrice::per_kwh(dec!(0.8)).unwrap()).unwrap(), "\"0.8\"");
        assert_eq!(serde_json::to_string(&Rate::percent(dec!(10)).unwrap()).unwrap(), "\"0.10\"");
        assert!(serde_json::from_str::<Energy>("\"-1\"").is_err());
        assert!(serde_json::from_str::<UnitPrice>("\"-0.5\"").is_err());
        assert!(serde_json::from_str::<Rate>("\"1.01\"").is_err());
        assert_eq!(serde_json::from_str::<Rate>("\"0.2\"").unwrap().value(), dec!(0.2));
    }

    #[test]
    fn storage_rounds_beyond_four_decimals() {
        assert_eq!(Money::new(dec!(1.23455)).to_ten_thousandths(), Ok(12346));
        assert_eq!(Money::new(dec!(-1.23455)).to_ten_thousandths(), Ok(-12346));
        assert_eq!(Money::from_fen(2952).to_ten_thousandths(), Ok(295_200));
        assert_eq!(Money::new(Decimal::MAX).try_to_ten_thousandths(), None);
    }

    #[test]
    fn amounts_beyond_storage_are_errors_not_panics() {
        // The probe's charge record: ¥9 × 10^17 has no integer ten-thousandths in an i64.
        assert_eq!(Money::new(dec!(900000000000000000)).to_ten_thousandths(), Err(AmountError::Overflow { what: "amount" }));
        assert!(Money::new(Decimal::MIN).to_ten_thousandths().is_err());
        assert_eq!((Money::new(Decimal::MAX) + Money::new(Decimal::MAX)).yuan(), Decimal::MAX);
        assert_eq!(Money::new(Decimal::MAX).checked_add(Money::new(Decimal::ONE)), None);
        assert_eq!(Money::new(Decimal::MIN).checked_sub(Money::new(Decimal::ONE)), None);
        assert!(Energy::between_meter_readings(Decimal::MIN, Decimal::MAX).is_err());
    }

    #[test]
    fn session_bounds_at_their_edges() {
        assert_eq!(Money::session(MAX_SESSION_MONEY_YUAN).unwrap().yuan(), MAX_SESSION_MONEY_YUAN);
        assert!(matches!(Money::session(MAX_SESSION_MONEY_YUAN + dec!(0.01)), Err(AmountError::AboveSessionMaximum { .. })));
        assert!(Money::session(dec!(-0.01)).is_err());
        assert!(Money::session(dec!(900000000000000000)).is_err());
        assert_eq!(Energy::session(MAX_SESSION_ENERGY_KWH).unwrap().value(), MAX_SESSION_ENERGY_KWH);
        assert!(Energy::session(MAX_SESSION_ENERGY_KWH + dec!(0.01)).is_err());
        assert!(UnitPrice::bounded(MAX_UNIT_PRICE_YUAN).is_ok());
        assert!(UnitPrice::bounded(MAX_UNIT_PRICE_YUAN + dec!(0.0001)).is_err());
        // The bounds hold each other: the dearest session is still a session amount, and storable.
        let dearest = Energy::session(MAX_SESSION_ENERGY_KWH).unwrap().cost(UnitPrice::bounded(MAX_UNIT_PRICE_YUAN).unwrap());
        assert!(Money::session((dearest + dearest).yuan()).is_ok());
        assert!(Money::new(MAX_SESSION_MONEY_YUAN * dec!(200000)).to_ten_thousandths().is_ok(), "a statement of 200,000 dearest sessions is storable");
        let message = Money::session(dec!(1e6)).unwrap_err();
        assert!(message.to_string().contains("40000") && message.message_zh().contains("上限"), "{message}");
    }

    fn any_decimal() -> impl Strategy<Value = Decimal> {
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, negative, scale)| Decimal::from_parts(lo, mid, hi, negative, scale))
    }

    proptest! {
        /// Nothing in this module panics, whatever a partner or a file sends.
        #[test]
        fn no_input_panics(a in any_decimal(), b in any_decimal()) {
            let (m, n) = (Money::new(a), Money::new(b));
            let _ = (m + n, m - n, -m, m.round_fen(), m.round_storage(), m.to_ten_thousandths(), m.checked_add(n), m.checked_sub(n));
            let _ = (m.approx_eq(n, Money::from_fen(1)), m.to_string(), [m, n].iter().sum::<Money>(), Money::session(a));
            if let Ok(rate) = Rate::fraction(b.abs().fract()) {
                let _ = m.times(rate);
            }
            if let (Ok(e), Ok(f)) = (Energy::kwh(a.abs()), Energy::kwh(b.abs())) {
                let _ = (e + f, e.checked_sub(f), e.approx_eq(f, dec!(0.01)), e.round_2(), Energy::from_wh(a), Energy::session(a));
                if let Ok(price) = UnitPrice::per_kwh(b.abs()) {
                    let _ = (e.cost(price).to_ten_thousandths(), price.adjusted(a), price + price, UnitPrice::bounded(b));
                }
            }
            let _ = Energy::between_meter_readings(a, b);
        }

        #[test]
        fn ten_thousandths_round_trip(units in -10_000_000_000i64..10_000_000_000i64) {
            let money = Money::from_ten_thousandths(units);
            prop_assert_eq!(money.to_ten_thousandths(), Ok(units));
            let text = serde_json::to_string(&money).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&text).unwrap(), money);
        }

        #[test]
        fn round_fen_moves_at_most_half_a_fen(units in -10_000_000_000i64..10_000_000_000i64) {
            let money = Money::from_ten_thousandths(units);
            let diff = (money.round_fen().yuan() - money.yuan()).abs();
            prop_assert!(diff <= dec!(0.005));
        }
    }
}
