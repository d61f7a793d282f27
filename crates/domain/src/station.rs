//! The charging catalog (stations, equipment, connectors) and connector status.
//!
//! One model covers our own network (flow B: we publish it) and partners' networks (flow A: we
//! import them). Protocol enumerations are T/CEC 102's (§10), the richest of the protocols we
//! speak; OCPP statuses (our own piles) and OCPI statuses (roaming partners) map onto them.
//! Identifiers a partner gives are kept exactly as given (leading zeros, case) and are unique
//! only within that partner, so the catalog key is always (owner, external id).

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::geo::Coordinate;

// ---------------------------------------------------------------------------------------------
// Connector status
// ---------------------------------------------------------------------------------------------

/// What a connector is doing, as we show it.
///
/// | ours | T/CEC 102 §10.6 | OCPP 1.6 `ChargePointStatus` | OCPI 2.2.1 `Status` |
/// |---|---|---|---|
/// | `Offline` | 0 离网 | `Unavailable` | `INOPERATIVE`, `PLANNED`, `REMOVED` |
/// | `Available` | 1 空闲 | `Available` | `AVAILABLE` |
/// | `Occupied` | 2 占用（未充电） | `Preparing`, `SuspendedEV`, `SuspendedEVSE`, `Finishing` | `BLOCKED` |
/// | `Charging` | 3 占用（充电中） | `Charging` | `CHARGING` |
/// | `Reserved` | 4 占用（预约锁定） | `Reserved` | `RESERVED` |
/// | `Faulted` | 255 故障 | `Faulted` | `OUTOFORDER` |
/// | `Unknown` | — (sent as 0) | anything else | `UNKNOWN` |
///
/// `SuspendedEV`/`SuspendedEVSE` are "occupied, not charging": energy is not flowing, which is
/// what CEC 2 means; the session itself is tracked by the order, not by this status.
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

impl ConnectorStatus {
    /// From the T/CEC 102 code; codes the standard does not define are `Unknown`.
    pub fn from_cec(code: i64) -> Self {
        match code {
            0 => Self::Offline,
            1 => Self::Available,
            2 => Self::Occupied,
            3 => Self::Charging,
            4 => Self::Reserved,
            255 => Self::Faulted,
            _ => Self::Unknown,
        }
    }

    /// The T/CEC 102 code. `Unknown` has none in the standard; offline (0) is the honest
    /// answer to a partner asking about a connector we cannot vouch for.
    pub fn cec_code(self) -> i64 {
        match self {
            Self::Offline | Self::Unknown => 0,
            Self::Available => 1,
            Self::Occupied => 2,
            Self::Charging => 3,
            Self::Reserved => 4,
            Self::Faulted => 255,
        }
    }

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

/// Whose network a station belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// Our own piles, driven over OCPP (flow B publishes them).
    Own,
    /// A partner operator's station on our platform (flow A).
    Partner { partner_id: Uuid },
}

