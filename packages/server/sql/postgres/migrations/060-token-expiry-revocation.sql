-- Tokens may expire and be revoked (issue 15). Both are epoch milliseconds; NULL: never / not.
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN revoked_at BIGINT;
