//! The charge record of section 5, priced with the simulator's time-of-day tariff.
//!
//! The period split and rounding are the T/CEC simulator's (`cec_cpo::data::bill`): each
//! period's energy is rounded to 2 decimals first and its money computed from the rounded
//! energy, so the totals are exact sums of the periods — what the platform's consistency check
//! compares. Everything is `Decimal`; money never passes through a float.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::cec_cpo::data::{self, TariffPeriod};

/// Energy and money so far of a session charging at constant `power_kw` since `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub energy_kwh: Decimal,
    pub electricity_money: Decimal,
    pub service_money: Decimal,
    pub total_money: Decimal,
}

/// Times as the guide's examples write them: Beijing time, whole seconds.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    at.with_timezone(&beijing).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Two decimals, as money and energy travel (`"12.30"`).
pub fn dp2(d: Decimal) -> String {
    format!("{:.2}", data::round2(d))
}

/// The totals of charging from `start` to `end`.
pub fn totals(periods: &[TariffPeriod], power_kw: Decimal, start: DateTime<Utc>, end: DateTime<Utc>) -> Totals {
    let (energy_kwh, electricity_money, service_money, total_money) = data::totals(&data::bill(periods, power_kw, start, end));
    Totals { energy_kwh, electricity_money, service_money, total_money }
}

/// The body of `POST /sessions/{id}/charge-record`. `skew` is added to `total_money` only: a
/// partner with a fee bug (zero for an honest one), which the platform should dispute.
pub fn charge_record(
    periods: &[TariffPeriod],
    connector_id: &str,
    power_kw: Decimal,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    stop_reason: &str,
    skew: Decimal,
) -> Value {
    let lines = data::bill(periods, power_kw, start, end);
    let (energy, electricity, service, total) = data::totals(&lines);
    let periods: Vec<Value> = lines
        .iter()
        .map(|line| {
            json!({
                "start": rfc3339(line.detail_start_time),
                "end": rfc3339(line.detail_end_time),
                "energy_kwh": dp2(line.detail_power.value()),
                "electricity_price": format!("{:.4}", line.elec_price.value()),
                "service_price": format!("{:.4}", line.sevice_price.value()),
                "electricity_money": dp2(line.detail_elec_money.value()),
                "service_money": dp2(line.detail_sevice_money.value()),
            })
        })
        .collect();
    json!({
        "connector_id": connector_id,
        "start": rfc3339(start),
        "end": rfc3339(end),
        "energy_kwh": dp2(energy),
        "electricity_money": dp2(electricity),
        "service_money": dp2(service),
        "total_money": dp2(total + skew),
        "stop_reason": stop_reason,
        "periods": periods,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn beijing(h: u32, m: u32) -> DateTime<Utc> {
        FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(2026, 12, 5, h, m, 0).unwrap().with_timezone(&Utc)
    }

    fn dec(v: &Value) -> Decimal {
        v.as_str().unwrap().parse().unwrap()
    }

    #[test]
    fn a_record_across_a_price_change_has_one_period_each_and_adds_up() {
        // 07:40 → 08:20 at 7 kW: 20 minutes valley (0.3 + 0.4), 20 minutes peak (0.9 + 0.6).
        let record = charge_record(&TariffPeriod::default_periods(), "C1", Decimal::from(7), beijing(7, 40), beijing(8, 20), "user", Decimal::ZERO);
        let periods = record["periods"].as_array().unwrap();
        assert_eq!(periods.len(), 2);
        assert_eq!(periods[0]["end"], "2026-12-05T08:00:00+08:00");
        assert_eq!(periods[0]["energy_kwh"], "2.33");
        assert_eq!(periods[0]["electricity_money"], "0.70", "2.33 × 0.3 = 0.699");
        assert_eq!(periods[1]["service_money"], "1.40", "2.33 × 0.6 = 1.398");
        for field in ["energy_kwh", "electricity_money", "service_money"] {
            assert_eq!(periods.iter().map(|p| dec(&p[field])).sum::<Decimal>(), dec(&record[field]), "{field}");
        }
        assert_eq!(dec(&record["electricity_money"]) + dec(&record["service_money"]), dec(&record["total_money"]));
        assert_eq!(record["total_money"], "5.13");
    }

    #[test]
    fn a_skewed_record_does_not_add_up() {
        let record = charge_record(&TariffPeriod::default_periods(), "C1", Decimal::from(7), beijing(9, 0), beijing(10, 0), "bms", Decimal::ONE);
        assert_eq!(dec(&record["electricity_money"]) + dec(&record["service_money"]) + Decimal::ONE, dec(&record["total_money"]));
    }
}
