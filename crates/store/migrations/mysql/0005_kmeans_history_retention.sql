-- Model history retention: a version may stand for several micro-batches once older versions
-- are folded into it (every version for a while, then one per minute, hour, day). `batches`
-- counts them; its batch_points, centres' batch_count and offset ranges are the sums and the
-- union over them, so the counts and the log positions a version covers stay exact.
ALTER TABLE kmeans_versions ADD COLUMN batches BIGINT NOT NULL DEFAULT 1;

-- Dead-letter retention deletes by age.
CREATE INDEX dead_letters_by_time ON dead_letters (time_ms);
