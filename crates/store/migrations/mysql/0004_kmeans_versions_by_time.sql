-- The versions of a model by the time they were made: live counts per cluster over the last
-- minutes read only the newest versions.
CREATE INDEX kmeans_versions_by_time ON kmeans_versions (model, created_ms);
