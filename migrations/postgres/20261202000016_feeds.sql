-- A subscription's ICS feed: reachable under a secret URL; only a hash of its token is stored.
ALTER TABLE subscriptions ADD COLUMN feed_token_hash TEXT;
ALTER TABLE subscriptions ADD COLUMN feed_created_at TIMESTAMPTZ;
CREATE UNIQUE INDEX subscriptions_feed_token ON subscriptions (feed_token_hash) WHERE feed_token_hash IS NOT NULL;
