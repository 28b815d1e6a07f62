//! `tributary generate`: realistic synthetic mobile events, deterministic for a seed.
//!
//! Devices keep their id and live around hotspots (real German cities by default): each device
//! belongs to one hotspot (picked by weight) and moves around it as a mean-reverting random walk,
//! so its positions are Gaussian around the hotspot with the hotspot's spread (in km), and
//! consecutive positions of one device are close. Now and then a device moves to another hotspot.
//! A share of events is background noise, uniform over Germany. Accelerometer readings are
//! gravity plus noise, quieter while the phone is locked. Positions depend only on the seed, never
//! on the clock, so the same seed gives the same events.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use tributary_schema::MobileEvent;
use tributary_schema::mobile::time::write_timepoint;
use tributary_settings::KeyError;

/// A place where devices gather.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hotspot {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    /// Standard deviation of positions around the centre, per axis, in km.
    pub spread_km: f64,
    /// Relative share of devices.
    pub weight: f64,
}

/// Eight German cities at least 100 km apart, weighted roughly by size.
pub fn default_hotspots() -> Vec<Hotspot> {
    [
        ("Berlin", 52.5200, 13.4050, 6.0, 2.0),
        ("Hamburg", 53.5511, 9.9937, 5.0, 1.5),
        ("München", 48.1372, 11.5755, 5.0, 1.5),
        ("Köln", 50.9375, 6.9603, 4.0, 1.2),
        ("Frankfurt am Main", 50.1109, 8.6821, 4.0, 1.0),
        ("Stuttgart", 48.7758, 9.1829, 4.0, 1.0),
        ("Leipzig", 51.3397, 12.3731, 3.5, 0.8),
        ("Hannover", 52.3759, 9.7320, 3.5, 0.8),
    ]
    .into_iter()
    .map(|(name, lat, lon, spread_km, weight)| Hotspot { name: name.into(), lat, lon, spread_km, weight })
    .collect()
}

/// Germany's bounding box, for the default hotspots' background noise:
/// (lat min, lat max, lon min, lon max).
pub const GERMANY_BOX: (f64, f64, f64, f64) = (47.27, 55.06, 5.87, 15.04);

/// Settings of the generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    pub seed: u64,
    pub devices: u32,
    pub hotspots: Vec<Hotspot>,
    /// Share of events that are uniform background noise (0..1).
    pub noise_share: f64,
    /// Chance per event that its device moves to another hotspot.
    pub relocation_chance: f64,
    /// Time of the first event, ms since the Unix epoch.
    pub start_ms: i64,
    /// Simulated time between events, ms.
    pub step_ms: f64,
}

/// The generator's defaults: the default hotspots, 2 % background noise, a device moving to
/// another hotspot once in 1,000 events, one event a millisecond from the Unix epoch.
impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            devices: 1000,
            hotspots: default_hotspots(),
            noise_share: 0.02,
            relocation_chance: 0.001,
            start_ms: 0,
            step_ms: 1.0,
        }
    }
}

impl GeneratorConfig {
    /// Checks ranges; the error names the setting (`devices`, `hotspots`, `noise_share`).
    pub fn validate(&self) -> Result<(), KeyError> {
        if self.devices == 0 {
            return Err(KeyError::new("devices", "must be at least 1"));
        }
        if self.hotspots.is_empty() {
            return Err(KeyError::new("hotspots", "must name at least one hotspot"));
        }
        if !(0.0..=1.0).contains(&self.noise_share) {
            return Err(KeyError::new("noise_share", format!("= {} is outside 0..1", self.noise_share)));
        }
        for h in &self.hotspots {
            if !(h.lat.abs() <= 90.0 && h.lon.abs() <= 180.0 && h.spread_km >= 0.0 && h.weight > 0.0) {
                return Err(KeyError::new(
                    "hotspots",
                    format!("{} has an invalid position, spread or weight", h.name),
                ));
            }
        }
        Ok(())
    }
}

/// What the generator was told: the truth to judge clusters against (`--truth FILE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub hotspots: Vec<Hotspot>,
    pub noise_share: f64,
}

struct Device {
    id: String,
    hotspot: usize,
    /// Offset from the hotspot centre, km north and east.
    offset: [f64; 2],
    locked: bool,
}

/// The event source; [`Iterator`] of events, endless.
pub struct Generator {
    cfg: GeneratorConfig,
    /// Where background noise falls: Germany for the default hotspots, else the hotspots'
    /// bounding box widened by one degree.
    noise_box: (f64, f64, f64, f64),
    rng: StdRng,
    devices: Vec<Device>,
    cumulative_weights: Vec<f64>,
    produced: u64,
}

