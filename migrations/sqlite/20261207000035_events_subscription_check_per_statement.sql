-- PostgreSQL's migration of this number replaces the row-by-row foreign-key check of
-- events.subscription_id by one per statement; SQLite keeps its foreign key (a lookup in the
-- same process). Both now refuse to move an event to another subscription, which Datapump never
-- does: an event's feed entries and attendee rows belong to the subscription it came from.
CREATE TRIGGER events_subscription_kept BEFORE UPDATE OF subscription_id ON events
WHEN NEW.subscription_id IS NOT OLD.subscription_id
BEGIN
    SELECT RAISE(ABORT, 'an event cannot move to another subscription');
END;
