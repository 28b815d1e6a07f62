//! **Shared by every layer.** The vocabulary that configuration sections are written in, so that
//! each layer crate can own its section (a serde type with a `validate()`) and all of them read
//! the same way:
//!
//! - durations as humans write them (`"100ms"`, `"7days"`): [`human_duration`];
//! - sizes (`4096`, `"64MiB"`, `"1.5GB"`): [`ByteSize`];
//! - values detected unless given (`"auto"`): [`Auto`];
//! - bounds that can be switched off (`"forever"`, `"unlimited"`): [`Limit`];
//! - a bad value: [`KeyError`], which names the key, so the binary can say where it came from
//!   (file, environment variable or flag) without guessing;
//! - the keys of a section: [`keys_of`], for sections that several owners share.
//!
//! ```
//! use serde::Deserialize;
//! use tributary_settings::{ByteSize, KeyError, Limit, human_duration};
//!
//! #[derive(Deserialize)]
//! struct Section {
//!     #[serde(deserialize_with = "human_duration")]
//!     timeout: std::time::Duration,
//!     max_size: ByteSize,
//!     keep: Limit<std::time::Duration>,
//! }
//!
//! impl Section {
//!     fn validate(&self) -> Result<(), KeyError> {
//!         if self.timeout.is_zero() {
//!             return Err(KeyError::new("timeout", "must be longer than 0"));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let s: Section = toml::from_str("timeout = \"0s\"\nmax_size = \"1KiB\"\nkeep = \"forever\"").unwrap();
//! assert_eq!((s.max_size, s.keep), (ByteSize(1024), Limit::Unlimited));
//! let err = s.validate().unwrap_err().within("cache");
//! assert_eq!(err.to_string(), "`cache.timeout` must be longer than 0");
//! ```

mod auto;
mod duration;
mod error;
mod keys;
mod limit;
mod size;

pub use auto::Auto;
pub use duration::human_duration;
pub use error::{InvalidValue, KeyError};
pub use keys::keys_of;
pub use limit::Limit;
pub use size::ByteSize;
