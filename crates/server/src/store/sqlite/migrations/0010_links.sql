-- Open links between a new browser and a device of its account (service::links), each a
-- JSON record replaced as a whole (compare and set); gone after expires_at.
CREATE TABLE links (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    requester  TEXT NOT NULL,
    code       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    record     TEXT NOT NULL
);
CREATE INDEX links_code ON links(user_id, code);
CREATE INDEX links_requester ON links(requester);
