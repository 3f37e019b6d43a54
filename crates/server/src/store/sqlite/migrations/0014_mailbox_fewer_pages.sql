-- The mailbox tables rebuilt to write fewer pages per message (BENCHMARKS.md, "Fewer pages per
-- message"): every page a commit touches is a 4 KiB WAL frame, and a message cost about 20.
-- * `seq` is numbered by the store, not AUTOINCREMENT (no `sqlite_sequence` row written per
--   insert), and follows time: a row stored in second `t` gets at least `t * 1,000,000`, so the
--   table's own order is the expiry order and the `stored_at` index goes. Rows kept from before
--   keep their (smaller) numbers and so stay first.
-- * An ack names a copy by the `seq` it was read at (the connection remembers it), so the
--   indexes by id go.
-- * How many messages wait in each mailbox is kept in memory by the store (counted from the
--   mailbox index when first needed), so `mailbox_depth` and its triggers go.
CREATE TABLE messages_v14 (
    seq           INTEGER PRIMARY KEY,
    recipient     BLOB NOT NULL,
    device        BLOB NOT NULL,
    sender        BLOB NOT NULL,
    sender_device BLOB,
    id            BLOB NOT NULL,
    addressee     BLOB NOT NULL,
    envelope      BLOB NOT NULL,
    stored_at     INTEGER NOT NULL,
    copies        INTEGER NOT NULL DEFAULT 0
);
INSERT INTO messages_v14 (seq, recipient, device, sender, sender_device, id, addressee, envelope, stored_at, copies)
    SELECT seq, recipient, device, sender, sender_device, id, addressee, envelope, stored_at, copies FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v14 RENAME TO messages;
CREATE INDEX messages_mailbox_seq ON messages(recipient, device, seq);

DROP TABLE mailbox_depth;

CREATE TABLE receipts_v14 (
    seq         INTEGER PRIMARY KEY,
    user_id     BLOB NOT NULL,
    device      BLOB NOT NULL,
    id          BLOB NOT NULL,
    kind        INTEGER NOT NULL,
    message_id  BLOB NOT NULL,
    peer        BLOB NOT NULL,
    peer_device BLOB,
    at          INTEGER NOT NULL
);
INSERT INTO receipts_v14 (seq, user_id, device, id, kind, message_id, peer, peer_device, at)
    SELECT seq, user_id, device, id, kind, message_id, peer, peer_device, at FROM receipts;
DROP TABLE receipts;
ALTER TABLE receipts_v14 RENAME TO receipts;
CREATE INDEX receipts_mailbox_seq ON receipts(user_id, device, seq);
