//! **Layer: sources.** Bring data in and append it to the event log.
//!
//! Every source turns outside input into records appended to the event log (`tributary-log`),
//! and only acknowledges its input (deletes a file, answers a request) after the log has
//! acknowledged the records. Bad input becomes dead letters, never silent loss.
//!
//! * [`components`]: the directory source and the generator as components (the contract of
//!   `tributary-component`), as `up` and `ingest` run them.
//! * [`directory`]: files dropped into a folder, exactly once into the log, even across kill -9.
//! * [`generator`]: synthetic mobile events around real cities, deterministic for a seed.
//! * [`event_records`]: the log record of a mobile event (key, encoding header).
//! * [`mobile_file`]: files of mobile events (CSV, NDJSON) into events and dead letters.
//! * [`mobile_input`]: GPS files of any layout: column mapping, times, built-in profiles.
//! * [`dialect`]: how delimited files are written (encoding, delimiter, header, decimal comma),
//!   found from the content unless set; every reader of files uses it.
//! * [`formats`]: the Markets × COVID source formats (ECDC daily and weekly, Yahoo and FSE
//!   prices) into rows and dead letters.
//! * [`pull`]: payloads from HTTP(S) or `file://` URLs: conditional requests, timeouts, retries
//!   with backoff, a size limit.
//! * [`lines`]: line reading with bounded memory, for any input.

pub mod components;
pub mod dialect;
pub mod directory;
pub mod event_records;
pub mod formats;
pub mod generator;
pub mod lines;
pub mod mobile_file;
pub mod mobile_input;
pub mod pull;
pub mod settings;
