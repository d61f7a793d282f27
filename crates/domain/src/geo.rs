//! Coordinates: WGS-84 inside, GCJ-02 at the edge.
//!
//! Chinese maps and T/CEC 102 (`StationLng`/`StationLat`, `EquipmentLng`/`EquipmentLat`) use
//! GCJ-02, the officially offset "Mars" datum; OCPI, OCPP and GPS use WGS-84. We store and
//! compute in WGS-84 only and convert at the protocol edge, so a distance or a nearby search
//! never mixes the two. The GCJ-02 forward transform is the widely published formula on the
//! Krasovsky ellipsoid; its inverse has no closed form, so [`Gcj02::to_wgs84`] iterates until
//! the round trip agrees to well under 1e-7° (about 1 cm). Outside mainland China (a bounding
//! rectangle, as every implementation uses) the two datums are treated as identical.
//!
//! `f64` is right here: coordinates are measurements, not money.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

/// Mean Earth radius (IUGG), metres, for haversine distances.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum GeoError {
    #[error("latitude must be between -90 and 90, got {0}")]
    Latitude(f64),
    #[error("longitude must be between -180 and 180, got {0}")]
    Longitude(f64),
    #[error("radius must be a non-negative finite number of metres, got {0}")]
    Radius(f64),
}

impl GeoError {
    pub fn message_zh(&self) -> String {
        match self {
            Self::Latitude(v) => format!("纬度须在 -90 到 90 之间，收到 {v}"),
            Self::Longitude(v) => format!("经度须在 -180 到 180 之间，收到 {v}"),
            Self::Radius(v) => format!("半径须为非负米数，收到 {v}"),
        }
    }
}

fn check(lat: f64, lng: f64) -> Result<(), GeoError> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(GeoError::Latitude(lat));
    }
    if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
        return Err(GeoError::Longitude(lng));
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawPoint {
    lat: f64,
    lng: f64,
}

/// A WGS-84 point, degrees. Constructed only through [`Coordinate::new`] (or deserialising,
/// which validates the same way), so a stored point is always in range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Coordinate {
    lat: f64,
    lng: f64,
}

impl TryFrom<RawPoint> for Coordinate {
    type Error = GeoError;
    fn try_from(raw: RawPoint) -> Result<Self, GeoError> {
        Coordinate::new(raw.lat, raw.lng)
    }
}

/// A GCJ-02 point as Chinese partners send it. A separate type so that it cannot be stored or
/// measured by mistake: convert with [`Gcj02::to_wgs84`] first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint")]
pub struct Gcj02 {
    lat: f64,
    lng: f64,
}

impl TryFrom<RawPoint> for Gcj02 {
    type Error = GeoError;
    fn try_from(raw: RawPoint) -> Result<Self, GeoError> {
        Gcj02::new(raw.lat, raw.lng)
    }
}

impl Coordinate {
    pub fn new(lat: f64, lng: f64) -> Result<Self, GeoError> {
        check(lat, lng)?;
        Ok(Self { lat, lng })
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lng(self) -> f64 {
        self.lng
    }

    /// The point as GCJ-02, for CEC messages and Chinese map SDKs.
    pub fn to_gcj02(self) -> Gcj02 {
        let (lat, lng) = wgs_to_gcj(self.lat, self.lng);
        // The offset is at most a few hundred metres inside China, far from the poles and the
        // antimeridian, so the result stays in range.
        Gcj02 { lat, lng }
    }

    /// Great-circle distance in metres (haversine, spherical Earth: ≤ 0.5 % error, plenty for
    /// "stations near me").
    pub fn distance_m(self, other: Coordinate) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lng - self.lng).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }

    /// A box that contains every point within `radius_m` of this one: the cheap index filter
    /// of a nearby search, to be followed by an exact [`Coordinate::distance_m`] check.
    pub fn bounding_box(self, radius_m: f64) -> Result<BoundingBox, GeoError> {
        if !radius_m.is_finite() || radius_m < 0.0 {
            return Err(GeoError::Radius(radius_m));
        }
        let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
        let min_lat = (self.lat - dlat).max(-90.0);
        let max_lat = (self.lat + dlat).min(90.0);
        // Longitude degrees shrink with cos(lat); use the latitude closest to a pole inside the
        // box so the box is never too narrow. At a pole (or across the antimeridian) take all
        // longitudes rather than be wrong.
        let widest = min_lat.abs().max(max_lat.abs());
        let cos = widest.to_radians().cos();
        let (min_lng, max_lng) = if cos <= 1e-12 {
            (-180.0, 180.0)
        } else {
            let dlng = (radius_m / (EARTH_RADIUS_M * cos)).to_degrees();
            if self.lng - dlng < -180.0 || self.lng + dlng > 180.0 || dlng >= 180.0 { (-180.0, 180.0) } else { (self.lng - dlng, self.lng + dlng) }
        };
        Ok(BoundingBox { min_lat, max_lat, min_lng, max_lng })
    }
}

