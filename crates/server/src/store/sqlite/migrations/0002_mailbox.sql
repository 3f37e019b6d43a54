-- The durable mailbox: messages until the recipient acks them, receipts until the sender
-- acks them, and the ids already accepted so resends never duplicate.
CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient  TEXT NOT NULL,
    sender     TEXT NOT NULL,
    id         TEXT NOT NULL,
    envelope   BLOB NOT NULL,
    stored_at  INTEGER NOT NULL,
    UNIQUE (sender, id)
);
CREATE INDEX messages_recipient_seq ON messages(recipient, seq);
CREATE INDEX messages_stored_at ON messages(stored_at);

-- Every (sender, id) accepted, kept as long as a message could live, so a resend after
-- delivery is recognised.
CREATE TABLE message_ids (
    sender     TEXT NOT NULL,
    id         TEXT NOT NULL,
    stored_at  INTEGER NOT NULL,
    PRIMARY KEY (sender, id)
) WITHOUT ROWID;
CREATE INDEX message_ids_stored_at ON message_ids(stored_at);

CREATE TABLE receipts (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    message_id TEXT NOT NULL,
    peer       TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX receipts_user_seq ON receipts(user_id, seq);
