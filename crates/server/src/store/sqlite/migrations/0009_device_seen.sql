-- When each device was last connected (set when a connection opens and when it closes),
-- for the devices screen.
ALTER TABLE mailboxes ADD COLUMN seen_at INTEGER;