impl Owner {
    pub fn partner_id(self) -> Option<Uuid> {
        match self {
            Self::Own => None,
            Self::Partner { partner_id } => Some(partner_id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalIdError {
    #[error("identifier is empty")]
    Empty,
    #[error("identifier is longer than {max} characters: {len}")]
    TooLong { max: usize, len: usize },
    #[error("identifier contains whitespace or control characters")]
    BadCharacter,
}

/// An identifier as a partner (or our own pile registry) gave it: kept byte for byte — never
/// trimmed, upper-cased or parsed as a number, since `0001` and `1` are different connectors.
/// Unique only within its owner.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct ExternalId(String);

impl ExternalId {
    /// Longest identifier we accept from any protocol (OCPI allows 48 for EVSE uids; CEC 26).
    pub const MAX_LEN: usize = 64;

    pub fn new(id: impl Into<String>) -> Result<Self, ExternalIdError> {
        let id = id.into();
        if id.is_empty() {
            return Err(ExternalIdError::Empty);
        }
        let len = id.chars().count();
        if len > Self::MAX_LEN {
            return Err(ExternalIdError::TooLong { max: Self::MAX_LEN, len });
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ExternalIdError::BadCharacter);
        }
        Ok(Self(id))
    }

    /// Whether this identifier fits a CEC field of `max` characters (StationID 20,
    /// EquipmentID 23, ConnectorID 26), for strict writing.
    pub fn fits(&self, max: usize) -> bool {
        self.0.chars().count() <= max
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExternalId {
    type Error = ExternalIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ExternalId> for String {
    fn from(value: ExternalId) -> Self {
        value.0
    }
}

impl std::fmt::Display for ExternalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// AC or DC, derived from the connector or equipment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrentKind {
    Ac,
    Dc,
    /// Wireless, combined or "other": the protocol does not say.
    Unspecified,
}

/// T/CEC 102 §10.5 `ConnectorType` (GB/T 20234 connection modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConnectorType {
    /// 1: household socket (mode 2).
    HouseholdSocket,
    /// 2: AC socket (mode 3, connection B).
    AcSocket,
    /// 3: AC plug with cable (mode 3, connection C).
    AcCable,
    /// 4: DC gun with cable (mode 4).
    DcCable,
    /// 5: wireless charging pad.
    Wireless,
    /// 6 or anything undefined.
    Other,
}

impl ConnectorType {
    pub fn from_cec(code: i64) -> Self {
        match code {
            1 => Self::HouseholdSocket,
            2 => Self::AcSocket,
            3 => Self::AcCable,
            4 => Self::DcCable,
            5 => Self::Wireless,
            _ => Self::Other,
        }
    }

    pub fn cec_code(self) -> i64 {
        match self {
            Self::HouseholdSocket => 1,
            Self::AcSocket => 2,
            Self::AcCable => 3,
            Self::DcCable => 4,
            Self::Wireless => 5,
            Self::Other => 6,
        }
    }

    pub fn current(self) -> CurrentKind {
        match self {
            Self::HouseholdSocket | Self::AcSocket | Self::AcCable => CurrentKind::Ac,
            Self::DcCable => CurrentKind::Dc,
            Self::Wireless | Self::Other => CurrentKind::Unspecified,
        }
    }
}

/// T/CEC 102 §10.4 `EquipmentType`.
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

impl EquipmentType {
    pub fn from_cec(code: i64) -> Self {
        match code {
            1 => Self::Dc,
            2 => Self::Ac,
            3 => Self::AcDc,
            4 => Self::Wireless,
            _ => Self::Other,
        }
    }

    pub fn cec_code(self) -> i64 {
        match self {
            Self::Dc => 1,
            Self::Ac => 2,
            Self::AcDc => 3,
            Self::Wireless => 4,
            Self::Other => 5,
        }
    }
}

/// T/CEC 102 §10.11: edition of the GB/T 20234 / 27930 family the connector follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NationalStandard {
    GbT2011,
    GbT2015,
    /// Not stated or a value the standard does not define.
    Unspecified,
}

impl NationalStandard {
    pub fn from_cec(code: i64) -> Self {
        match code {
            1 => Self::GbT2011,
            2 => Self::GbT2015,
            _ => Self::Unspecified,
        }
    }

    /// The code we write; an unspecified standard is written as the current edition (2), since
    /// the field is mandatory and virtually every pile in service follows it.
    pub fn cec_code(self) -> i64 {
        match self {
            Self::GbT2011 => 1,
            Self::GbT2015 | Self::Unspecified => 2,
        }
    }
}

/// T/CEC 102 §10.2 `StationStatus`.
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

impl StationStatus {
    pub fn from_cec(code: i64) -> Self {
        match code {
            1 => Self::UnderConstruction,
            5 => Self::Closed,
            6 => Self::Maintenance,
            50 => Self::Operating,
            _ => Self::Unknown,
        }
    }

    pub fn cec_code(self) -> i64 {
        match self {
            Self::Unknown => 0,
            Self::UnderConstruction => 1,
            Self::Closed => 5,
            Self::Maintenance => 6,
            Self::Operating => 50,
        }
    }

    /// Only an operating station is offered for starting and reserving.
    pub fn is_operating(self) -> bool {
        self == Self::Operating
    }
}

/// One plug (枪) of a pile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    pub id: Uuid,
    pub external_id: ExternalId,
    pub name: Option<String>,
    pub connector_type: ConnectorType,
    /// Rated power, kW (CEC: 1 decimal).
    pub power_kw: Decimal,
    pub voltage_upper_v: u32,
    pub voltage_lower_v: u32,
    /// Rated current, A.
    pub current_a: u32,
    pub national_standard: NationalStandard,
    pub park_no: Option<String>,
    /// The OCPP connector number on our own piles (1-based); `None` for partners' connectors.
    pub ocpp_connector_id: Option<u32>,
}

/// One pile (充电桩 / CEC "equipment").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equipment {
    pub id: Uuid,
    pub external_id: ExternalId,
    pub equipment_type: EquipmentType,
    /// Total power, kW.
    pub power_kw: Decimal,
    pub name: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub connectors: Vec<Connector>,
}

/// One station (充电站).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Station {
    pub id: Uuid,
    pub owner: Owner,
    pub external_id: ExternalId,
    pub name: String,
    pub address: String,
    /// 6-digit administrative area code (GB/T 2260), e.g. `110101`.
    pub area_code: String,
    /// WGS-84; CEC's GCJ-02 is converted at the protocol edge.
    pub location: Coordinate,
    pub status: StationStatus,
    pub service_tel: String,
    pub equipment: Vec<Equipment>,
}

