-- Crypto v2: each account's identity key and devices (with their signed prekeys), and the
-- devices' one-time prekeys.
CREATE TABLE device_sets (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    identity_key TEXT NOT NULL,
    -- Bumped by every change to the identity or the device list (optimistic concurrency).
    version      INTEGER NOT NULL
);

CREATE TABLE devices (
    user_id         TEXT NOT NULL REFERENCES device_sets(user_id) ON DELETE CASCADE,
    device_id       TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    device_key      TEXT NOT NULL,
    certificate     TEXT NOT NULL,
    name            TEXT,
    spk_id          INTEGER NOT NULL,
    spk_key         TEXT NOT NULL,
    spk_signature   TEXT NOT NULL,
    spk_uploaded_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- No foreign key to devices: with MongoDB configured the devices live there, while the
-- one-time prekeys stay here (or in Redis) next to the mailbox.
CREATE TABLE one_time_prekeys (
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    key_id     INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, key_id)
) WITHOUT ROWID;
