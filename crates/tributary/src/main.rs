//! The `tributary` binary: parses the command line and configuration, sets up diagnostics, and
//! runs the chosen role. See ARCHITECTURE.md for how the crates fit together.

mod cli;
mod commands;
mod config;
mod diagnostics;
mod lake_importer;
mod markets_inbox;
mod pull_import;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: events are allocated on the parsing thread and freed on
/// the processor's, and glibc's arena locks made that hand-over a measurable share of the mobile
/// pipeline's time (futex waits in `perf`); mimalloc frees across threads without a lock.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let flags = config::FlagOverrides {
        data_dir: cli.data_dir.clone(),
        log_format: cli.log_format,
        set: cli.set.clone(),
    };
    let config = match config::load(cli.config.as_deref(), std::env::vars(), &flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    diagnostics::init(&config.logging);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
