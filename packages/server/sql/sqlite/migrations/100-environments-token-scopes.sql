-- Environments (api.md §9, issue 15): apps, deployments, secrets and named objects live in
-- one. "main" always exists; the ones already used by apps, objects or secrets are recorded.
CREATE TABLE environments (
  name       TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO environments (name, created_at)
  SELECT 'main', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
  UNION SELECT DISTINCT environment, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM apps
  UNION SELECT DISTINCT environment, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM objects
  UNION SELECT DISTINCT environment, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM secrets;

-- A token's scope: the only environment it reaches (NULL: all), and within it the only apps it
-- calls and deploys (a JSON array of names; NULL: all). An app-scoped token reads objects only.
ALTER TABLE tokens ADD COLUMN environment TEXT;
ALTER TABLE tokens ADD COLUMN apps TEXT;
