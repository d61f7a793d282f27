//! Time-of-day tariffs (分时电价) and the fee of a charging session.
//!
//! A tariff is what T/CEC 102 calls business policy (`PolicyInfos`): periods that start at a
//! Beijing-local time of day (`StartTime` as `HHmmss`), each with an electricity price and a
//! service price per kWh; a period runs until the next one starts, the last until midnight.
//! Beijing time is a fixed UTC+8 (China has had no daylight saving since 1991), so no time-zone
//! database is needed.
//!
//! **Rounding rule of a fee:** every line's electricity and service money is rounded half-up to
//! fen *first*, and the totals are the plain sums of the rounded lines — never re-rounded. That
//! way the detail a user or partner sees always adds up to the totals to the fen, which is the
//! check every CEC receiver performs (§9.10); the price is that the total can differ from
//! "round(total energy × price)" by up to half a fen per line. Line energy is kept at the CEC
//! detail precision (2 decimals); when a meter curve is split across periods the cumulative
//! energy is rounded at each boundary and lines are the differences, so lines sum exactly to
//! the rounded total energy too.

use std::fmt;

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, TimeZone, Timelike, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{AmountError, Energy, Money, UnitPrice};

/// Decimals of energy in fee lines (CEC `DetailPower`).
pub const LINE_ENERGY_DP: u32 = 2;
/// T/CEC 102 allows at most 32 periods (`SumPeriod` 0–32).
pub const MAX_PERIODS: usize = 32;

/// Beijing time, UTC+8.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TariffError {
    #[error("a tariff needs at least one period")]
    Empty,
    #[error("a tariff has at most {MAX_PERIODS} periods, got {0}")]
    TooManyPeriods(usize),
    #[error("the first period must start at 000000, it starts at {0}")]
    FirstNotMidnight(PeriodStart),
    #[error("period {index} starts at {start}, not after the previous period's {previous}")]
    NotIncreasing { index: usize, start: PeriodStart, previous: PeriodStart },
    #[error("period start {0:?} is not a time of day written HHmmss")]
    BadStartTime(String),
    #[error("period {index}: {what} price must not be negative, got {value}")]
    NegativePrice { index: usize, what: &'static str, value: Decimal },
    #[error("period {index}: {what} price {value} per kWh is above the most we accept ({max})")]
    PriceTooHigh { index: usize, what: &'static str, value: Decimal, max: Decimal },
    #[error("the session ends before it starts")]
    EndBeforeStart,
    #[error("interval {index} runs from one tariff period into the next; split it at the boundary")]
    IntervalCrossesPeriod { index: usize },
    #[error("meter readings must be in time order and never decrease (reading {index})")]
    BadMeterCurve { index: usize },
    #[error("a price adjustment below -100 % would make prices negative: {0}")]
    BadAdjustment(Decimal),
}

impl TariffError {
    pub fn message_zh(&self) -> String {
        match self {
            Self::Empty => "电价至少需要一个时段".into(),
            Self::TooManyPeriods(n) => format!("电价时段最多 {MAX_PERIODS} 个，收到 {n} 个"),
            Self::FirstNotMidnight(s) => format!("第一个时段须从 000000 开始，实际为 {s}"),
            Self::NotIncreasing { index, start, previous } => {
                format!("第 {} 个时段开始时间 {start} 不晚于上一时段 {previous}", index + 1)
            }
            Self::BadStartTime(s) => format!("时段开始时间 {s:?} 不是 HHmmss 格式"),
            Self::NegativePrice { index, what, value } => {
                let what = if *what == "electricity" { "电价" } else { "服务费" };
                format!("第 {} 个时段{what}为负数：{value}", index + 1)
            }
            Self::PriceTooHigh { index, what, value, max } => {
                let what = if *what == "electricity" { "电价" } else { "服务费" };
                format!("第 {} 个时段{what} {value} 元/度超过上限 {max} 元/度", index + 1)
            }
            Self::EndBeforeStart => "结束时间早于开始时间".into(),
            Self::IntervalCrossesPeriod { index } => format!("第 {} 段跨越了电价时段边界", index + 1),
            Self::BadMeterCurve { index } => format!("电表读数须按时间递增且不减少（第 {} 个读数）", index + 1),
            Self::BadAdjustment(p) => format!("价格调整不能低于 -100%：{p}"),
        }
    }
}

/// A Beijing-local time of day at which a period starts, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeriodStart(u32);

impl PeriodStart {
    pub const MIDNIGHT: PeriodStart = PeriodStart(0);

    /// `HHmmss`, as CEC `PolicyInfo.StartTime`: exactly 6 digits, 00:00:00–23:59:59.
    pub fn parse(text: &str) -> Result<Self, TariffError> {
        let bad = || TariffError::BadStartTime(text.to_owned());
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n = |r: std::ops::Range<usize>| text[r].parse::<u32>().map_err(|_| bad());
        let (h, m, s) = (n(0..2)?, n(2..4)?, n(4..6)?);
        if h > 23 || m > 59 || s > 59 {
            return Err(bad());
        }
        Ok(Self(h * 3600 + m * 60 + s))
    }

    pub fn from_hms(h: u32, m: u32, s: u32) -> Result<Self, TariffError> {
        Self::parse(&format!("{h:02}{m:02}{s:02}"))
    }

    pub fn seconds_from_midnight(self) -> u32 {
        self.0
    }

    /// `HHmmss`.
    pub fn hhmmss(self) -> String {
        format!("{:02}{:02}{:02}", self.0 / 3600, self.0 / 60 % 60, self.0 % 60)
    }
}

impl fmt::Display for PeriodStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hhmmss())
    }
}

