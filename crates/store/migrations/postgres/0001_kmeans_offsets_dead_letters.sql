-- Streaming k-means model versions, the log offsets each covers, processor checkpoints and dead
-- letters: the same tables as SQLite's 0001, in PostgreSQL's types.

CREATE TABLE kmeans_versions (
    model          VARCHAR(64)  NOT NULL,
    version        BIGINT       NOT NULL,
    created_ms     BIGINT       NOT NULL,
    batch_points   BIGINT       NOT NULL,
    k              BIGINT       NOT NULL,
    projection     TEXT         NOT NULL,   -- JSON: how centres map to lat/lon
    split_largest  BIGINT,
    split_smallest BIGINT,
    PRIMARY KEY (model, version)
);

CREATE TABLE kmeans_centres (
    model        VARCHAR(64)      NOT NULL,
    version      BIGINT           NOT NULL,
    cluster      BIGINT           NOT NULL,
    lat          DOUBLE PRECISION NOT NULL,
    lon          DOUBLE PRECISION NOT NULL,
    weight       DOUBLE PRECISION NOT NULL,
    batch_count  BIGINT           NOT NULL,
    x            DOUBLE PRECISION NOT NULL,  -- centre in the clustered space, bit-exact for resuming
    y            DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (model, version, cluster)
);

CREATE TABLE kmeans_version_offsets (
    model        VARCHAR(64)  NOT NULL,
    version      BIGINT       NOT NULL,
    topic        VARCHAR(255) NOT NULL,
    partition_id BIGINT       NOT NULL,
    from_offset  BIGINT       NOT NULL,   -- first offset covered
    to_offset    BIGINT       NOT NULL,   -- one past the last
    PRIMARY KEY (model, version, topic, partition_id)
);

CREATE TABLE processor_offsets (
    processor    VARCHAR(64)  NOT NULL,
    topic        VARCHAR(255) NOT NULL,
    partition_id BIGINT       NOT NULL,
    next_offset  BIGINT       NOT NULL,
    PRIMARY KEY (processor, topic, partition_id)
);

CREATE TABLE dead_letters (
    id         BIGSERIAL PRIMARY KEY,
    source     TEXT    NOT NULL,
    position   TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    raw        BYTEA   NOT NULL,
    raw_len    BIGINT  NOT NULL,
    time_ms    BIGINT  NOT NULL
);

CREATE INDEX dead_letters_by_source ON dead_letters (source, id);
