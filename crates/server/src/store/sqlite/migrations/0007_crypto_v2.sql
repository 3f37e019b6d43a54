-- Crypto v2: friendships and friend requests carry no keys any more (each person has one
-- account identity, in device_sets), so friend_keys becomes friendships. Messages record
-- the sender's device; those queued before the upgrade keep NULL there, and their
-- recipients ask the senders to send them again (a `resend` receipt), now under v2.
ALTER TABLE friend_keys RENAME TO friendships;
ALTER TABLE friendships DROP COLUMN public_key;
ALTER TABLE friendships DROP COLUMN updated_at;
DROP INDEX friend_keys_friend;
CREATE INDEX friendships_friend ON friendships(friend);
ALTER TABLE friend_requests DROP COLUMN from_key;
ALTER TABLE messages ADD COLUMN sender_device BLOB;
