-- Retention (issue 12): ended calls (cancelled ones too) expire; expired calls are forgotten
-- once their "expired" answer has been kept as long again; stopped ephemeral apps are
-- forgotten (rows, logs, bundles) once no unexpired call refers to them; a Dict entry's blob
-- is looked up by the blob sweeper.
-- IF (NOT) EXISTS: it may run again on a database whose newer migrations were undone by hand.

DROP INDEX IF EXISTS calls_expiry;
CREATE INDEX IF NOT EXISTS calls_expiry ON calls(expires_at) WHERE state IN ('done', 'cancelled');
CREATE INDEX IF NOT EXISTS calls_expired ON calls(expires_at) WHERE state = 'expired';
CREATE INDEX IF NOT EXISTS apps_stopped ON apps(stopped_at) WHERE state = 'stopped' AND mode = 'ephemeral';
CREATE INDEX IF NOT EXISTS dict_entries_blob ON dict_entries(value_blob) WHERE value_blob IS NOT NULL;
