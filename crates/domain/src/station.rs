//! The charging catalog (stations, equipment, connectors) and connector status.
//!
//! One model covers our own network (flow B: we publish it) and partners' networks (flow A: we
//! import them). The enumerations name things in our own words, and those words are what the
//! store keeps; each protocol adapter maps its own codes onto them in one place (the T/CEC 102
//! numbering lives in the server's T/CEC adapter). Identifiers a partner gives are kept exactly
//! as given (leading zeros, case) and are unique only within that partner, so the catalog key is
//! always (owner, external id).

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Connector status
// ---------------------------------------------------------------------------------------------

/// What a connector is doing, as we show it.
///
/// | ours | OCPP 1.6 `ChargePointStatus` | OCPI 2.2.1 `Status` |
/// |---|---|---|
/// | `Offline` 离网 | `Unavailable` | `INOPERATIVE`, `PLANNED`, `REMOVED` |
/// | `Available` 空闲 | `Available` | `AVAILABLE` |
/// | `Occupied` 占用（未充电） | `Preparing`, `SuspendedEV`, `SuspendedEVSE`, `Finishing` | `BLOCKED` |
/// | `Charging` 占用（充电中） | `Charging` | `CHARGING` |
/// | `Reserved` 占用（预约锁定） | `Reserved` | `RESERVED` |
/// | `Faulted` 故障 | `Faulted` | `OUTOFORDER` |
/// | `Unknown` | anything else | `UNKNOWN` |
///
/// `SuspendedEV`/`SuspendedEVSE` are "occupied, not charging": energy is not flowing, which is
/// what "occupied, not charging" means in every protocol; the session itself is tracked by the
/// order, not by this status. The T/CEC 102 codes are mapped in the server's T/CEC adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConnectorStatus {
    /// 离网: the pile is not connected to its operator, or disabled.
    Offline,
    /// 空闲: free to use.
    Available,
    /// 占用（未充电）: plugged in or finished, not charging.
    Occupied,
    /// 占用（充电中）.
    Charging,
    /// 占用（预约锁定）.
    Reserved,
    /// 故障.
    Faulted,
    /// We have not heard from it recently enough to say (never shown as free).
    Unknown,
}

words!(ConnectorStatus {
    Offline => "offline",
    Available => "available",
    Occupied => "occupied",
    Charging => "charging",
    Reserved => "reserved",
    Faulted => "faulted",
    Unknown => "unknown",
});

impl ConnectorStatus {
    /// From an OCPP 1.6 `ChargePointStatus` string (exact spelling, as the schema requires).
    pub fn from_ocpp(status: &str) -> Self {
        match status {
            "Available" => Self::Available,
            "Preparing" | "SuspendedEV" | "SuspendedEVSE" | "Finishing" => Self::Occupied,
            "Charging" => Self::Charging,
            "Reserved" => Self::Reserved,
            "Faulted" => Self::Faulted,
            "Unavailable" => Self::Offline,
            _ => Self::Unknown,
        }
    }

    /// From an OCPI 2.2.1 EVSE `Status`.
    pub fn from_ocpi(status: &str) -> Self {
        match status {
            "AVAILABLE" => Self::Available,
            "BLOCKED" => Self::Occupied,
            "CHARGING" => Self::Charging,
            "RESERVED" => Self::Reserved,
            "OUTOFORDER" => Self::Faulted,
            "INOPERATIVE" | "PLANNED" | "REMOVED" => Self::Offline,
            _ => Self::Unknown,
        }
    }

    /// The OCPI 2.2.1 EVSE `Status` we publish.
    pub fn ocpi_status(self) -> &'static str {
        match self {
            Self::Offline => "INOPERATIVE",
            Self::Available => "AVAILABLE",
            Self::Occupied => "BLOCKED",
            Self::Charging => "CHARGING",
            Self::Reserved => "RESERVED",
            Self::Faulted => "OUTOFORDER",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// Only a fresh `Available` may be offered to a user for starting or reserving.
    pub fn is_free(self) -> bool {
        self == Self::Available
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Offline => "离网",
            Self::Available => "空闲",
            Self::Occupied => "占用（未充电）",
            Self::Charging => "充电中",
            Self::Reserved => "已预约",
            Self::Faulted => "故障",
            Self::Unknown => "未知",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Available => "available",
            Self::Occupied => "occupied (not charging)",
            Self::Charging => "charging",
            Self::Reserved => "reserved",
            Self::Faulted => "faulted",
            Self::Unknown => "unknown",
        }
    }
}

