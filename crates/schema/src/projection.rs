//! Equirectangular projection of GPS positions to a plane in kilometres.
//!
//! k-means measures straight-line distances; in degrees, one degree of longitude is shorter than
//! one of latitude away from the equator (about 0.62 times at 52° N), so clusters in raw
//! (lat, lon) are stretched east-west. Projected around the data's centre, a kilometre means the
//! same in every direction. Points are `(north_km, east_km)`, mirroring `(lat, lon)`.
//!
//! A stored model names its projection (this type as JSON), so that readers of the model (the
//! API placing a position in a cluster) measure as the processor that made it.

use serde::{Deserialize, Serialize};

/// Mean Earth radius (IUGG), in kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// How positions become k-means coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Projection {
    /// Kilometres north and east of an origin (equirectangular).
    Km { lat0: f64, lon0: f64 },
    /// Raw `(lat, lon)` in degrees, as the reference Spark job clustered them.
    None,
}

impl Projection {
    /// Coordinates of a position.
    ///
    /// ```
    /// use tributary_schema::projection::Projection;
    /// let p = Projection::Km { lat0: 52.52, lon0: 13.405 };
    /// let [north, east] = p.forward(52.52 + 1.0, 13.405);
    /// assert!((north - 111.195).abs() < 1e-3 && east.abs() < 1e-12);
    /// ```
    #[inline]
    pub fn forward(&self, lat: f64, lon: f64) -> [f64; 2] {
        match *self {
            Self::Km { lat0, lon0 } => {
                let north = (lat - lat0).to_radians() * EARTH_RADIUS_KM;
                let east = (lon - lon0).to_radians() * EARTH_RADIUS_KM * lat0.to_radians().cos();
                [north, east]
            }
            Self::None => [lat, lon],
        }
    }

    /// The position of coordinates: `[lat, lon]`.
    pub fn inverse(&self, point: [f64; 2]) -> [f64; 2] {
        match *self {
            Self::Km { lat0, lon0 } => {
                let lat = lat0 + (point[0] / EARTH_RADIUS_KM).to_degrees();
                let lon = lon0 + (point[1] / (EARTH_RADIUS_KM * lat0.to_radians().cos())).to_degrees();
                [lat, lon]
            }
            Self::None => point,
        }
    }

    /// A km projection around the mean position of `positions` (`[lat, lon]` pairs).
    pub fn centred_on(positions: impl IntoIterator<Item = [f64; 2]>) -> Option<Self> {
        let (mut n, mut lat, mut lon) = (0usize, 0.0, 0.0);
        for [a, b] in positions {
            n += 1;
            lat += a;
            lon += b;
        }
        (n > 0).then(|| Self::Km { lat0: lat / n as f64, lon0: lon / n as f64 })
    }
}

/// Great-circle distance in kilometres (haversine), for judging results.
pub fn haversine_km(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (la1, lo1, la2, lo2) = (a[0].to_radians(), a[1].to_radians(), b[0].to_radians(), b[1].to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_and_inverse_round_trip() {
        let p = Projection::Km { lat0: 51.0, lon0: 10.0 };
        for (lat, lon) in [(52.52, 13.405), (48.137, 11.575), (53.55, 9.99), (51.0, 10.0)] {
            let back = p.inverse(p.forward(lat, lon));
            assert!((back[0] - lat).abs() < 1e-12 && (back[1] - lon).abs() < 1e-12);
        }
    }

    #[test]
    fn a_kilometre_is_a_kilometre_in_both_directions_near_the_origin() {
        let p = Projection::Km { lat0: 52.0, lon0: 13.0 };
        let north = p.forward(52.0 + 0.01, 13.0);
        let east = p.forward(52.0, 13.0 + 0.01);
        let d_north = haversine_km([52.0, 13.0], [52.01, 13.0]);
        let d_east = haversine_km([52.0, 13.0], [52.0, 13.01]);
        assert!((north[0] - d_north).abs() / d_north < 1e-6);
        assert!((east[1] - d_east).abs() / d_east < 1e-4);
    }
}
