//! The batch runner as a [`Component`] (the contract in `tributary-component`): what `up` and
//! `batch follow` run.

use std::sync::Arc;

use tributary_component::{BoxError, Component, Context, Info, Kind, Run};
use tributary_lake::Lake;

use crate::runner::{FollowConfig, Runner, follow};
use crate::views::View;

/// Keeps the published views current: recomputes them when a "dataset updated" event arrives
/// on `datasets`, on a schedule and at start, and publishes them to the store (see
/// [`crate::runner`]). Reports one run per recomputation: the rows it published.
pub struct BatchViews {
    lake: Lake,
    views: Vec<View>,
    cfg: FollowConfig,
}

impl BatchViews {
    pub fn new(lake: Lake, views: Vec<View>, cfg: FollowConfig) -> Self {
        Self { lake, views, cfg }
    }
}

#[async_trait::async_trait]
impl Component for BatchViews {
    fn info(&self) -> Info {
        Info::new("batch-views", Kind::Processor, format!("batch:{}", self.cfg.group))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let schedule = match self.cfg.interval {
            Some(every) => format!(" and every {}", humantime::format_duration(every)),
            None => String::new(),
        };
        vec![
            ("lake", self.lake.location().to_string()),
            (
                "batch views",
                format!(
                    "on topic datasets (group {}, debounce {}){schedule}; `tributary batch list`",
                    self.cfg.group,
                    humantime::format_duration(self.cfg.debounce)
                ),
            ),
        ]
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let store = cx.store()?;
        let runner = Runner::new(self.lake, Some(Arc::clone(&store)), self.views);
        let report = cx.report().clone();
        report.ready();
        follow(&runner, cx.log()?, self.cfg, cx.stop_signal(), |run| {
            let mut rows = 0;
            for v in run.views.iter().filter(|v| v.published.is_some()) {
                rows += v.rows as u64;
                tracing::info!(view = %v.name, rows = v.rows, compute_ms = v.compute.as_millis() as u64, publish_ms = v.publish.as_millis() as u64, "view published");
            }
            report.run(Run { rows, ..Run::default() });
        })
        .await?;
        Ok(())
    }
}
