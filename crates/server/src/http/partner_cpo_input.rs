//! What an operator partner uploads over the REST API (stations with their piles, connectors and
//! prices; connector status), and how it becomes domain values: parse, don't validate. Every
//! problem is reported with the path of the field at fault (`piles[0].connectors[1].power_kw`)
//! in both languages, all of them at once, so a partner fixes an upload in one round.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use domain::geo::{Coordinate, Gcj02};
use domain::partner::FieldError;
use domain::station::{Connector, ConnectorStatus, ConnectorType, Equipment, EquipmentType, NationalStandard, Station, StationStatus, StationType};
use domain::tariff::{Tariff, TariffPeriod};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use services::partner_catalog::StationUpload;
use utoipa::ToSchema;

/// Most piles one station may list, and connectors one pile may list: far above any real site,
/// low enough that one upload stays a small write.
pub const MAX_PILES: usize = 200;
pub const MAX_CONNECTORS_PER_PILE: usize = 16;
pub const MAX_PHOTOS: usize = 20;
/// Highest rated power we accept for a pile or a connector, kW (megawatt chargers included).
const MAX_POWER_KW: u32 = 2_000;

/// Which datum the coordinates are in: `gcj02` is what Chinese maps (AMap, Tencent) give,
/// `wgs84` is GPS. We convert to WGS-84 on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CoordinateSystem {
    Wgs84,
    Gcj02,
}

/// A station as the operator describes it. `id` is the operator's own station id: in a batch it
/// is required; on `PUT /stations/{id}` it may be left out (if given it must equal the path).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "南山科技园充电站", "address": "广东省深圳市南山区科技园南区 1 号", "area_code": "440305",
    "lat": 22.5405, "lng": 113.9345, "coordinate_system": "gcj02", "service_tel": "0755-86000000", "opening_hours": "24 小时",
    "photos": ["https://img.example.cn/sz-ns-001/front.jpg"],
    "tariff": {"periods": [{"start": "00:00", "electricity_price": "0.3500", "service_price": "0.4000"},
                           {"start": "08:00", "electricity_price": "0.8500", "service_price": "0.6000"}]},
    "piles": [{"id": "P1", "type": "dc", "power_kw": "120", "connectors": [
        {"id": "P1-1", "type": "dc_cable", "power_kw": "120", "national_standard": "gb_t2015"}]}]}))]
pub struct StationInput {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.-]+$", example = "SZ-NS-001")]
    #[serde(default)]
    pub id: Option<String>,
    #[schema(min_length = 1, max_length = 100, example = "南山科技园充电站")]
    pub name: String,
    #[schema(min_length = 1, max_length = 200, example = "广东省深圳市南山区科技园南区 1 号")]
    pub address: String,
    /// Administrative area code (GB/T 2260), 6 digits.
    #[schema(pattern = "^[0-9]{6}$", example = "440305")]
    pub area_code: String,
    #[schema(minimum = -90, maximum = 90, example = 22.5405)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180, example = 113.9345)]
    pub lng: f64,
    pub coordinate_system: CoordinateSystem,
    /// Who the station is for; `public` when left out.
    #[serde(default)]
    pub station_type: Option<StationType>,
    /// Whether it is in service; `operating` when left out.
    #[serde(default)]
    pub status: Option<StationStatus>,
    #[schema(max_length = 30, example = "0755-86000000")]
    #[serde(default)]
    pub service_tel: Option<String>,
    /// Opening hours as people read them.
    #[schema(max_length = 100, example = "24 小时 / 24 hours")]
    #[serde(default)]
    pub opening_hours: Option<String>,
    /// Photo URLs (http or https, at most 500 characters each).
    #[schema(max_items = 20)]
    #[serde(default)]
    pub photos: Vec<String>,
    /// Time-of-day prices; none when left out (the station is shown without prices).
    #[serde(default)]
    pub tariff: Option<TariffInput>,
    #[schema(min_items = 1, max_items = 200)]
    pub piles: Vec<PileInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffInput {
    /// The first period starts at `00:00`; each runs until the next starts, the last until
    /// midnight (Beijing time).
    #[schema(min_items = 1, max_items = 32)]
    pub periods: Vec<PeriodInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodInput {
    /// Beijing local time of day the period starts, `HH:MM` or `HH:MM:SS`.
    #[schema(example = "08:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")]
    pub start: String,
    /// Yuan per kWh, decimal string (up to 4 decimals).
    #[schema(example = "0.8500", pattern = "^[0-9]{1,4}(\\.[0-9]{1,4})?$")]
    pub electricity_price: String,
    /// Yuan per kWh, decimal string (up to 4 decimals).
    #[schema(example = "0.4000", pattern = "^[0-9]{1,4}(\\.[0-9]{1,4})?$")]
    pub service_price: String,
}

/// One pile (charging post).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PileInput {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.-]+$", example = "P01")]
    pub id: String,
    #[serde(rename = "type")]
    pub pile_type: EquipmentType,
    /// Total rated power, kW, decimal string: more than 0, at most 2000.
    #[schema(example = "120", pattern = "^[0-9]{1,4}(\\.[0-9]{1,3})?$")]
    pub power_kw: String,
    #[schema(min_items = 1, max_items = 16)]
    pub connectors: Vec<ConnectorInput>,
}

