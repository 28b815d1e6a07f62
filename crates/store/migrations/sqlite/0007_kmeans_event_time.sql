-- Event time: a version made from an event-time window records the window's end (exclusive,
-- ms since the epoch); NULL for versions of processing-time micro-batches. Live counts of an
-- event-time model read the newest windows by it.
ALTER TABLE kmeans_versions ADD COLUMN event_time_ms BIGINT;
CREATE INDEX kmeans_versions_by_event_time ON kmeans_versions (model, event_time_ms);
-- What a processor must remember besides its offsets to resume exactly (an event-time
-- processor: how far it has decided each partition, which windows are closed), written in the
-- transaction of its commit. JSON, owned by the processor.
CREATE TABLE IF NOT EXISTS processor_state (
    processor VARCHAR(64) NOT NULL PRIMARY KEY,
    state     TEXT        NOT NULL
);
