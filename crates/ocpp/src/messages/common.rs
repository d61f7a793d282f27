//! Classes shared by several messages: IdTagInfo, MeterValue, SampledValue, ChargingProfile.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::enums::*;
use crate::types::IdToken;

/// Authorization result for an idTag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdTagInfo {
    /// When the charge point should drop the tag from its cache.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::option")]
    pub expiry_date: Option<DateTime<Utc>>,
    /// Group id: tags with the same parent are one group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id_tag: Option<IdToken>,
    pub status: AuthorizationStatus,
}

impl IdTagInfo {
    pub fn with_status(status: AuthorizationStatus) -> Self {
        Self { expiry_date: None, parent_id_tag: None, status }
    }
}

/// Samples taken at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValue {
    #[serde(with = "crate::time")]
    pub timestamp: DateTime<Utc>,
    pub sampled_value: Vec<SampledValue>,
}

/// One reading. Absent optional fields have the defaults of the specification; use the
/// accessor methods rather than the raw options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampledValue {
    /// Decimal number as text (or hex signed data); never parse as float for billing.
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ReadingContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ValueFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurand: Option<Measurand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitOfMeasure>,
}

impl SampledValue {
    /// An import energy register reading in Wh, the default measurand.
    pub fn energy_register_wh(wh: i64) -> Self {
        Self {
            value: wh.to_string(),
            context: None,
            format: None,
            measurand: Some(Measurand::EnergyActiveImportRegister),
            phase: None,
            location: None,
            unit: Some(UnitOfMeasure::Wh),
        }
    }

    pub fn measurand(&self) -> Measurand {
        self.measurand.unwrap_or(Measurand::EnergyActiveImportRegister)
    }

    pub fn unit(&self) -> UnitOfMeasure {
        self.unit.unwrap_or(UnitOfMeasure::Wh)
    }

    pub fn context(&self) -> ReadingContext {
        self.context.unwrap_or(ReadingContext::SamplePeriodic)
    }

    /// The value as a decimal; `None` for signed data or text that is not a number
    /// (e.g. a decimal comma), which the caller should log and skip.
    pub fn decimal(&self) -> Option<Decimal> {
        if self.format == Some(ValueFormat::SignedData) {
            return None;
        }
        self.value.trim().parse().ok()
    }

    /// The total (phase-less) import energy register in Wh, converting kWh; `None` for any
    /// other measurand, per-phase rows or unparsable values.
    pub fn import_register_wh(&self) -> Option<Decimal> {
        if self.measurand() != Measurand::EnergyActiveImportRegister || self.phase.is_some() {
            return None;
        }
        let v = self.decimal()?;
        match self.unit() {
            UnitOfMeasure::Wh => Some(v),
            UnitOfMeasure::KWh => Some(v * Decimal::ONE_THOUSAND),
            _ => None,
        }
    }
}

/// A smart-charging profile (RemoteStartTransaction, SetChargingProfile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingProfile {
    pub charging_profile_id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i32>,
    pub stack_level: u32,
    pub charging_profile_purpose: ChargingProfilePurposeType,
    pub charging_profile_kind: ChargingProfileKindType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrency_kind: Option<RecurrencyKindType>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::option")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::option")]
    pub valid_to: Option<DateTime<Utc>>,
    pub charging_schedule: ChargingSchedule,
}

/// Limits over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingSchedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::option")]
    pub start_schedule: Option<DateTime<Utc>>,
    pub charging_rate_unit: ChargingRateUnitType,
    pub charging_schedule_period: Vec<ChargingSchedulePeriod>,
    /// JSON number with at most one decimal.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rust_decimal::serde::float_option")]
    pub min_charging_rate: Option<Decimal>,
}

/// One period of a schedule; the first one starts at 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingSchedulePeriod {
    pub start_period: i32,
    /// A per phase or W total (see the schedule's unit); a JSON number with one decimal.
    #[serde(with = "rust_decimal::serde::float")]
    pub limit: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_phases: Option<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bare_value_means_import_register_in_wh() {
        let v: SampledValue = serde_json::from_value(json!({"value": "12345"})).unwrap();
        assert_eq!(v.import_register_wh(), Some(Decimal::from(12345)));
        let kwh: SampledValue = serde_json::from_value(json!({"value": "1.5", "unit": "kWh"})).unwrap();
        assert_eq!(kwh.import_register_wh(), Some(Decimal::from(1500)));
        let comma: SampledValue = serde_json::from_value(json!({"value": "1,5"})).unwrap();
        assert_eq!(comma.import_register_wh(), None);
        let phase: SampledValue = serde_json::from_value(json!({"value": "5", "phase": "L1"})).unwrap();
        assert_eq!(phase.import_register_wh(), None);
    }

    #[test]
    fn charging_limits_are_json_numbers() {
        let p = ChargingSchedulePeriod { start_period: 0, limit: Decimal::new(161, 1), number_phases: None };
        assert_eq!(serde_json::to_value(&p).unwrap(), json!({"startPeriod": 0, "limit": 16.1}));
    }
}
