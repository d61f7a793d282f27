//! Deterministic data of the simulated operator: a seeded random source, the generated station
//! catalog (Shenzhen, GCJ-02) and the time-of-day tariff with its billing split.
//!
//! Everything here is pure so it can be reasoned about (and tested) without a server.

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use cec::messages::{ChargeDetail, ConnectorInfo, ConnectorType, EquipmentInfo, EquipmentType, PolicyInfo, StationInfo, StationStatus, StationType};

/// SplitMix64: tiny, good enough for simulation, and identical on every platform, so a seed
/// reproduces the same catalog and the same misbehaviour decisions.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (clamped to 0..=1); `p <= 0` never draws, so turning a
    /// misbehaviour off does not shift the sequence of later decisions.
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        p >= 1.0 || self.unit() < p
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One price period: from `start` (Beijing local time of day) until the next period starts.
#[derive(Debug, Clone, PartialEq)]
pub struct TariffPeriod {
    pub start: NaiveTime,
    /// Yuan per kWh.
    pub elec_price: Decimal,
    /// Yuan per kWh.
    pub service_price: Decimal,
}

impl TariffPeriod {
    pub fn new(hour: u32, minute: u32, elec_price: Decimal, service_price: Decimal) -> Self {
        Self { start: NaiveTime::from_hms_opt(hour, minute, 0).expect("valid time of day"), elec_price, service_price }
    }

    /// The usual Shenzhen shape: valley at night, peak in the day.
    pub fn default_periods() -> Vec<Self> {
        vec![
            Self::new(0, 0, Decimal::new(3, 1), Decimal::new(4, 1)),
            Self::new(8, 0, Decimal::new(9, 1), Decimal::new(6, 1)),
            Self::new(22, 0, Decimal::new(3, 1), Decimal::new(4, 1)),
        ]
    }
}

pub fn policy_infos(periods: &[TariffPeriod]) -> Vec<PolicyInfo> {
    periods
        .iter()
        .map(|p| PolicyInfo { start_time: cec::time::format_time_of_day(p.start), elec_price: p.elec_price.into(), sevice_price: p.service_price.into() })
        .collect()
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00")
}

/// Half-up to 2 decimals, the rounding of every money and energy line.
pub fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The index of the period in force at `at`; periods wrap around midnight, so a time before the
/// first start belongs to the last period.
fn period_at(periods: &[TariffPeriod], at: DateTime<Utc>) -> usize {
    let tod = at.with_timezone(&beijing()).time();
    periods.iter().rposition(|p| p.start <= tod).unwrap_or(periods.len() - 1)
}

/// The first period start strictly after `at`.
fn next_boundary(periods: &[TariffPeriod], at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&beijing());
    let date = local.date_naive();
    let tod = local.time();
    let (day, start) = match periods.iter().find(|p| p.start > tod) {
        Some(p) => (date, p.start),
        None => (date.succ_opt().expect("date in range"), periods[0].start),
    };
    beijing().from_local_datetime(&day.and_time(start)).single().expect("fixed offset is unambiguous").with_timezone(&Utc)
}

