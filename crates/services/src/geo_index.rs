//! In-memory spatial index for "stations near me".
//!
//! A uniform grid of 0.02° cells (≈2.2 km north–south) keyed by cell; a query visits only the
//! cells that intersect the search radius, then measures exact great-circle distances. With
//! 100,000 stations a 5 km query touches a few dozen cells and a few hundred stations, far
//! cheaper than a database round trip, and the index is rebuilt from the store at start.
//!
//! Each entry carries a payload beside its position (the catalog keeps its search facts there),
//! so a query reads what it filters by from the cell it is already scanning.

use std::collections::HashMap;

use uuid::Uuid;

const CELL_DEGREES: f64 = 0.02;
const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Length of one degree of latitude (and of longitude at the equator).
const METRES_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Order of search results: nearest first, ties by id so pages are stable.
pub fn nearest_first(a: &(Uuid, f64), b: &(Uuid, f64)) -> std::cmp::Ordering {
    a.1.total_cmp(&b.1).then(a.0.cmp(&b.0))
}

/// Great-circle distance in metres (haversine), WGS-84 degrees in.
pub fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

fn cell_of(lat: f64, lng: f64) -> (i32, i32) {
    ((lat / CELL_DEGREES).floor() as i32, (lng / CELL_DEGREES).floor() as i32)
}

/// Stations in one grid cell: id, latitude, longitude, payload.
type Cell<T> = Vec<(Uuid, f64, f64, T)>;

#[derive(Debug)]
pub struct GeoIndex<T = ()> {
    cells: HashMap<(i32, i32), Cell<T>>,
    positions: HashMap<Uuid, (f64, f64)>,
}

impl<T> Default for GeoIndex<T> {
    fn default() -> Self {
        Self { cells: HashMap::new(), positions: HashMap::new() }
    }
}

impl<T> GeoIndex<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Adds or moves a station, replacing its payload.
    pub fn upsert(&mut self, id: Uuid, lat: f64, lng: f64, payload: T) {
        self.remove(id);
        self.cells.entry(cell_of(lat, lng)).or_default().push((id, lat, lng, payload));
        self.positions.insert(id, (lat, lng));
    }

    pub fn remove(&mut self, id: Uuid) {
        if let Some((lat, lng)) = self.positions.remove(&id)
            && let Some(cell) = self.cells.get_mut(&cell_of(lat, lng))
        {
            cell.retain(|(other, ..)| *other != id);
        }
    }

    /// Every entry with its payload, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (Uuid, &T)> {
        self.cells.values().flatten().map(|(id, _, _, payload)| (*id, payload))
    }

    /// Stations within `radius_m` that `keep` accepts, nearest first, distance in metres.
    pub fn nearby(&self, lat: f64, lng: f64, radius_m: f64, mut keep: impl FnMut(Uuid, &T) -> bool) -> Vec<(Uuid, f64)> {
        let mut found = Vec::new();
        self.within(lat, lng, radius_m, |id, d, payload| {
            if keep(id, payload) {
                found.push((id, d));
            }
        });
        found.sort_by(nearest_first);
        found
    }

    /// Calls `visit` with every station within `radius_m`, its distance in metres and its
    /// payload, in no particular order (callers that need only the nearest few select them
    /// themselves).
    pub fn within(&self, lat: f64, lng: f64, radius_m: f64, mut visit: impl FnMut(Uuid, f64, &T)) {
        let dlat = radius_m / 111_000.0;
        // Longitude degrees shrink with latitude; clamp near the poles.
        let cos_lat = lat.to_radians().cos().max(0.01);
        let dlng = radius_m / (111_000.0 * cos_lat);
        let (lat0, lng0) = cell_of(lat - dlat, lng - dlng);
        let (lat1, lng1) = cell_of(lat + dlat, lng + dlng);
        // A cheap flat-earth test rejects the corners of the cell box before the exact
        // haversine; its 2 % margin is far larger than its error at city radii.
        let limit = (radius_m * 1.02 / METRES_PER_DEGREE).powi(2);
        for cy in lat0..=lat1 {
            for cx in lng0..=lng1 {
                let Some(cell) = self.cells.get(&(cy, cx)) else { continue };
                for (id, slat, slng, payload) in cell {
                    let (id, slat, slng) = (*id, *slat, *slng);
                    let (dy, dx) = (slat - lat, (slng - lng) * cos_lat);
                    if dy * dy + dx * dx > limit {
                        continue;
                    }
                    let d = distance_m(lat, lng, slat, slng);
                    if d <= radius_m {
                        visit(id, d, payload);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_matches_known_values() {
        // Tiananmen to the Shanghai Bund: about 1,067 km.
        let d = distance_m(39.9087, 116.3975, 31.2400, 121.4900);
        assert!((d - 1_067_000.0).abs() < 5_000.0, "{d}");
        assert_eq!(distance_m(22.5, 114.0, 22.5, 114.0), 0.0);
    }

    #[test]
    fn nearby_is_exact_and_sorted() {
        let mut index = GeoIndex::new();
        let ids: Vec<Uuid> = (0..400).map(|_| Uuid::now_v7()).collect();
        for (i, id) in ids.iter().enumerate() {
            // A 20 x 20 grid around Shenzhen, ~1.1 km apart.
            index.upsert(*id, 22.50 + (i / 20) as f64 * 0.01, 113.90 + (i % 20) as f64 * 0.01, ());
        }
        let (lat, lng) = (22.555, 113.955);
        let got = index.nearby(lat, lng, 3_000.0, |_, _| true);
        let mut expected: Vec<(Uuid, f64)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, distance_m(lat, lng, 22.50 + (i / 20) as f64 * 0.01, 113.90 + (i % 20) as f64 * 0.01)))
            .filter(|(_, d)| *d <= 3_000.0)
            .collect();
        expected.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        assert_eq!(got, expected, "same set as brute force, nearest first");
        assert!(!got.is_empty());
        let filtered = index.nearby(lat, lng, 3_000.0, |id, _| id != got[0].0);
        assert_eq!(filtered.len(), got.len() - 1);
    }

    #[test]
    fn moving_and_removing() {
        let mut index = GeoIndex::new();
        let id = Uuid::now_v7();
        index.upsert(id, 30.0, 120.0, ());
        index.upsert(id, 31.0, 121.0, ());
        assert!(index.nearby(30.0, 120.0, 1_000.0, |_, _| true).is_empty());
        assert_eq!(index.nearby(31.0, 121.0, 1_000.0, |_, _| true).len(), 1);
        index.remove(id);
        assert!(index.is_empty());
        assert!(index.nearby(31.0, 121.0, 1_000.0, |_, _| true).is_empty());
    }
}
