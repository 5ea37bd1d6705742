-- Attendee rows were the dearest part of writing an event (measured: 100,000 events with three
-- attendees each took 20 s of PostgreSQL time with the triggers, 7.5 s without; without the two
-- items below, 10 s):
-- * the foreign key to events ran one referential-integrity check per attendee row. Only the
--   triggers on events write these rows, always for the event they fire for, so the check
--   could never fail; the cascade it gave on delete is now part of the delete trigger, once per
--   statement;
-- * the index on (kind, event_id) was one more index entry per row, and no query needs it: every
--   reader goes from events (by room, date or id) to their attendees through the primary key.

ALTER TABLE event_attendees DROP CONSTRAINT event_attendees_event_id_fkey;
DROP INDEX event_attendees_kind;

CREATE OR REPLACE FUNCTION events_feed_deleted() RETURNS trigger AS $$
BEGIN
    INSERT INTO event_changes (subscription_id, event_id, graph_id, ical_uid, operation, start_utc, end_utc, subject)
    SELECT subscription_id, id, graph_id, ical_uid, 'delete', start_utc, end_utc, subject
    FROM old_rows ORDER BY id;
    DELETE FROM event_attendees WHERE event_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