/// Bills constant `power_kw` from `start` to `end`, one detail line per price period crossed.
///
/// Each line's energy is rounded first and its money is computed from the rounded energy, so
/// a receiver re-computing `DetailPower × price` gets exactly our money, and totals are plain sums
/// of the lines (what the standard's consistency check expects).
pub fn bill(periods: &[TariffPeriod], power_kw: Decimal, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<ChargeDetail> {
    let mut details = Vec::new();
    if periods.is_empty() || end <= start {
        return details;
    }
    let mut from = start;
    while from < end {
        let until = next_boundary(periods, from).min(end);
        let period = &periods[period_at(periods, from)];
        let millis = Decimal::from((until - from).num_milliseconds());
        let energy = round2(power_kw * millis / Decimal::from(3_600_000));
        details.push(ChargeDetail {
            detail_start_time: from,
            detail_end_time: until,
            elec_price: period.elec_price.into(),
            sevice_price: period.service_price.into(),
            detail_power: energy.into(),
            detail_elec_money: round2(energy * period.elec_price).into(),
            detail_sevice_money: round2(energy * period.service_price).into(),
        });
        from = until;
    }
    details
}

/// Sums of the detail lines: (energy, electricity money, service money, total money).
pub fn totals(details: &[ChargeDetail]) -> (Decimal, Decimal, Decimal, Decimal) {
    let energy = details.iter().map(|d| d.detail_power.value()).sum::<Decimal>();
    let elec = details.iter().map(|d| d.detail_elec_money.value()).sum::<Decimal>();
    let service = details.iter().map(|d| d.detail_sevice_money.value()).sum::<Decimal>();
    (energy, elec, service, elec + service)
}

/// A connector of the generated catalog with what sessions need to know about it.
#[derive(Debug, Clone)]
pub struct ConnectorSpec {
    pub connector_id: String,
    pub station_id: String,
    pub equipment_id: String,
    /// Rated power of the connector, kW.
    pub power_kw: Decimal,
    pub dc: bool,
}

/// (district, GB/T 2260 area code, centre latitude, centre longitude) of Shenzhen districts.
pub(crate) const DISTRICTS: &[(&str, &str, f64, f64)] = &[
    ("福田区", "440304", 22.5410, 114.0550),
    ("罗湖区", "440303", 22.5480, 114.1310),
    ("南山区", "440305", 22.5330, 113.9300),
    ("宝安区", "440306", 22.5550, 113.8830),
    ("龙岗区", "440307", 22.7200, 114.2470),
    ("盐田区", "440308", 22.5570, 114.2370),
    ("龙华区", "440309", 22.6960, 114.0450),
    ("坪山区", "440310", 22.6900, 114.3460),
    ("光明区", "440311", 22.7480, 113.9360),
];
pub(crate) const PLACES: &[&str] =
    &["科技园", "车公庙", "华强北", "海岸城", "前海", "蛇口", "西丽", "坂田", "布吉", "大运", "民治", "观澜", "沙井", "福永", "东门", "梅林"];
pub(crate) const ROADS: &[&str] =
    &["深南大道", "滨海大道", "北环大道", "宝安大道", "龙岗大道", "梅观路", "南海大道", "新洲路", "沙河西路", "布龙路", "光明大道", "坪山大道"];
pub(crate) const KINDS: &[&str] = &["超级充电站", "快充站", "公共充电站", "停车场充电站", "综合能源站"];

/// Builds the catalog: `stations` stations, each with `piles` piles of `connectors` connectors.
///
/// IDs follow the common convention ConnectorID = EquipmentID + 2 digits and stay well under the
/// standard's length limits (StationID ≤ 20, EquipmentID ≤ 23, ConnectorID ≤ 26).
pub fn catalog(
    operator_id: &str,
    stations: usize,
    piles: usize,
    connectors: usize,
    periods: &[TariffPeriod],
    rng: &mut SimRng,
) -> (Vec<StationInfo>, Vec<ConnectorSpec>) {
    let electricity_fee = fee_text(periods, |p| p.elec_price);
    let service_fee = fee_text(periods, |p| p.service_price);
    let mut infos = Vec::with_capacity(stations);
    let mut specs = Vec::new();
    for s in 1..=stations {
        let (district, area, lat, lng) = *rng.pick(DISTRICTS);
        let place = rng.pick(PLACES);
        let road = rng.pick(ROADS);
        let kind = rng.pick(KINDS);
        let station_id = format!("ST{s:06}");
        // ±0.03° (about 3 km) around the district centre, 6 decimals like GCJ-02 on the wire.
        let lat = Decimal::from_f64_retain(lat + (rng.unit() - 0.5) * 0.06).unwrap_or_default().round_dp(6);
        let lng = Decimal::from_f64_retain(lng + (rng.unit() - 0.5) * 0.06).unwrap_or_default().round_dp(6);
        let mut equipment = Vec::with_capacity(piles);
        for p in 1..=piles {
            let dc = rng.chance(0.6);
            let equipment_id = format!("{area}{s:05}{p:03}");
            let (power, kind_code, upper, lower, current, connector_type) = if dc {
                (Decimal::from(120), EquipmentType::Dc, 750, 200, 250, ConnectorType::DcGun)
            } else {
                (Decimal::from(7), EquipmentType::Ac, 240, 200, 32, ConnectorType::AcSocket)
            };
            let mut connector_infos = Vec::with_capacity(connectors);
            for c in 1..=connectors {
                let connector_id = format!("{equipment_id}{c:02}");
                connector_infos.push(ConnectorInfo {
                    connector_id: connector_id.clone(),
                    connector_name: Some(format!("{p}号桩{c}号枪")),
                    connector_type,
                    voltage_upper_limits: upper,
                    voltage_lower_limits: lower,
                    current,
                    power: power.into(),
                    park_no: Some(format!("{:03}", (p - 1) * connectors + c)),
                    national_standard: 2,
                });
                specs.push(ConnectorSpec { connector_id, station_id: station_id.clone(), equipment_id: equipment_id.clone(), power_kw: power, dc });
            }
            equipment.push(EquipmentInfo {
                equipment_id,
                manufacturer_id: Some("MA5SIMMFR".into()),
                manufacturer_name: Some("模拟电气".into()),
                equipment_model: Some(if dc { "DC120-2G".into() } else { "AC7-1G".into() }),
                production_date: Some("2023-06-01".into()),
                equipment_type: kind_code,
                connector_infos,
                equipment_lng: Some(lng.into()),
                equipment_lat: Some(lat.into()),
                power: power.into(),
                equipment_name: Some(format!("{p}号桩")),
            });
        }
        let number = 1 + rng.below(399);
        infos.push(StationInfo {
            station_id,
            operator_id: operator_id.into(),
            equipment_owner_id: operator_id.into(),
            station_name: format!("{district}{place}{kind}"),
            country_code: "CN".into(),
            area_code: area.into(),
            address: format!("广东省深圳市{district}{road}{number}号"),
            station_tel: Some(format!("0755-8{:07}", rng.below(10_000_000))),
            service_tel: "400-800-0000".into(),
            station_type: StationType::Public,
            station_status: StationStatus::Normal,
            park_nums: (piles * connectors) as i64,
            station_lng: lng.into(),
            station_lat: lat.into(),
            site_guide: Some(format!("由{road}进入停车场，地下一层")),
            construction: [4, 6, 9, 10][rng.below(4)],
            pictures: vec![],
            match_cars: Some("国标车型".into()),
            park_info: Some("充电免停车费2小时".into()),
            busine_hours: Some("00:00-24:00".into()),
            electricity_fee: Some(electricity_fee.clone()),
            service_fee: Some(service_fee.clone()),
            park_fee: Some("5元/小时".into()),
            payment: Some("线上".into()),
            support_order: Some(1),
            remark: None,
            equipment_infos: equipment,
        });
    }
    (infos, specs)
}

/// The human-readable fee description of a station, e.g. `00:00-08:00 0.3元/度；…`.
fn fee_text(periods: &[TariffPeriod], price: impl Fn(&TariffPeriod) -> Decimal) -> String {
    periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let end = periods.get(i + 1).map_or_else(|| "24:00".to_owned(), |n| n.start.format("%H:%M").to_string());
            format!("{}-{end} {}元/度", p.start.format("%H:%M"), price(p).normalize())
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// When catalog entries were last changed before the simulator started: spread over the day
/// before, so an incremental sync taken after start sees only later modifications.
pub fn initial_update_time(now: DateTime<Utc>, index: usize) -> DateTime<Utc> {
    now - Duration::hours(24) + Duration::minutes(index as i64 % 600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        // Beijing h:m on 2024-01-01.
        beijing().with_ymd_and_hms(2024, 1, 1, h, m, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn bill_splits_at_period_boundaries_and_adds_up() {
        let periods = TariffPeriod::default_periods();
        // 07:30 → 08:30 at 60 kW: 30 kWh valley, 30 kWh peak.
        let details = bill(&periods, Decimal::from(60), at(7, 30), at(8, 30));
        assert_eq!(details.len(), 2);
        assert_eq!(details[0].detail_power.value(), Decimal::from(30));
        assert_eq!(details[0].detail_elec_money.value(), Decimal::from(9));
        assert_eq!(details[1].detail_sevice_money.value(), Decimal::from(18));
        let (energy, elec, service, total) = totals(&details);
        assert_eq!((energy, elec, service, total), (Decimal::from(60), Decimal::from(36), Decimal::from(30), Decimal::from(66)));
        // Across midnight: 21:50 → 00:10 crosses 22:00 and 00:00.
        assert_eq!(bill(&periods, Decimal::from(7), at(21, 50), at(0, 10) + Duration::days(1)).len(), 3);
    }

    #[test]
    fn catalog_is_deterministic() {
        let a = catalog("MA5SIMCPO", 3, 2, 2, &TariffPeriod::default_periods(), &mut SimRng::new(7));
        let b = catalog("MA5SIMCPO", 3, 2, 2, &TariffPeriod::default_periods(), &mut SimRng::new(7));
        assert_eq!(a.0, b.0);
        assert_eq!(a.1.len(), 12);
        assert!(a.1.iter().all(|c| c.connector_id.starts_with(&c.equipment_id) && c.connector_id.len() <= 26));
    }
}