/// One connector (plug). Its id is unique among all of the partner's connectors: status
/// updates name a connector by it alone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorInput {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.-]+$", example = "P01-1")]
    pub id: String,
    #[serde(rename = "type")]
    pub connector_type: ConnectorType,
    /// Rated power, kW, decimal string: more than 0, at most its pile's power.
    #[schema(example = "120", pattern = "^[0-9]{1,4}(\\.[0-9]{1,3})?$")]
    pub power_kw: String,
    #[serde(default)]
    pub national_standard: Option<NationalStandard>,
}

/// A connector status as the operator observed it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "charging", "at": "2026-12-05T09:30:00+08:00"}))]
pub struct StatusInput {
    pub status: ConnectorStatus,
    /// When the operator observed it (RFC 3339). Not more than 5 minutes ahead of our clock.
    pub at: DateTime<Utc>,
}

/// One item of a status batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"connector_id": "P1-1", "status": "available", "at": "2026-12-05T09:30:00+08:00"}))]
pub struct ConnectorStatusInput {
    #[schema(min_length = 1, max_length = 64, example = "P01-1")]
    pub connector_id: String,
    pub status: ConnectorStatus,
    pub at: DateTime<Utc>,
}

/// Collects the problems of one upload, each under its path.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>, message_zh: impl Into<String>) {
        self.0.push(FieldError::new(field.into(), message, message_zh));
    }

    /// A required text of at most `max` characters.
    fn text(&mut self, field: &str, value: &str, max: usize) {
        if self.control_characters(field, value) {
            return;
        }
        if value.trim().is_empty() {
            self.add(field, "must not be empty", "不能为空");
        } else if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"), format!("最多 {max} 个字符"));
        }
    }

    fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        let Some(value) = value else { return };
        if !self.control_characters(field, value) && value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"), format!("最多 {max} 个字符"));
        }
    }

    /// Control characters (a NUL above all, which PostgreSQL text cannot hold) have no place in
    /// anything shown to people; reports them and says whether there were any.
    fn control_characters(&mut self, field: &str, value: &str) -> bool {
        let found = value.chars().any(char::is_control);
        if found {
            self.add(field, "must not contain control characters", "不能包含控制字符");
        }
        found
    }

    fn power(&mut self, field: &str, text: &str) -> Decimal {
        match Decimal::from_str(text.trim()) {
            Ok(kw) if kw > Decimal::ZERO && kw <= Decimal::from(MAX_POWER_KW) => kw.normalize(),
            Ok(_) => {
                self.add(field, format!("must be more than 0 and at most {MAX_POWER_KW} kW"), format!("须大于 0 且不超过 {MAX_POWER_KW} kW"));
                Decimal::ZERO
            }
            Err(_) => {
                self.add(field, format!("{text:?} is not a decimal number (write it as a string, e.g. \"60\")"), "不是十进制数字（请写成字符串，如 \"60\"）");
                Decimal::ZERO
            }
        }
    }
}

/// An operator's identifier: 1 to 64 of letters, digits, `_`, `.`, `-` (it appears in URLs).
pub fn check_identifier(value: &str) -> Result<(), (String, String)> {
    if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err((
            format!("{value:?} is not an id: use 1 to 64 letters, digits, '_', '.' or '-'"),
            format!("{value:?} 不是合法编号：须为 1 到 64 个字母、数字、'_'、'.' 或 '-'"),
        ));
    }
    Ok(())
}

