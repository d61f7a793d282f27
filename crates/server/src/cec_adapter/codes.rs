//! The one place where T/CEC 102 codes meet the domain's words. The domain and the services
//! name statuses, types and reasons in their own words (and the store keeps those words); the
//! adapter reads and writes the standard's numbering through these functions only.
//!
//! Reading maps every code onto a word (a code the standard leaves to operators, or does not
//! define, onto the catch-all); writing gives the code the standard uses for the word. Both are
//! lossless for every code the standard defines, so what we read from one partner we write to
//! another exactly as it came.

use cec::messages as wire;
use domain::order::{FailureReason, RemoteState, StopReason};
use domain::settlement::DisputeKind;
use domain::station::{ConnectorStatus, ConnectorType, EquipmentType, NationalStandard, StationStatus, StationType};

/// §10.6 connector status.
pub fn connector_status(code: wire::ConnectorStatusCode) -> ConnectorStatus {
    match code.code() {
        0 => ConnectorStatus::Offline,
        1 => ConnectorStatus::Available,
        2 => ConnectorStatus::Occupied,
        3 => ConnectorStatus::Charging,
        4 => ConnectorStatus::Reserved,
        255 => ConnectorStatus::Faulted,
        _ => ConnectorStatus::Unknown,
    }
}

/// `Unknown` has no code in the standard; offline (0) is the honest answer to a partner asking
/// about a connector we cannot vouch for.
pub fn connector_status_code(status: ConnectorStatus) -> wire::ConnectorStatusCode {
    wire::ConnectorStatusCode::from_code(match status {
        ConnectorStatus::Offline | ConnectorStatus::Unknown => 0,
        ConnectorStatus::Available => 1,
        ConnectorStatus::Occupied => 2,
        ConnectorStatus::Charging => 3,
        ConnectorStatus::Reserved => 4,
        ConnectorStatus::Faulted => 255,
    })
}

/// §10.5 `ConnectorType`.
pub fn connector_type(code: wire::ConnectorType) -> ConnectorType {
    match code.code() {
        1 => ConnectorType::HouseholdSocket,
        2 => ConnectorType::AcSocket,
        3 => ConnectorType::AcCable,
        4 => ConnectorType::DcCable,
        5 => ConnectorType::Wireless,
        _ => ConnectorType::Other,
    }
}

pub fn connector_type_code(t: ConnectorType) -> wire::ConnectorType {
    wire::ConnectorType::from_code(match t {
        ConnectorType::HouseholdSocket => 1,
        ConnectorType::AcSocket => 2,
        ConnectorType::AcCable => 3,
        ConnectorType::DcCable => 4,
        ConnectorType::Wireless => 5,
        ConnectorType::Other => 6,
    })
}

/// §10.4 `EquipmentType`.
pub fn equipment_type(code: wire::EquipmentType) -> EquipmentType {
    match code.code() {
        1 => EquipmentType::Dc,
        2 => EquipmentType::Ac,
        3 => EquipmentType::AcDc,
        4 => EquipmentType::Wireless,
        _ => EquipmentType::Other,
    }
}

pub fn equipment_type_code(t: EquipmentType) -> wire::EquipmentType {
    wire::EquipmentType::from_code(match t {
        EquipmentType::Dc => 1,
        EquipmentType::Ac => 2,
        EquipmentType::AcDc => 3,
        EquipmentType::Wireless => 4,
        EquipmentType::Other => 5,
    })
}

/// §10.11 `NationalStandard`. An unspecified standard is written as the current edition (2), since the field is mandatory
/// and virtually every pile in service follows it.
pub fn national_standard_code(standard: NationalStandard) -> i64 {
    match standard {
        NationalStandard::GbT2011 => 1,
        NationalStandard::GbT2015 | NationalStandard::Unspecified => 2,
    }
}

/// §10.1 `StationType`.
pub fn station_type(code: wire::StationType) -> StationType {
    match code.code() {
        1 => StationType::Public,
        50 => StationType::Private,
        100 => StationType::Bus,
        101 => StationType::Sanitation,
        102 => StationType::Logistics,
        103 => StationType::Taxi,
        _ => StationType::Other,
    }
}

pub fn station_type_code(t: StationType) -> wire::StationType {
    wire::StationType::from_code(match t {
        StationType::Public => 1,
        StationType::Private => 50,
        StationType::Bus => 100,
        StationType::Sanitation => 101,
        StationType::Logistics => 102,
        StationType::Taxi => 103,
        StationType::Other => 255,
    })
}

/// §10.2 `StationStatus`.
pub fn station_status(code: wire::StationStatus) -> StationStatus {
    match code.code() {
        1 => StationStatus::UnderConstruction,
        5 => StationStatus::Closed,
        6 => StationStatus::Maintenance,
        50 => StationStatus::Operating,
        _ => StationStatus::Unknown,
    }
}

pub fn station_status_code(status: StationStatus) -> wire::StationStatus {
    wire::StationStatus::from_code(match status {
        StationStatus::Unknown => 0,
        StationStatus::UnderConstruction => 1,
        StationStatus::Closed => 5,
        StationStatus::Maintenance => 6,
        StationStatus::Operating => 50,
    })
}

/// §10.9 `StopReason`: 0–4 the standard's, 5–99 the operator's own (kept by its code).
pub fn stop_reason(code: wire::StopReason) -> StopReason {
    match code.code() {
        0 => StopReason::User,
        1 => StopReason::Platform,
        2 => StopReason::Bms,
        3 => StopReason::ChargerFault,
        4 => StopReason::Disconnected,
        other => StopReason::Other(other),
    }
}

