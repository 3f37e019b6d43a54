-- The mailbox tables rebuilt with ids as 16-byte BLOBs instead of 36-character text and
-- receipt kinds as small integers (0 delivered, 1 read, 2 expired): keys less than half
-- the size, so every insert, index update and commit writes fewer bytes (BENCHMARKS.md,
-- `mailbox`). `messages` loses UNIQUE (sender, id): `message_ids` already refuses a resend,
-- and the extra index cost a b-tree update per message. Rows are carried over as they are.
CREATE TABLE messages_v4 (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient  BLOB NOT NULL,
    sender     BLOB NOT NULL,
    id         BLOB NOT NULL,
    envelope   BLOB NOT NULL,
    stored_at  INTEGER NOT NULL
);
INSERT INTO messages_v4 (seq, recipient, sender, id, envelope, stored_at)
    SELECT seq, unhex(replace(recipient, '-', '')), unhex(replace(sender, '-', '')),
           unhex(replace(id, '-', '')), envelope, stored_at
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
CREATE INDEX messages_recipient_seq ON messages(recipient, seq);
CREATE INDEX messages_recipient_id ON messages(recipient, id);
CREATE INDEX messages_stored_at ON messages(stored_at);

CREATE TABLE message_ids_v4 (
    sender     BLOB NOT NULL,
    id         BLOB NOT NULL,
    stored_at  INTEGER NOT NULL,
    PRIMARY KEY (sender, id)
) WITHOUT ROWID;
INSERT INTO message_ids_v4 (sender, id, stored_at)
    SELECT unhex(replace(sender, '-', '')), unhex(replace(id, '-', '')), stored_at FROM message_ids;
DROP TABLE message_ids;
ALTER TABLE message_ids_v4 RENAME TO message_ids;
CREATE INDEX message_ids_stored_at ON message_ids(stored_at);

CREATE TABLE receipts_v4 (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BLOB NOT NULL,
    id         BLOB NOT NULL UNIQUE,
    kind       INTEGER NOT NULL,
    message_id BLOB NOT NULL,
    peer       BLOB NOT NULL,
    at         INTEGER NOT NULL
);
INSERT INTO receipts_v4 (seq, user_id, id, kind, message_id, peer, at)
    SELECT seq, unhex(replace(user_id, '-', '')), unhex(replace(id, '-', '')),
           CASE kind WHEN 'read' THEN 1 WHEN 'expired' THEN 2 ELSE 0 END,
           unhex(replace(message_id, '-', '')), unhex(replace(peer, '-', '')), at
    FROM receipts;
DROP TABLE receipts;
ALTER TABLE receipts_v4 RENAME TO receipts;
CREATE INDEX receipts_user_seq ON receipts(user_id, seq);