impl Gcj02 {
    pub fn new(lat: f64, lng: f64) -> Result<Self, GeoError> {
        check(lat, lng)?;
        Ok(Self { lat, lng })
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lng(self) -> f64 {
        self.lng
    }

    /// The WGS-84 point whose GCJ-02 image is this point, found by fixed-point iteration:
    /// the offset changes slowly with position, so each step subtracts the current error and
    /// the error shrinks by orders of magnitude per step.
    pub fn to_wgs84(self) -> Coordinate {
        let (mut lat, mut lng) = (self.lat, self.lng);
        for _ in 0..30 {
            let (glat, glng) = wgs_to_gcj(lat, lng);
            let (elat, elng) = (glat - self.lat, glng - self.lng);
            lat -= elat;
            lng -= elng;
            if elat.abs() < 1e-10 && elng.abs() < 1e-10 {
                break;
            }
        }
        Coordinate { lat: lat.clamp(-90.0, 90.0), lng: lng.clamp(-180.0, 180.0) }
    }
}

/// An axis-aligned lat/lng box (degrees, WGS-84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lng: f64,
    pub max_lng: f64,
}

impl BoundingBox {
    pub fn contains(&self, point: Coordinate) -> bool {
        (self.min_lat..=self.max_lat).contains(&point.lat) && (self.min_lng..=self.max_lng).contains(&point.lng)
    }
}

