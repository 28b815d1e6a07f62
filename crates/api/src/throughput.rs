//! Records per second into each topic, sampled from the log's end offsets once a second over the
//! last two minutes, for the pipeline status (and the dashboard's sparkline).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tributary_log::EventLog;

/// How many one-second samples are kept.
const SAMPLES: usize = 120;

/// The sampled end offsets.
#[derive(Default)]
pub struct Throughput {
    /// (time in ms, records appended to each topic so far), oldest first.
    samples: Mutex<VecDeque<(i64, BTreeMap<String, u64>)>>,
}

impl Throughput {
    /// Samples `log` every second until `stop` turns true.
    pub fn start(log: Arc<dyn EventLog>, mut stop: watch::Receiver<bool>) -> Arc<Self> {
        let throughput = Arc::new(Self::default());
        let t = throughput.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tick.tick() => {}
                }
                let Ok(topics) = log.describe_topics().await else { continue };
                let ends = topics
                    .into_iter()
                    .map(|t| (t.name, t.partitions.iter().map(|p| p.offsets.end).sum::<u64>()))
                    .collect();
                t.record(chrono::Utc::now().timestamp_millis(), ends);
            }
        });
        throughput
    }

    fn record(&self, time_ms: i64, ends: BTreeMap<String, u64>) {
        let mut samples = self.samples.lock();
        if samples.len() == SAMPLES {
            samples.pop_front();
        }
        samples.push_back((time_ms, ends));
    }

    /// Per topic, records per second between consecutive samples, oldest first.
    pub fn rates(&self) -> BTreeMap<String, Vec<f64>> {
        let samples = self.samples.lock();
        let mut rates: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for ((t0, before), (t1, after)) in samples.iter().zip(samples.iter().skip(1)) {
            let seconds = ((t1 - t0) as f64 / 1000.0).max(1e-3);
            for (topic, end) in after {
                let start = before.get(topic).copied().unwrap_or(*end);
                rates.entry(topic.clone()).or_default().push(end.saturating_sub(start) as f64 / seconds);
            }
        }
        rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_consecutive_samples() {
        let t = Throughput::default();
        let ends = |n: u64| BTreeMap::from([("mobile_data".to_string(), n)]);
        t.record(0, ends(0));
        t.record(1_000, ends(500));
        t.record(3_000, ends(1_500));
        assert_eq!(t.rates()["mobile_data"], [500.0, 500.0]);
        for i in 0..200 {
            t.record(4_000 + i * 1_000, ends(2_000));
        }
        assert_eq!(t.rates()["mobile_data"].len(), SAMPLES - 1);
    }
}