impl Serialize for PeriodStart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hhmmss())
    }
}

impl<'de> Deserialize<'de> for PeriodStart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PeriodStart::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One price period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffPeriod {
    pub start: PeriodStart,
    pub elec_price: UnitPrice,
    pub service_price: UnitPrice,
}

impl TariffPeriod {
    /// From a period's raw values as a partner sent them; `index` names the period in errors.
    pub fn parse(index: usize, start: &str, elec: Decimal, service: Decimal) -> Result<Self, TariffError> {
        let price = |what, value: Decimal| {
            UnitPrice::bounded(value).map_err(|e| match e {
                AmountError::AboveSessionMaximum { max, .. } => TariffError::PriceTooHigh { index, what, value, max },
                _ => TariffError::NegativePrice { index, what, value },
            })
        };
        Ok(Self { start: PeriodStart::parse(start)?, elec_price: price("electricity", elec)?, service_price: price("service", service)? })
    }

    pub fn total_price(&self) -> UnitPrice {
        self.elec_price + self.service_price
    }
}

/// A validated time-of-day tariff: first period at 000000, starts strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<TariffPeriod>", into = "Vec<TariffPeriod>")]
pub struct Tariff {
    periods: Vec<TariffPeriod>,
}

impl TryFrom<Vec<TariffPeriod>> for Tariff {
    type Error = TariffError;
    fn try_from(periods: Vec<TariffPeriod>) -> Result<Self, TariffError> {
        Tariff::new(periods)
    }
}

impl From<Tariff> for Vec<TariffPeriod> {
    fn from(t: Tariff) -> Self {
        t.periods
    }
}

impl Tariff {
    pub fn new(periods: Vec<TariffPeriod>) -> Result<Self, TariffError> {
        let first = periods.first().ok_or(TariffError::Empty)?;
        if periods.len() > MAX_PERIODS {
            return Err(TariffError::TooManyPeriods(periods.len()));
        }
        if first.start != PeriodStart::MIDNIGHT {
            return Err(TariffError::FirstNotMidnight(first.start));
        }
        for (index, pair) in periods.windows(2).enumerate() {
            if pair[1].start <= pair[0].start {
                return Err(TariffError::NotIncreasing { index: index + 1, start: pair[1].start, previous: pair[0].start });
            }
        }
        Ok(Self { periods })
    }

    /// One price all day.
    pub fn flat(elec_price: UnitPrice, service_price: UnitPrice) -> Self {
        Self { periods: vec![TariffPeriod { start: PeriodStart::MIDNIGHT, elec_price, service_price }] }
    }

    pub fn periods(&self) -> &[TariffPeriod] {
        &self.periods
    }

    fn index_at(&self, instant: DateTime<Utc>) -> usize {
        let tod = instant.with_timezone(&beijing()).num_seconds_from_midnight();
        // First period starts at 0, so there is always one at or before `tod`.
        self.periods.partition_point(|p| p.start.0 <= tod) - 1
    }

    /// The period in force at `instant`.
    pub fn price_at(&self, instant: DateTime<Utc>) -> &TariffPeriod {
        &self.periods[self.index_at(instant)]
    }

    /// The period in force at `instant` and when it ends (the next period boundary).
    pub fn current(&self, instant: DateTime<Utc>) -> (&TariffPeriod, DateTime<Utc>) {
        (self.price_at(instant), self.next_boundary(instant))
    }

    /// The next period boundary strictly after `instant` (the next period's start, or the next
    /// Beijing midnight after the last period).
    fn next_boundary(&self, instant: DateTime<Utc>) -> DateTime<Utc> {
        let local = instant.with_timezone(&beijing());
        let midnight = local.date_naive().and_time(NaiveTime::MIN);
        let next_start = match self.periods.get(self.index_at(instant) + 1) {
            Some(p) => midnight + Duration::seconds(i64::from(p.start.0)),
            None => midnight + Duration::days(1),
        };
        beijing().from_local_datetime(&next_start).single().expect("fixed offsets are unambiguous").with_timezone(&Utc)
    }