/// How strongly a device's offset persists from one of its events to the next (AR(1)).
const PERSISTENCE: f64 = 0.9;

impl Generator {
    /// A generator; `cfg` must be valid ([`GeneratorConfig::validate`]).
    pub fn new(cfg: GeneratorConfig) -> Self {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut cumulative_weights = Vec::with_capacity(cfg.hotspots.len());
        let mut total = 0.0;
        for h in &cfg.hotspots {
            total += h.weight;
            cumulative_weights.push(total);
        }
        let noise_box = if cfg.hotspots == default_hotspots() {
            GERMANY_BOX
        } else {
            let lats = cfg.hotspots.iter().map(|h| h.lat);
            let lons = cfg.hotspots.iter().map(|h| h.lon);
            (
                (lats.clone().fold(f64::INFINITY, f64::min) - 1.0).max(-90.0),
                (lats.fold(f64::NEG_INFINITY, f64::max) + 1.0).min(90.0),
                (lons.clone().fold(f64::INFINITY, f64::min) - 1.0).max(-180.0),
                (lons.fold(f64::NEG_INFINITY, f64::max) + 1.0).min(180.0),
            )
        };
        let mut g = Self {
            cfg,
            noise_box,
            rng: StdRng::seed_from_u64(0),
            devices: Vec::new(),
            cumulative_weights,
            produced: 0,
        };
        let devices = (0..g.cfg.devices)
            .map(|i| {
                let hotspot = g.pick_hotspot(&mut rng);
                let spread = g.cfg.hotspots[hotspot].spread_km;
                let offset = [gauss(&mut rng) * spread, gauss(&mut rng) * spread];
                Device { id: format!("device-{i:05}"), hotspot, offset, locked: rng.random_bool(0.5) }
            })
            .collect();
        g.devices = devices;
        g.rng = rng;
        g
    }

    /// The truth for `--truth`.
    pub fn truth(&self) -> Truth {
        Truth { seed: self.cfg.seed, hotspots: self.cfg.hotspots.clone(), noise_share: self.cfg.noise_share }
    }

    fn pick_hotspot(&self, rng: &mut StdRng) -> usize {
        let total = *self.cumulative_weights.last().expect("validated: hotspots exist");
        let x = rng.random::<f64>() * total;
        self.cumulative_weights.partition_point(|w| *w <= x).min(self.cumulative_weights.len() - 1)
    }

    /// The next event.
    pub fn next_event(&mut self) -> MobileEvent {
        let mut rng = std::mem::replace(&mut self.rng, StdRng::seed_from_u64(0));
        let i = rng.random_range(0..self.devices.len());
        let noise = rng.random::<f64>() < self.cfg.noise_share;
        if rng.random::<f64>() < self.cfg.relocation_chance {
            let h = self.pick_hotspot(&mut rng);
            self.devices[i].hotspot = h;
        }
        let d = &mut self.devices[i];
        let h = &self.cfg.hotspots[d.hotspot];
        let innovation = (1.0 - PERSISTENCE * PERSISTENCE).sqrt() * h.spread_km;
        for o in &mut d.offset {
            *o = PERSISTENCE * *o + innovation * gauss(&mut rng);
        }
        if rng.random::<f64>() < 0.05 {
            d.locked = !d.locked;
        }
        let (latitude, longitude) = if noise {
            let (la0, la1, lo0, lo1) = self.noise_box;
            (rng.random_range(la0..la1), rng.random_range(lo0..lo1))
        } else {
            offset_position(h.lat, h.lon, d.offset)
        };
        let shake = if d.locked { 0.02 } else { 0.8 };
        let event = MobileEvent {
            timepoint: write_timepoint(self.cfg.start_ms + (self.produced as f64 * self.cfg.step_ms) as i64),
            device_id: d.id.clone(),
            accelo_x: Some(round4(shake * gauss(&mut rng))),
            accelo_y: Some(round4(shake * gauss(&mut rng))),
            accelo_z: Some(round4(9.81 + shake * gauss(&mut rng))),
            latitude: round6(latitude),
            longitude: round6(longitude),
            locked: Some(d.locked),
        };
        self.produced += 1;
        self.rng = rng;
        event
    }
}

impl Iterator for Generator {
    type Item = MobileEvent;
    fn next(&mut self) -> Option<MobileEvent> {
        Some(self.next_event())
    }
}

fn gauss(rng: &mut StdRng) -> f64 {
    rng.sample(StandardNormal)
}

