//! The "Reading mobile files" flags over the config's `[mobile.input]`, and the files a list of
//! paths stands for.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::de::IntoDeserializer;
use tributary_settings::Auto;
use tributary_sources::mobile_input::InputSettings;

use crate::cli::InputArgs;

impl InputArgs {
    /// `base` (the config's `[mobile.input]`) with the flags given; errors name the flag.
    pub fn over(&self, base: &InputSettings) -> anyhow::Result<InputSettings> {
        fn value<'de, T: serde::Deserialize<'de>>(flag: &str, v: &'de str) -> anyhow::Result<T> {
            T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(v))
                .map_err(|e| anyhow::anyhow!("--{flag} {v}: {e}"))
        }
        fn switch(flag: &str, v: &str) -> anyhow::Result<Auto<bool>> {
            match v {
                "auto" => Ok(Auto::Detect),
                "true" | "yes" => Ok(Auto::Given(true)),
                "false" | "no" => Ok(Auto::Given(false)),
                _ => bail!("--{flag} {v}: accepted auto, true, false"),
            }
        }
        let mut s = base.clone();
        if let Some(v) = &self.profile {
            s.profile = value("profile", v)?;
        }
        if let Some(columns) = &self.columns {
            s.columns = columns
                .iter()
                .map(|c| c.trim().parse().map_err(|e| anyhow::anyhow!("--columns: {e}")))
                .collect::<anyhow::Result<_>>()?;
        }
        for (target, given) in [
            (&mut s.latitude, &self.latitude),
            (&mut s.longitude, &self.longitude),
            (&mut s.time, &self.time),
            (&mut s.device, &self.device),
        ] {
            if given.is_some() {
                target.clone_from(given);
            }
        }
        if let Some(v) = &self.time_format {
            s.time_format = v.parse().map_err(|e| anyhow::anyhow!("--time-format: {e}"))?;
        }
        if let Some(v) = &self.time_zone {
            s.time_zone = v.parse().map_err(|e| anyhow::anyhow!("--time-zone: {e}"))?;
        }
        if let Some(v) = &self.delimiter {
            s.delimiter = value("delimiter", v)?;
        }
        if let Some(v) = &self.encoding {
            s.encoding = value("encoding", v)?;
        }
        if let Some(v) = &self.header {
            s.header = switch("header", v)?;
        }
        if let Some(v) = &self.decimal_comma {
            s.decimal_comma = switch("decimal-comma", v)?;
        }
        s.validate().map_err(|e| anyhow::anyhow!("--{} {}", e.key.replace('_', "-"), e.message))?;
        Ok(s)
    }
}

/// The files `paths` stand for: a file itself, a folder the files in it and below (hidden ones
/// left out), in name order.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the folder {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() { walk(&p, out)? } else { out.push(p) }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_config_and_name_themselves_in_errors() {
        let base = InputSettings { time: Some("when".into()), ..Default::default() };
        let args = InputArgs {
            columns: Some(vec!["id".into(), "time".into(), "lon".into(), "lat".into()]),
            delimiter: Some("tab".into()),
            header: Some("false".into()),
            time_zone: Some("+08:00".into()),
            profile: Some("reference".into()),
            ..Default::default()
        };
        let s = args.over(&base).unwrap();
        assert_eq!(
            (s.columns.len(), s.delimiter.given().map(|d| d.0), s.header),
            (4, Some(b'\t'), Auto::Given(false))
        );
        assert_eq!(s.time.as_deref(), Some("when"), "kept from the config");
        for (args, message) in [
            (
                InputArgs { profile: Some("spark".into()), ..Default::default() },
                "--profile spark: unknown variant `spark`",
            ),
            (
                InputArgs { columns: Some(vec!["lat".into()]), ..Default::default() },
                "--columns must name the longitude column",
            ),
            (
                InputArgs { time_zone: Some("Mars".into()), ..Default::default() },
                "--time-zone: 'Mars' is not a time zone",
            ),
            (
                InputArgs { header: Some("maybe".into()), ..Default::default() },
                "--header maybe: accepted auto, true, false",
            ),
            (InputArgs { encoding: Some("ebcdic".into()), ..Default::default() }, "--encoding ebcdic"),
        ] {
            let err = args.over(&InputSettings::default()).unwrap_err().to_string();
            assert!(err.starts_with(message), "{err}");
        }
    }
}
