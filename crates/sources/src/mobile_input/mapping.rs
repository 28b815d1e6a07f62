//! Which column is which, and reading a line through it.

use tributary_schema::mobile::time::{TimeReader, write_timepoint};
use tributary_schema::mobile::{CsvFields, CsvLayout, EncodedEvent, Encoding as LogEncoding, MobileEvent};
use tributary_schema::{Invalid, clip};

use super::settings::{FieldName, InputSettings};
use crate::dialect::Dialect;

/// Where each field of an event is, by column index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    latitude: usize,
    longitude: usize,
    time: usize,
    date: Option<usize>,
    device: Option<usize>,
    accelo: Option<[usize; 3]>,
    locked: Option<usize>,
    /// Fields a line must have: the header's width, or (without a header) one past the last
    /// column read.
    width: usize,
    exact_width: bool,
    /// Which column became which, for messages.
    explained: Vec<(String, FieldName)>,
}

/// How the lines of one file become events.
#[derive(Debug, Clone)]
pub enum Reader {
    /// Tributary's own CSV (or the reference generator's, swapped): the fast path, which keeps
    /// each value's text.
    Canonical(CsvLayout),
    /// Any other layout, through a mapping.
    Mapped(Mapping),
}

impl Mapping {
    /// The mapping of a header: names set in `settings` first, then common names. With
    /// `swap_lat_lon`, the columns called latitude and longitude are read the other way round.
    pub fn from_header(
        names: &[String],
        settings: &InputSettings,
        swap_lat_lon: bool,
    ) -> Result<Self, Invalid> {
        let mut found: Vec<Option<FieldName>> = names.iter().map(|n| FieldName::from_alias(n)).collect();
        // A name set in the settings wins over a common name elsewhere.
        for (setting, field) in [
            (&settings.latitude, FieldName::Latitude),
            (&settings.longitude, FieldName::Longitude),
            (&settings.time, FieldName::Time),
            (&settings.device, FieldName::Device),
        ] {
            let Some(wanted) = setting else { continue };
            let Some(i) = names.iter().position(|n| n.trim().eq_ignore_ascii_case(wanted.trim())) else {
                return Err(
                    format!("no column '{wanted}' for {field} (columns: {})", names.join(", ")).into()
                );
            };
            for f in found.iter_mut().filter(|f| **f == Some(field)) {
                *f = None;
            }
            found[i] = Some(field);
        }
        if swap_lat_lon {
            for f in &mut found {
                *f = match *f {
                    Some(FieldName::Latitude) => Some(FieldName::Longitude),
                    Some(FieldName::Longitude) => Some(FieldName::Latitude),
                    other => other,
                };
            }
        }
        let labels: Vec<String> = names.iter().map(|n| n.trim().to_string()).collect();
        Self::build(&found, &labels, true).map_err(|missing| {
            let flag = missing.name();
            format!(
                "no {missing} column among the columns {}: name it with --{flag} NAME (or `[mobile.input] {flag}`), or give every column's meaning with --columns",
                names.join(", ")
            )
            .into()
        })
    }

    /// The mapping of a file without a header: the meaning of each column by position.
    pub fn positional(columns: &[FieldName]) -> Result<Self, Invalid> {
        let found: Vec<Option<FieldName>> = columns.iter().map(|c| Some(*c)).collect();
        let labels: Vec<String> = (1..=columns.len()).map(|i| format!("column {i}")).collect();
        Self::build(&found, &labels, false)
            .map_err(|missing| format!("the columns setting names no {missing} column").into())
    }