/// The rectangle outside which GCJ-02 applies no offset.
pub fn out_of_china(lat: f64, lng: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

/// Krasovsky 1940 semi-major axis and eccentricity squared, as the published transform uses.
const KRASOVSKY_A: f64 = 6_378_245.0;
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

fn offset_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn offset_lng(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

fn wgs_to_gcj(lat: f64, lng: f64) -> (f64, f64) {
    if out_of_china(lat, lng) {
        return (lat, lng);
    }
    let (x, y) = (lng - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let dlat = offset_lat(x, y) * 180.0 / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlng = offset_lng(x, y) * 180.0 / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (lat + dlat, lng + dlng)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    #[test]
    fn validates_ranges() {
        assert!(Coordinate::new(91.0, 0.0).is_err());
        assert!(Coordinate::new(0.0, -180.5).is_err());
        assert!(Coordinate::new(f64::NAN, 0.0).is_err());
        assert!(Coordinate::new(-90.0, 180.0).is_ok());
        assert!(serde_json::from_str::<Coordinate>(r#"{"lat":120,"lng":1}"#).is_err());
        let c: Coordinate = serde_json::from_str(r#"{"lat":39.9,"lng":116.4}"#).unwrap();
        assert_eq!(c, Coordinate::new(39.9, 116.4).unwrap());
    }

    #[test]
    fn beijing_known_offset() {
        // Published reference value of the transform near Tiananmen.
        let wgs = Coordinate::new(39.915, 116.404).unwrap();
        let gcj = wgs.to_gcj02();
        assert!(close(gcj.lat(), 39.916_404_281_501_64, 1e-6), "{gcj:?}");
        assert!(close(gcj.lng(), 116.410_244_499_169_38, 1e-6), "{gcj:?}");
        // The offset in Beijing is a few hundred metres, mostly east.
        let shift = wgs.distance_m(Coordinate::new(gcj.lat(), gcj.lng()).unwrap());
        assert!((400.0..700.0).contains(&shift), "{shift}");
        let back = gcj.to_wgs84();
        assert!(close(back.lat(), 39.915, 1e-7) && close(back.lng(), 116.404, 1e-7), "{back:?}");
    }

    #[test]
    fn no_offset_outside_china() {
        let paris = Coordinate::new(48.8566, 2.3522).unwrap();
        assert_eq!(paris.to_gcj02(), Gcj02::new(48.8566, 2.3522).unwrap());
        assert_eq!(Gcj02::new(48.8566, 2.3522).unwrap().to_wgs84(), paris);
    }

    #[test]
    fn haversine_known_distances() {
        let a = Coordinate::new(39.0, 116.0).unwrap();
        let b = Coordinate::new(40.0, 116.0).unwrap();
        assert!(close(a.distance_m(b), 111_195.0, 50.0), "{}", a.distance_m(b));
        // Beijing (Tiananmen) to Shanghai (People's Square) is about 1,067 km.
        let bj = Coordinate::new(39.9087, 116.3975).unwrap();
        let sh = Coordinate::new(31.2304, 121.4737).unwrap();
        assert!(close(bj.distance_m(sh) / 1000.0, 1067.0, 5.0), "{}", bj.distance_m(sh));
        assert_eq!(bj.distance_m(bj), 0.0);
    }

    #[test]
    fn bounding_box_contains_the_circle() {
        let c = Coordinate::new(39.9087, 116.3975).unwrap();
        let bbox = c.bounding_box(5_000.0).unwrap();
        assert!(bbox.contains(c));
        for (dlat, dlng) in [(0.0449, 0.0), (-0.0449, 0.0), (0.0, 0.0585), (0.0, -0.0585)] {
            let p = Coordinate::new(c.lat() + dlat, c.lng() + dlng).unwrap();
            assert!(p.distance_m(c) < 5_000.0);
            assert!(bbox.contains(p), "{p:?} {bbox:?}");
        }
        assert!(!bbox.contains(Coordinate::new(40.0, 116.3975).unwrap()));
        assert!(c.bounding_box(-1.0).is_err());
        let pole = Coordinate::new(89.99, 0.0).unwrap().bounding_box(10_000.0).unwrap();
        assert_eq!((pole.min_lng, pole.max_lng, pole.max_lat), (-180.0, 180.0, 90.0));
    }

    proptest! {
        #[test]
        fn gcj_round_trip_inside_china(lat in 18.0f64..53.0, lng in 74.0f64..134.0) {
            let wgs = Coordinate::new(lat, lng).unwrap();
            let back = wgs.to_gcj02().to_wgs84();
            prop_assert!(close(back.lat(), lat, 1e-7) && close(back.lng(), lng, 1e-7), "{:?}", back);
        }

        #[test]
        fn bounding_box_holds_every_point_in_radius(
            lat in -80.0f64..80.0, lng in -170.0f64..170.0,
            bearing in 0.0f64..360.0, frac in 0.0f64..0.999, radius in 1.0f64..50_000.0,
        ) {
            let c = Coordinate::new(lat, lng).unwrap();
            // Destination point along a great circle at distance frac * radius.
            let d = frac * radius / EARTH_RADIUS_M;
            let (p1, l1, th) = (lat.to_radians(), lng.to_radians(), bearing.to_radians());
            let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * th.cos()).asin();
            let l2 = l1 + (th.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
            let p = Coordinate::new(p2.to_degrees(), l2.to_degrees()).unwrap();
            prop_assert!(c.bounding_box(radius).unwrap().contains(p));
        }
    }
}
