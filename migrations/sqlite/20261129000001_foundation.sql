-- Foundation: admins, sessions, first-admin setup, login throttling, audit log, settings.
-- Timestamps are written by the application (UTC, RFC 3339), never by SQL defaults, so that both
-- backends store the same instants.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE admins (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL,
    username_key   TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    language       TEXT,
    security_stamp TEXT NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    last_login_at  TEXT
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    admin_id   BIGINT REFERENCES admins (id) ON DELETE CASCADE,
    data       TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_admin_id ON sessions (admin_id);

CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL,
    used_at    TEXT
);

CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor_id   BIGINT,
    actor      TEXT,
    ip         TEXT,
    action     TEXT NOT NULL,
    target     TEXT,
    details    TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
