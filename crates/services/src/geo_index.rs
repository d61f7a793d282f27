//! In-memory spatial index for "stations near me".
//!
//! A uniform grid of 0.01° cells (≈1.1 km north–south) keyed by cell; a query visits only the
//! cells that intersect the search radius, then measures exact great-circle distances; the
//! index is rebuilt from the store at start.
//!
//! Each entry carries a payload beside its position (the catalog keeps its search facts there),
//! so a query reads what it filters by from the cell it is already scanning.
//!
//! A page of the nearest (`nearest`) walks rings of cells outward from the query point and stops
//! as soon as no cell left can hold anything nearer than what it already has: its cost follows
//! the page, not the number of stations in the circle (≈ 21,000 in 5 km at a million stations).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use uuid::Uuid;

const CELL_DEGREES: f64 = 0.01;
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

/// A found station in the max-heap of the best k so far: the worst (farthest, then largest id)
/// on top.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Found(Uuid, f64);

impl Eq for Found {}

impl PartialOrd for Found {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Found {
    fn cmp(&self, other: &Self) -> Ordering {
        nearest_first(&(self.0, self.1), &(other.0, other.1))
    }
}

/// The answer of [`GeoIndex::nearest`].
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    /// At most k stations, nearest first.
    pub found: Vec<(Uuid, f64)>,
    /// Whether every station in the circle was looked at: then `passed` is the exact count of
    /// those `keep` accepted.
    pub exhausted: bool,
    /// Stations accepted among those looked at.
    pub passed: usize,
    /// The share of the circle's area that was looked at (1 when exhausted).
    pub covered: f64,
    /// No more than this many stations in the circle can pass: `passed` plus every station in
    /// the cells the walk did not reach.
    pub at_most: usize,
}

impl Nearest {
    /// How many stations in the whole circle `keep` would accept: exact when the walk looked at
    /// the whole circle, otherwise the density of what it saw spread over the circle (never less
    /// than what it found).
    pub fn total_estimate(&self) -> usize {
        if self.exhausted || self.covered <= 0.0 {
            return self.passed;
        }
        ((self.passed as f64 / self.covered.min(1.0)).round() as usize).min(self.at_most).max(self.passed)
    }
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

