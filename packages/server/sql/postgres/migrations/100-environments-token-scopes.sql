-- Environments (api.md §9, issue 15): apps, deployments, secrets and named objects live in
-- one. "main" always exists; the ones already used by apps, objects or secrets are recorded.
CREATE TABLE environments (
  name       TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL
);
INSERT INTO environments (name, created_at)
  SELECT e, (extract(epoch FROM now()) * 1000)::bigint FROM (
    SELECT 'main' AS e
    UNION SELECT environment FROM apps
    UNION SELECT environment FROM objects
    UNION SELECT environment FROM secrets
  ) used
ON CONFLICT DO NOTHING;

-- A token's scope: the only environment it reaches (NULL: all), and within it the only apps it
-- calls and deploys (a JSON array of names; NULL: all). An app-scoped token reads objects only.
ALTER TABLE tokens ADD COLUMN environment TEXT;
ALTER TABLE tokens ADD COLUMN apps TEXT;
