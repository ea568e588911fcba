-- Tokens may expire and be revoked (issue 15). Both are epoch milliseconds; NULL: never / not.
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
