-- Devices an admin signed in from (OWASP "device cookies"): the hash of the cookie's token and
-- the username it signed in as. Such a device is exempt from the username's lock after many
-- failed attempts elsewhere, so an attacker can slow an admin down but not lock them out.
CREATE TABLE login_devices (
    token_hash   TEXT PRIMARY KEY,
    user_key     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_devices_last_used ON login_devices (last_used_at);
