//! The records that travel through the event log from one layer to another, and their
//! encodings. A producer (a source) and a consumer (a processor) agree through this crate only.
//!
//! * [`mobile`]: a mobile-phone event (the reference generator's fields), parsed from CSV or
//!   NDJSON, validated, and carried in the log in the compact [`mobile::binary`] layout or as
//!   one JSON object per record (a record header says which).
//! * [`markets`]: rows of the Markets × COVID datasets (ECDC cases and deaths, price series), as
//!   parsed from their source formats and kept in the lake.
//! * [`dead_letter`]: input that could not be used, with where it came from and why.
//! * [`Invalid`]: why a record cannot be used (the reason of its dead letter).
//! * [`projection`]: GPS positions as k-means coordinates; stored with each model version.

pub mod dead_letter;
mod invalid;
pub mod markets;
pub mod mobile;
pub mod projection;

pub use dead_letter::DeadLetter;
pub use invalid::{Invalid, clip};
pub use mobile::{MobileEvent, TimedPosition};
