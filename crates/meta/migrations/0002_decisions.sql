-- 秒批 decisions: one row per decision receipt. The receipt JSON is the whole record (facts,
-- provenance, reasons, outcome) and is enough to replay the decision; the other columns are
-- for finding and counting decisions without parsing it. The applicant is stored masked here;
-- the receipt itself carries the full key because replay needs it.
CREATE TABLE IF NOT EXISTS decisions (
    receipt_id        TEXT PRIMARY KEY,
    matter            TEXT NOT NULL,
    version           TEXT NOT NULL,
    package_hash      TEXT NOT NULL,
    applicant_masked  TEXT NOT NULL,
    application_date  TEXT NOT NULL,
    outcome           TEXT NOT NULL,
    decided_at        TEXT NOT NULL,
    receipt_json      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_matter ON decisions (matter, outcome);

-- Running numbers (流水号) of issued certificates, one sequence per certificate type: a serial
-- is never handed out twice, even when issuing fails after it was taken.
CREATE TABLE IF NOT EXISTS certificate_serials (
    type_code    TEXT PRIMARY KEY,
    last_serial  INTEGER NOT NULL CHECK (last_serial > 0)
);

-- Issued electronic certificates (电子证照): where the signed file is and what it hashes to.
CREATE TABLE IF NOT EXISTS certificates (
    certificate_id  TEXT PRIMARY KEY,
    type_code       TEXT NOT NULL,
    serial          INTEGER NOT NULL,
    receipt_id      TEXT NOT NULL REFERENCES decisions (receipt_id),
    holder_masked   TEXT NOT NULL,
    issued_at       TEXT NOT NULL,
    file_path       TEXT NOT NULL,
    file_sm3        TEXT NOT NULL,
    UNIQUE (type_code, serial)
);
CREATE INDEX IF NOT EXISTS certificates_by_receipt ON certificates (receipt_id);