/// `HH:MM` or `HH:MM:SS` → the domain's `HHmmss`.
fn period_start(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(':').collect();
    let ok = |p: &&str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [h, m] if ok(h) && ok(m) => Some(format!("{h}{m}00")),
        [h, m, s] if ok(h) && ok(m) && ok(s) => Some(format!("{h}{m}{s}")),
        _ => None,
    }
}

fn tariff(input: &TariffInput, problems: &mut Problems) -> Option<Tariff> {
    if input.periods.is_empty() || input.periods.len() > domain::tariff::MAX_PERIODS {
        problems.add(
            "tariff.periods",
            format!("must list 1 to {} periods", domain::tariff::MAX_PERIODS),
            format!("须有 1 到 {} 个时段", domain::tariff::MAX_PERIODS),
        );
        return None;
    }
    let mut periods = Vec::new();
    for (i, p) in input.periods.iter().enumerate() {
        let field = |name: &str| format!("tariff.periods[{i}].{name}");
        let start = period_start(&p.start);
        if start.is_none() {
            problems.add(field("start"), format!("{:?} is not a time of day written HH:MM or HH:MM:SS", p.start), "须为 HH:MM 或 HH:MM:SS 格式的时刻");
        }
        let mut price = |name: &str, text: &str| match Decimal::from_str(text.trim()) {
            Ok(v) if v.is_sign_negative() && !v.is_zero() => {
                problems.add(field(name), format!("{v} is negative; prices are at least 0"), "价格不能为负数");
                None
            }
            Ok(v) if v.scale() <= 4 => Some(v),
            Ok(_) => {
                problems.add(field(name), "has more than 4 decimals", "小数位数不能超过 4 位");
                None
            }
            Err(_) => {
                problems.add(field(name), format!("{text:?} is not a decimal number (yuan per kWh, as a string)"), "不是十进制数字（元/度，写成字符串）");
                None
            }
        };
        let (elec, service) = (price("electricity_price", &p.electricity_price), price("service_price", &p.service_price));
        let (Some(start), Some(elec), Some(service)) = (start, elec, service) else { continue };
        match TariffPeriod::parse(i, &start, elec, service) {
            Ok(period) => periods.push(period),
            Err(e) => {
                let name = match &e {
                    domain::tariff::TariffError::NegativePrice { what: "electricity", .. }
                    | domain::tariff::TariffError::PriceTooHigh { what: "electricity", .. } => "electricity_price",
                    domain::tariff::TariffError::NegativePrice { .. } | domain::tariff::TariffError::PriceTooHigh { .. } => "service_price",
                    _ => "start",
                };
                problems.add(field(name), e.to_string(), e.message_zh());
            }
        }
    }
    if periods.len() != input.periods.len() {
        return None;
    }
    match Tariff::new(periods) {
        Ok(t) => Some(t),
        Err(e) => {
            let field = match &e {
                domain::tariff::TariffError::NotIncreasing { index, .. } => format!("tariff.periods[{index}].start"),
                domain::tariff::TariffError::FirstNotMidnight(_) => "tariff.periods[0].start".into(),
                _ => "tariff.periods".into(),
            };
            problems.add(field, e.to_string(), e.message_zh());
            None
        }
    }
}

