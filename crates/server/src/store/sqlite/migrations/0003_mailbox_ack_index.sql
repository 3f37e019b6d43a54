-- Acks delete by (recipient, id): without this index each delete scanned the recipient's
-- whole mailbox, so draining N waiting messages cost O(N²) (BENCHMARKS.md, offline).
CREATE INDEX messages_recipient_id ON messages(recipient, id);