pub fn stop_reason_code(reason: StopReason) -> wire::StopReason {
    wire::StopReason::from_code(match reason {
        StopReason::User => 0,
        StopReason::Platform => 1,
        StopReason::Bms => 2,
        StopReason::ChargerFault => 3,
        StopReason::Disconnected => 4,
        StopReason::Other(code) => code,
    })
}

/// §10.8 `StartChargeSeqStat`.
pub fn remote_state(stat: wire::StartChargeSeqStat) -> RemoteState {
    match stat.code() {
        1 => RemoteState::Starting,
        2 => RemoteState::Charging,
        3 => RemoteState::Stopping,
        4 => RemoteState::Ended,
        _ => RemoteState::Unknown,
    }
}

/// A `query_start_charge` FailReason: 1 device missing, 2 offline, 3–99 the operator's own
/// (kept by its code; [`FailureReason`] words the common ones).
pub fn start_failure(code: i64, detail: Option<String>) -> FailureReason {
    match code {
        1 => FailureReason::ConnectorNotFound,
        2 => FailureReason::ConnectorOffline,
        _ => FailureReason::Refused { code, detail },
    }
}

/// §10.10 `DisputeReason`: 1 no such transaction, 2 wrong amount, 3 wrong energy.
pub fn dispute_kind(code: i64) -> DisputeKind {
    match code {
        1 => DisputeKind::NoSuchOrder,
        2 => DisputeKind::AmountDiffers,
        3 => DisputeKind::EnergyDiffers,
        _ => DisputeKind::Other,
    }
}

/// A kind of the partner's own has no code of ours to send; we never dispute with one.
pub fn dispute_reason(kind: DisputeKind) -> i64 {
    match kind {
        DisputeKind::NoSuchOrder => 1,
        DisputeKind::AmountDiffers => 2,
        DisputeKind::EnergyDiffers => 3,
        DisputeKind::Other => 99,
    }
}

#[cfg(test)]
mod tests {
    use domain::money::{Energy, Money};
    use domain::settlement::{Difference, LedgerEntry, Tolerance, reconcile};
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [0, 1, 2, 3, 4, 255] {
            assert_eq!(connector_status_code(connector_status(wire::ConnectorStatusCode::from_code(code))).code(), code);
        }
        assert_eq!(connector_status(wire::ConnectorStatusCode::from_code(7)), ConnectorStatus::Unknown);
        assert_eq!(connector_status_code(ConnectorStatus::Unknown).code(), 0);
        for code in 1..=6 {
            assert_eq!(connector_type_code(connector_type(wire::ConnectorType::from_code(code))).code(), code);
        }
        for code in 1..=5 {
            assert_eq!(equipment_type_code(equipment_type(wire::EquipmentType::from_code(code))).code(), code);
        }
        for code in [0, 1, 5, 6, 50] {
            assert_eq!(station_status_code(station_status(wire::StationStatus::from_code(code))).code(), code);
        }
        for code in [1, 50, 100, 101, 102, 103, 255] {
            assert_eq!(station_type_code(station_type(wire::StationType::from_code(code))).code(), code);
        }
        assert_eq!(national_standard_code(NationalStandard::GbT2011), 1);
        assert_eq!(national_standard_code(NationalStandard::Unspecified), 2);
        let states: Vec<RemoteState> = (1..=5).map(|code| remote_state(wire::StartChargeSeqStat::from_code(code))).collect();
        assert_eq!(states, [RemoteState::Starting, RemoteState::Charging, RemoteState::Stopping, RemoteState::Ended, RemoteState::Unknown]);
        for code in 0..=99 {
            assert_eq!(stop_reason_code(stop_reason(wire::StopReason::from_code(code))).code(), code);
        }
        assert!(stop_reason(wire::StopReason::from_code(4)).is_abnormal() && !stop_reason(wire::StopReason::from_code(2)).is_abnormal());
        assert_eq!(stop_reason_code(StopReason::Other(42)).code(), 42);
        for code in 1..=3 {
            assert_eq!(dispute_reason(dispute_kind(code)), code);
        }
    }

    #[test]
    fn start_failures_in_words() {
        assert_eq!(start_failure(1, None), FailureReason::ConnectorNotFound);
        assert_eq!(start_failure(2, None), FailureReason::ConnectorOffline);
        assert_eq!(start_failure(91, None).message_en(), "the operator refused to start: the vehicle is already charging");
        assert_eq!(start_failure(91, Some("vehicle already charging".into())).message_en(), "the operator refused to start: vehicle already charging");
    }

    /// What `check_charge_orders` answers for each difference a reconciliation finds.
    #[test]
    fn dispute_reasons_of_differences() {
        let entry = |order: &str, energy, amount| LedgerEntry { order: order.into(), energy: Energy::kwh(energy).unwrap(), amount: Money::new(amount) };
        let ours = [entry("A", dec!(24.60), dec!(29.52)), entry("B", dec!(10), dec!(12))];
        let theirs = [entry("A", dec!(24.60), dec!(29.50)), entry("B", dec!(10.5), dec!(12)), entry("E", dec!(1), dec!(1))];
        let diffs = reconcile(&ours, Some(&theirs), None, Tolerance::default());
        let reasons: Vec<Option<i64>> = diffs.iter().map(|d| d.dispute_kind().map(dispute_reason)).collect();
        assert_eq!(reasons, [Some(2), Some(3), Some(1)]);
        assert!(matches!(diffs[2], Difference::MissingOurs { .. }));
    }
}