    /// Assembles a mapping; `Err` names a field that must be there and is not.
    fn build(found: &[Option<FieldName>], labels: &[String], exact_width: bool) -> Result<Self, FieldName> {
        let first = |f: FieldName| found.iter().position(|x| *x == Some(f));
        let latitude = first(FieldName::Latitude).ok_or(FieldName::Latitude)?;
        let longitude = first(FieldName::Longitude).ok_or(FieldName::Longitude)?;
        let (time, date) = match (first(FieldName::Time), first(FieldName::Date)) {
            (Some(t), d) => (t, d),
            // A date column alone holds the whole time.
            (None, Some(d)) => (d, None),
            (None, None) => return Err(FieldName::Time),
        };
        let accelo = match (first(FieldName::AcceloX), first(FieldName::AcceloY), first(FieldName::AcceloZ)) {
            (Some(x), Some(y), Some(z)) => Some([x, y, z]),
            _ => None,
        };
        let device = first(FieldName::Device);
        let locked = first(FieldName::Locked);
        let used: Vec<usize> = [Some(latitude), Some(longitude), Some(time), date, device, locked]
            .into_iter()
            .flatten()
            .chain(accelo.into_iter().flatten())
            .collect();
        let explained = used
            .iter()
            .map(|&i| {
                (labels[i].clone(), if Some(i) == date { FieldName::Date } else { field_at(found, i, time) })
            })
            .collect();
        let width = if exact_width { found.len() } else { used.iter().max().map_or(0, |m| m + 1) };
        Ok(Self { latitude, longitude, time, date, device, accelo, locked, width, exact_width, explained })
    }

    /// Which column became which: `lat → latitude, datetime → time, uid → device`; without a
    /// device column, says the file name is used.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> =
            self.explained.iter().map(|(label, f)| format!("{label} → {f}")).collect();
        if self.device.is_none() {
            parts.push("device ← the file's name".into());
        }
        parts.join(", ")
    }

    /// Reads one data line (decoded, without its line break) as an event for the log, in
    /// `encoding`. `device` is the device of a file without a device column.
    pub fn encode(
        &self,
        line: &[u8],
        fields: &mut CsvFields,
        dialect: &Dialect,
        times: &TimeReader,
        device: &str,
        encoding: LogEncoding,
    ) -> Result<EncodedEvent, Invalid> {
        fields.split(line.strip_suffix(b"\r").unwrap_or(line))?;
        if self.exact_width && fields.len() != self.width {
            return Err(format!("{} columns, the header has {}", fields.len(), self.width).into());
        }
        if fields.len() < self.width {
            return Err(format!("{} columns, expected at least {}", fields.len(), self.width).into());
        }
        let text = |i: usize, name: &str| -> Result<&str, Invalid> {
            std::str::from_utf8(fields.get(i))
                .map(str::trim)
                .map_err(|_| Invalid::from(format!("{name} is not UTF-8")))
        };
        let number = |i: usize, name: &str| -> Result<Option<f64>, Invalid> {
            let t = text(i, name)?;
            if t.is_empty() {
                return Ok(None);
            }
            match dialect.number(t) {
                Some(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(format!("{name} '{}' is not a number", clip(t)).into()),
            }
        };
        let required =
            |i: usize, name: &str| number(i, name)?.ok_or_else(|| Invalid::from(format!("{name} is empty")));
        let time_text = match self.date {
            Some(d) => format!("{} {}", text(d, "date")?, text(self.time, "time")?),
            None => text(self.time, "time")?.to_string(),
        };
        if time_text.trim().is_empty() {
            return Err("time is empty".into());
        }
        let ms = times.read(&time_text)?;
        let device = match self.device {
            Some(i) => text(i, "device")?,
            None => device,
        };
        let accelo = match self.accelo {
            Some([x, y, z]) => [number(x, "acceloX")?, number(y, "acceloY")?, number(z, "acceloZ")?],
            None => [None; 3],
        };
        let locked = match self.locked.map(|i| text(i, "locked")).transpose()? {
            None | Some("") => None,
            Some(t) => Some(parse_flag(t)?),
        };
        let event = MobileEvent {
            timepoint: write_timepoint(ms),
            device_id: device.to_string(),
            accelo_x: accelo[0],
            accelo_y: accelo[1],
            accelo_z: accelo[2],
            latitude: required(self.latitude, "latitude")?,
            longitude: required(self.longitude, "longitude")?,
            locked,
        };
        event.validate()?;
        Ok(event.encode(encoding))
    }
}

fn field_at(found: &[Option<FieldName>], i: usize, time: usize) -> FieldName {
    // A lone date column serves as the time.
    if i == time { FieldName::Time } else { found[i].unwrap_or(FieldName::Ignore) }
}

fn parse_flag(t: &str) -> Result<bool, Invalid> {
    match t.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("locked '{}' is not true or false", clip(t)).into()),
    }
}