    /// Splits `[start, end)` at period boundaries (a zero-length span gives one segment).
    pub fn split(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Vec<Segment>, TariffError> {
        if end < start {
            return Err(TariffError::EndBeforeStart);
        }
        let mut out = Vec::new();
        let mut cur = start;
        if start == end {
            out.push(Segment { start, end, period: *self.price_at(start) });
        }
        while cur < end {
            let seg_end = self.next_boundary(cur).min(end);
            out.push(Segment { start: cur, end: seg_end, period: *self.price_at(cur) });
            cur = seg_end;
        }
        Ok(out)
    }

    /// Fee for energy already measured per interval (e.g. meter values taken at period
    /// boundaries). Each interval must lie within one period: energy cannot be re-split
    /// honestly without knowing how it was drawn, so an interval that crosses a boundary is an
    /// error rather than a guess.
    pub fn fee_for_intervals(&self, intervals: &[EnergyInterval]) -> Result<FeeBreakdown, TariffError> {
        let mut lines = Vec::with_capacity(intervals.len());
        for (index, i) in intervals.iter().enumerate() {
            if i.end < i.start {
                return Err(TariffError::EndBeforeStart);
            }
            if i.end > i.start && self.next_boundary(i.start) < i.end {
                return Err(TariffError::IntervalCrossesPeriod { index });
            }
            lines.push(FeeLine::priced(i.start, i.end, i.energy.round_dp(LINE_ENERGY_DP), self.price_at(i.start)));
        }
        Ok(FeeBreakdown::from_lines(lines))
    }

    /// Fee for a meter curve: cumulative kWh readings in time order (at least two). Energy
    /// between readings is taken to flow at a constant rate, so a reading pair that spans a
    /// period boundary is split in proportion to time. With only a start and an end reading
    /// this is the fee of a session known by its start, end and total energy.
    pub fn fee_for_curve(&self, readings: &[MeterReading]) -> Result<FeeBreakdown, TariffError> {
        if readings.len() < 2 {
            return Err(TariffError::BadMeterCurve { index: readings.len() });
        }
        for (index, pair) in readings.windows(2).enumerate() {
            if pair[1].at < pair[0].at || pair[1].kwh < pair[0].kwh {
                return Err(TariffError::BadMeterCurve { index: index + 1 });
            }
        }
        let base = readings[0].kwh.value();
        // Cumulative energy since the first reading at `t`, rounded to line precision.
        let cumulative = |t: DateTime<Utc>| -> Decimal {
            let k = readings.partition_point(|r| r.at <= t).clamp(1, readings.len() - 1);
            let (a, b) = (&readings[k - 1], &readings[k]);
            let span = (b.at - a.at).num_milliseconds();
            let raw = if span == 0 || t >= b.at {
                b.kwh.value()
            } else {
                let part = Decimal::from((t - a.at).num_milliseconds()) / Decimal::from(span);
                a.kwh.value() + (b.kwh.value() - a.kwh.value()) * part
            };
            crate::money::round_half_up(raw - base, LINE_ENERGY_DP)
        };
        let start = readings[0].at;
        let end = readings[readings.len() - 1].at;
        let segments = self.split(start, end)?;
        // The first segment starts at zero and the last ends at the full total, even when
        // several readings share an instant (a zero-length session still has its energy).
        let total = crate::money::round_half_up(readings[readings.len() - 1].kwh.value() - base, LINE_ENERGY_DP);
        let last = segments.len() - 1;
        let mut lines = Vec::with_capacity(segments.len());
        let mut before = Decimal::ZERO;
        for (i, seg) in segments.into_iter().enumerate() {
            let after = if i == last { total } else { cumulative(seg.end) };
            let energy = Energy::kwh(after - before).expect("a non-decreasing curve has non-negative differences");
            lines.push(FeeLine::priced(seg.start, seg.end, energy, &seg.period));
            before = after;
        }
        Ok(FeeBreakdown::from_lines(lines))
    }

    /// Fee of a session known only by start, end and total energy (constant power assumed).
    pub fn fee_for_session(&self, start: DateTime<Utc>, end: DateTime<Utc>, energy: Energy) -> Result<FeeBreakdown, TariffError> {
        if end < start {
            return Err(TariffError::EndBeforeStart);
        }
        self.fee_for_curve(&[MeterReading { at: start, kwh: Energy::ZERO }, MeterReading { at: end, kwh: energy }])
    }
}

/// A stretch of time within one tariff period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub period: TariffPeriod,
}

/// Energy measured over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyInterval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub energy: Energy,
}

/// A cumulative meter reading (kWh since any fixed origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterReading {
    pub at: DateTime<Utc>,
    pub kwh: Energy,
}

/// One line of a bill: one period's energy and money (a CEC `ChargeDetail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeLine {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub energy: Energy,
    pub elec_price: UnitPrice,
    pub service_price: UnitPrice,
    /// Rounded half-up to fen.
    pub elec_money: Money,
    /// Rounded half-up to fen.
    pub service_money: Money,
}

impl FeeLine {
    fn priced(start: DateTime<Utc>, end: DateTime<Utc>, energy: Energy, period: &TariffPeriod) -> Self {
        Self {
            start,
            end,
            energy,
            elec_price: period.elec_price,
            service_price: period.service_price,
            elec_money: energy.cost(period.elec_price).round_fen(),
            service_money: energy.cost(period.service_price).round_fen(),
        }
    }

