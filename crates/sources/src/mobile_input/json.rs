//! NDJSON events with other field names (`{"lat": …, "lon": …, "time": …, "id": …}`), read
//! through the same names as delimited files: common ones, or those set in `[mobile.input]`.

use serde_json::{Map, Value};
use tributary_schema::mobile::time::{TimeReader, write_timepoint};
use tributary_schema::mobile::{EncodedEvent, Encoding as LogEncoding, MobileEvent};
use tributary_schema::{Invalid, clip};

use super::settings::{FieldName, InputSettings};

/// Reads a JSON object whose keys name the fields (see [`FieldName::from_alias`]; a name set
/// in `settings` wins). `device` is the device of an object without one. The event is encoded
/// for the log in `encoding`.
pub fn encode_mapped_json(
    line: &[u8],
    settings: &InputSettings,
    times: &TimeReader,
    device: &str,
    encoding: LogEncoding,
) -> Result<EncodedEvent, Invalid> {
    let object: Map<String, Value> =
        serde_json::from_slice(line).map_err(|e| format!("not a JSON event: {e}"))?;
    let named = |field: FieldName, setting: &Option<String>| -> Option<&Value> {
        match setting {
            Some(name) => object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v),
            None => object.iter().find(|(k, _)| FieldName::from_alias(k) == Some(field)).map(|(_, v)| v),
        }
    };
    let number = |field: FieldName, setting: &Option<String>| -> Result<Option<f64>, Invalid> {
        match named(field, setting) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{field} '{}' is not a number", clip(s)).into()),
            Some(other) => Err(format!("{field} is {}, expected a number", clip(&other.to_string())).into()),
        }
    };
    let text = |field: FieldName, setting: &Option<String>| -> Option<String> {
        match named(field, setting)? {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let required = |field: FieldName, setting: &Option<String>| {
        number(field, setting)?.ok_or_else(|| Invalid::from(format!("no {field} in the event")))
    };
    let time = text(FieldName::Time, &settings.time).filter(|t| !t.is_empty());
    let time = time.ok_or_else(|| Invalid::from("no time in the event"))?;
    let none = None;
    let locked = match named(FieldName::Locked, &none) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            let t = other.as_str().map(str::to_string).unwrap_or_else(|| other.to_string());
            match t.trim() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => return Err(format!("locked '{}' is not true or false", clip(&t)).into()),
            }
        }
    };
    let event = MobileEvent {
        timepoint: write_timepoint(times.read(&time)?),
        device_id: text(FieldName::Device, &settings.device).unwrap_or_else(|| device.to_string()),
        accelo_x: number(FieldName::AcceloX, &none)?,
        accelo_y: number(FieldName::AcceloY, &none)?,
        accelo_z: number(FieldName::AcceloZ, &none)?,
        latitude: required(FieldName::Latitude, &settings.latitude)?,
        longitude: required(FieldName::Longitude, &settings.longitude)?,
        locked,
    };
    event.validate()?;
    Ok(event.encode(encoding))
}
