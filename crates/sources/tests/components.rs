//! The sources pass the component contract's compliance test (`tributary_component::compliance`).

use std::time::Duration;

use tributary_component::compliance::{self, Environment, Fixture};
use tributary_component::{BoxError, Component};
use tributary_sources::components::{DirectorySource, GeneratorSource};
use tributary_sources::directory::DirectorySourceConfig;
use tributary_sources::generator::GeneratorConfig;

const TOPIC: &str = "mobile_data";
const LINES: u64 = 120;

/// An inbox that gets one CSV file per round, each line a distinct device.
struct Inbox;

#[async_trait::async_trait]
impl Fixture for Inbox {
    async fn build(&self, env: &Environment) -> Result<Box<dyn Component>, BoxError> {
        Ok(Box::new(DirectorySource::new(DirectorySourceConfig {
            dir: env.dir().join("inbox"),
            topic: TOPIC.into(),
            archive_dir: None,
            min_file_age: Duration::ZERO,
            poll_interval: Duration::from_millis(20),
            parse: Default::default(),
            format: None,
            batch_records: 50,
            parallel_files: 2,
        })))
    }

    async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError> {
        let mut text =
            String::from("timepoint,deviceId,acceloX,acceloY,acceloZ,latitude,longitude,locked\r\n");
        for l in 0..LINES {
            let lat = 48.0 + l as f64 / 1000.0;
            text.push_str(&format!("2020-01-01 00:00:00.000,r{round}-{l},0,0,9.8,{lat},11.5,false\r\n"));
        }
        let inbox = env.dir().join("inbox");
        let tmp = inbox.join(format!("round-{round}.csv.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, inbox.join(format!("round-{round}.csv")))?;
        Ok(())
    }

    async fn check(&self, env: &Environment) -> Result<(), BoxError> {
        let n = env.records_in(TOPIC).await?;
        if n != 2 * LINES {
            return Err(format!("{n} events in {TOPIC}, expected {}", 2 * LINES).into());
        }
        let left =
            std::fs::read_dir(env.dir().join("inbox"))?.flatten().filter(|e| e.path().is_file()).count();
        if left != 0 {
            return Err(format!("{left} files left in the inbox").into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_directory_source_is_a_component() {
    compliance::check(&Inbox).await.unwrap();
}

/// The generator at 2,000 events a second: it reports once a second whatever it is fed.
struct Steady;

#[async_trait::async_trait]
impl Fixture for Steady {
    async fn build(&self, _: &Environment) -> Result<Box<dyn Component>, BoxError> {
        let cfg = GeneratorConfig { seed: 7, devices: 50, step_ms: 0.5, ..GeneratorConfig::default() };
        Ok(Box::new(GeneratorSource::new(cfg, TOPIC.into(), 2000.0)?))
    }

    async fn feed(&self, _: &Environment, _: u32) -> Result<(), BoxError> {
        Ok(())
    }

    async fn check(&self, env: &Environment) -> Result<(), BoxError> {
        // Each round ran for at least the second it took to report.
        let n = env.records_in(TOPIC).await?;
        if n < 2 * 1000 {
            return Err(format!("{n} events after two rounds of a second or more at 2,000/s").into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_generator_is_a_component() {
    compliance::check(&Steady).await.unwrap();
}

#[test]
fn a_generator_with_a_bad_rate_is_refused() {
    let cfg = GeneratorConfig::default();
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(GeneratorSource::new(cfg.clone(), TOPIC.into(), rate).is_err(), "rate {rate}");
    }
}
