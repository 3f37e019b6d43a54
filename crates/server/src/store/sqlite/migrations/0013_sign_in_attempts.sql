-- Each sign-in code belongs to the attempt that asked for it, named by a challenge only
-- that requester holds: several codes may wait for one number, so nobody can replace or
-- burn another person's code. Codes waiting at the upgrade (at most 10 minutes old) go.
DROP TABLE sign_in_codes;
CREATE TABLE sign_in_codes (
    slot       TEXT PRIMARY KEY,   -- phone '/' challenge
    phone      TEXT NOT NULL,
    code_hash  BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sign_in_codes_phone ON sign_in_codes(phone);
CREATE INDEX sign_in_codes_expires_at ON sign_in_codes(expires_at);