/// Turns an uploaded station into the domain's, or lists everything wrong with it.
pub fn parse_station(external_id: &str, input: &StationInput) -> Result<StationUpload, Vec<FieldError>> {
    let mut problems = Problems::default();
    if let Err((en, zh)) = check_identifier(external_id) {
        problems.add("id", en, zh);
    }
    problems.text("name", &input.name, 100);
    problems.text("address", &input.address, 200);
    if input.area_code.len() != 6 || !input.area_code.bytes().all(|b| b.is_ascii_digit()) {
        problems.add("area_code", "must be a 6-digit administrative area code (GB/T 2260)", "须为 6 位行政区划代码（GB/T 2260）");
    }
    problems.optional_text("service_tel", input.service_tel.as_deref(), 30);
    problems.optional_text("opening_hours", input.opening_hours.as_deref(), 100);
    if input.photos.len() > MAX_PHOTOS {
        problems.add("photos", format!("at most {MAX_PHOTOS} photos"), format!("最多 {MAX_PHOTOS} 张照片"));
    }
    for (i, url) in input.photos.iter().enumerate() {
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.len() > 500 || url.contains(|c: char| c.is_whitespace() || c.is_control()) {
            problems.add(format!("photos[{i}]"), "must be an http(s) URL of at most 500 characters", "须为不超过 500 个字符的 http(s) 地址");
        }
    }
    let position = if input.lat == 0.0 && input.lng == 0.0 {
        problems.add("lat", "0, 0 is not a station's place; send its coordinates", "经纬度 0,0 不是充电站位置，请填写实际坐标");
        None
    } else {
        let converted = match input.coordinate_system {
            CoordinateSystem::Wgs84 => Coordinate::new(input.lat, input.lng),
            CoordinateSystem::Gcj02 => Gcj02::new(input.lat, input.lng).map(Gcj02::to_wgs84),
        };
        match converted {
            Ok(p) => Some(p),
            Err(e) => {
                let field = if matches!(e, domain::geo::GeoError::Longitude(_)) { "lng" } else { "lat" };
                problems.add(field, e.to_string(), e.message_zh());
                None
            }
        }
    };
    let tariff = input.tariff.as_ref().and_then(|t| tariff(t, &mut problems));
    if input.piles.is_empty() || input.piles.len() > MAX_PILES {
        problems.add("piles", format!("must list 1 to {MAX_PILES} piles"), format!("须有 1 到 {MAX_PILES} 个充电桩"));
    }
    let mut pile_ids = std::collections::HashSet::new();
    let mut connector_ids = std::collections::HashSet::new();
    let mut equipment = Vec::new();
    for (i, pile) in input.piles.iter().enumerate() {
        let field = |name: &str| format!("piles[{i}].{name}");
        if let Err((en, zh)) = check_identifier(&pile.id) {
            problems.add(field("id"), en, zh);
        } else if !pile_ids.insert(pile.id.as_str()) {
            problems.add(field("id"), format!("pile {} is listed twice", pile.id), format!("充电桩 {} 重复", pile.id));
        }
        let pile_power = problems.power(&field("power_kw"), &pile.power_kw);
        if pile.connectors.is_empty() || pile.connectors.len() > MAX_CONNECTORS_PER_PILE {
            problems.add(
                field("connectors"),
                format!("must list 1 to {MAX_CONNECTORS_PER_PILE} connectors"),
                format!("须有 1 到 {MAX_CONNECTORS_PER_PILE} 个充电枪"),
            );
        }
        let mut connectors = Vec::new();
        for (j, c) in pile.connectors.iter().enumerate() {
            let field = |name: &str| format!("piles[{i}].connectors[{j}].{name}");
            if let Err((en, zh)) = check_identifier(&c.id) {
                problems.add(field("id"), en, zh);
            } else if !connector_ids.insert(c.id.as_str()) {
                problems.add(field("id"), format!("connector {} is listed twice", c.id), format!("充电枪 {} 重复", c.id));
            }
            let power_kw = problems.power(&field("power_kw"), &c.power_kw);
            if pile_power > Decimal::ZERO && power_kw > pile_power {
                problems.add(
                    field("power_kw"),
                    format!("{power_kw} kW is more than its pile's {pile_power} kW"),
                    format!("{power_kw} kW 超过所属充电桩功率 {pile_power} kW"),
                );
            }
            let standard = c.national_standard.unwrap_or(NationalStandard::Unspecified);
            connectors.push(Connector {
                external_id: c.id.clone(),
                connector_type: c.connector_type,
                power_kw,
                detail: json!({ "national_standard": standard.as_str() }),
            });
        }
        equipment.push(Equipment { external_id: pile.id.clone(), equipment_type: pile.pile_type, power_kw: pile_power, connectors });
    }
    let Some(position) = position.filter(|_| problems.0.is_empty()) else { return Err(problems.0) };
    let given = json!({ "lat": input.lat, "lng": input.lng, "coordinate_system": match input.coordinate_system {
        CoordinateSystem::Wgs84 => "wgs84",
        CoordinateSystem::Gcj02 => "gcj02",
    }});
    let gcj = position.to_gcj02();
    let station = Station {
        external_id: external_id.to_owned(),
        name: input.name.trim().to_owned(),
        address: input.address.trim().to_owned(),
        area_code: input.area_code.clone(),
        lat_gcj02: gcj.lat(),
        lng_gcj02: gcj.lng(),
        station_type: input.station_type.unwrap_or(StationType::Public),
        status: input.status.unwrap_or(StationStatus::Operating),
        service_tel: input.service_tel.clone().unwrap_or_default(),
        business_hours: input.opening_hours.clone(),
        equipment,
        // What the operator sent beyond the columns, kept for display and audit.
        detail: json!({ "source": "rest_api", "coordinates": given, "photos": input.photos }),
    };
    Ok(StationUpload { station, position, tariff })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(value: serde_json::Value) -> StationInput {
        serde_json::from_value(value).expect("schema-valid input")
    }

    fn minimal() -> serde_json::Value {
        json!({
            "name": "站", "address": "地址", "area_code": "440305", "lat": 22.5405, "lng": 113.9345, "coordinate_system": "wgs84",
            "piles": [{"id": "P1", "type": "dc", "power_kw": "60", "connectors": [{"id": "C1", "type": "dc_cable", "power_kw": "60"}]}]
        })
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_ref()).collect()
    }

    /// WGS-84 is kept as given; GCJ-02 moves by the datum offset (some hundred metres here).
    #[test]
    fn coordinates_follow_their_declared_datum() {
        let wgs = parse_station("S1", &input(minimal())).unwrap();
        assert_eq!((wgs.position.lat(), wgs.position.lng()), (22.5405, 113.9345));
        let mut gcj = minimal();
        gcj["coordinate_system"] = json!("gcj02");
        let moved = parse_station("S1", &input(gcj)).unwrap().position;
        let metres = moved.distance_m(wgs.position);
        assert!((300.0..800.0).contains(&metres), "{metres} m");
        assert_eq!(wgs.station.detail["source"], "rest_api");
    }

    #[test]
    fn period_starts_read_as_beijing_times_of_day() {
        assert_eq!(period_start("08:00").as_deref(), Some("080000"));
        assert_eq!(period_start("23:59:30").as_deref(), Some("235930"));
        for bad in ["8:00", "0800", "08:00:00:00", "ab:cd", ""] {
            assert_eq!(period_start(bad), None, "{bad}");
        }
    }

    /// Every problem of a tariff is named by the period and field at fault.
    #[test]
    fn tariff_problems_name_their_period() {
        let mut station = minimal();
        station["tariff"] = json!({"periods": [
            {"start": "00:00", "electricity_price": "0.8", "service_price": "0.4"},
            {"start": "08:00", "electricity_price": "-1", "service_price": "0.123456"},
        ]});
        let errors = parse_station("S1", &input(station.clone())).unwrap_err();
        assert_eq!(fields(&errors), ["tariff.periods[1].electricity_price", "tariff.periods[1].service_price"]);
        station["tariff"]["periods"][1] = json!({"start": "00:00", "electricity_price": "1", "service_price": "0.5"});
        let errors = parse_station("S1", &input(station.clone())).unwrap_err();
        assert_eq!(fields(&errors), ["tariff.periods[1].start"]);
        station["tariff"]["periods"][0]["start"] = json!("01:00");
        station["tariff"]["periods"][1]["start"] = json!("08:00");
        let errors = parse_station("S1", &input(station)).unwrap_err();
        assert_eq!(fields(&errors), ["tariff.periods[0].start"]);
    }

    #[test]
    fn identifiers_and_powers_are_checked_where_they_are() {
        let mut station = minimal();
        station["piles"][0]["connectors"][0]["power_kw"] = json!("61");
        station["piles"][0]["connectors"].as_array_mut().unwrap().push(json!({"id": "C1", "type": "dc_cable", "power_kw": "abc"}));
        let errors = parse_station("bad id", &input(station)).unwrap_err();
        assert_eq!(fields(&errors), ["id", "piles[0].connectors[0].power_kw", "piles[0].connectors[1].id", "piles[0].connectors[1].power_kw"]);
        assert!(errors.iter().all(|e| !e.message.is_empty() && !e.message_zh.is_empty()));
    }

    /// A NUL would reach PostgreSQL text as an internal error; it is bad input instead.
    #[test]
    fn control_characters_are_refused_by_field() {
        let mut station = minimal();
        station["name"] = json!("站\u{0}");
        station["opening_hours"] = json!("24h\u{7}");
        station["photos"] = json!(["https://img.example.cn/a\u{0}.jpg"]);
        let errors = parse_station("S1", &input(station)).unwrap_err();
        assert_eq!(fields(&errors), ["name", "opening_hours", "photos[0]"]);
    }
}
