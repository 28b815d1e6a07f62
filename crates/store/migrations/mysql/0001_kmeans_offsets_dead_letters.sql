-- Streaming k-means model versions, the log offsets each covers, processor checkpoints and dead
-- letters: the same tables as SQLite's 0001, in MySQL/MariaDB's types. MySQL commits DDL at
-- once, so a migration cannot roll back: every statement is written to be run again safely
-- (IF NOT EXISTS), and a migration that failed halfway is completed by the next start.

CREATE TABLE IF NOT EXISTS kmeans_versions (
    model          VARCHAR(64)  NOT NULL,
    version        BIGINT       NOT NULL,
    created_ms     BIGINT       NOT NULL,
    batch_points   BIGINT       NOT NULL,
    k              BIGINT       NOT NULL,
    projection     LONGTEXT     NOT NULL,   -- JSON: how centres map to lat/lon
    split_largest  BIGINT,
    split_smallest BIGINT,
    PRIMARY KEY (model, version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS kmeans_centres (
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
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS kmeans_version_offsets (
    model        VARCHAR(64)  NOT NULL,
    version      BIGINT       NOT NULL,
    topic        VARCHAR(255) NOT NULL,
    partition_id BIGINT       NOT NULL,
    from_offset  BIGINT       NOT NULL,   -- first offset covered
    to_offset    BIGINT       NOT NULL,   -- one past the last
    PRIMARY KEY (model, version, topic, partition_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS processor_offsets (
    processor    VARCHAR(64)  NOT NULL,
    topic        VARCHAR(255) NOT NULL,
    partition_id BIGINT       NOT NULL,
    next_offset  BIGINT       NOT NULL,
    PRIMARY KEY (processor, topic, partition_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS dead_letters (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source     VARCHAR(255) NOT NULL,
    position   TEXT         NOT NULL,
    reason     TEXT         NOT NULL,
    raw        LONGBLOB     NOT NULL,
    raw_len    BIGINT       NOT NULL,
    time_ms    BIGINT       NOT NULL,
    INDEX dead_letters_by_source (source, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
