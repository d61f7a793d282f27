//! The simulated operator's stations as the partner REST API carries them (section 4 of the
//! partner guide): generated from a seed, so a run can be repeated, around Shenzhen districts
//! in GCJ-02, with one time-of-day tariff written as decimal strings.

use rust_decimal::Decimal;
use serde_json::{Value, json};

// The same Shenzhen districts, places and names as the T/CEC 102 operator simulator.
use crate::cec_cpo::data::{DISTRICTS, KINDS, PLACES, ROADS, SimRng, TariffPeriod};

/// A connector of the catalog with what sessions need to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorSpec {
    pub connector_id: String,
    pub station_id: String,
    /// Rated power, kW: the constant power a session on it charges with.
    pub power_kw: Decimal,
}

/// The tariff as section 4 writes it: periods from `00:00`, prices with 4 decimals.
pub fn tariff_json(periods: &[TariffPeriod]) -> Value {
    let periods: Vec<Value> = periods
        .iter()
        .map(|p| json!({"start": p.start.format("%H:%M").to_string(), "electricity_price": format!("{:.4}", p.elec_price), "service_price": format!("{:.4}", p.service_price)}))
        .collect();
    json!({ "periods": periods })
}

/// Builds `stations` stations of `piles` piles with `connectors` connectors each.
///
/// Ids are ours and unique across the whole catalog, as the contract wants of connector ids
/// (a status update names the connector alone): `ST000001`, `ST000001-P1`, `ST000001-P1-1`.
pub fn generate(stations: usize, piles: usize, connectors: usize, periods: &[TariffPeriod], rng: &mut SimRng) -> (Vec<Value>, Vec<ConnectorSpec>) {
    let tariff = tariff_json(periods);
    let mut out = Vec::with_capacity(stations);
    let mut specs = Vec::new();
    for s in 1..=stations {
        let (district, area, lat, lng) = DISTRICTS[rng.below(DISTRICTS.len())];
        let place = PLACES[rng.below(PLACES.len())];
        let road = ROADS[rng.below(ROADS.len())];
        let kind = KINDS[rng.below(KINDS.len())];
        let station_id = format!("ST{s:06}");
        // ±0.03° (about 3 km) around the district centre, 6 decimals as maps give them.
        let lat = ((lat + (rng.unit() - 0.5) * 0.06) * 1e6).round() / 1e6;
        let lng = ((lng + (rng.unit() - 0.5) * 0.06) * 1e6).round() / 1e6;
        let mut pile_list = Vec::with_capacity(piles);
        for p in 1..=piles {
            let dc = rng.chance(0.6);
            let (power, pile_type, connector_type) = if dc { (Decimal::from(120), "dc", "dc_cable") } else { (Decimal::from(7), "ac", "ac_socket") };
            let pile_id = format!("{station_id}-P{p}");
            let connector_list: Vec<Value> = (1..=connectors)
                .map(|c| {
                    let connector_id = format!("{pile_id}-{c}");
                    specs.push(ConnectorSpec { connector_id: connector_id.clone(), station_id: station_id.clone(), power_kw: power });
                    json!({"id": connector_id, "type": connector_type, "power_kw": power.to_string(), "national_standard": "gb_t2015"})
                })
                .collect();
            pile_list.push(json!({"id": pile_id, "type": pile_type, "power_kw": power.to_string(), "connectors": connector_list}));
        }
        let number = 1 + rng.below(399);
        out.push(json!({
            "id": station_id,
            "name": format!("{district}{place}{kind}"),
            "address": format!("广东省深圳市{district}{road}{number}号"),
            "area_code": area,
            "lat": lat,
            "lng": lng,
            "coordinate_system": "gcj02",
            "service_tel": "400-800-0000",
            "opening_hours": "24 小时",
            "tariff": tariff,
            "piles": pile_list,
        }));
    }
    (out, specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_deterministic_and_ids_are_unique() {
        let periods = TariffPeriod::default_periods();
        let a = generate(3, 2, 2, &periods, &mut SimRng::new(7));
        let b = generate(3, 2, 2, &periods, &mut SimRng::new(7));
        assert_eq!(a, b);
        assert_eq!(a.1.len(), 12);
        let ids: std::collections::HashSet<&str> = a.1.iter().map(|c| c.connector_id.as_str()).collect();
        assert_eq!(ids.len(), 12);
        assert_eq!(a.0[0]["tariff"]["periods"][0], json!({"start": "00:00", "electricity_price": "0.3000", "service_price": "0.4000"}));
        assert_eq!(a.0[0]["piles"][0]["connectors"][0]["id"], "ST000001-P1-1");
    }
}