    /// The `k` nearest stations within `radius_m` that `keep` accepts (nearest first, ties by id),
    /// walking rings of cells outward and stopping once the unvisited cells cannot hold anything
    /// nearer than the k-th found, or anything inside the circle at all.
    pub fn nearest(&self, lat: f64, lng: f64, radius_m: f64, k: usize, mut keep: impl FnMut(Uuid, f64, &T) -> bool) -> Nearest {
        let cos_lat = lat.to_radians().cos().max(0.01);
        let (dlat, dlng) = (radius_m / 111_000.0, radius_m / (111_000.0 * cos_lat));
        let (lat0, lng0) = cell_of(lat - dlat, lng - dlng);
        let (lat1, lng1) = cell_of(lat + dlat, lng + dlng);
        let (cy, cx) = cell_of(lat, lng);
        let last_ring = (cy - lat0).max(lat1 - cy).max(cx - lng0).max(lng1 - cx).max(0);
        let limit = (radius_m * 1.02 / METRES_PER_DEGREE).powi(2);
        // Every station in the circle lies at a latitude whose cosine is at least this.
        let cos_far = (lat.abs() + radius_m / METRES_PER_DEGREE).min(90.0).to_radians().cos();
        let mut best: BinaryHeap<Found> = BinaryHeap::with_capacity(k.saturating_add(1).min(4096));
        let (mut passed, mut scanned) = (0, 0);
        let mut scan = |cell: &Cell<T>, best: &mut BinaryHeap<Found>| {
            scanned += cell.len();
            for (id, slat, slng, payload) in cell {
                let (dy, dx) = (slat - lat, (slng - lng) * cos_lat);
                if dy * dy + dx * dx > limit {
                    continue;
                }
                let d = distance_m(lat, lng, *slat, *slng);
                if d > radius_m || !keep(*id, d, payload) {
                    continue;
                }
                passed += 1;
                if best.len() < k {
                    best.push(Found(*id, d));
                } else if best.peek().is_some_and(|worst| Found(*id, d) < *worst) {
                    best.pop();
                    best.push(Found(*id, d));
                }
            }
        };
        let mut exhausted = true;
        let mut ring = 0;
        loop {
            for (y, x) in ring_cells(cy, cx, ring) {
                if (lat0..=lat1).contains(&y)
                    && (lng0..=lng1).contains(&x)
                    && let Some(cell) = self.cells.get(&(y, x))
                {
                    scan(cell, &mut best);
                }
            }
            if ring >= last_ring {
                break;
            }
            // Nothing outside the square walked so far is nearer than this.
            let bound = outside_bound(lat, lng, cy, cx, ring, cos_far);
            if bound > radius_m {
                break;
            }
            if best.len() >= k && best.peek().is_some_and(|worst| bound > worst.1) {
                exhausted = false;
                break;
            }
            ring += 1;
        }
        let (covered, at_most) = if exhausted {
            (1.0, passed)
        } else {
            let side = f64::from(2 * ring + 1) * CELL_DEGREES * METRES_PER_DEGREE;
            // Counting the box's stations costs a lookup per cell, not a measurement per station.
            let in_box: usize = (lat0..=lat1).flat_map(|y| (lng0..=lng1).map(move |x| (y, x))).filter_map(|c| self.cells.get(&c)).map(Vec::len).sum();
            (side * side * cos_lat / (std::f64::consts::PI * radius_m * radius_m), passed + in_box.saturating_sub(scanned))
        };
        let found = best.into_sorted_vec().into_iter().map(|Found(id, d)| (id, d)).collect();
        Nearest { found, exhausted, passed, covered, at_most }
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

/// The cells at Chebyshev distance `ring` from `(cy, cx)`.
fn ring_cells(cy: i32, cx: i32, ring: i32) -> impl Iterator<Item = (i32, i32)> {
    let side = (cx - ring..=cx + ring).flat_map(move |x| [(cy - ring, x), (cy + ring, x)]);
    let sides = (cy - ring + 1..cy + ring).flat_map(move |y| [(y, cx - ring), (y, cx + ring)]);
    // Ring 0 is one cell, not the same cell listed twice.
    side.take(if ring == 0 { 1 } else { usize::MAX }).chain(sides)
}

/// A lower bound, in metres, of the distance from the query point to anything outside the
/// square of cells within `ring` of its cell. Latitude edges: a great circle covers at least
/// the latitude difference. Longitude edges: by the haversine formula, with the cosine of the
/// far point's latitude no less than `cos_far`.
fn outside_bound(lat: f64, lng: f64, cy: i32, cx: i32, ring: i32, cos_far: f64) -> f64 {
    let south = lat - f64::from(cy - ring) * CELL_DEGREES;
    let north = f64::from(cy + ring + 1) * CELL_DEGREES - lat;
    let west = lng - f64::from(cx - ring) * CELL_DEGREES;
    let east = f64::from(cx + ring + 1) * CELL_DEGREES - lng;
    let by_latitude = south.min(north) * METRES_PER_DEGREE;
    let half = (west.min(east).to_radians() / 2.0).sin();
    let by_longitude = 2.0 * EARTH_RADIUS_M * (lat.to_radians().cos() * cos_far * half * half).sqrt().min(1.0).asin();
    // A hair below, so rounding in the exact distance can never put a station under the bound.
    by_latitude.min(by_longitude) * (1.0 - 1e-9)
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

    /// The ring walk agrees with measuring everything, for any k, filter and point, including
    /// points on cell edges and circles that end before the page is full.
    #[test]
    fn nearest_is_the_head_of_the_full_list() {
        let mut index = GeoIndex::new();
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..3_000 {
            let id = Uuid::now_v7();
            index.upsert(id, 22.40 + next() * 0.3, 113.80 + next() * 0.4, id.as_u128().is_multiple_of(3));
        }
        let points = [(22.55, 114.0), (22.56, 113.96), (22.40, 113.80), (22.9, 114.5), (22.5512345, 114.0011)];
        for (lat, lng) in points {
            for radius in [500.0, 3_000.0, 20_000.0] {
                for k in [1, 5, 20, 100, 10_000] {
                    for odd_only in [false, true] {
                        let keep = |_: Uuid, _: f64, odd: &bool| !odd_only || *odd;
                        let all = index.nearby(lat, lng, radius, |id, odd| keep(id, 0.0, odd));
                        let got = index.nearest(lat, lng, radius, k, keep);
                        assert_eq!(got.found, all[..k.min(all.len())], "({lat}, {lng}) r {radius} k {k} odd {odd_only}");
                        if got.exhausted {
                            assert_eq!(got.passed, all.len());
                        }
                        assert!(got.total_estimate() >= got.found.len());
                        assert!(got.at_most >= all.len(), "a bound, never below the truth");
                    }
                }
            }
        }
    }

    /// Stations bunched around the point, a wide circle, a small page: the walk stops early, and
    /// the total it reports never exceeds the stations that exist.
    #[test]
    fn an_early_stop_never_counts_stations_that_do_not_exist() {
        let mut index = GeoIndex::new();
        for i in 0..1_000 {
            index.upsert(Uuid::now_v7(), 22.55 + (i / 40) as f64 * 0.0002, 114.05 + (i % 40) as f64 * 0.0002, ());
        }
        let got = index.nearest(22.552, 114.054, 20_000.0, 20, |_, _, _| true);
        assert!(!got.exhausted);
        assert_eq!(got.found.len(), 20);
        assert!(got.total_estimate() <= 1_000, "{}", got.total_estimate());
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
