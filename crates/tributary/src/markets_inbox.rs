//! The markets inbox of `up` and `ingest`: ECDC or price files dropped into a folder (default
//! `<data_dir>/markets-inbox`) are imported into the lake as `tributary import` would, then
//! deleted.
//!
//! * **Which files.** Regular files whose names do not start with `.` and do not end in `.tmp`,
//!   in name order, once unchanged for a second (a file written in place is not read half
//!   written; one renamed in is taken at the next scan).
//! * **Read as `import` reads.** The format, dialect and dataset are found from the content; a
//!   price file's series is named by the file name without its extension (`^GDAXI.csv` is
//!   `^GDAXI`), a multi-share file's by its Share column.
//! * **Nothing lost, nothing doubled.** A file is deleted only after its import returned: the
//!   lake then holds its raw payload and rows, and its dead letters are in the log. A process
//!   killed in between imports the file again at restart, which changes nothing (the lake keeps
//!   one current row per natural key, and a payload's dead letters are recorded once). A file
//!   that cannot be imported (not a known format, a missing column) is moved to `failed/`, with
//!   the reason in the log and the pipeline status.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tributary_component::{BoxError, Component, Info, Kind, Run};
use tributary_lake::Lake;
use tributary_sources::pull::{Puller, Validators};

use crate::pull_import::{PullOutcome, PullSource, pull_and_import};

/// How long a file must stay unchanged before it is taken.
const MIN_AGE: Duration = Duration::from_secs(1);

/// The markets inbox as a component.
pub struct MarketsInbox {
    pub dir: PathBuf,
    pub puller: Puller,
    pub lake: Lake,
    pub poll_interval: Duration,
}

#[async_trait::async_trait]
impl Component for MarketsInbox {
    fn info(&self) -> Info {
        Info::new("markets-inbox", Kind::Source, format!("markets-inbox:{}", self.dir.display()))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        vec![(
            "markets inbox",
            format!("{} (ECDC or price files) into {}", self.dir.display(), self.lake.location()),
        )]
    }

    async fn run(self: Box<Self>, cx: tributary_component::Context) -> Result<(), BoxError> {
        let log = cx.log()?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        cx.report().ready();
        let mut stop = cx.stop_signal();
        loop {
            for path in ready_files(&self.dir) {
                if *stop.borrow() {
                    return Ok(());
                }
                let Ok(url) = url::Url::from_file_path(&path) else { continue };
                let source = PullSource::new(url.to_string());
                let (mut no_progress, none) = (|_, _| {}, Validators::default());
                let import =
                    pull_and_import(&self.puller, &source, &none, &self.lake, &*log, &mut no_progress);
                let result = tokio::select! {
                    _ = stop.changed() => return Ok(()),
                    r = import => r,
                };
                let mut run = Run::default();
                match result {
                    Ok((PullOutcome::Imported { report, format, .. }, _)) => {
                        (run.rows, run.errors) = (report.upsert.offered, report.dead_letters);
                        tracing::info!(file = %path.display(), %format, dataset = %report.upsert.dataset, new = report.upsert.inserted, changed = report.upsert.updated, dead_letters = report.dead_letters, "markets inbox: imported");
                        if let Err(e) = std::fs::remove_file(&path) {
                            tracing::warn!(file = %path.display(), error = %e, "markets inbox: imported, but cannot delete the file");
                        }
                    }
                    Ok((PullOutcome::NotModified, _)) => {}
                    Err(e) => {
                        let reason = format!("{e:#}");
                        tracing::error!(file = %path.display(), error = %reason, "markets inbox: cannot import; moved to failed/");
                        run.failure = Some(reason);
                        move_to_failed(&path);
                    }
                }
                cx.report().run(run);
            }
            tokio::select! {
                _ = stop.changed() => return Ok(()),
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
        }
    }
}

/// Files of `dir` ready to be taken, in name order.
fn ready_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let now = SystemTime::now();
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.starts_with('.') && !name.ends_with(".tmp")
        })
        .filter(|e| {
            e.metadata().is_ok_and(|m| {
                m.is_file()
                    && m.modified().is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= MIN_AGE)
            })
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

fn move_to_failed(path: &Path) {
    let Some(dir) = path.parent() else { return };
    let failed = dir.join("failed");
    let moved = std::fs::create_dir_all(&failed)
        .and_then(|()| std::fs::rename(path, failed.join(path.file_name().unwrap_or_default())));
    if let Err(e) = moved {
        tracing::error!(file = %path.display(), error = %e, "markets inbox: cannot move the file to failed/; removing it");
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use tributary_component::compliance::{self, Environment, Fixture};
    use tributary_schema::markets::PriceBar;
    use tributary_sources::pull::PullLimits;

    use super::*;

    /// Round 0 drops a price file of 10 trading days, round 1 one of 5 more days.
    struct PriceDrops;

    fn inbox(env: &Environment) -> PathBuf {
        env.dir().join("markets-inbox")
    }

    fn lake(env: &Environment) -> Lake {
        Lake::open(&env.dir().join("lake").display().to_string()).unwrap()
    }

    #[async_trait::async_trait]
    impl Fixture for PriceDrops {
        async fn build(&self, env: &Environment) -> Result<Box<dyn Component>, BoxError> {
            Ok(Box::new(MarketsInbox {
                dir: inbox(env),
                puller: Puller::new(PullLimits::default())?,
                lake: lake(env),
                poll_interval: Duration::from_millis(100),
            }))
        }

        async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError> {
            let (from, days) = if round == 0 { (1, 10) } else { (11, 5) };
            let mut csv = String::from("Date,Open,High,Low,Close,Adj Close,Volume\n");
            for d in from..from + days {
                csv.push_str(&format!("2020-03-{d:02},1,2,0.5,{d}.5,{d}.5,100\n"));
            }
            std::fs::create_dir_all(inbox(env))?;
            let tmp = inbox(env).join(format!(".r{round}.tmp"));
            std::fs::write(&tmp, csv)?;
            // Old enough to be taken at once.
            let old = SystemTime::now() - Duration::from_secs(5);
            std::fs::File::options().write(true).open(&tmp)?.set_modified(old)?;
            std::fs::rename(&tmp, inbox(env).join(format!("^GDAXI-{round}.csv")))?;
            // Until it is imported.
            let expected = if round == 0 { 10 } else { 15 };
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while lake(env).rows::<PriceBar>().await?.len() < expected {
                assert!(tokio::time::Instant::now() < deadline, "round {round} was not imported");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(())
        }

        async fn check(&self, env: &Environment) -> Result<(), BoxError> {
            let prices = lake(env).rows::<PriceBar>().await?;
            assert_eq!(prices.len(), 15, "both rounds, each once");
            assert!(prices.iter().all(|p| p.symbol.starts_with("^GDAXI-")));
            assert_eq!(ready_files(&inbox(env)).len(), 0, "imported files are deleted");
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_markets_inbox_is_a_component() {
        compliance::check(&PriceDrops).await.unwrap();
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_dataset_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("in");
        std::fs::create_dir_all(&inbox).unwrap();
        let file = inbox.join("notes.csv");
        std::fs::write(&file, "a,b\n1,2\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(5))
            .unwrap();
        assert_eq!(ready_files(&inbox), vec![file.clone()]);
        move_to_failed(&file);
        assert!(inbox.join("failed/notes.csv").exists() && ready_files(&inbox).is_empty());
    }
}