    pub fn total(&self) -> Money {
        self.elec_money + self.service_money
    }
}

/// A priced session: lines plus totals that are exact sums of the lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeBreakdown {
    pub lines: Vec<FeeLine>,
    pub total_energy: Energy,
    pub total_elec: Money,
    pub total_service: Money,
    pub total: Money,
}

impl FeeBreakdown {
    /// Totals are the sums of the (already rounded) lines; nothing is re-rounded.
    pub fn from_lines(lines: Vec<FeeLine>) -> Self {
        let total_energy = lines.iter().map(|l| l.energy).sum();
        let total_elec: Money = lines.iter().map(|l| l.elec_money).sum();
        let total_service: Money = lines.iter().map(|l| l.service_money).sum();
        Self { lines, total_energy, total_elec, total_service, total: total_elec + total_service }
    }
}

// ---------------------------------------------------------------------------------------------
// Checking a partner's charge-order detail
// ---------------------------------------------------------------------------------------------

/// Tolerance for energy sums, kWh.
pub const ENERGY_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// Tolerance for money comparisons, yuan.
pub const MONEY_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// One `ChargeDetail` as a partner sent it. CEC sends 0 for a price or amount it does not
/// have, so a zero price means "not stated" and its line is not checked against the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerDetail {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub energy: Energy,
    pub elec_price: UnitPrice,
    pub service_price: UnitPrice,
    pub elec_money: Money,
    pub service_money: Money,
}

/// The totals of a partner's charge order (`TotalPower`, `TotalElecMoney`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerTotals {
    pub total_energy: Energy,
    pub total_elec: Money,
    pub total_service: Money,
    pub total: Money,
}

/// Something in a partner's charge order that does not add up. Reported, never silently fixed:
/// billing decides what to do (accept, dispute with `ConfirmResult 1`, flag for review).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discrepancy {
    /// Σ DetailPower ≠ TotalPower.
    EnergySum { details: Decimal, total: Decimal },
    /// Σ DetailElecMoney ≠ TotalElecMoney.
    ElecMoneySum { details: Decimal, total: Decimal },
    /// Σ DetailSeviceMoney ≠ TotalSeviceMoney.
    ServiceMoneySum { details: Decimal, total: Decimal },
    /// TotalElecMoney + TotalSeviceMoney ≠ TotalMoney.
    TotalNotSum { parts: Decimal, total: Decimal },
    /// A line's electricity money ≠ its energy × price.
    LineElecMoney { line: usize, expected: Decimal, stated: Decimal },
    /// A line's service money ≠ its energy × price.
    LineServiceMoney { line: usize, expected: Decimal, stated: Decimal },
    /// A line ends before it starts, or starts before the previous one ended.
    LineTimes { line: usize },
}

impl Discrepancy {
    /// Stable name for logs, metrics and the admin UI.
    pub fn name(&self) -> &'static str {
        match self {
            Self::EnergySum { .. } => "energy_sum",
            Self::ElecMoneySum { .. } => "elec_money_sum",
            Self::ServiceMoneySum { .. } => "service_money_sum",
            Self::TotalNotSum { .. } => "total_not_sum",
            Self::LineElecMoney { .. } => "line_elec_money",
            Self::LineServiceMoney { .. } => "line_service_money",
            Self::LineTimes { .. } => "line_times",
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            Self::EnergySum { details, total } => {
                format!("detail energy adds up to {details} kWh, total says {total} kWh")
            }
            Self::ElecMoneySum { details, total } => {
                format!("detail electricity fees add up to {details}, total says {total}")
            }
            Self::ServiceMoneySum { details, total } => {
                format!("detail service fees add up to {details}, total says {total}")
            }
            Self::TotalNotSum { parts, total } => format!("electricity + service fee is {parts}, total says {total}"),
            Self::LineElecMoney { line, expected, stated } => {
                format!("line {}: electricity fee should be {expected}, partner says {stated}", line + 1)
            }
            Self::LineServiceMoney { line, expected, stated } => {
                format!("line {}: service fee should be {expected}, partner says {stated}", line + 1)
            }
            Self::LineTimes { line } => format!("line {}: times are reversed or overlap the previous line", line + 1),
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            Self::EnergySum { details, total } => format!("明细电量合计 {details} 度，与总电量 {total} 度不符"),
            Self::ElecMoneySum { details, total } => format!("明细电费合计 {details} 元，与总电费 {total} 元不符"),
            Self::ServiceMoneySum { details, total } => {
                format!("明细服务费合计 {details} 元，与总服务费 {total} 元不符")
            }
            Self::TotalNotSum { parts, total } => format!("电费加服务费为 {parts} 元，与总金额 {total} 元不符"),
            Self::LineElecMoney { line, expected, stated } => {
                format!("第 {} 段电费应为 {expected} 元，对方为 {stated} 元", line + 1)
            }
            Self::LineServiceMoney { line, expected, stated } => {
                format!("第 {} 段服务费应为 {expected} 元，对方为 {stated} 元", line + 1)
            }
            Self::LineTimes { line } => format!("第 {} 段时间倒置或与上一段重叠", line + 1),
        }
    }
}