/// A problem found when validating a catalog entry, with the path of the offending field
/// (`equipment[0].connectors[1].power_kw`) so a partner can fix exactly that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogIssue {
    pub path: String,
    pub message_en: String,
    pub message_zh: String,
}

impl CatalogIssue {
    fn new(path: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> Self {
        Self { path: path.into(), message_en: en.into(), message_zh: zh.into() }
    }
}

impl Station {
    /// Every connector with the pile it belongs to.
    pub fn connectors(&self) -> impl Iterator<Item = (&Equipment, &Connector)> {
        self.equipment.iter().flat_map(|e| e.connectors.iter().map(move |c| (e, c)))
    }

    /// Checks what the types cannot: names present, identifiers unique within the station,
    /// powers positive, voltage limits ordered. Returns every issue, not the first.
    pub fn validate(&self) -> Vec<CatalogIssue> {
        let mut issues = Vec::new();
        if self.name.trim().is_empty() {
            issues.push(CatalogIssue::new("name", "station name is empty", "充电站名称为空"));
        }
        if self.address.trim().is_empty() {
            issues.push(CatalogIssue::new("address", "address is empty", "地址为空"));
        }
        if self.area_code.len() != 6 || !self.area_code.bytes().all(|b| b.is_ascii_digit()) {
            issues.push(CatalogIssue::new("area_code", "area code must be 6 digits", "区域编码须为 6 位数字"));
        }
        let mut seen_equipment = std::collections::HashSet::new();
        let mut seen_connectors = std::collections::HashSet::new();
        for (i, equipment) in self.equipment.iter().enumerate() {
            let at = format!("equipment[{i}]");
            if !seen_equipment.insert(&equipment.external_id) {
                issues.push(CatalogIssue::new(
                    format!("{at}.external_id"),
                    format!("duplicate equipment id {}", equipment.external_id),
                    format!("充电桩编号重复：{}", equipment.external_id),
                ));
            }
            if equipment.power_kw <= Decimal::ZERO {
                issues.push(CatalogIssue::new(format!("{at}.power_kw"), "power must be positive", "功率须大于 0"));
            }
            if equipment.connectors.is_empty() {
                issues.push(CatalogIssue::new(format!("{at}.connectors"), "pile has no connectors", "充电桩没有充电接口"));
            }
            for (j, connector) in equipment.connectors.iter().enumerate() {
                let at = format!("{at}.connectors[{j}]");
                if !seen_connectors.insert(&connector.external_id) {
                    issues.push(CatalogIssue::new(
                        format!("{at}.external_id"),
                        format!("duplicate connector id {}", connector.external_id),
                        format!("充电接口编号重复：{}", connector.external_id),
                    ));
                }
                if connector.power_kw <= Decimal::ZERO {
                    issues.push(CatalogIssue::new(format!("{at}.power_kw"), "power must be positive", "功率须大于 0"));
                }
                if connector.voltage_lower_v > connector.voltage_upper_v {
                    issues.push(CatalogIssue::new(format!("{at}.voltage_lower_v"), "lower voltage limit exceeds upper limit", "电压下限高于上限"));
                }
            }
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn cec_codes_round_trip() {
        for code in [0, 1, 2, 3, 4, 255] {
            assert_eq!(ConnectorStatus::from_cec(code).cec_code(), code);
        }
        assert_eq!(ConnectorStatus::from_cec(7), ConnectorStatus::Unknown);
        assert_eq!(ConnectorStatus::Unknown.cec_code(), 0);
        for code in 1..=6 {
            assert_eq!(ConnectorType::from_cec(code).cec_code(), code);
        }
        for code in 1..=5 {
            assert_eq!(EquipmentType::from_cec(code).cec_code(), code);
        }
        for code in [0, 1, 5, 6, 50] {
            assert_eq!(StationStatus::from_cec(code).cec_code(), code);
        }
        assert_eq!(NationalStandard::from_cec(1), NationalStandard::GbT2011);
        assert_eq!(NationalStandard::from_cec(9).cec_code(), 2);
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
    fn external_ids_are_kept_as_given() {
        let id = ExternalId::new("0001").unwrap();
        assert_eq!(id.as_str(), "0001");
        assert_ne!(id, ExternalId::new("1").unwrap());
        assert!(ExternalId::new("").is_err());
        assert!(ExternalId::new(" 01").is_err());
        assert!(ExternalId::new("x".repeat(65)).is_err());
        assert!(ExternalId::new("33010600010001").unwrap().fits(26));
        assert!(!ExternalId::new("x".repeat(27)).unwrap().fits(26));
        assert!(serde_json::from_str::<ExternalId>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"0001\"");
    }

    fn connector(id: &str, power: Decimal) -> Connector {
        Connector {
            id: Uuid::nil(),
            external_id: ExternalId::new(id).unwrap(),
            name: None,
            connector_type: ConnectorType::DcCable,
            power_kw: power,
            voltage_upper_v: 750,
            voltage_lower_v: 200,
            current_a: 250,
            national_standard: NationalStandard::GbT2015,
            park_no: None,
            ocpp_connector_id: None,
        }
    }

    fn station(connectors: Vec<Connector>) -> Station {
        Station {
            id: Uuid::nil(),
            owner: Owner::Partner { partner_id: Uuid::nil() },
            external_id: ExternalId::new("330106000001").unwrap(),
            name: "西溪充电站".into(),
            address: "杭州市西湖区".into(),
            area_code: "330106".into(),
            location: Coordinate::new(30.27, 120.08).unwrap(),
            status: StationStatus::Operating,
            service_tel: "0571-00000000".into(),
            equipment: vec![Equipment {
                id: Uuid::nil(),
                external_id: ExternalId::new("3301060001").unwrap(),
                equipment_type: EquipmentType::Dc,
                power_kw: dec!(120.0),
                name: None,
                manufacturer: None,
                model: None,
                connectors,
            }],
        }
    }

    #[test]
    fn valid_station_has_no_issues() {
        let s = station(vec![connector("01", dec!(60)), connector("02", dec!(60))]);
        assert_eq!(s.validate(), vec![]);
        assert_eq!(s.connectors().count(), 2);
        assert_eq!(ConnectorType::DcCable.current(), CurrentKind::Dc);
    }

    #[test]
    fn validation_lists_every_issue_with_its_path() {
        let mut bad = connector("01", dec!(0));
        bad.voltage_lower_v = 900;
        let mut s = station(vec![connector("01", dec!(60)), bad]);
        s.area_code = "3301".into();
        let paths: Vec<_> = s.validate().into_iter().map(|i| i.path).collect();
        assert_eq!(
            paths,
            vec!["area_code", "equipment[0].connectors[1].external_id", "equipment[0].connectors[1].power_kw", "equipment[0].connectors[1].voltage_lower_v",]
        );
    }

    #[test]
    fn owner_serialises_with_a_tag() {
        assert_eq!(serde_json::to_string(&Owner::Own).unwrap(), r#"{"kind":"own"}"#);
        assert_eq!(Owner::Own.partner_id(), None);
    }
}
