-- The import engine: where each subscription's sync stands (lease, cursor, generation), the
-- imported events (the stable contract the reception product reads, see docs/database.md), and
-- the history of runs.

ALTER TABLE subscriptions ADD COLUMN lease_owner TEXT;
ALTER TABLE subscriptions ADD COLUMN lease_until TEXT;
ALTER TABLE subscriptions ADD COLUMN lease_version BIGINT NOT NULL DEFAULT 0;
-- Continue here: the next page of a round, or the delta link after a completed round.
ALTER TABLE subscriptions ADD COLUMN next_link TEXT;
ALTER TABLE subscriptions ADD COLUMN delta_link TEXT;
-- The window the links belong to, and the generation rows of a full round are stamped with.
ALTER TABLE subscriptions ADD COLUMN window_start TEXT;
ALTER TABLE subscriptions ADD COLUMN window_end TEXT;
ALTER TABLE subscriptions ADD COLUMN round_full BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE subscriptions ADD COLUMN round_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN sync_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN last_full_sync_at TEXT;
ALTER TABLE subscriptions ADD COLUMN anonymized BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE subscriptions ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;

CREATE TABLE events (
    id                  INTEGER PRIMARY KEY,
    subscription_id     BIGINT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    graph_id            TEXT NOT NULL,
    ical_uid            TEXT,
    series_master_id    TEXT,
    event_type          TEXT NOT NULL,
    subject             TEXT,
    organizer_name      TEXT,
    organizer_address   TEXT,
    start_utc           TEXT NOT NULL,
    end_utc             TEXT NOT NULL,
    time_zone           TEXT,
    is_all_day          BOOLEAN NOT NULL DEFAULT FALSE,
    start_date          TEXT,
    end_date            TEXT,
    is_cancelled        BOOLEAN NOT NULL DEFAULT FALSE,
    sensitivity         TEXT,
    show_as             TEXT,
    location            TEXT,
    locations           TEXT,
    attendees           TEXT,
    body_preview        TEXT,
    web_link            TEXT,
    online_meeting_url  TEXT,
    categories          TEXT,
    last_modified       TEXT,
    change_key          TEXT,
    first_imported_at   TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    sync_generation     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX events_subscription_graph_id ON events (subscription_id, graph_id);
CREATE INDEX events_subscription_start ON events (subscription_id, start_utc);
CREATE INDEX events_start ON events (start_utc);

CREATE TABLE sync_runs (
    id               INTEGER PRIMARY KEY,
    subscription_id  BIGINT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    pages            BIGINT NOT NULL DEFAULT 0,
    created          BIGINT NOT NULL DEFAULT 0,
    updated          BIGINT NOT NULL DEFAULT 0,
    deleted          BIGINT NOT NULL DEFAULT 0,
    requests         BIGINT NOT NULL DEFAULT 0,
    throttle_waits   BIGINT NOT NULL DEFAULT 0,
    waited_ms        BIGINT NOT NULL DEFAULT 0,
    error            TEXT,
    owner            TEXT
);
CREATE INDEX sync_runs_subscription ON sync_runs (subscription_id, started_at);