/// The last status we were told and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReading {
    pub status: ConnectorStatus,
    pub observed_at: DateTime<Utc>,
}

impl StatusReading {
    /// What to show at `now`: a reading older than `freshness_limit` says nothing about the
    /// present, so the connector is `Unknown`, never "free" — a user driving to a connector we
    /// last heard of an hour ago must not be promised it. A reading exactly at the limit is
    /// still fresh. A reading from the future (clock skew at the sender) counts as fresh.
    pub fn effective_status(&self, now: DateTime<Utc>, freshness_limit: Duration) -> ConnectorStatus {
        if now - self.observed_at > freshness_limit { ConnectorStatus::Unknown } else { self.status }
    }

    /// Shorter name kept for existing callers; same rule as [`StatusReading::effective_status`].
    pub fn effective(&self, now: DateTime<Utc>, freshness: Duration) -> ConnectorStatus {
        self.effective_status(now, freshness)
    }

    /// Whether `newer` should replace this reading: pushes arrive late and out of order, so an
    /// older observation never overwrites a newer one.
    pub fn superseded_by(&self, newer: &StatusReading) -> bool {
        newer.observed_at >= self.observed_at
    }
}

// ---------------------------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------------------------

/// AC or DC, derived from the connector or equipment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrentKind {
    Ac,
    Dc,
    /// Wireless, combined or "other": the protocol does not say.
    Unspecified,
}

/// How a connector connects (the GB/T 20234 connection modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConnectorType {
    /// Household socket (mode 2).
    HouseholdSocket,
    /// AC socket (mode 3, connection B).
    AcSocket,
    /// AC plug with cable (mode 3, connection C).
    AcCable,
    /// DC gun with cable (mode 4).
    DcCable,
    /// Wireless charging pad.
    Wireless,
    /// Anything else, or not said.
    Other,
}

words!(ConnectorType {
    HouseholdSocket => "household_socket",
    AcSocket => "ac_socket",
    AcCable => "ac_cable",
    DcCable => "dc_cable",
    Wireless => "wireless",
    Other => "other",
});

impl ConnectorType {
    pub fn current(self) -> CurrentKind {
        match self {
            Self::HouseholdSocket | Self::AcSocket | Self::AcCable => CurrentKind::Ac,
            Self::DcCable => CurrentKind::Dc,
            Self::Wireless | Self::Other => CurrentKind::Unspecified,
        }
    }

    /// DC fast charging.
    pub fn is_dc(self) -> bool {
        self.current() == CurrentKind::Dc
    }
}

/// What kind of pile (equipment) it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EquipmentType {
    Dc,
    Ac,
    /// 交直流一体.
    AcDc,
    Wireless,
    Other,
}

words!(EquipmentType {
    Dc => "dc",
    Ac => "ac",
    AcDc => "ac_dc",
    Wireless => "wireless",
    Other => "other",
});

/// Edition of the GB/T 20234 / 27930 family the connector follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NationalStandard {
    GbT2011,
    GbT2015,
    /// Not stated.
    Unspecified,
}

words!(NationalStandard {
    GbT2011 => "gb_t2011",
    GbT2015 => "gb_t2015",
    Unspecified => "unspecified",
});

/// Who a station is for (充电站类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StationType {
    /// 公共: open to everyone.
    Public,
    /// 个人: a private pile.
    Private,
    /// 公交（专用）.
    Bus,
    /// 环卫（专用）.
    Sanitation,
    /// 物流（专用）.
    Logistics,
    /// 出租车（专用）.
    Taxi,
    /// 其他.
    Other,
}

words!(StationType {
    Public => "public",
    Private => "private",
    Bus => "bus",
    Sanitation => "sanitation",
    Logistics => "logistics",
    Taxi => "taxi",
    Other => "other",
});

/// Whether a station is in service (充电站状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StationStatus {
    Unknown,
    UnderConstruction,
    Closed,
    Maintenance,
    Operating,
}

words!(StationStatus {
    Unknown => "unknown",
    UnderConstruction => "under_construction",
    Closed => "closed",
    Maintenance => "maintenance",
    Operating => "operating",
});

impl StationStatus {
    /// Only an operating station is offered for starting and reserving.
    pub fn is_operating(self) -> bool {
        self == Self::Operating
    }
}

