-- Accounts, sessions, sign-in codes, rate limits, friendships with their keys, blocks.
CREATE TABLE users (
    id           TEXT PRIMARY KEY,
    phone        TEXT NOT NULL UNIQUE,
    display_name TEXT,
    created_at   INTEGER NOT NULL
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Every refresh token ever issued in a session; only the newest is current (rotated_at NULL).
CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE sign_in_codes (
    phone      TEXT PRIMARY KEY,
    code_hash  BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE rate_events (
    bucket TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX rate_events_bucket_at ON rate_events(bucket, at);

CREATE TABLE friend_requests (
    id         TEXT PRIMARY KEY,
    from_user  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    to_user    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    from_key   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (from_user, to_user)
);
CREATE INDEX friend_requests_to ON friend_requests(to_user);

-- One row per side of a friendship: owner's key for the friendship with friend.
-- A friendship exists iff both (a, b) and (b, a) rows exist; they are written together.
CREATE TABLE friend_keys (
    owner      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    friend     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    public_key TEXT NOT NULL,
    since      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (owner, friend)
);
CREATE INDEX friend_keys_friend ON friend_keys(friend);

CREATE TABLE blocks (
    blocker    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker, blocked)
);
CREATE INDEX blocks_blocked ON blocks(blocked);
