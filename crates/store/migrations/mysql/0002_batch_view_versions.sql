-- Published versions of the batch views (as SQLite's 0002). Each version's rows are in a table
-- of its own (table_name); the newest version of a view is its current one. "view" is reserved
-- in MySQL; connections quote identifiers with double quotes (ANSI_QUOTES).

CREATE TABLE IF NOT EXISTS batch_view_versions (
    "view"           VARCHAR(64)  NOT NULL,
    version          BIGINT       NOT NULL,
    definition       VARCHAR(64)  NOT NULL,   -- hash of the view's SQL
    table_name       VARCHAR(128) NOT NULL,
    published_ms     BIGINT       NOT NULL,
    row_count        BIGINT       NOT NULL,
    dataset_versions LONGTEXT     NOT NULL,   -- JSON object: dataset name → lake version
    columns          LONGTEXT     NOT NULL,   -- JSON array of {name, kind}
    PRIMARY KEY ("view", version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
