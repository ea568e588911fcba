-- Class instances (one row per parameter set and option variant) are kept while used: a row
-- unused for the result retention, with no pending call or running map on it, is dropped
-- (Retention), and a later bind with the same parameters writes it again (its id is derived
-- from them). used_at: the last time the instance was live in a server's memory.
-- IF (NOT) EXISTS: it may run again on a database whose newer migrations were undone by hand.
ALTER TABLE class_instances ADD COLUMN IF NOT EXISTS used_at BIGINT NOT NULL DEFAULT 0;
UPDATE class_instances SET used_at = created_at WHERE used_at = 0;
CREATE INDEX IF NOT EXISTS class_instances_used ON class_instances(used_at);
