-- Subscriptions: one calendar of one mailbox, read through one profile, imported on a schedule.
-- A subscription deleted with "keep the imported events" stays as a row with deleted_at set, so
-- its events keep their reference; only live subscriptions are unique per profile and calendar.

CREATE TABLE subscriptions (
    id                INTEGER PRIMARY KEY,
    profile_id        BIGINT REFERENCES profiles (id) ON DELETE SET NULL,
    source            TEXT NOT NULL CHECK (source IN ('mailbox', 'own')),
    mailbox_address   TEXT NOT NULL,
    mailbox_name      TEXT NOT NULL,
    calendar_id       TEXT NOT NULL,
    calendar_name     TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    days_back         BIGINT NOT NULL DEFAULT 7,
    days_ahead        BIGINT NOT NULL DEFAULT 180,
    interval_minutes  BIGINT NOT NULL DEFAULT 5,
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    mask_private      BOOLEAN NOT NULL DEFAULT FALSE,
    status            TEXT NOT NULL DEFAULT 'new',
    last_error        TEXT,
    last_sync_at      TEXT,
    next_sync_at      TEXT,
    event_count       BIGINT NOT NULL DEFAULT 0,
    created_by        TEXT,
    version           BIGINT NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    deleted_at        TEXT
);
CREATE UNIQUE INDEX subscriptions_unique_live ON subscriptions (profile_id, calendar_id) WHERE deleted_at IS NULL;
CREATE INDEX subscriptions_profile ON subscriptions (profile_id);
