-- `message_ids` without its `stored_at` index (BENCHMARKS.md, "Message records in
-- generations"): the index's page was one of the four WAL frames each message cost, and it
-- only served the sweep. A record now belongs to a generation — the newest one when it was
-- stored — and the sweep drops whole generations, one range of the primary key each: it opens
-- a new generation once the newest is a message lifetime old, and drops a generation once the
-- one after it is that old too (every record in it is then older than a lifetime). A record
-- lives at least one lifetime, as before, and at most about two. Records kept from before
-- form generation 0.
CREATE TABLE message_id_generations (
    gen        INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL
);
INSERT INTO message_id_generations (gen, started_at)
    VALUES (0, COALESCE((SELECT MIN(stored_at) FROM message_ids), 0));

CREATE TABLE message_ids_v16 (
    gen       INTEGER NOT NULL,
    sender    BLOB NOT NULL,
    id        BLOB NOT NULL,
    stored_at INTEGER NOT NULL,
    recipient BLOB,
    state     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (gen, sender, id)
) WITHOUT ROWID;
INSERT INTO message_ids_v16 (gen, sender, id, stored_at, recipient, state)
    SELECT 0, sender, id, stored_at, recipient, state FROM message_ids;
DROP TABLE message_ids;
ALTER TABLE message_ids_v16 RENAME TO message_ids;
