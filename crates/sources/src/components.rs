//! The sources as [`Component`]s (the contract in `tributary-component`): what `up` and
//! `ingest` run.

use std::time::{Duration, Instant};

use tributary_component::{BoxError, Component, Context, Info, Kind, Run};

use crate::directory::{DirectorySourceConfig, FileReport, run_directory_source};
use crate::generator::{Generator, GeneratorConfig, publish_to_log};
use tributary_schema::mobile::Encoding;

/// Files of mobile events dropped into a folder, into the log (see [`crate::directory`]).
/// Reports one run per file; its pipeline status is keyed `dir:<folder>`.
pub struct DirectorySource {
    cfg: DirectorySourceConfig,
}

impl DirectorySource {
    pub fn new(cfg: DirectorySourceConfig) -> Self {
        Self { cfg }
    }
}

/// A file's report as a run: its events, its dead letters, and why it was refused or failed.
fn file_run(f: &FileReport) -> Run {
    Run {
        rows: f.events,
        errors: f.dead_letters,
        failure: f
            .refused
            .clone()
            .or_else(|| f.failed.then(|| format!("{}: not readable as events; moved to failed/", f.name))),
    }
}

#[async_trait::async_trait]
impl Component for DirectorySource {
    fn info(&self) -> Info {
        Info::new("directory", Kind::Source, format!("dir:{}", self.cfg.dir.display()))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let dir = self.cfg.dir.display();
        vec![("inbox", format!("{dir}   (tributary generate --out dir:{dir} adds files)"))]
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let log = cx.log()?;
        let report = cx.report().clone();
        // The folder is scanned as soon as the source starts: a file dropped from now on is taken.
        report.ready();
        run_directory_source(log, self.cfg, cx.stop_signal(), |f| {
            tracing::info!(file = %f.name, events = f.events, dead_letters = f.dead_letters, failed = f.failed, "inbox file published");
            report.run(file_run(f));
        })
        .await?;
        Ok(())
    }
}

/// The generator feeding the log at a steady rate (see [`crate::generator`]). Reports one run
/// a second: the events generated in it.
pub struct GeneratorSource {
    cfg: GeneratorConfig,
    topic: String,
    rate: f64,
    encoding: Encoding,
}

impl GeneratorSource {
    /// `rate` events a second into `topic`; the configuration is checked here.
    pub fn new(cfg: GeneratorConfig, topic: String, rate: f64) -> Result<Self, BoxError> {
        cfg.validate()?;
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(format!("generator rate {rate}: must be a number > 0").into());
        }
        Ok(Self { cfg, topic, rate, encoding: Encoding::default() })
    }

    /// Writes the events in `encoding` (default: binary).
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }
}

#[async_trait::async_trait]
impl Component for GeneratorSource {
    fn info(&self) -> Info {
        Info::new("generator", Kind::Source, format!("generator:{}", self.topic))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        vec![("generator", format!("{} events/s into {}", self.rate, self.topic))]
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let log = cx.log()?;
        let report = cx.report().clone();
        let mut generator = Generator::new(self.cfg);
        let (mut since, mut events) = (Instant::now(), 0);
        let on_append = |n: u64| {
            events += n;
            if since.elapsed() >= Duration::from_secs(1) {
                report.run(Run { rows: std::mem::take(&mut events), ..Run::default() });
                since = Instant::now();
            }
        };
        cx.report().ready();
        let mut stop = cx.stop_signal();
        let (topic, encoding) = (&self.topic, self.encoding);
        publish_to_log(&*log, topic, encoding, &mut generator, Some(self.rate), None, &mut stop, on_append)
            .await?;
        Ok(())
    }
}
