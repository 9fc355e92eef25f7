-- How long each 秒批 decision took, in microseconds, from the moment the application reached
-- the platform to the decision (fact binding, rules, receipt, certificate). Nullable: decisions
-- made before this column existed, or by paths that do not time themselves (batch replays),
-- have no latency rather than a made-up one. ADD COLUMN is accepted by SQLite and PostgreSQL.
ALTER TABLE decisions ADD COLUMN decision_us INTEGER;
CREATE INDEX IF NOT EXISTS decisions_by_matter_day ON decisions (matter, decided_at);
