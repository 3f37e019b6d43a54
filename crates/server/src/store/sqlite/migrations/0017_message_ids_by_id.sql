-- Message records keyed (gen, id, sender) instead of (gen, sender, id) (BENCHMARKS.md,
-- "Records in the order they are written"). Keyed by sender first, each sender's new
-- records went to the end of that sender's range, in the middle of the table: SQLite
-- balances an overfull page with its two neighbours and leaves all three nearly full, so
-- at such an insertion point a page overflowed again a few records later — a quarter of
-- the commits of a send wrote three pages more (three leaves and their parent). Message ids
-- are UUIDv7 (time first), so keyed by id first new records go to the table's end, where a
-- full page is left full and a new one started.
CREATE TABLE message_ids_v17 (
    gen       INTEGER NOT NULL,
    sender    BLOB NOT NULL,
    id        BLOB NOT NULL,
    stored_at INTEGER NOT NULL,
    recipient BLOB,
    state     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (gen, id, sender)
) WITHOUT ROWID;
INSERT INTO message_ids_v17 (gen, sender, id, stored_at, recipient, state)
    SELECT gen, sender, id, stored_at, recipient, state FROM message_ids;
DROP TABLE message_ids;
ALTER TABLE message_ids_v17 RENAME TO message_ids;
