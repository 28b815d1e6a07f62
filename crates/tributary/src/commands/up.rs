//! `tributary up`: everything in one process with embedded defaults.
//!
//! Runs every part: the directory source on the inbox and, unless `mobile.generator_rate = 0`,
//! a generator feeding the log, so a fresh start shows live clusters with no other step; the
//! streaming k-means (on Kafka, as a worker of a group that `tributary worker`s can join), the
//! dead-letter sink and store retention; the Markets × COVID pulls into the lake and the batch
//! runner that republishes the views when a dataset changed; and the HTTP API. Stops cleanly on
//! Ctrl-C or SIGTERM: the parts finish their current batch, then the log is closed.

use std::process::ExitCode;

use super::roles;
use super::running::{Process, ShutdownSignals, run_process};
use super::worker::default_worker_id;
use crate::cli::UpArgs;
use crate::config::Config;

pub async fn run(config: &Config, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let signals = ShutdownSignals::install()?;
    let log = super::open_log(config).await?;
    let store = super::open_store(config).await?;
    let lake = tributary_lake::Lake::open(&config.lake_location())?;
    // `tributary import` beside this process imports through its API, into its lake.
    let importer = crate::lake_importer::LakeImporter { lake: lake.clone(), log: log.shared() };
    let (api, address, token_line) =
        super::serve::api_server(config, args.listen, Some(std::sync::Arc::new(importer))).await?;
    // Where the console tools and `import` find this process (see `open_log`).
    let address_file = AddressFile::write(config, address)?;

    let mut parts = vec![api];
    parts.extend(roles::mobile_sources(config)?);
    // On Kafka the k-means runs as a worker of a group that other processes can join.
    parts.push(roles::kmeans(config, log.is_shared().then(|| default_worker_id("up")))?);
    parts.extend(roles::beside_kmeans(config)?);
    parts.extend(roles::pulls(config, &lake)?);
    parts.push(roles::batch_views(config, None, &lake).await?);

    let headline = format!("Tributary {} is running.", env!("CARGO_PKG_VERSION"));
    let process = Process::new(config, headline, Some(log), store, parts)
        .lines_first(vec![token_line, ("data directory", config.data_dir.display().to_string())]);
    let result = run_process(process, signals).await;
    drop(address_file);
    result
}

/// `<data_dir>/api-address`: this `up`'s API address, for the console tools and `import`,
/// which cannot open the data directory while `up` holds it and talk to `up` instead. Removed
/// when `up` stops; a stale one (after a kill) is harmless, as it is read only while the data
/// directory is locked, that is, while an `up` runs.
struct AddressFile(std::path::PathBuf);

impl AddressFile {
    fn write(config: &Config, address: std::net::SocketAddr) -> anyhow::Result<Self> {
        let mut address = address;
        if address.ip().is_unspecified() {
            address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let path = config.data_dir.join(super::API_ADDRESS_FILE);
        let tmp = config.data_dir.join(".api-address.tmp");
        std::fs::write(&tmp, format!("http://{address}\n"))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for AddressFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
