//! Diagnostic logging with tracing, to stderr (stdout carries data in the console tools).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

/// Installs the global subscriber: `RUST_LOG` if set, else `logging.filter`.
pub fn init(cfg: &LoggingConfig) {
    let filter =
        EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(&cfg.filter)).unwrap_or_else(|e| {
            eprintln!("warning: logging.filter '{}' is invalid ({e}); using \"info\"", cfg.filter);
            EnvFilter::new("info")
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cfg.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
