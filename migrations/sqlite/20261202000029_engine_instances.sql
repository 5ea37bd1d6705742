-- The import engines sharing this database (one per running instance), each seen every few
-- seconds: a scheduler takes only its share of the due subscriptions while others are alive.
CREATE TABLE engine_instances (
    owner       TEXT PRIMARY KEY NOT NULL,
    started_at  TEXT NOT NULL,
    seen_at     TEXT NOT NULL
);
