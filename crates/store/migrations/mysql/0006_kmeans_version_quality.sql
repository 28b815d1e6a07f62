-- The quality of each model version: the within-cluster sum of squares of its micro-batch (in
-- the clustered space's units, km² by default) and the silhouette of a sample of its points.
-- NULL for versions written before. A version folded from several (retention) holds the sum of
-- their sums of squares and the mean of their silhouettes.
ALTER TABLE kmeans_versions ADD COLUMN sum_of_squares DOUBLE PRECISION;
ALTER TABLE kmeans_versions ADD COLUMN silhouette DOUBLE PRECISION;
