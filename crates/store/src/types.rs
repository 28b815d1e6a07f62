//! Rows of the serving store, independent of any processor's own types.

/// A processor's position in one partition: the next offset it will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCheckpoint {
    pub topic: String,
    pub partition: u32,
    pub next_offset: u64,
}

/// The offsets one model version covers in one partition: `from..to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRange {
    pub topic: String,
    pub partition: u32,
    pub from: u64,
    pub to: u64,
}

/// One centre of a stored model version.
#[derive(Debug, Clone, PartialEq)]
pub struct CentreRow {
    pub cluster: u32,
    pub lat: f64,
    pub lon: f64,
    pub weight: f64,
    /// Points of this version's batch assigned to the cluster.
    pub batch_count: u64,
    /// The centre in the clustered space, kept bit-exact so a restart continues the same model.
    pub x: f64,
    pub y: f64,
}

/// The points a cluster took over a time window (see [`ServingStore::kmeans_cluster_counts`]).
///
/// [`ServingStore::kmeans_cluster_counts`]: crate::ServingStore::kmeans_cluster_counts
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterCount {
    pub cluster: u32,
    pub points: u64,
    pub versions: u64,
}

/// Which clock a model version's time is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeAxis {
    /// When the version was made ([`KMeansVersionRow::created_ms`]).
    Processing,
    /// The end of the event-time window it was made from ([`KMeansVersionRow::event_time_ms`]).
    Event,
}

/// A stored k-means model version.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansVersionRow {
    pub model: String,
    pub version: u64,
    pub created_ms: i64,
    /// For a version made from an event-time window: the window's end (exclusive), in ms since
    /// the epoch, the time the events themselves carry. `None` for a processing-time
    /// micro-batch. A folded version keeps its newest window's.
    pub event_time_ms: Option<i64>,
    pub batch_points: u64,
    /// How many micro-batches this version stands for: 1, or more once retention folded older
    /// versions into it (see [`crate::retention`]); `batch_points`, the centres' `batch_count`
    /// and `offsets` are then sums and unions over all of them.
    pub batches: u64,
    /// JSON describing the projection from the clustered space to lat/lon.
    pub projection: String,
    pub split: Option<(u32, u32)>,
    /// The batch's within-cluster sum of squares (km² with the default projection); for a
    /// folded version the sum over its batches. `None` for versions stored before it was kept.
    pub sum_of_squares: Option<f64>,
    /// The silhouette of a sample of the batch's points against this version's centres; for a
    /// folded version the mean over its batches. `None` where undefined or not kept.
    pub silhouette: Option<f64>,
    pub centres: Vec<CentreRow>,
    pub offsets: Vec<OffsetRange>,
}

/// A dead letter as stored, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeadLetter {
    pub id: i64,
    pub letter: tributary_schema::DeadLetter,
}

/// One run of a source, as [`ServingStore::add_source_runs`] adds it to the source's status:
/// a pull, an inbox file, an HTTP ingest request, or a stretch of generated events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRun {
    /// `kind:name`, such as `pull:file:///data/ecdc.csv` or `dir:/srv/inbox`; at most 255
    /// characters are kept.
    pub source: String,
    /// `pull`, `directory`, `http` or `generator`.
    pub kind: String,
    pub time_ms: i64,
    /// Records the run brought in.
    pub rows: u64,
    /// Records it sent to the dead letters.
    pub errors: u64,
    /// Why the run failed as a whole (nothing, or only part, came in), if it did.
    pub failure: Option<String>,
}

/// A source's status: its runs added up, and the last of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    pub source: String,
    pub kind: String,
    pub runs: u64,
    pub rows: u64,
    pub errors: u64,
    pub failures: u64,
    pub last_run_ms: i64,
    /// The last run that did not fail.
    pub last_ok_ms: Option<i64>,
    pub last_rows: u64,
    pub last_errors: u64,
    pub last_failure: Option<String>,
    pub last_failure_ms: Option<i64>,
}

impl SourceStatus {
    /// The status of a source after `runs` (in order), as the store adds them up; `None` if
    /// there are none.
    pub fn of_runs<'a>(runs: impl IntoIterator<Item = &'a SourceRun>) -> Option<Self> {
        let mut status: Option<Self> = None;
        for run in runs {
            let s = status.get_or_insert_with(|| Self {
                source: run.source.clone(),
                kind: run.kind.clone(),
                runs: 0,
                rows: 0,
                errors: 0,
                failures: 0,
                last_run_ms: run.time_ms,
                last_ok_ms: None,
                last_rows: 0,
                last_errors: 0,
                last_failure: None,
                last_failure_ms: None,
            });
            s.add(run);
        }
        status
    }

    /// Adds one more run.
    pub fn add(&mut self, run: &SourceRun) {
        self.runs += 1;
        self.rows += run.rows;
        self.errors += run.errors;
        self.last_run_ms = run.time_ms;
        self.last_rows = run.rows;
        self.last_errors = run.errors;
        match &run.failure {
            Some(reason) => {
                self.failures += 1;
                self.last_failure = Some(reason.clone());
                self.last_failure_ms = Some(run.time_ms);
            }
            None => self.last_ok_ms = Some(run.time_ms),
        }
    }

    /// Adds `other`, the status of later runs of the same source.
    pub fn merge(&mut self, other: &Self) {
        self.runs += other.runs;
        self.rows += other.rows;
        self.errors += other.errors;
        self.failures += other.failures;
        self.last_run_ms = other.last_run_ms;
        self.last_rows = other.last_rows;
        self.last_errors = other.last_errors;
        self.last_ok_ms = other.last_ok_ms.or(self.last_ok_ms);
        if other.last_failure.is_some() {
            self.last_failure = other.last_failure.clone();
            self.last_failure_ms = other.last_failure_ms;
        }
    }
}
