-- The hourly self-check (issue 29): what delta missed, found by comparing the stored rows with a
-- calendarView of the window and repaired by a full round. When it last ran, what it found then,
-- in all, and in how many checks in a row (a subscription that keeps drifting needs attention).
ALTER TABLE subscriptions ADD COLUMN verified_at TEXT;
ALTER TABLE subscriptions ADD COLUMN drift_last BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN drift_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN drift_streak BIGINT NOT NULL DEFAULT 0;
