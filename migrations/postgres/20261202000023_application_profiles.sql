-- Application profiles (client credentials, no user) beside the delegated ones. Their
-- `granted_scopes` hold the `roles` of the last app-only token (the application permissions
-- granted in Entra) and `account_id` the app's service principal (the token's `oid`), where
-- the token could be read.
ALTER TABLE profiles ADD COLUMN kind TEXT NOT NULL DEFAULT 'delegated' CHECK (kind IN ('delegated', 'application'));

-- The scope check of an application profile: a room it must read and a mailbox it must be
-- refused, and what the last check found.
ALTER TABLE profiles ADD COLUMN scope_probe_room TEXT;
ALTER TABLE profiles ADD COLUMN scope_probe_outside TEXT;
ALTER TABLE profiles ADD COLUMN scope_result TEXT CHECK (scope_result IN ('scoped', 'unscoped', 'room_unreadable', 'failed'));
ALTER TABLE profiles ADD COLUMN scope_detail TEXT;
ALTER TABLE profiles ADD COLUMN scope_checked_at TIMESTAMPTZ;
