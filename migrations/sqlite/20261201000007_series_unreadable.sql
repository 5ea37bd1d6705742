-- Occurrences whose series the account may not open (private items) are stored with their
-- times only; the subscription says so.
ALTER TABLE subscriptions ADD COLUMN series_unreadable BOOLEAN NOT NULL DEFAULT FALSE;
