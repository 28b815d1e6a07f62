-- Where each source stands (as SQLite's 0003).

CREATE TABLE IF NOT EXISTS source_status (
    source          VARCHAR(255) NOT NULL PRIMARY KEY,
    kind            VARCHAR(32)  NOT NULL,
    runs            BIGINT       NOT NULL,
    rows_total      BIGINT       NOT NULL,
    errors_total    BIGINT       NOT NULL,
    failures        BIGINT       NOT NULL,
    last_run_ms     BIGINT       NOT NULL,
    last_ok_ms      BIGINT,
    last_rows       BIGINT       NOT NULL,
    last_errors     BIGINT       NOT NULL,
    last_failure    LONGTEXT,
    last_failure_ms BIGINT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
