-- Data minimisation per subscription: which fields are stored at all, and how long events are
-- kept after they ended (also those kept from a deleted subscription). NULL: the window decides
-- for a live subscription, kept events stay.
ALTER TABLE subscriptions ADD COLUMN store_body BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE subscriptions ADD COLUMN store_attendee_addresses BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE subscriptions ADD COLUMN store_online_meeting BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE subscriptions ADD COLUMN store_categories BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE subscriptions ADD COLUMN retention_days BIGINT;
