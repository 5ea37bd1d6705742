-- A whole room list subscribed through one profile: its rooms are subscribed with the list's
-- settings, rooms added to the list later are picked up, removed ones paused (and shown) —
-- checked every `next_check_at`, never on the strength of a failed answer.
CREATE TABLE room_list_subscriptions (
    id                INTEGER PRIMARY KEY,
    profile_id        BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    list_address      TEXT NOT NULL,
    list_name         TEXT NOT NULL,
    days_back         BIGINT NOT NULL,
    days_ahead        BIGINT NOT NULL,
    interval_minutes  BIGINT NOT NULL,
    mask_private      BOOLEAN NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    checked_at        TEXT,
    next_check_at     TEXT NOT NULL,
    last_error        TEXT,
    UNIQUE (profile_id, list_address)
);
-- The list a subscription came from, and when the list stopped naming it (then it is paused).
ALTER TABLE subscriptions ADD COLUMN room_list_id BIGINT REFERENCES room_list_subscriptions (id) ON DELETE SET NULL;
ALTER TABLE subscriptions ADD COLUMN removed_from_list_at TEXT;
CREATE INDEX subscriptions_room_list ON subscriptions (room_list_id);
