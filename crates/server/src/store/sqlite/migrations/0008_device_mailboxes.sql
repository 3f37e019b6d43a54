-- Several devices per person: one mailbox per device. A message is one row per device it
-- goes to (the recipient's devices and the sender's other devices), under one id;
-- `addressee` is the person it was written to. `mailboxes` lists each person's device
-- mailboxes, so a receipt reaches every device of its person in the same transaction.
-- Rows queued before this migration belong to the person's one device: they carry the nil
-- device (all zeros) until that device's mailbox opens (at registration or on connecting)
-- and takes them over. `message_ids` learns the recipient and what happened to the
-- message (bit 1 delivered, 2 read, 4 expired), so receipts roll up per person; a device
-- that asks for a message again (`retry`) waits in `resend_wanted` for its copy.
CREATE TABLE mailboxes (
    user_id BLOB NOT NULL,
    device  BLOB NOT NULL,
    PRIMARY KEY (user_id, device)
) WITHOUT ROWID;
INSERT INTO mailboxes (user_id, device)
    SELECT unhex(replace(user_id, '-', '')), unhex(replace(device_id, '-', '')) FROM devices;

CREATE TABLE messages_v8 (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient     BLOB NOT NULL,
    device        BLOB NOT NULL,
    sender        BLOB NOT NULL,
    sender_device BLOB,
    id            BLOB NOT NULL,
    addressee     BLOB NOT NULL,
    envelope      BLOB NOT NULL,
    stored_at     INTEGER NOT NULL
);
INSERT INTO messages_v8 (seq, recipient, device, sender, sender_device, id, addressee, envelope, stored_at)
    SELECT seq, recipient, zeroblob(16), sender, sender_device, id, recipient, envelope, stored_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v8 RENAME TO messages;
CREATE INDEX messages_mailbox_seq ON messages(recipient, device, seq);
CREATE INDEX messages_mailbox_id ON messages(recipient, device, id);
CREATE INDEX messages_stored_at ON messages(stored_at);

DROP TABLE mailbox_depth;
CREATE TABLE mailbox_depth (
    recipient BLOB NOT NULL,
    device    BLOB NOT NULL,
    messages  INTEGER NOT NULL,
    PRIMARY KEY (recipient, device)
) WITHOUT ROWID;
INSERT INTO mailbox_depth (recipient, device, messages)
    SELECT recipient, device, COUNT(*) FROM messages GROUP BY recipient, device;
CREATE TRIGGER messages_depth_insert AFTER INSERT ON messages BEGIN
    INSERT INTO mailbox_depth (recipient, device, messages) VALUES (NEW.recipient, NEW.device, 1)
        ON CONFLICT (recipient, device) DO UPDATE SET messages = messages + 1;
END;
CREATE TRIGGER messages_depth_delete AFTER DELETE ON messages BEGIN
    UPDATE mailbox_depth SET messages = messages - 1 WHERE recipient = OLD.recipient AND device = OLD.device;
END;
CREATE TRIGGER messages_depth_move AFTER UPDATE OF device ON messages BEGIN
    UPDATE mailbox_depth SET messages = messages - 1 WHERE recipient = OLD.recipient AND device = OLD.device;
    INSERT INTO mailbox_depth (recipient, device, messages) VALUES (NEW.recipient, NEW.device, 1)
        ON CONFLICT (recipient, device) DO UPDATE SET messages = messages + 1;
END;

ALTER TABLE message_ids ADD COLUMN recipient BLOB;
ALTER TABLE message_ids ADD COLUMN state INTEGER NOT NULL DEFAULT 0;

CREATE TABLE resend_wanted (
    sender    BLOB NOT NULL,
    id        BLOB NOT NULL,
    recipient BLOB NOT NULL,
    device    BLOB NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (sender, id, recipient, device)
) WITHOUT ROWID;
CREATE INDEX resend_wanted_at ON resend_wanted(at);

CREATE TABLE receipts_v8 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BLOB NOT NULL,
    device      BLOB NOT NULL,
    id          BLOB NOT NULL,
    kind        INTEGER NOT NULL,
    message_id  BLOB NOT NULL,
    peer        BLOB NOT NULL,
    peer_device BLOB,
    at          INTEGER NOT NULL
);
INSERT INTO receipts_v8 (seq, user_id, device, id, kind, message_id, peer, at)
    SELECT seq, user_id, zeroblob(16), id, kind, message_id, peer, at FROM receipts;
DROP TABLE receipts;
ALTER TABLE receipts_v8 RENAME TO receipts;
CREATE INDEX receipts_mailbox_seq ON receipts(user_id, device, seq);
CREATE INDEX receipts_mailbox_id ON receipts(user_id, device, id);
