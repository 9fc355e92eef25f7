-- Intake batches: one per (resource, file content). A batch is 'started' before any table is
-- written and 'committed' after every lake table has it; counts always reconcile:
-- rows_read = rows_accepted + rows_quarantined.
CREATE TABLE IF NOT EXISTS batches (
    batch_id          TEXT PRIMARY KEY,
    resource          TEXT NOT NULL,
    unit              TEXT NOT NULL,
    source_file       TEXT NOT NULL,
    file_bytes        INTEGER NOT NULL,
    encoding          TEXT,
    state             TEXT NOT NULL CHECK (state IN ('started', 'committed')),
    rows_read         INTEGER,
    rows_accepted     INTEGER,
    rows_quarantined  INTEGER,
    fixes             INTEGER,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    read_ms           INTEGER,
    write_ms          INTEGER,
    CHECK (rows_read IS NULL OR rows_read = rows_accepted + rows_quarantined)
);
CREATE INDEX IF NOT EXISTS batches_by_resource ON batches (resource);

-- Quarantined rows of a batch by reason code.
CREATE TABLE IF NOT EXISTS batch_reasons (
    batch_id     TEXT NOT NULL REFERENCES batches (batch_id),
    reason_code  TEXT NOT NULL,
    rows         INTEGER NOT NULL,
    PRIMARY KEY (batch_id, reason_code)
);

-- Per field of a batch's accepted rows: how many are filled, and how many were fixed.
CREATE TABLE IF NOT EXISTS batch_fields (
    batch_id   TEXT NOT NULL REFERENCES batches (batch_id),
    field      TEXT NOT NULL,
    filled     INTEGER NOT NULL,
    fixed      INTEGER NOT NULL,
    PRIMARY KEY (batch_id, field)
);
