-- How many copies of a message went to its recipient's devices (0: not known — rows from
-- before, and copies stored again for a device that asked). A message with one copy needs
-- no roll-up record on ack: nothing else can deliver it again, which saves a write per
-- message for people with one device (BENCHMARKS.md, "Several devices per person").
ALTER TABLE messages ADD COLUMN copies INTEGER NOT NULL DEFAULT 0;
