-- How many messages wait for each recipient, kept by triggers, so the mailbox quota check
-- on every store is one lookup instead of counting the mailbox: with COUNT(*) storing N
-- messages for someone offline cost O(N²) (5,800 stored per second at 20,000 waiting,
-- BENCHMARKS.md `offline`). The metrics' total comes from here too.
CREATE TABLE mailbox_depth (
    recipient BLOB PRIMARY KEY,
    messages  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO mailbox_depth (recipient, messages)
    SELECT recipient, COUNT(*) FROM messages GROUP BY recipient;

CREATE TRIGGER messages_depth_insert AFTER INSERT ON messages BEGIN
    INSERT INTO mailbox_depth (recipient, messages) VALUES (NEW.recipient, 1)
        ON CONFLICT (recipient) DO UPDATE SET messages = messages + 1;
END;

CREATE TRIGGER messages_depth_delete AFTER DELETE ON messages BEGIN
    UPDATE mailbox_depth SET messages = messages - 1 WHERE recipient = OLD.recipient;
END;
