-- The change feed: every insert, content update and deletion of an event, appended in the same
-- transaction by triggers, so that no path that writes `events` can forget it and nothing the
-- reader sees can be rolled back. SQLite has one writer at a time: `seq` order is commit order.
-- No foreign keys: the record of a deletion outlives the event and its subscription.
CREATE TABLE event_changes (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  BIGINT NOT NULL,
    event_id         BIGINT NOT NULL,
    graph_id         TEXT NOT NULL,
    ical_uid         TEXT,
    operation        TEXT NOT NULL CHECK (operation IN ('upsert', 'delete')),
    changed_at       TEXT NOT NULL,
    start_utc        TEXT,
    end_utc          TEXT,
    subject          TEXT
);
CREATE INDEX event_changes_subscription ON event_changes (subscription_id, seq);
CREATE INDEX event_changes_changed_at ON event_changes (changed_at);

CREATE TRIGGER events_feed_insert AFTER INSERT ON events
BEGIN
    INSERT INTO event_changes (subscription_id, event_id, graph_id, ical_uid, operation, changed_at, start_utc, end_utc, subject)
    VALUES (NEW.subscription_id, NEW.id, NEW.graph_id, NEW.ical_uid, 'upsert',
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NEW.start_utc, NEW.end_utc, NEW.subject);
END;

-- Content changes only: an unchanged event seen again moves nothing but `sync_generation`.
CREATE TRIGGER events_feed_update AFTER UPDATE ON events
WHEN NEW.updated_at IS NOT OLD.updated_at OR NEW.graph_id IS NOT OLD.graph_id
    OR NEW.ical_uid IS NOT OLD.ical_uid OR NEW.subject IS NOT OLD.subject
    OR NEW.start_utc IS NOT OLD.start_utc OR NEW.end_utc IS NOT OLD.end_utc
    OR NEW.attendees IS NOT OLD.attendees OR NEW.body_preview IS NOT OLD.body_preview
    OR NEW.location IS NOT OLD.location OR NEW.is_cancelled IS NOT OLD.is_cancelled
BEGIN
    INSERT INTO event_changes (subscription_id, event_id, graph_id, ical_uid, operation, changed_at, start_utc, end_utc, subject)
    VALUES (NEW.subscription_id, NEW.id, NEW.graph_id, NEW.ical_uid, 'upsert',
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NEW.start_utc, NEW.end_utc, NEW.subject);
END;

CREATE TRIGGER events_feed_delete AFTER DELETE ON events
BEGIN
    INSERT INTO event_changes (subscription_id, event_id, graph_id, ical_uid, operation, changed_at, start_utc, end_utc, subject)
    VALUES (OLD.subscription_id, OLD.id, OLD.graph_id, OLD.ical_uid, 'delete',
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), OLD.start_utc, OLD.end_utc, OLD.subject);
END;