/// A station as its operator describes it — a partner's catalog sync, or our own network as we
/// publish it — whatever the protocol it came over. Coordinates are as the operator sent them
/// (GCJ-02, what Chinese maps and partners use); the catalog converts them to WGS-84.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    pub external_id: String,
    pub name: String,
    pub address: String,
    /// 6-digit administrative area code (GB/T 2260), e.g. `110101`.
    pub area_code: String,
    pub lat_gcj02: f64,
    pub lng_gcj02: f64,
    pub station_type: StationType,
    pub status: StationStatus,
    pub service_tel: String,
    pub business_hours: Option<String>,
    pub equipment: Vec<Equipment>,
    /// Everything the operator sent, kept for display and audit.
    pub detail: serde_json::Value,
}

/// One pile (充电桩).
#[derive(Debug, Clone, PartialEq)]
pub struct Equipment {
    pub external_id: String,
    pub equipment_type: EquipmentType,
    /// Total power, kW.
    pub power_kw: Decimal,
    pub connectors: Vec<Connector>,
}

/// One plug (枪) of a pile.
#[derive(Debug, Clone, PartialEq)]
pub struct Connector {
    pub external_id: String,
    pub connector_type: ConnectorType,
    /// Rated power, kW.
    pub power_kw: Decimal,
    /// Everything the operator sent about it, kept for display and audit.
    pub detail: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// The words the store keeps are the serde names, and every one reads back.
    #[test]
    fn words_are_the_serde_names() {
        fn check<T: serde::Serialize + Copy + std::fmt::Debug + PartialEq>(all: &[T], word: fn(T) -> &'static str, parse: fn(&str) -> Option<T>) {
            for &v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::from(word(v)), "{v:?}");
                assert_eq!(parse(word(v)), Some(v));
            }
        }
        check(ConnectorStatus::ALL, ConnectorStatus::as_str, ConnectorStatus::parse);
        check(ConnectorType::ALL, ConnectorType::as_str, ConnectorType::parse);
        check(EquipmentType::ALL, EquipmentType::as_str, EquipmentType::parse);
        check(NationalStandard::ALL, NationalStandard::as_str, NationalStandard::parse);
        check(StationType::ALL, StationType::as_str, StationType::parse);
        check(StationStatus::ALL, StationStatus::as_str, StationStatus::parse);
        assert_eq!(ConnectorStatus::parse("0"), None);
    }

    #[test]
    fn ocpp_statuses_map() {
        use ConnectorStatus::*;
        let cases = [
            ("Available", Available),
            ("Preparing", Occupied),
            ("Charging", Charging),
            ("SuspendedEV", Occupied),
            ("SuspendedEVSE", Occupied),
            ("Finishing", Occupied),
            ("Reserved", Reserved),
            ("Unavailable", Offline),
            ("Faulted", Faulted),
            ("available", Unknown),
        ];
        for (ocpp, ours) in cases {
            assert_eq!(ConnectorStatus::from_ocpp(ocpp), ours, "{ocpp}");
        }
    }

    #[test]
    fn ocpi_statuses_round_trip() {
        use ConnectorStatus::*;
        for s in [Offline, Available, Occupied, Charging, Reserved, Faulted, Unknown] {
            assert_eq!(ConnectorStatus::from_ocpi(s.ocpi_status()), s);
        }
        assert_eq!(ConnectorStatus::from_ocpi("REMOVED"), Offline);
    }

    #[test]
    fn stale_readings_are_unknown_not_free() {
        let at = Utc.with_ymd_and_hms(2024, 1, 1, 4, 0, 0).unwrap();
        let reading = StatusReading { status: ConnectorStatus::Available, observed_at: at };
        let limit = Duration::minutes(10);
        assert_eq!(reading.effective_status(at + Duration::minutes(9), limit), ConnectorStatus::Available);
        assert_eq!(reading.effective_status(at + limit, limit), ConnectorStatus::Available);
        assert_eq!(reading.effective_status(at + limit + Duration::seconds(1), limit), ConnectorStatus::Unknown);
        assert!(!reading.effective_status(at + Duration::hours(1), limit).is_free());
    }

    #[test]
    fn older_readings_do_not_replace_newer() {
        let at = Utc.with_ymd_and_hms(2024, 1, 1, 4, 0, 0).unwrap();
        let current = StatusReading { status: ConnectorStatus::Charging, observed_at: at };
        let late = StatusReading { status: ConnectorStatus::Available, observed_at: at - Duration::seconds(5) };
        assert!(!current.superseded_by(&late));
        assert!(late.superseded_by(&current));
    }

    #[test]
    fn dc_is_the_dc_cable() {
        assert_eq!(ConnectorType::DcCable.current(), CurrentKind::Dc);
        assert!(ConnectorType::DcCable.is_dc() && !ConnectorType::AcCable.is_dc() && !ConnectorType::Other.is_dc());
    }
}
