//! The lake import behind `POST /api/v1/markets/import`: what `tributary import` does, done by
//! the process that owns the data directory for a `tributary import` beside it.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tributary_api::importer::{ImportOptions, ImportRefused, Importer};
use tributary_lake::Lake;
use tributary_lake::import::ImportReport;
use tributary_log::EventLog;
use tributary_schema::markets::Dataset;
use tributary_settings::Auto;
use tributary_sources::formats::Format;
use tributary_sources::pull::Validators;

use crate::pull_import::{PayloadError, PullSource, import_payload};

/// What the import endpoint answers: the import's report, the format the payload was read as and
/// the rows skipped on purpose (what `tributary import` prints).
#[derive(Debug, Serialize, Deserialize)]
pub struct ImportAnswer {
    pub report: ImportReport,
    pub format: String,
    pub skipped: u64,
}

/// Imports into this process's lake, announcing on its log.
pub struct LakeImporter {
    pub lake: Lake,
    pub log: Arc<dyn EventLog>,
}

impl LakeImporter {
    /// The pull source an import's options describe; errors name the option.
    pub fn source(options: &ImportOptions) -> Result<PullSource, String> {
        let dataset = options
            .dataset
            .as_deref()
            .map(|d| {
                Dataset::from_name(d).ok_or_else(|| {
                    format!("--dataset '{d}' is not a dataset; accepted: covid_daily, covid_weekly, prices")
                })
            })
            .transpose()?;
        let format =
            options.format.as_deref().map(Format::from_name).transpose().map_err(|e| e.to_string())?;
        let value = |flag: &str, v: &Option<String>| -> Result<String, String> {
            v.clone().ok_or_else(|| format!("--{flag} is missing"))
        };
        let encoding = match &options.encoding {
            None => Auto::Detect,
            Some(_) => {
                let v = value("encoding", &options.encoding)?;
                Auto::Given(
                    serde::Deserialize::deserialize(
                        serde::de::IntoDeserializer::<serde::de::value::Error>::into_deserializer(v.as_str()),
                    )
                    .map_err(|e| format!("--encoding {v}: {e}"))?,
                )
            }
        };
        let delimiter = match &options.delimiter {
            None => Auto::Detect,
            Some(d) => Auto::Given(d.parse().map_err(|e| format!("--delimiter: {e}"))?),
        };
        Ok(PullSource {
            dataset,
            format,
            symbol: options.symbol.clone(),
            encoding,
            delimiter,
            ..PullSource::new(options.name.clone())
        })
    }
}

#[async_trait::async_trait]
impl Importer for LakeImporter {
    async fn import(
        &self,
        payload: Bytes,
        options: ImportOptions,
    ) -> Result<serde_json::Value, ImportRefused> {
        let source = Self::source(&options).map_err(ImportRefused::Unusable)?;
        let (report, format, skipped) =
            import_payload(&payload, &source, &Validators::default(), &self.lake, &*self.log).await.map_err(
                |e| match e {
                    PayloadError::Unusable(why) => ImportRefused::Unusable(why),
                    PayloadError::Failed(e) => ImportRefused::Failed(format!("{e:#}")),
                },
            )?;
        let answer = ImportAnswer { report: *report, format: format.name().to_string(), skipped };
        serde_json::to_value(&answer).map_err(|e| ImportRefused::Failed(format!("encoding the report: {e}")))
    }
}
