-- Reception data of a subscribed room: from Microsoft's room directory (places, when the
-- account may read it) or entered by an admin. An admin's entry is never overwritten by the
-- directory until the admin hands the room back to it.
CREATE TABLE rooms (
    subscription_id BIGINT PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    source          TEXT NOT NULL CHECK (source IN ('directory', 'admin')),
    display_name    TEXT,
    building        TEXT,
    -- The room list (an Exchange distribution group of rooms, usually one per building or site).
    room_list       TEXT,
    floor_number    BIGINT,
    floor_label     TEXT,
    capacity        BIGINT,
    address         TEXT,
    directory_id    TEXT,
    updated_at      TEXT NOT NULL,
    updated_by      TEXT
);
