//! `[mobile.input]`: how mobile files are read.

use serde::Deserialize;
use tributary_schema::mobile::time::{TimeFormat, TimeReader, TimeZone};
use tributary_settings::{Auto, KeyError};

use crate::dialect::{Delimiter, DialectSettings, Encoding};

/// The meaning of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldName {
    Latitude,
    Longitude,
    Time,
    /// A date column, joined with the time column (`2008-10-23` + `02:53:04`).
    Date,
    Device,
    AcceloX,
    AcceloY,
    AcceloZ,
    Locked,
    /// A column that is not read.
    Ignore,
}

impl FieldName {
    /// The name in messages and in `columns`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Latitude => "latitude",
            Self::Longitude => "longitude",
            Self::Time => "time",
            Self::Date => "date",
            Self::Device => "device",
            Self::AcceloX => "acceloX",
            Self::AcceloY => "acceloY",
            Self::AcceloZ => "acceloZ",
            Self::Locked => "locked",
            Self::Ignore => "-",
        }
    }

    /// The field a column name means, compared without case, spaces, `_` and `-`: the common
    /// names of GPS files and the reference generator's.
    pub fn from_alias(name: &str) -> Option<Self> {
        let key: String = name
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-' | '"'))
            .flat_map(char::to_lowercase)
            .collect();
        Some(match key.as_str() {
            "lat" | "latitude" | "latdeg" => Self::Latitude,
            "lon" | "lng" | "long" | "longitude" | "londeg" => Self::Longitude,
            "time" | "timestamp" | "datetime" | "trackedat" | "timepoint" | "recordedat" | "ts" | "utc"
            | "gpstime" => Self::Time,
            "date" => Self::Date,
            "id" | "uid" | "userid" | "user" | "device" | "deviceid" | "imei" | "taxiid" | "vehicleid" => {
                Self::Device
            }
            "accelox" | "accelx" | "accx" => Self::AcceloX,
            "acceloy" | "accely" | "accy" => Self::AcceloY,
            "acceloz" | "accelz" | "accz" => Self::AcceloZ,
            "locked" => Self::Locked,
            "" | "ignore" | "skip" => Self::Ignore,
            _ => return None,
        })
    }
}

impl std::fmt::Display for FieldName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FieldName {
    type Err = tributary_settings::InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_alias(s).ok_or_else(|| {
            tributary_settings::InvalidValue(format!(
                "'{s}' is not a column meaning: accepted latitude (lat), longitude (lon, lng), time (timestamp, datetime), date, device (id, uid), acceloX, acceloY, acceloZ, locked, or - for a column not read"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A built-in layout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Found from the file: GeoLife by extension or content, otherwise the header's names.
    #[default]
    Auto,
    /// The reference generator's CSV: its latitude column holds longitudes and vice versa.
    Reference,
    /// GeoLife `.plt` trajectories.
    Geolife,
}

/// How mobile files are read (`[mobile.input]`; the CLI's `--columns`, `--latitude`, … set the
/// same). Everything is found from the file unless set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputSettings {
    /// A built-in layout: `auto`, `reference`, `geolife`.
    pub profile: Profile,
    /// `auto`, `utf-8`, `windows-1252` (also `latin-1`).
    pub encoding: Auto<Encoding>,
    /// `auto`, `","`, `";"`, `"tab"`, `"|"`.
    pub delimiter: Auto<Delimiter>,
    /// `auto`, `true`, `false`.
    pub header: Auto<bool>,
    /// `auto`, `true`, `false`: numbers written `52,52`.
    pub decimal_comma: Auto<bool>,
    /// The meaning of each column by position, for files without a header (or to override it),
    /// e.g. `["device", "time", "longitude", "latitude"]`; `-` for a column not read.
    pub columns: Vec<FieldName>,
    /// The header name of the latitude column, where it is not a common one.
    pub latitude: Option<String>,
    /// The header name of the longitude column.
    pub longitude: Option<String>,
    /// The header name of the time column.
    pub time: Option<String>,
    /// The header name of the device column.
    pub device: Option<String>,
    /// How times are written: `auto` (ISO 8601 or epoch seconds/milliseconds, told apart by
    /// their text), `iso8601`, `epoch-s`, `epoch-ms`, or a strftime pattern.
    pub time_format: TimeFormat,
    /// The zone of times written without one: `UTC`, `+02:00`, `Europe/Berlin`.
    pub time_zone: TimeZone,
}

impl InputSettings {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        if self.encoding == Auto::Given(Encoding::Utf16) {
            return Err(KeyError::new(
                "encoding",
                "= utf-16: mobile files are read line by line; accepted utf-8, windows-1252",
            ));
        }
        let named = |f: FieldName| self.columns.iter().filter(|c| **c == f).count();
        if !self.columns.is_empty() {
            for f in [FieldName::Latitude, FieldName::Longitude, FieldName::Time] {
                if named(f) != 1 {
                    return Err(KeyError::new(
                        "columns",
                        format!("must name the {f} column exactly once (it names it {} times)", named(f)),
                    ));
                }
            }
            for f in [
                FieldName::Device,
                FieldName::Date,
                FieldName::AcceloX,
                FieldName::AcceloY,
                FieldName::AcceloZ,
                FieldName::Locked,
            ] {
                if named(f) > 1 {
                    return Err(KeyError::new("columns", format!("names the {f} column {} times", named(f))));
                }
            }
        }
        for (key, v) in [
            ("latitude", &self.latitude),
            ("longitude", &self.longitude),
            ("time", &self.time),
            ("device", &self.device),
        ] {
            if v.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(KeyError::new(key, "is empty: give a column name, or leave it out"));
            }
        }
        Ok(())
    }

    /// The dialect settings among these.
    pub fn dialect(&self) -> DialectSettings {
        DialectSettings {
            encoding: self.encoding,
            delimiter: self.delimiter,
            header: self.header,
            decimal_comma: self.decimal_comma,
        }
    }

    /// The reader of times.
    pub fn times(&self) -> TimeReader {
        TimeReader { format: self.time_format.clone(), zone: self.time_zone }
    }

    /// Whether nothing is set that the canonical layout's fast path would ignore: it keeps the
    /// time as written and the columns by their exact names.
    pub fn canonical_path_applies(&self) -> bool {
        self.columns.is_empty()
            && self.latitude.is_none()
            && self.longitude.is_none()
            && self.time.is_none()
            && self.device.is_none()
            && self.time_format == TimeFormat::Auto
            && self.time_zone == TimeZone::Utc
            && self.profile != Profile::Geolife
    }
}
