//! Imports into the lake through the API, for `tributary import` beside a running `up` (which
//! owns the data directory). The API knows nothing of the lake: the process that serves it
//! provides an [`Importer`] (the binary's lake import), and `POST /api/v1/markets/import` hands
//! it the payload.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// How to read an imported payload: what `tributary import`'s flags say (names as there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportOptions {
    /// The payload's file name or URL: names a price series by default, and the import.
    #[param(min_length = 1)]
    pub name: String,
    /// The dataset the payload must hold: covid_daily, covid_weekly or prices.
    #[param(pattern = "^(covid_daily|covid_weekly|prices)$")]
    pub dataset: Option<String>,
    /// ecdc-daily-csv, ecdc-daily-json, ecdc-weekly, yahoo or fse, instead of recognising it.
    #[param(pattern = "^(ecdc-daily-csv|ecdc-daily-json|ecdc-weekly|yahoo|fse)$")]
    pub format: Option<String>,
    /// A price series' name, or the share of a multi-share file (SHARE or SHARE=NAME).
    pub symbol: Option<String>,
    /// utf-8, windows-1252 (also latin-1) or utf-16, where detection is wrong.
    #[param(pattern = "^(utf-8|utf8|windows-1252|latin-1|latin1|iso-8859-1|cp1252|utf-16)$")]
    pub encoding: Option<String>,
    /// ",", ";", "tab" or "|", where detection is wrong.
    #[param(pattern = "^(,|;|tab|\\|)$")]
    pub delimiter: Option<String>,
}

/// Why an import did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportRefused {
    /// The payload or the options are unusable (answered 400).
    Unusable(String),
    /// The import failed (answered 503: the lake or the log did not answer).
    Failed(String),
}

/// Imports payloads into the lake (provided by the process that runs the API).
#[async_trait::async_trait]
pub trait Importer: Send + Sync + 'static {
    /// Imports `payload`; the report as JSON, or why not.
    async fn import(
        &self,
        payload: Bytes,
        options: ImportOptions,
    ) -> Result<serde_json::Value, ImportRefused>;
}