/// Checks that a partner's charge order adds up: Σ detail energy = total energy (±0.01 kWh),
/// Σ detail money = total money per kind (±0.01 yuan), electricity + service = total
/// (±0.01), each line's money ≈ energy × price (±0.01, skipped when the price is 0, i.e. not
/// stated), and line times in order. An order without details is checked on its totals only
/// (`ChargeDetails` is optional in CEC). Returns every discrepancy; empty means consistent.
pub fn validate_partner_totals(details: &[PartnerDetail], totals: &PartnerTotals) -> Vec<Discrepancy> {
    let mut out = Vec::new();
    let money_off = |a: Money, b: Money| (a - b).abs().yuan() > MONEY_TOLERANCE;
    for (line, d) in details.iter().enumerate() {
        let previous_end = line.checked_sub(1).map(|p| details[p].end);
        if d.end < d.start || previous_end.is_some_and(|p| d.start < p) {
            out.push(Discrepancy::LineTimes { line });
        }
        let expected = d.energy.cost(d.elec_price).round_fen();
        if !d.elec_price.value().is_zero() && money_off(expected, d.elec_money) {
            out.push(Discrepancy::LineElecMoney { line, expected: expected.yuan(), stated: d.elec_money.yuan() });
        }
        let expected = d.energy.cost(d.service_price).round_fen();
        if !d.service_price.value().is_zero() && money_off(expected, d.service_money) {
            out.push(Discrepancy::LineServiceMoney { line, expected: expected.yuan(), stated: d.service_money.yuan() });
        }
    }
    if !details.is_empty() {
        let energy: Energy = details.iter().map(|d| d.energy).sum();
        if !energy.approx_eq(totals.total_energy, ENERGY_TOLERANCE) {
            out.push(Discrepancy::EnergySum { details: energy.value(), total: totals.total_energy.value() });
        }
        let elec: Money = details.iter().map(|d| d.elec_money).sum();
        if money_off(elec, totals.total_elec) {
            out.push(Discrepancy::ElecMoneySum { details: elec.yuan(), total: totals.total_elec.yuan() });
        }
        let service: Money = details.iter().map(|d| d.service_money).sum();
        if money_off(service, totals.total_service) {
            out.push(Discrepancy::ServiceMoneySum { details: service.yuan(), total: totals.total_service.yuan() });
        }
    }
    let parts = totals.total_elec + totals.total_service;
    if money_off(parts, totals.total) {
        out.push(Discrepancy::TotalNotSum { parts: parts.yuan(), total: totals.total.yuan() });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Per-partner price policy
// ---------------------------------------------------------------------------------------------

/// A change to one price component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum PriceAdjustment {
    /// Pass the base price through.
    #[default]
    None,
    /// Percentage markup (positive) or discount (negative), e.g. `-5` for 5 % off.
    Percent(#[serde(with = "rust_decimal::serde::str")] Decimal),
    /// Fixed yuan per kWh added (or subtracted when negative).
    PerKwh(#[serde(with = "rust_decimal::serde::str")] Decimal),
}

impl PriceAdjustment {
    /// Adjusted price, rounded half-up to 4 decimals and never below zero.
    pub fn apply(self, price: UnitPrice) -> UnitPrice {
        match self {
            Self::None => price,
            Self::Percent(p) => price.adjusted(p / Decimal::ONE_HUNDRED),
            Self::PerKwh(d) => UnitPrice::per_kwh((price.value() + d).max(Decimal::ZERO)).expect("clamped at zero"),
        }
    }
}

/// How a base tariff is priced for one partner: flow B partners may get a service-fee discount
/// or a markup on our published tariff (the electricity price usually passes through).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PricePolicy {
    pub electricity: PriceAdjustment,
    pub service: PriceAdjustment,
}

impl PricePolicy {
    pub fn new(electricity: PriceAdjustment, service: PriceAdjustment) -> Result<Self, TariffError> {
        for a in [electricity, service] {
            if let PriceAdjustment::Percent(p) = a
                && p < -Decimal::ONE_HUNDRED
            {
                return Err(TariffError::BadAdjustment(p));
            }
        }
        Ok(Self { electricity, service })
    }

    /// A service-fee-only markup (+) or discount (−) in percent.
    pub fn service_percent(percent: Decimal) -> Result<Self, TariffError> {
        Self::new(PriceAdjustment::None, PriceAdjustment::Percent(percent))
    }

    /// The base tariff with this policy applied, same periods.
    pub fn apply(&self, base: &Tariff) -> Tariff {
        let periods = base
            .periods
            .iter()
            .map(|p| TariffPeriod { start: p.start, elec_price: self.electricity.apply(p.elec_price), service_price: self.service.apply(p.service_price) })
            .collect();
        Tariff { periods }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    fn price(d: Decimal) -> UnitPrice {
        UnitPrice::per_kwh(d).unwrap()
    }

    fn kwh(d: Decimal) -> Energy {
        Energy::kwh(d).unwrap()
    }

    /// Beijing local time to UTC.
    fn bj(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        beijing().with_ymd_and_hms(y, mo, d, h, mi, s).unwrap().with_timezone(&Utc)
    }

    /// Valley 00:00–08:00, peak 08:00–22:00, valley 22:00–24:00.
    fn tou() -> Tariff {
        Tariff::new(vec![
            TariffPeriod::parse(0, "000000", dec!(0.3), dec!(0.4)).unwrap(),
            TariffPeriod::parse(1, "080000", dec!(1.0), dec!(0.6)).unwrap(),
            TariffPeriod::parse(2, "220000", dec!(0.3), dec!(0.4)).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn period_start_parses_hhmmss_only() {
        assert_eq!(PeriodStart::parse("083000").unwrap().seconds_from_midnight(), 8 * 3600 + 1800);
        assert_eq!(PeriodStart::parse("235959").unwrap().hhmmss(), "235959");
        for bad in ["240000", "086000", "000060", "0830", "08:30:00", "08300a", ""] {
            assert!(PeriodStart::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation() {
        let p = |s: &str| TariffPeriod::parse(0, s, dec!(1), dec!(1)).unwrap();
        assert_eq!(Tariff::new(vec![]), Err(TariffError::Empty));
        assert!(matches!(Tariff::new(vec![p("010000")]), Err(TariffError::FirstNotMidnight(_))));
        assert!(matches!(Tariff::new(vec![p("000000"), p("080000"), p("080000")]), Err(TariffError::NotIncreasing { index: 2, .. })));
        assert!(matches!(Tariff::new(vec![p("000000"), p("120000"), p("080000")]), Err(TariffError::NotIncreasing { .. })));
        assert!(matches!(TariffPeriod::parse(3, "000000", dec!(1), dec!(-0.1)), Err(TariffError::NegativePrice { index: 3, what: "service", .. })));
        assert!(Tariff::new(vec![p("000000"); 33]).is_err());
        assert!(serde_json::from_str::<Tariff>(r#"[{"start":"010000","elec_price":"1","service_price":"1"}]"#).is_err());
        let t = tou();
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains(r#""start":"080000""#), "{json}");
        assert_eq!(serde_json::from_str::<Tariff>(&json).unwrap(), t);
    }

    #[test]
    fn current_period_ends_at_the_next_boundary() {
        let t = tou();
        let (period, until) = t.current(bj(2024, 1, 1, 12, 0, 0));
        assert_eq!((period.elec_price, until), (price(dec!(1.0)), bj(2024, 1, 1, 22, 0, 0)));
        // The last period runs to Beijing midnight, not to the first period of the next day + 8 h.
        let (period, until) = t.current(bj(2024, 1, 1, 23, 30, 0));
        assert_eq!((period.elec_price, until), (price(dec!(0.3)), bj(2024, 1, 2, 0, 0, 0)));
    }

    #[test]
    fn price_at_uses_beijing_time() {
        let t = tou();
        // 07:59:59 Beijing is 23:59:59 UTC the previous day: still valley.
        assert_eq!(t.price_at(bj(2024, 1, 1, 7, 59, 59)).elec_price, price(dec!(0.3)));
        assert_eq!(t.price_at(bj(2024, 1, 1, 8, 0, 0)).elec_price, price(dec!(1.0)));
        assert_eq!(t.price_at(bj(2024, 1, 1, 21, 59, 59)).elec_price, price(dec!(1.0)));
        assert_eq!(t.price_at(bj(2024, 1, 1, 22, 0, 0)).service_price, price(dec!(0.4)));
        // 00:30 UTC is 08:30 Beijing: peak, although UTC says "night".
        let utc = Utc.with_ymd_and_hms(2024, 1, 1, 0, 30, 0).unwrap();
        assert_eq!(t.price_at(utc).elec_price, price(dec!(1.0)));
    }

    #[test]
    fn standard_example_single_period() {
        // The spec's charge order: 24.60 kWh at 0.8 + 0.4 = 19.68 + 9.84 = 29.52.
        let t = Tariff::flat(price(dec!(0.8)), price(dec!(0.4)));
        let fee = t.fee_for_session(bj(2024, 1, 1, 12, 0, 5), bj(2024, 1, 1, 12, 40, 11), kwh(dec!(24.60))).unwrap();
        assert_eq!(fee.lines.len(), 1);
        assert_eq!(fee.total_elec.yuan(), dec!(19.68));
        assert_eq!(fee.total_service.yuan(), dec!(9.84));
        assert_eq!(fee.total.yuan(), dec!(29.52));
    }

    #[test]
    fn zero_length_session_keeps_its_energy() {
        let at = bj(2024, 1, 1, 9, 0, 0);
        let fee = tou().fee_for_session(at, at, kwh(dec!(0.01))).unwrap();
        assert_eq!(fee.lines.len(), 1);
        assert_eq!(fee.total_energy, kwh(dec!(0.01)));
        assert_eq!(fee.total.yuan(), dec!(0.02));
    }

    #[test]
    fn session_across_periods_and_midnight() {
        // 21:00 → 23:00 Beijing, 20 kWh at constant power: 10 kWh peak, 10 kWh valley.
        let fee = tou().fee_for_session(bj(2024, 1, 1, 21, 0, 0), bj(2024, 1, 1, 23, 0, 0), kwh(dec!(20))).unwrap();
        assert_eq!(fee.lines.len(), 2);
        assert_eq!(fee.lines[0].end, bj(2024, 1, 1, 22, 0, 0));
        assert_eq!(fee.lines[0].energy, kwh(dec!(10)));
        assert_eq!(fee.lines[0].elec_money.yuan(), dec!(10.00));
        assert_eq!(fee.lines[1].elec_money.yuan(), dec!(3.00));
        assert_eq!(fee.total.yuan(), dec!(10) + dec!(6) + dec!(3) + dec!(4));
        // 23:00 → 09:00 next day crosses midnight and 08:00: three lines.
        let fee = tou().fee_for_session(bj(2024, 1, 1, 23, 0, 0), bj(2024, 1, 2, 9, 0, 0), kwh(dec!(50))).unwrap();
        let ends: Vec<_> = fee.lines.iter().map(|l| l.end).collect();
        assert_eq!(ends, vec![bj(2024, 1, 2, 0, 0, 0), bj(2024, 1, 2, 8, 0, 0), bj(2024, 1, 2, 9, 0, 0)]);
        assert_eq!(fee.lines.iter().map(|l| l.energy.value()).collect::<Vec<_>>(), vec![dec!(5), dec!(40), dec!(5)]);
    }

    #[test]
    fn lines_are_rounded_then_summed() {
        // Three lines of 0.125 yuan each: rounded per line to 0.13 → 0.39, not round(0.375)=0.38.
        let t = Tariff::flat(price(dec!(0.125)), UnitPrice::ZERO);
        let at = |h| bj(2024, 1, 1, h, 0, 0);
        let intervals: Vec<_> = (1..4).map(|h| EnergyInterval { start: at(h), end: at(h + 1) - Duration::seconds(1), energy: kwh(dec!(1)) }).collect();
        let fee = t.fee_for_intervals(&intervals).unwrap();
        assert_eq!(fee.total_elec.yuan(), dec!(0.39));
        assert_eq!(fee.total.yuan(), dec!(0.39));
    }

    #[test]
    fn intervals_must_not_cross_periods() {
        let i = EnergyInterval { start: bj(2024, 1, 1, 7, 0, 0), end: bj(2024, 1, 1, 9, 0, 0), energy: kwh(dec!(5)) };
        assert_eq!(tou().fee_for_intervals(&[i]), Err(TariffError::IntervalCrossesPeriod { index: 0 }));
        let ok = EnergyInterval { start: bj(2024, 1, 1, 7, 0, 0), end: bj(2024, 1, 1, 8, 0, 0), energy: kwh(dec!(5)) };
        assert_eq!(tou().fee_for_intervals(&[ok]).unwrap().total.yuan(), dec!(3.5));
    }

    #[test]
    fn meter_curve_is_interpolated() {
        // Slow until 08:00, fast after: 07:00 0 kWh, 08:00 2 kWh, 08:30 12 kWh.
        let r = |h, m, e| MeterReading { at: bj(2024, 1, 1, h, m, 0), kwh: kwh(e) };
        let fee = tou().fee_for_curve(&[r(7, 0, dec!(100)), r(7, 30, dec!(101)), r(8, 30, dec!(112))]).unwrap();
        assert_eq!(fee.lines.len(), 2);
        assert_eq!(fee.lines[0].energy, kwh(dec!(6.5)));
        assert_eq!(fee.lines[1].energy, kwh(dec!(5.5)));
        assert_eq!(fee.total_energy, kwh(dec!(12)));
        assert!(tou().fee_for_curve(&[r(8, 0, dec!(5)), r(9, 0, dec!(4))]).is_err());
        // Meter precision is rounded at the boundaries, lines still add up to the total.
        let fine = tou().fee_for_curve(&[r(7, 0, dec!(0)), r(9, 0, dec!(3.333))]).unwrap();
        assert_eq!(fine.lines.iter().map(|l| l.energy.value()).collect::<Vec<_>>(), vec![dec!(1.67), dec!(1.66)]);
        assert!(tou().fee_for_curve(&[r(8, 0, dec!(5))]).is_err());
        assert!(tou().fee_for_session(bj(2024, 1, 1, 9, 0, 0), bj(2024, 1, 1, 8, 0, 0), kwh(dec!(1))).is_err());
    }

    fn partner_detail() -> (Vec<PartnerDetail>, PartnerTotals) {
        let d = PartnerDetail {
            start: bj(2024, 1, 1, 12, 0, 5),
            end: bj(2024, 1, 1, 12, 40, 11),
            energy: kwh(dec!(24.60)),
            elec_price: price(dec!(0.8)),
            service_price: price(dec!(0.4)),
            elec_money: Money::new(dec!(19.68)),
            service_money: Money::new(dec!(9.84)),
        };
        let totals = PartnerTotals {
            total_energy: kwh(dec!(24.60)),
            total_elec: Money::new(dec!(19.68)),
            total_service: Money::new(dec!(9.84)),
            total: Money::new(dec!(29.52)),
        };
        (vec![d], totals)
    }

    #[test]
    fn consistent_partner_order_has_no_discrepancy() {
        let (details, totals) = partner_detail();
        assert_eq!(validate_partner_totals(&details, &totals), vec![]);
        // Within tolerance is fine.
        let mut t = totals;
        t.total_energy = kwh(dec!(24.61));
        assert_eq!(validate_partner_totals(&details, &t), vec![]);
    }

    #[test]
    fn partner_discrepancies_are_named() {
        let (mut details, mut totals) = partner_detail();
        totals.total_energy = kwh(dec!(24.70));
        totals.total = Money::new(dec!(29.62));
        details[0].service_money = Money::new(dec!(9.90));
        let found = validate_partner_totals(&details, &totals);
        let names: Vec<_> = found.iter().map(Discrepancy::name).collect();
        assert_eq!(names, vec!["line_service_money", "energy_sum", "service_money_sum", "total_not_sum"]);
        assert!(found[0].message_zh().contains("服务费"));
        assert!(found[1].message_en().contains("24.70"));
    }

    #[test]
    fn zero_price_means_not_stated_and_times_are_checked() {
        let (mut details, totals) = partner_detail();
        details[0].elec_price = UnitPrice::ZERO;
        details[0].service_price = UnitPrice::ZERO;
        assert_eq!(validate_partner_totals(&details, &totals), vec![]);
        let mut second = details[0];
        second.energy = Energy::ZERO;
        second.elec_money = Money::ZERO;
        second.service_money = Money::ZERO;
        second.start = details[0].start; // overlaps the first line
        details.push(second);
        assert_eq!(validate_partner_totals(&details, &totals), vec![Discrepancy::LineTimes { line: 1 }]);
    }

    #[test]
    fn price_policy_applies_to_service_only() {
        let policy = PricePolicy::service_percent(dec!(-10)).unwrap();
        let t = policy.apply(&tou());
        assert_eq!(t.periods()[1].service_price, price(dec!(0.54)));
        assert_eq!(t.periods()[1].elec_price, price(dec!(1.0)));
        let markup = PricePolicy::new(PriceAdjustment::None, PriceAdjustment::PerKwh(dec!(0.05))).unwrap();
        assert_eq!(markup.apply(&tou()).periods()[0].service_price, price(dec!(0.45)));
        assert!(PricePolicy::service_percent(dec!(-101)).is_err());
        assert_eq!(PriceAdjustment::PerKwh(dec!(-1)).apply(price(dec!(0.4))), UnitPrice::ZERO);
    }

    proptest! {
        #[test]
        fn fee_lines_sum_to_totals(
            start_min in 0i64..(3 * 24 * 60), minutes in 0i64..(30 * 60), energy_centi in 0i64..20_000,
        ) {
            let start = bj(2024, 1, 1, 0, 0, 0) + Duration::minutes(start_min);
            let end = start + Duration::minutes(minutes);
            let energy = kwh(Decimal::new(energy_centi, 2));
            let fee = tou().fee_for_session(start, end, energy).unwrap();
            prop_assert_eq!(fee.total_energy, energy);
            for line in &fee.lines {
                prop_assert_eq!(line.energy, line.energy.round_2(), "line energy has CEC precision");
            }
            let lines_total: Money = fee.lines.iter().map(FeeLine::total).sum();
            prop_assert_eq!(lines_total, fee.total);
            prop_assert_eq!(fee.total_elec + fee.total_service, fee.total);
            prop_assert_eq!(fee.lines.first().unwrap().start, start);
            prop_assert_eq!(fee.lines.last().unwrap().end, end);
            for pair in fee.lines.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            // Our own breakdown always passes the check we apply to partners.
            let details: Vec<_> = fee.lines.iter().map(|l| PartnerDetail {
                start: l.start, end: l.end, energy: l.energy, elec_price: l.elec_price,
                service_price: l.service_price, elec_money: l.elec_money, service_money: l.service_money,
            }).collect();
            let totals = PartnerTotals {
                total_energy: fee.total_energy, total_elec: fee.total_elec,
                total_service: fee.total_service, total: fee.total,
            };
            prop_assert_eq!(validate_partner_totals(&details, &totals), vec![]);
        }
    }
}
