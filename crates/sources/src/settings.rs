//! The sources as configured: the inbox and generator keys of `[mobile]` in `tributary.toml`
//! (with `[mobile.input]`, how its files are read)
//! (the binary writes them in the same section as the k-means's, see its `config/compose.rs`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tributary_settings::{KeyError, human_duration};

use crate::directory::DirectorySourceConfig;
use crate::generator::{GeneratorConfig, default_hotspots};
use crate::mobile_file::ParseOptions;
use crate::mobile_input::InputSettings;

/// The directory source on the inbox.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboxConfig {
    /// Folder the directory source watches (default: `<data_dir>/inbox`).
    pub inbox: Option<PathBuf>,
    /// Move processed files here instead of deleting them.
    pub archive_dir: Option<PathBuf>,
    /// A file not renamed into the inbox is taken once unchanged this long.
    #[serde(deserialize_with = "human_duration")]
    pub file_min_age: Duration,
    /// Fallback scan of the inbox when no file-system notification arrives.
    #[serde(deserialize_with = "human_duration")]
    pub poll_interval: Duration,
    /// Files of the inbox read at the same time (each on its own thread).
    pub parallel_files: usize,
    /// How files are read: layout, dialect, column mapping, times (`[mobile.input]`).
    pub input: InputSettings,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            inbox: None,
            archive_dir: None,
            file_min_age: Duration::from_secs(1),
            poll_interval: Duration::from_secs(1),
            parallel_files: 2,
            input: InputSettings::default(),
        }
    }
}

impl InboxConfig {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        if !(1..=256).contains(&self.parallel_files) {
            return Err(KeyError::new(
                "parallel_files",
                format!("= {}: accepted 1 to 256", self.parallel_files),
            ));
        }
        self.input.validate().map_err(|e| e.within("input"))
    }

    /// The source's settings, on `dir` (the inbox, or the default one) into `topic` in
    /// `encoding`, appending `batch_records` records at a time.
    pub fn source(
        &self,
        dir: PathBuf,
        topic: &str,
        encoding: tributary_schema::mobile::Encoding,
        batch_records: usize,
    ) -> DirectorySourceConfig {
        DirectorySourceConfig {
            dir,
            topic: topic.to_string(),
            archive_dir: self.archive_dir.clone(),
            min_file_age: self.file_min_age,
            poll_interval: self.poll_interval,
            parse: ParseOptions { input: self.input.clone(), log_encoding: encoding, ..Default::default() },
            format: None,
            batch_records,
            parallel_files: self.parallel_files,
        }
    }
}

/// The generator that `up` runs on its own events.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorSettings {
    /// Events per second (`generator_rate`; 0 turns the generator off).
    #[serde(rename = "generator_rate")]
    pub rate: f64,
    /// The same seed makes the same devices and moves (`generator_seed`).
    #[serde(rename = "generator_seed")]
    pub seed: u64,
    /// Devices simulated (`generator_devices`).
    #[serde(rename = "generator_devices")]
    pub devices: u32,
}

impl Default for GeneratorSettings {
    fn default() -> Self {
        Self { rate: 200.0, seed: 1, devices: 1000 }
    }
}

impl GeneratorSettings {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            return Err(KeyError::new(
                "generator_rate",
                format!("= {}: must be 0 (off) or a positive number", self.rate),
            ));
        }
        if self.devices == 0 {
            return Err(KeyError::new("generator_devices", "must be at least 1"));
        }
        Ok(())
    }

    /// The generator's settings, its events starting at `start_ms`; `None` when it is off.
    pub fn generator(&self, start_ms: i64) -> Option<GeneratorConfig> {
        (self.rate > 0.0).then(|| GeneratorConfig {
            seed: self.seed,
            devices: self.devices,
            hotspots: default_hotspots(),
            start_ms,
            step_ms: 1000.0 / self.rate,
            ..GeneratorConfig::default()
        })
    }
}