/// GPS precision: 6 decimals (about 0.1 m).
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The position `offset` km (north, east) from (lat, lon).
fn offset_position(lat: f64, lon: f64, offset: [f64; 2]) -> (f64, f64) {
    const KM_PER_DEGREE: f64 = 6371.0088 * std::f64::consts::PI / 180.0;
    let lat2 = lat + offset[0] / KM_PER_DEGREE;
    let lon2 = lon + offset[1] / (KM_PER_DEGREE * lat.to_radians().cos());
    (lat2.clamp(-90.0, 90.0), ((lon2 + 540.0) % 360.0) - 180.0)
}

/// Appends generated events to `topic` in `encoding`, keyed by device id, at `rate` events/s
/// (as fast as possible without one), until `count` events (if given) or until `stop` turns
/// true. Returns the number appended; `on_append` hears of each append's number of events as it
/// returns.
#[allow(clippy::too_many_arguments)]
pub async fn publish_to_log(
    log: &dyn tributary_log::EventLog,
    topic: &str,
    encoding: tributary_schema::mobile::Encoding,
    generator: &mut Generator,
    rate: Option<f64>,
    count: Option<u64>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    mut on_append: impl FnMut(u64) + Send,
) -> tributary_log::Result<u64> {
    use std::time::{Duration, Instant};
    use tributary_log::Record;
    let started = Instant::now();
    let mut produced = 0u64;
    // Paced in 10 ms ticks; what is due is computed from the start, so no drift accumulates.
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let remaining = count.map_or(u64::MAX, |c| c - produced);
        if remaining == 0 || *stop.borrow() {
            return Ok(produced);
        }
        let n = match rate {
            Some(rate) => {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.changed() => continue,
                }
                // At most 10,000 at once: after a pause (a full disk) the backlog comes in parts.
                ((started.elapsed().as_secs_f64() * rate) as u64)
                    .saturating_sub(produced)
                    .min(remaining)
                    .min(10_000)
            }
            None => remaining.min(1000),
        };
        if n == 0 {
            continue;
        }
        let batch: Vec<Record> = (0..n)
            .map(|_| {
                let e = generator.next_event();
                crate::event_records::mobile_record(e.encode(encoding), tributary_log::now_ms())
            })
            .collect();
        // A transient failure (a full disk, a broker out of reach) is waited out: the same
        // events are appended again, so the stream stays the seed's.
        let mut backoff = tributary_log::Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        loop {
            match log.append(topic, batch.clone()).await {
                Ok(_) => break,
                Err(e) if e.is_transient() => {
                    tracing::warn!(topic, error = %e, retry_in_ms = backoff.next_pause().as_millis() as u64, "generated events not appended; trying again");
                    if !backoff.wait(stop).await {
                        return Ok(produced);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        produced += n;
        on_append(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64) -> GeneratorConfig {
        GeneratorConfig {
            seed,
            devices: 500,
            hotspots: default_hotspots(),
            noise_share: 0.02,
            relocation_chance: 0.001,
            start_ms: 1_590_969_600_000,
            step_ms: 1.0,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_events() {
        let a: Vec<MobileEvent> = Generator::new(cfg(7)).take(1000).collect();
        let b: Vec<MobileEvent> = Generator::new(cfg(7)).take(1000).collect();
        let c: Vec<MobileEvent> = Generator::new(cfg(8)).take(1000).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn events_are_valid_and_gather_around_the_hotspots() {
        let hotspots = default_hotspots();
        let mut near = 0;
        let n = 20_000;
        for e in Generator::new(cfg(1)).take(n) {
            e.validate().unwrap();
            let close = hotspots.iter().any(|h| {
                let dlat = (e.latitude - h.lat) * 111.2;
                let dlon = (e.longitude - h.lon) * 111.2 * h.lat.to_radians().cos();
                (dlat * dlat + dlon * dlon).sqrt() < 4.0 * h.spread_km
            });
            near += close as usize;
        }
        // 2 % noise (some of it lands near a city anyway); nearly all the rest within 4 σ.
        assert!(near as f64 / n as f64 > 0.97, "{near}");
    }

    #[test]
    fn device_ids_are_kept_and_reused() {
        let ids: std::collections::HashSet<String> =
            Generator::new(cfg(3)).take(5000).map(|e| e.device_id).collect();
        assert!(ids.len() <= 500 && ids.len() > 450);
    }

    #[test]
    fn times_are_formatted_like_the_reference() {
        assert_eq!(write_timepoint(0), "1970-01-01 00:00:00.000");
        assert_eq!(write_timepoint(1_590_969_600_123), "2020-06-01 00:00:00.123");
        assert_eq!(write_timepoint(951_782_400_000 + 86_399_999), "2000-02-29 23:59:59.999");
    }
}
