-- 一次办理: the decision in force for each applicant, matter and period (办理周期: once in a
-- lifetime, per year, per event). A repeat application in the period gets this decision; a
-- re-decision after the facts changed replaces it and the replaced one names its successor.
-- The applicant and an event's key are stored as SM3 digests: the receipt holds the full key.
CREATE TABLE IF NOT EXISTS decisions_in_force (
    matter         TEXT NOT NULL,
    applicant_sm3  TEXT NOT NULL,
    period         TEXT NOT NULL,
    receipt_id     TEXT NOT NULL REFERENCES decisions (receipt_id),
    PRIMARY KEY (matter, applicant_sm3, period)
);
ALTER TABLE decisions ADD COLUMN superseded_by TEXT;

-- 证照撤销: certificates revoked (the decision behind them was superseded), the revocation
-- list that verification consults.
CREATE TABLE IF NOT EXISTS certificate_revocations (
    certificate_id  TEXT PRIMARY KEY REFERENCES certificates (certificate_id),
    revoked_at      TEXT NOT NULL,
    reason          TEXT NOT NULL,
    superseded_by   TEXT
);
