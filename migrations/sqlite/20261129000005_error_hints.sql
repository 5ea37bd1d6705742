-- Why the last run failed, as a message key the UI translates (the technical detail stays in
-- last_error).
ALTER TABLE subscriptions ADD COLUMN error_hint TEXT;
