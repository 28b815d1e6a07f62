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

/// A stored k-means model version.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansVersionRow {
    pub model: String,
    pub version: u64,
    pub created_ms: i64,
    pub batch_points: u64,
    /// JSON describing the projection from the clustered space to lat/lon.
    pub projection: String,
    pub split: Option<(u32, u32)>,
    pub centres: Vec<CentreRow>,
    pub offsets: Vec<OffsetRange>,
}

/// A dead letter as stored, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeadLetter {
    pub id: i64,
    pub letter: tributary_schema::DeadLetter,
}
