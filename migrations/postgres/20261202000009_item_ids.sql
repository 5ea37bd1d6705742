-- Which of Graph's id forms a subscription's stored ids are in. Graph's default ids change
-- when an item moves between folders (deleted and restored, say); immutable ids do not
-- (Microsoft: "Obtain immutable identifiers for Outlook resources"). New subscriptions use
-- immutable ids; existing ones keep theirs until their next run translates them.
ALTER TABLE subscriptions ADD COLUMN item_ids TEXT NOT NULL DEFAULT 'immutable';
UPDATE subscriptions SET item_ids = 'rest';
