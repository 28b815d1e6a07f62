//! The k-means models' versions ([`ModelVersions`]): a page of history is read in three
//! queries (versions, their centres, their offset ranges), whatever its length.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::Row;

use super::{SqlStore, count, int, text_not_null, unsigned};
use crate::{CentreRow, ClusterCount, KMeansVersionRow, ModelVersions, OffsetRange, Result, TimeAxis};

/// The columns of a k-means version row, in the order `load_versions` reads them.
const VERSION_COLUMNS: &str = "model, version, created_ms, event_time_ms, batch_points, batches, k, projection, split_largest, split_smallest, sum_of_squares, silhouette";

impl SqlStore {
    /// Builds version rows from `rows` (of [`VERSION_COLUMNS`], ascending or descending by
    /// version): their centres and offset ranges are read in one query each for the whole page,
    /// not per version, so a page of history costs three queries.
    async fn load_versions(
        &self,
        model: &str,
        rows: Vec<sqlx::any::AnyRow>,
    ) -> Result<Vec<KMeansVersionRow>> {
        let versions: Vec<i64> =
            rows.iter().map(|r| r.try_get("version")).collect::<Result<_, sqlx::Error>>()?;
        let (Some(&lo), Some(&hi)) = (versions.iter().min(), versions.iter().max()) else {
            return Ok(Vec::new());
        };
        let mut centres: BTreeMap<i64, Vec<CentreRow>> = BTreeMap::new();
        for c in sqlx::query(&self.sql(
            "SELECT version, cluster, lat, lon, weight, batch_count, x, y FROM kmeans_centres WHERE model = ? AND version BETWEEN ? AND ? ORDER BY version, cluster",
        ))
        .bind(model)
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?
        {
            centres.entry(c.try_get("version")?).or_default().push(CentreRow {
                cluster: unsigned::<u32>(&c, "cluster")?,
                lat: c.try_get("lat")?,
                lon: c.try_get("lon")?,
                weight: c.try_get("weight")?,
                batch_count: unsigned::<u64>(&c, "batch_count")?,
                x: c.try_get("x")?,
                y: c.try_get("y")?,
            });
        }
        let mut offsets: BTreeMap<i64, Vec<OffsetRange>> = BTreeMap::new();
        for o in sqlx::query(&self.sql(
            "SELECT version, topic, partition_id, from_offset, to_offset FROM kmeans_version_offsets WHERE model = ? AND version BETWEEN ? AND ? ORDER BY version, topic, partition_id",
        ))
        .bind(model)
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?
        {
            offsets.entry(o.try_get("version")?).or_default().push(OffsetRange {
                topic: text_not_null(&o, "topic")?,
                partition: unsigned::<u32>(&o, "partition_id")?,
                from: unsigned::<u64>(&o, "from_offset")?,
                to: unsigned::<u64>(&o, "to_offset")?,
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        for (r, version) in rows.iter().zip(versions) {
            let split_largest: Option<i64> = r.try_get("split_largest")?;
            let split_smallest: Option<i64> = r.try_get("split_smallest")?;
            out.push(KMeansVersionRow {
                model: model.to_string(),
                version: count(version, "version")?,
                created_ms: r.try_get("created_ms")?,
                event_time_ms: r.try_get("event_time_ms")?,
                batch_points: unsigned::<u64>(r, "batch_points")?,
                batches: unsigned::<u64>(r, "batches")?,
                projection: text_not_null(r, "projection")?,
                split: split_largest.zip(split_smallest).map(|(a, b)| (a as u32, b as u32)),
                sum_of_squares: r.try_get("sum_of_squares")?,
                silhouette: r.try_get("silhouette")?,
                centres: centres.remove(&version).unwrap_or_default(),
                offsets: offsets.remove(&version).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl ModelVersions for SqlStore {
    async fn latest_kmeans(&self, model: &str) -> Result<Option<KMeansVersionRow>> {
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT {VERSION_COLUMNS} FROM kmeans_versions WHERE model = ? ORDER BY version DESC LIMIT 1"
        )))
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        Ok(self.load_versions(model, rows).await?.pop())
    }

    async fn kmeans_history(
        &self,
        model: &str,
        from: u64,
        to: u64,
        limit: u32,
    ) -> Result<Vec<KMeansVersionRow>> {
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT {VERSION_COLUMNS} FROM kmeans_versions WHERE model = ? AND version BETWEEN ? AND ? ORDER BY version LIMIT ?"
        )))
        .bind(model)
        .bind(int(from.min(i64::MAX as u64), "version")?)
        .bind(int(to.min(i64::MAX as u64), "version")?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        self.load_versions(model, rows).await
    }

    async fn kmeans_points(&self, model: &str) -> Result<u64> {
        let sum = self.dialect.as_bigint("COALESCE(SUM(batch_points), 0)");
        let n: i64 =
            sqlx::query_scalar(&self.sql(&format!("SELECT {sum} FROM kmeans_versions WHERE model = ?")))
                .bind(model)
                .fetch_one(&self.pool)
                .await?;
        count(n, "the sum of batch points")
    }

    async fn kmeans_cluster_counts(
        &self,
        model: &str,
        since_ms: i64,
        axis: TimeAxis,
    ) -> Result<Vec<ClusterCount>> {
        let time = match axis {
            TimeAxis::Processing => "created_ms",
            TimeAxis::Event => "event_time_ms",
        };
        let (points, versions) =
            (self.dialect.as_bigint("SUM(c.batch_count)"), self.dialect.as_bigint("COUNT(*)"));
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT c.cluster, {points} AS points, {versions} AS versions FROM kmeans_versions v \
             JOIN kmeans_centres c ON c.model = v.model AND c.version = v.version \
             WHERE v.model = ? AND v.{time} >= ? GROUP BY c.cluster ORDER BY c.cluster"
        )))
        .bind(model)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClusterCount {
                    cluster: unsigned::<u32>(r, "cluster")?,
                    points: unsigned::<u64>(r, "points")?,
                    versions: unsigned::<u64>(r, "versions")?,
                })
            })
            .collect()
    }
}
