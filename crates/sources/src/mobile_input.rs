//! Mobile events from any GPS layout: which column holds latitude, longitude, time and device,
//! and how time is written (`[mobile.input]`, or the same as CLI flags).
//!
//! Without settings, a file's header says enough when its names are common ones
//! ([`FieldName::from_alias`]: `lat`/`latitude`, `lon`/`lng`/`long`/`longitude`,
//! `time`/`timestamp`/`datetime`/`tracked_at`/`timepoint`, `id`/`uid`/`user_id`/`device`/
//! `deviceId`, …); a file without a header needs its columns named by position (`columns =
//! ["device", "time", "longitude", "latitude"]`). Built-in profiles cover the rest:
//!
//! * `reference` — the reference generator's CSV, whose latitude column holds longitudes and
//!   vice versa (never assumed: SPEC "Data sources");
//! * `geolife` — Microsoft GeoLife's `.plt` trajectories: six preamble lines, then
//!   `lat,lon,0,altitude,days,date,time` in UTC; recognised by the `.plt` extension or the
//!   first line `Geolife trajectory`. The device is the user's folder (`Data/000/Trajectory/x.plt`
//!   → `000`), else the file's name.
//!
//! NDJSON objects with other field names (`{"lat": …, "lon": …, "time": …}`) are read through
//! the same names ([`encode_mapped_json`]) when they are not Tributary's own events.
//!
//! A file without a device column takes its file name as the device. Accelerometer and
//! `locked` columns are optional. Times become UTC, written `YYYY-MM-DD HH:MM:SS.mmm`
//! (milliseconds kept: finer fractions are cut).
//!
//! Empty values, by field: an empty accelerometer value or `locked` is absent from the event;
//! an empty latitude, longitude, time or device makes the line a dead letter (an event must say
//! where, when and who).

mod json;
mod mapping;
mod settings;

pub use json::encode_mapped_json;
pub use mapping::{Mapping, Reader};
pub use settings::{FieldName, InputSettings, Profile};

/// GeoLife's preamble: six lines before the points.
pub const GEOLIFE_PREAMBLE_LINES: u64 = 6;

/// Whether a file is a GeoLife trajectory: by its extension or its first line.
pub fn is_geolife(path: Option<&std::path::Path>, first_bytes: &[u8]) -> bool {
    path.and_then(|p| p.extension()).is_some_and(|e| e.eq_ignore_ascii_case("plt"))
        || first_bytes.trim_ascii_start().starts_with(b"Geolife trajectory")
}

/// The device of a GeoLife file: the user's folder above `Trajectory`, else the file's stem.
pub fn geolife_device(path: Option<&std::path::Path>, fallback: &str) -> String {
    let Some(path) = path else { return fallback.to_string() };
    let parent = path.parent();
    if parent.and_then(|p| p.file_name()).is_some_and(|n| n.eq_ignore_ascii_case("Trajectory"))
        && let Some(user) = parent.and_then(|p| p.parent()).and_then(|p| p.file_name())
    {
        return user.to_string_lossy().into_owned();
    }
    file_device(Some(path), fallback)
}

/// The device of a file without a device column: its name without extension.
pub fn file_device(path: Option<&std::path::Path>, fallback: &str) -> String {
    path.and_then(|p| p.file_stem())
        .map_or_else(|| fallback.to_string(), |s| s.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests;
