-- Where each source stands: runs (a pull, an inbox file, an HTTP ingest request, a stretch of
-- generated events), the rows and dead letters they brought, the last failure. One row per
-- source, added to by each run (see store::source_runs).

CREATE TABLE source_status (
    source          VARCHAR(255) NOT NULL PRIMARY KEY,  -- kind:name, e.g. pull:file:///…, dir:/inbox
    kind            VARCHAR(32)  NOT NULL,              -- pull, directory, http, generator
    runs            BIGINT       NOT NULL,
    rows_total      BIGINT       NOT NULL,
    errors_total    BIGINT       NOT NULL,              -- dead letters
    failures        BIGINT       NOT NULL,              -- runs that failed as a whole
    last_run_ms     BIGINT       NOT NULL,
    last_ok_ms      BIGINT,
    last_rows       BIGINT       NOT NULL,
    last_errors     BIGINT       NOT NULL,
    last_failure    TEXT,
    last_failure_ms BIGINT
);
