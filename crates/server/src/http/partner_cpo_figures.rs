//! Figures an operator reports over REST (decimal strings, times), checked at the edge with
//! every bad field named, and bounded per session like the T/CEC 102 adapter's (`domain::money`
//! maxima): a record beyond them is refused and changes nothing.

use chrono::{DateTime, FixedOffset, Utc};
use domain::money::{AmountError, Energy, Money, UnitPrice};
use domain::partner::FieldError;
use domain::tariff::{PartnerDetail, PartnerTotals};
use rust_decimal::Decimal;
use services::Error;
use services::charging::PartnerChargeOrder;
use services::partner_catalog::MAX_STATUS_CLOCK_SKEW;

use super::partner_cpo_sessions::{ChargeRecordInput, stop_reason};

/// The problems found so far; `done` turns them into one 422.
#[derive(Default)]
pub struct Figures {
    problems: Vec<FieldError>,
}

impl Figures {
    pub fn problem(&mut self, field: impl Into<String>, message: impl Into<String>, message_zh: impl Into<String>) {
        self.problems.push(FieldError::new(field.into(), message, message_zh));
    }

    pub fn done(&mut self) -> Result<(), Error> {
        match std::mem::take(&mut self.problems) {
            problems if problems.is_empty() => Ok(()),
            problems => Err(Error::Invalid(problems)),
        }
    }

    fn decimal(&mut self, field: &str, text: Option<&str>) -> Option<Decimal> {
        let Some(text) = text else {
            self.problem(field, "is required", "必填");
            return None;
        };
        match text.trim().parse::<Decimal>() {
            Ok(value) => Some(value),
            Err(_) => {
                self.problem(field, format!("{text:?} is not a decimal string"), "须为十进制数字字符串");
                None
            }
        }
    }

    fn amount<T>(&mut self, field: &str, text: Option<&str>, check: impl Fn(Decimal) -> Result<T, AmountError>, zero: T) -> T {
        match self.decimal(field, text).map(&check) {
            Some(Ok(value)) => value,
            Some(Err(e)) => {
                self.problem(field, e.to_string(), e.message_zh());
                zero
            }
            None => zero,
        }
    }

    pub fn energy(&mut self, field: &str, text: Option<&str>) -> Energy {
        self.amount(field, text, Energy::session, Energy::ZERO)
    }

    pub fn money(&mut self, field: &str, text: Option<&str>) -> Money {
        self.amount(field, text, Money::session, Money::ZERO)
    }

    fn price(&mut self, field: &str, text: &str) -> Option<UnitPrice> {
        let value = self.decimal(field, Some(text))?;
        UnitPrice::bounded(value).map_err(|e| self.problem(field, e.to_string(), e.message_zh())).ok()
    }

    /// A time the partner observed: not further ahead of our clock than status readings may be.
    pub fn observed(&mut self, field: &str, at: DateTime<FixedOffset>, now: DateTime<Utc>) -> DateTime<Utc> {
        let at = at.with_timezone(&Utc);
        if at > now + MAX_STATUS_CLOCK_SKEW {
            let minutes = MAX_STATUS_CLOCK_SKEW.num_minutes();
            self.problem(field, format!("is more than {minutes} minutes ahead of our clock"), format!("比我方时钟超前 {minutes} 分钟以上"));
        }
        at
    }

    /// The whole record checked, every bad field named with its path.
    pub fn charge_record(mut self, seq: String, input: &ChargeRecordInput, now: DateTime<Utc>) -> Result<PartnerChargeOrder, Error> {
        let start = self.observed("start", input.start, now);
        let end = self.observed("end", input.end, now);
        if end < start {
            self.problem("end", "is before start", "结束时间早于开始时间");
        }
        let totals = PartnerTotals {
            total_energy: self.energy("energy_kwh", Some(&input.energy_kwh)),
            total_elec: self.money("electricity_money", Some(&input.electricity_money)),
            total_service: self.money("service_money", Some(&input.service_money)),
            total: self.money("total_money", Some(&input.total_money)),
        };
        let stop = stop_reason(&input.stop_reason);
        if stop.is_none() {
            self.problem("stop_reason", format!("{:?} is not user, platform, bms, charger_fault or disconnected", input.stop_reason), "停止原因无效");
        }
        if input.periods.is_empty() || input.periods.len() > 96 {
            self.problem("periods", "must list 1 to 96 priced periods", "须有 1 至 96 个计费时段");
        }
        let mut details = Vec::with_capacity(input.periods.len());
        for (i, p) in input.periods.iter().enumerate() {
            let f = |name: &str| format!("periods[{i}].{name}");
            let (p_start, p_end) = (self.observed(&f("start"), p.start, now), self.observed(&f("end"), p.end, now));
            if p_end < p_start {
                self.problem(f("end"), "is before start", "结束时间早于开始时间");
            }
            let energy = self.energy(&f("energy_kwh"), Some(&p.energy_kwh));
            let elec_price = self.price(&f("electricity_price"), &p.electricity_price);
            let service_price = self.price(&f("service_price"), &p.service_price);
            let elec_money = self.money(&f("electricity_money"), Some(&p.electricity_money));
            let service_money = self.money(&f("service_money"), Some(&p.service_money));
            if let (Some(elec_price), Some(service_price)) = (elec_price, service_price) {
                details.push(PartnerDetail { start: p_start, end: p_end, energy, elec_price, service_price, elec_money, service_money });
            }
        }
        self.done()?;
        Ok(PartnerChargeOrder {
            seq,
            connector_external_id: input.connector_id.clone(),
            start,
            end,
            totals,
            details,
            stop_reason: stop.unwrap_or(domain::order::StopReason::User),
        })
    }
}
